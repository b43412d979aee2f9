package expr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// toGo converts a CEL result into a plain Go value ready for JSON: nil,
// bool, int64, uint64, float64, string, []any, map[string]any. Timestamps
// become RFC 3339 strings, durations Go duration strings, bytes base64,
// optionals their value or nil, native objects (alert.resource) maps of
// their JSON fields, IPs and CIDRs their text.
func toGo(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("result %v is not a JSON number", f)
		}
		return f, nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.Duration.String(), nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return toGo(x.GetValue())
	case *types.Err:
		return nil, x
	case *types.Type:
		return x.TypeName(), nil
	case traits.Mapper:
		return mapToGo(x)
	case traits.Lister:
		return listToGo(x)
	}
	if s, ok := v.ConvertToType(types.StringType).(types.String); ok {
		return string(s), nil
	}
	return nativeToGo(v.Value())
}

func listToGo(l traits.Lister) ([]any, error) {
	n, ok := l.Size().(types.Int)
	if !ok {
		return nil, fmt.Errorf("list of unknown size")
	}
	out := make([]any, n)
	for i := range out {
		e, err := toGo(l.Get(types.Int(i)))
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

func mapToGo(m traits.Mapper) (map[string]any, error) {
	out := make(map[string]any)
	for it := m.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		key, err := toGo(k)
		if err != nil {
			return nil, err
		}
		ks := formatScalar(key)
		val, err := toGo(m.Get(k))
		if err != nil {
			return nil, fmt.Errorf("[%s]: %w", ks, err)
		}
		out[ks] = val
	}
	return out, nil
}

// nativeToGo converts a Go struct exposed through ext.NativeTypes (the
// alert and its parts, a step state) to its JSON form.
func nativeToGo(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("convert %T to JSON: %w", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("convert %T to JSON: %w", v, err)
	}
	return normalizeJSON(out), nil
}

// interpolate renders a value embedded in a template's text: null as "",
// scalars as formatScalar does, lists and maps as compact JSON.
func interpolate(v any) string {
	switch v.(type) {
	case nil, string, bool, int64, uint64, float64:
		return formatScalar(v)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

package expr

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
)

// CEL names of the native struct types: ext.NativeTypes names a Go struct
// "<last element of the package path>.<type name>".
const (
	typeAlert     = "alert.Alert"
	typeIncident  = "activities.IncidentInfo"
	typeStepState = "activities.StepState"
)

// dynFieldProvider completes the native type provider: ext.NativeTypes has
// no CEL type for Go interface values, so the `any` fields (alert.raw) and
// the maps of `any` (steps.<id>.output) would otherwise be unknown fields.
// It declares them dyn and reads them from the Go struct.
type dynFieldProvider struct {
	types.Provider
}

// FindStructFieldType implements [types.Provider].
func (p dynFieldProvider) FindStructFieldType(structType, fieldName string) (*types.FieldType, bool) {
	if ft, ok := p.Provider.FindStructFieldType(structType, fieldName); ok {
		return ft, true
	}
	switch {
	case structType == typeAlert && fieldName == "raw":
		return &types.FieldType{
			Type: types.DynType,
			IsSet: func(obj any) bool {
				a, ok := asAlert(obj)
				return ok && a.Raw != nil
			},
			GetFrom: func(obj any) (any, error) {
				if a, ok := asAlert(obj); ok {
					return a.Raw, nil
				}
				return nil, nil
			},
		}, true
	case structType == typeStepState && fieldName == "output":
		return &types.FieldType{
			Type: types.NewMapType(types.StringType, types.DynType),
			IsSet: func(obj any) bool {
				s, ok := asStepState(obj)
				return ok && s.Output != nil
			},
			GetFrom: func(obj any) (any, error) {
				if s, ok := asStepState(obj); ok && s.Output != nil {
					return s.Output, nil
				}
				return map[string]any{}, nil
			},
		}, true
	}
	return nil, false
}

func asAlert(obj any) (*alert.Alert, bool) {
	switch a := obj.(type) {
	case *alert.Alert:
		return a, a != nil
	case alert.Alert:
		return &a, true
	}
	return nil, false
}

func asStepState(obj any) (*activities.StepState, bool) {
	switch s := obj.(type) {
	case *activities.StepState:
		return s, s != nil
	case activities.StepState:
		return &s, true
	}
	return nil, false
}

// numberAdapter gives JSON numbers the type authors expect: a number without
// a fractional part is an int, whether it arrives as float64 (encoding/json)
// or json.Number. It wraps maps and lists of `any` itself so that their
// elements come back through it.
type numberAdapter struct {
	types.Adapter
}

// NativeToValue implements [types.Adapter].
func (a numberAdapter) NativeToValue(value any) ref.Val {
	switch v := value.(type) {
	case float64:
		if i, ok := integral(v); ok {
			return types.Int(i)
		}
		return types.Double(v)
	case float32:
		return a.NativeToValue(float64(v))
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return types.Int(i)
		}
		f, err := v.Float64()
		if err != nil {
			return types.NewErr("invalid number %q", string(v))
		}
		return a.NativeToValue(f)
	case map[string]any:
		return types.NewStringInterfaceMap(a, v)
	case []any:
		return types.NewDynamicList(a, v)
	}
	return a.Adapter.NativeToValue(value)
}

// integral reports whether f is a whole number an int64 holds exactly.
func integral(f float64) (int64, bool) {
	// 2^63 itself does not fit; every float64 below it with no fraction does.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// normalizeJSON returns v, a tree decoded from JSON or YAML, with integral
// numbers as int64, other numbers as float64 and map keys as strings. It
// copies maps and lists.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case float64:
		if i, ok := integral(x); ok {
			return i
		}
		return x
	case float32:
		return normalizeJSON(float64(x))
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return normalizeJSON(f)
		}
		return string(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[mapKey(it.Key().Interface())] = normalizeJSON(it.Value().Interface())
		}
		return out
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return v // []byte: encoding/json writes base64
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalizeJSON(rv.Index(i).Interface())
		}
		return out
	case reflect.Int, reflect.Int8, reflect.Int16:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return int64(rv.Uint())
	}
	return v
}

// mapKey renders a map key of a YAML or JSON tree as a string.
func mapKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case nil:
		return "null"
	}
	return formatScalar(normalizeJSON(k))
}

// formatScalar renders a scalar the way templates interpolate it.
func formatScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return formatFloat(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// formatFloat renders f in its shortest form, as encoding/json does: no
// exponent between 1e-6 and 1e21, no ".0" on whole numbers.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

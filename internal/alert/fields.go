package alert

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// object is a decoded JSON object with its path in the payload, for error
// details ("SuspEvents[2].Level").
type object struct {
	m    map[string]any
	path string
}

func (o object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o object) has(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

// reader reads vendor fields leniently where vendors are lenient (numbers as
// strings, "-" for none) and records the first problem; the normalizers
// check r.err once at the end.
type reader struct {
	err *DecodeError
}

func (r *reader) fail(e *DecodeError) {
	if r.err == nil {
		r.err = e
	}
}

// str returns a string field: strings as they are, numbers and booleans in
// their JSON spelling, "" when absent or null. Objects and arrays are
// invalid.
func (r *reader) str(o object, key string) string {
	v, ok := o.m[key]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		r.fail(invalid(o.at(key), "want a string, got %s", kindOf(v)))
		return ""
	}
}

// first returns the first non-empty, non-"-" string among keys.
func (r *reader) first(o object, keys ...string) string {
	for _, k := range keys {
		if s := r.str(o, k); s != "" && s != "-" {
			return s
		}
	}
	return ""
}

// int returns an integer field given as a number or a numeric string; ok is
// false when absent, null, "" or "-".
func (r *reader) int(o object, key string) (n int64, ok bool) {
	v, present := o.m[key]
	if !present || v == nil {
		return 0, false
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
		if s == "" || s == "-" {
			return 0, false
		}
	default:
		r.fail(invalid(o.at(key), "want a number, got %s", kindOf(v)))
		return 0, false
	}
	n, err := parseInt(s)
	if err != nil {
		r.fail(invalid(o.at(key), "%q is not an integer", clip(s, 40)))
		return 0, false
	}
	return n, true
}

// parseInt accepts integers, and floats without a fraction (1.7e12).
func parseInt(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, strconv.ErrSyntax
	}
	return int64(f), nil
}

// obj returns a nested object; ok is false when absent or null.
func (r *reader) obj(o object, key string) (object, bool) {
	v, present := o.m[key]
	if !present || v == nil {
		return object{}, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		r.fail(invalid(o.at(key), "want an object, got %s", kindOf(v)))
		return object{}, false
	}
	return object{m: m, path: o.at(key)}, true
}

// list returns a nested array; ok is false when absent or null.
func (r *reader) list(o object, key string) ([]any, bool) {
	v, present := o.m[key]
	if !present || v == nil {
		return nil, false
	}
	l, isList := v.([]any)
	if !isList {
		r.fail(invalid(o.at(key), "want an array, got %s", kindOf(v)))
		return nil, false
	}
	return l, true
}

// strings returns an array of strings (or a single string) as a slice.
func (r *reader) strings(o object, key string) []string {
	v, present := o.m[key]
	if !present || v == nil {
		return nil
	}
	if s, ok := v.(string); ok {
		if s = strings.TrimSpace(s); s != "" {
			return []string{s}
		}
		return nil
	}
	l, ok := r.list(o, key)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, isStr := e.(string)
		if !isStr {
			r.fail(invalid(o.at(key)+"["+strconv.Itoa(i)+"]", "want a string, got %s", kindOf(e)))
			return nil
		}
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ip returns an IP field in canonical form ("" when absent, "" or "-"). It
// accepts ip:port and [ipv6]:port, and the first address of an
// X-Forwarded-For list.
func (r *reader) ip(o object, key string) string {
	s := r.str(o, key)
	ip, err := parseIP(s)
	if err != nil {
		r.fail(invalid(o.at(key), "%q is not an IP address", clip(s, 60)))
		return ""
	}
	return ip
}

// firstIP returns the first non-empty IP among keys.
func (r *reader) firstIP(o object, keys ...string) string {
	for _, k := range keys {
		if ip := r.ip(o, k); ip != "" {
			return ip
		}
	}
	return ""
}

func parseIP(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if s == "" || s == "-" {
		return "", nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("").String(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("").String(), nil
	}
	return "", strconv.ErrSyntax
}

// timeField returns a timestamp field; ok is false when absent or empty.
func (r *reader) time(o object, key string) (time.Time, bool) {
	v, present := o.m[key]
	if !present || v == nil {
		return time.Time{}, false
	}
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	default:
		r.fail(invalid(o.at(key), "want a timestamp, got %s", kindOf(v)))
		return time.Time{}, false
	}
	if s == "" || s == "-" {
		return time.Time{}, false
	}
	t, err := parseTime(s)
	if err != nil {
		r.fail(invalid(o.at(key), "%q is not a timestamp", clip(s, 60)))
		return time.Time{}, false
	}
	return t, true
}

// chinaTime is the zone of Alibaba Cloud console timestamps written without
// one ("2026-11-28 10:20:00").
var chinaTime = time.FixedZone("CST", 8*3600)

// parseTime accepts RFC 3339, the console's "2006-01-02 15:04:05" (UTC+8),
// CloudMonitor's "20060102T150405.000-0700", and Unix time in seconds or
// milliseconds. Times before 1970 or after 9999 are refused (they cannot be
// encoded in JSON).
func parseTime(s string) (time.Time, error) {
	var t time.Time
	if n, err := parseInt(s); err == nil {
		switch {
		case n <= 0:
			return time.Time{}, strconv.ErrRange
		case n < 1e11: // seconds until the year 5138
			t = time.Unix(n, 0)
		case n < 1e14: // milliseconds
			t = time.UnixMilli(n)
		default:
			return time.Time{}, strconv.ErrRange
		}
	} else {
		var perr error
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "20060102T150405.000-0700", "20060102T150405-0700"} {
			if t, perr = time.Parse(layout, s); perr == nil {
				break
			}
		}
		if perr != nil {
			if t, perr = time.ParseInLocation("2006-01-02 15:04:05", s, chinaTime); perr != nil {
				return time.Time{}, perr
			}
		}
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, strconv.ErrRange
	}
	return t.UTC(), nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "an unexpected value"
	}
}

// clip shortens s for error details.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncate(s, n) + "…"
}

package sandbox

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// params are the API parameters of one request: the query merged with an
// application/x-www-form-urlencoded body, first value of each key (the SDK
// never repeats a key). Lists come in three encodings, each with its own
// accessor: Name.N repeats ([params.repeated]), JSON-array strings
// ([params.jsonStrings]) and comma-separated values ([params.csv]).
type params map[string]string

// newParams flattens merged request values.
func newParams(v url.Values) params {
	p := make(params, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	return p
}

func (p params) get(k string) string { return p[k] }

func (p params) has(k string) bool {
	_, ok := p[k]
	return ok
}

// required returns the non-empty value of k, else MissingParameter.
func (p params) required(k string) (string, error) {
	if v := p[k]; v != "" {
		return v, nil
	}
	return "", errMissing(k)
}

// indexed returns, for keys prefix.N[.rest], the N values in numeric order
// with the rest of each key ("" for prefix.N itself).
func (p params) indexed(prefix string) ([]int, map[int]map[string]string) {
	byN := map[int]map[string]string{}
	for k, v := range p {
		tail, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, rest, _ := strings.Cut(tail, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		if byN[n] == nil {
			byN[n] = map[string]string{}
		}
		byN[n][rest] = v
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	return ns, byN
}

// repeated returns the values of prefix.1, prefix.2, … in numeric order.
func (p params) repeated(prefix string) []string {
	ns, byN := p.indexed(prefix)
	var out []string
	for _, n := range ns {
		if v, ok := byN[n][""]; ok {
			out = append(out, v)
		}
	}
	return out
}

// structs returns the objects prefix.N.Field as maps, in numeric order.
func (p params) structs(prefix string) []map[string]string {
	ns, byN := p.indexed(prefix)
	var out []map[string]string
	for _, n := range ns {
		m := map[string]string{}
		for k, v := range byN[n] {
			if k != "" {
				m[k] = v
			}
		}
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// jsonStrings decodes k as a JSON array of strings ("[\"i-1\",\"i-2\"]").
// An absent or empty k gives nil; a malformed one Invalid<k>.Malformed.
func (p params) jsonStrings(k string) ([]string, error) {
	v := strings.TrimSpace(p[k])
	if v == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, errBadRequest("Invalid"+k+".Malformed",
			fmt.Sprintf("The specified parameter %q is not a JSON array of strings.", k))
	}
	return out, nil
}

// csv splits k on commas, trimming blanks and dropping empty items.
func (p params) csv(k string) []string {
	var out []string
	for _, s := range strings.Split(p[k], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// list accepts any encoding: k.N repeats, else a JSON array, else CSV.
func (p params) list(k string) ([]string, error) {
	if r := p.repeated(k); len(r) > 0 {
		return r, nil
	}
	if strings.HasPrefix(strings.TrimSpace(p[k]), "[") {
		return p.jsonStrings(k)
	}
	return p.csv(k), nil
}

// integer parses k as an integer; absent or empty gives def.
func (p params) integer(k string, def int) (int, error) {
	v := strings.TrimSpace(p[k])
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errInvalid(k, v)
	}
	return n, nil
}

// integerIn parses k as an integer in [lo, hi]; absent gives def.
func (p params) integerIn(k string, def, lo, hi int) (int, error) {
	n, err := p.integer(k, def)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, errBadRequest("InvalidParameter."+k,
			fmt.Sprintf("The specified parameter %q must be between %d and %d.", k, lo, hi))
	}
	return n, nil
}

// int64 parses k as a 64-bit integer; absent gives 0.
func (p params) int64(k string) (int64, error) {
	v := strings.TrimSpace(p[k])
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errInvalid(k, v)
	}
	return n, nil
}

// boolean reports whether k is "true" (any case).
func (p params) boolean(k string) bool { return strings.EqualFold(p[k], "true") }

// tags returns Tag.N.Key / Tag.N.Value pairs (the prefix may differ).
func (p params) tags(prefix string) map[string]string {
	var out map[string]string
	for _, t := range p.structs(prefix) {
		if t["Key"] == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[t["Key"]] = t["Value"]
	}
	return out
}

// withoutAuth returns the parameters minus the signature and the
// credentials' secret parts, for the call log.
func (p params) withoutAuth() map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		switch k {
		case "Signature":
			continue
		case "SecurityToken", "BearerToken":
			v = "***"
		}
		out[k] = v
	}
	return out
}

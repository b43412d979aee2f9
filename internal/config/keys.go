package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeys walks the YAML document against the type of Config and
// returns one error per key that no field takes, named by its full path,
// with a suggestion for a likely typo and the line:
//
//	temporal.adress: unknown key (did you mean "address"?) at line 2
//
// yaml.v3's own message ("field adress not found in type config.Temporal")
// names neither the path nor the keys that exist.
func unknownKeys(doc *yaml.Node) []error {
	var errs []error
	walkKeys(doc, reflect.TypeFor[Config](), "", &errs)
	return errs
}

func walkKeys(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	if n == nil {
		return
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			walkKeys(c, t, path, errs)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		slices.Sort(names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue // a merge key: its mapping is checked where it is defined
			}
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, fmt.Errorf("%s: unknown key%s at line %d", join(k.Value), didYouMean(k.Value, names), k.Line))
				continue
			}
			walkKeys(v, ft, join(k.Value), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkKeys(n.Content[i+1], t.Elem(), join(n.Content[i].Value), errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			walkKeys(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
		}
	}
}

// yamlFields maps the YAML keys of struct type t to their field types, the
// way yaml.v3 names them: the yaml tag, or the lowercased field name.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// notFoundRE matches yaml.v3's KnownFields message, which unknownKeys
// replaces.
var notFoundRE = regexp.MustCompile(`^line \d+: field \S+ not found in type `)

// decodeProblems turns a decode error into the problems to report. For a
// *yaml.TypeError the decoder has still filled in everything else, so the
// caller goes on to validate; for any other error (YAML syntax) nothing was
// decoded and ok is false.
func decodeProblems(err error, doc *yaml.Node) (problems []error, ok bool) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []error{fmt.Errorf("parse YAML: %w", err)}, false
	}
	unknown := unknownKeys(doc)
	problems = append(problems, unknown...)
	for _, msg := range te.Errors {
		if len(unknown) > 0 && notFoundRE.MatchString(msg) {
			continue
		}
		problems = append(problems, errors.New(msg))
	}
	return problems, true
}

// didYouMean returns ` (did you mean "x"?)` for the candidate nearest to s,
// or "" when none is near enough to be a likely typo. It is a copy of
// playbook.DidYouMean, which config cannot import (playbook imports config), so
// that every suggestion reads alike.
func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// closest returns the candidate nearest to s by edit distance, ignoring
// case and treating - and _ alike, or "" when none is within a third of
// the length of s (at least 2 edits); failing that, a candidate of which s
// is a whole word (instance → instance_id).
func closest(s string, candidates []string) string {
	norm := func(x string) string { return strings.ReplaceAll(strings.ToLower(x), "-", "_") }
	ns := norm(s)
	best, bestDist := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if c == s {
			continue
		}
		if d := editDistance(ns, norm(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(ns) < 4 {
		return best
	}
	for _, c := range candidates {
		if slices.Contains(strings.Split(norm(c), "_"), ns) {
			return c
		}
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each count as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

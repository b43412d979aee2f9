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

	"github.com/opensoar/soar/internal/suggest"
)

// keyWalker walks the YAML document against the type of Config. It
// collects one error per key that no field takes, named by its full path,
// with a suggestion for a likely typo and the line:
//
//	temporal.adress: unknown key (did you mean "address"?) at line 2
//
// (yaml.v3's own message, "field adress not found in type config.Temporal",
// names neither the path nor the keys that exist), and the path of every
// value, so that type errors can name it too.
type keyWalker struct {
	unknown []error
	values  []keyedValue
}

// keyedValue is a value node and the path of its key.
type keyedValue struct {
	path string
	node *yaml.Node
}

func (w *keyWalker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n == nil {
		return
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			w.walk(c, t, path)
		}
		return
	}
	if path != "" {
		w.values = append(w.values, keyedValue{path, n})
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
				w.unknown = append(w.unknown, fmt.Errorf("%s: unknown key%s at line %d", join(k.Value), didYouMean(k.Value, names), k.Line))
				continue
			}
			w.walk(v, ft, join(k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), join(n.Content[i].Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	}
}

// typeErrorRE matches yaml.v3's message for a value of the wrong type.
var typeErrorRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")

// typeProblem rewrites yaml.v3's "line 3: cannot unmarshal !!str `lots`
// into int" as "nats.max_deliver: "lots" is not a whole number at line 3"
// when it can tell which key the value belongs to.
func (w *keyWalker) typeProblem(msg string) error {
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return errors.New(msg)
	}
	line, _ := strconv.Atoi(m[1])
	tag, text, into := m[2], m[3], m[4]
	prefix, truncated := strings.CutSuffix(text, "...")
	for _, kv := range w.values {
		n := kv.node
		if n.Line != line || n.ShortTag() != tag {
			continue
		}
		if text != "" && n.Value != text && !(truncated && strings.HasPrefix(n.Value, prefix)) {
			continue
		}
		got := describeNode(n)
		return fmt.Errorf("%s: %s is not %s at line %d", kv.path, got, describeType(into), line)
	}
	return errors.New(msg)
}

// describeNode names a YAML value for a message.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// describeType names the Go type yaml.v3 decodes into, in YAML's terms.
func describeType(t string) string {
	switch {
	case t == "time.Duration":
		return "a duration (such as 30s, 10m or 24h)"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping"
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
	var w keyWalker
	w.walk(doc, reflect.TypeFor[Config](), "")
	problems = append(problems, w.unknown...)
	for _, msg := range te.Errors {
		if len(w.unknown) > 0 && notFoundRE.MatchString(msg) {
			continue
		}
		problems = append(problems, w.typeProblem(msg))
	}
	return problems, true
}

// didYouMean returns ` (did you mean "x"?)` for the candidate nearest to s,
// or "" when none is near enough to be a likely typo.
func didYouMean(s string, candidates []string) string { return suggest.DidYouMean(s, candidates) }

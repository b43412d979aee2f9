package playbooktest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/playbook"
)

// Pattern tags: a scalar tagged with one of these matches loosely.
const (
	tagContains = "!contains" // a string containing the text
	tagMatches  = "!matches"  // a string matching the regular expression
	tagAny      = "!any"      // any value that is present (not null)
	tagAbsent   = "!absent"   // absent or null
)

// pattern is an expected value. Mappings match as subsets (keys not named
// are not checked), lists element by element with the same length,
// scalars by value (numbers by numeric value), and tagged scalars loosely.
type pattern struct {
	kind  string // literal, map, list, contains, matches, any, absent
	lit   any
	keys  []string // map keys in file order
	m     map[string]*pattern
	items []*pattern
	text  string
	re    *regexp.Regexp
}

// Pattern kinds.
const (
	patLiteral  = "literal"
	patMap      = "map"
	patList     = "list"
	patContains = "contains"
	patMatches  = "matches"
	patAny      = "any"
	patAbsent   = "absent"
)

// pattern parses an expected value.
func (p *parser) pattern(n *yaml.Node, what string) (*pattern, bool) {
	d := playbook.DerefNode(n)
	if d == nil {
		return &pattern{kind: patLiteral}, true
	}
	switch d.Tag {
	case tagContains, tagMatches, tagAny, tagAbsent:
		if d.Kind != yaml.ScalarNode {
			p.errorf(n, CodeWrongType, "%s %s applies to a string, not %s", what, d.Tag, playbook.DescribeNode(d))
			return nil, false
		}
		switch d.Tag {
		case tagContains:
			return &pattern{kind: patContains, text: d.Value}, true
		case tagMatches:
			re, err := regexp.Compile(d.Value)
			if err != nil {
				p.errorf(n, CodeInvalidValue, "%s: bad regular expression: %v", what, err)
				return nil, false
			}
			return &pattern{kind: patMatches, text: d.Value, re: re}, true
		case tagAny:
			return &pattern{kind: patAny}, true
		default:
			return &pattern{kind: patAbsent}, true
		}
	}
	switch d.Kind {
	case yaml.MappingNode:
		pt := &pattern{kind: patMap, m: map[string]*pattern{}}
		ok := true
		for _, pr := range p.pairs(d) {
			sub, good := p.pattern(pr.val, what+"."+pr.key.Value)
			ok = ok && good
			pt.keys = append(pt.keys, pr.key.Value)
			pt.m[pr.key.Value] = sub
		}
		return pt, ok
	case yaml.SequenceNode:
		pt := &pattern{kind: patList}
		ok := true
		for i, c := range d.Content {
			sub, good := p.pattern(c, fmt.Sprintf("%s[%d]", what, i))
			ok = ok && good
			pt.items = append(pt.items, sub)
		}
		return pt, ok
	}
	if d.Tag != "" && !strings.HasPrefix(d.Tag, "!!") {
		p.errorf(n, CodeInvalidValue, "%s: unknown tag %s (use %s, %s, %s or %s)", what, d.Tag, tagContains, tagMatches, tagAny, tagAbsent)
		return nil, false
	}
	v, ok := p.value(d, what)
	if !ok {
		return nil, false
	}
	return &pattern{kind: patLiteral, lit: jsonValue(v)}, true
}

// literalPattern is a pattern equal to v.
func literalPattern(v any) *pattern { return &pattern{kind: patLiteral, lit: jsonValue(v)} }

// mismatch is one difference between a pattern and a value.
type mismatch struct {
	path      string
	want, got string
}

func (m mismatch) String() string {
	if m.path == "" {
		return fmt.Sprintf("expected %s, got %s", m.want, m.got)
	}
	return fmt.Sprintf("%s: expected %s, got %s", m.path, m.want, m.got)
}

// match compares v (a JSON-like value) with the pattern and lists every
// difference, with paths rooted at path.
func (pt *pattern) match(v any, path string) []mismatch {
	if pt == nil {
		return nil
	}
	switch pt.kind {
	case patAny:
		if v == nil {
			return []mismatch{{path, "a value", "nothing"}}
		}
		return nil
	case patAbsent:
		if v != nil {
			return []mismatch{{path, "nothing", render(v)}}
		}
		return nil
	case patContains:
		s, ok := v.(string)
		if !ok || !strings.Contains(s, pt.text) {
			return []mismatch{{path, "text containing " + quote(pt.text), renderFull(v)}}
		}
		return nil
	case patMatches:
		s, ok := v.(string)
		if !ok || !pt.re.MatchString(s) {
			return []mismatch{{path, "text matching /" + pt.text + "/", renderFull(v)}}
		}
		return nil
	case patMap:
		m, ok := v.(map[string]any)
		if !ok {
			return []mismatch{{path, pt.String(), render(v)}}
		}
		var out []mismatch
		for _, k := range pt.keys {
			out = append(out, pt.m[k].match(m[k], joinPath(path, k))...)
		}
		return out
	case patList:
		l, ok := v.([]any)
		if !ok {
			return []mismatch{{path, pt.String(), render(v)}}
		}
		if len(l) != len(pt.items) {
			return []mismatch{{path, fmt.Sprintf("%d item(s) %s", len(pt.items), pt.String()), fmt.Sprintf("%d: %s", len(l), render(v))}}
		}
		var out []mismatch
		for i, it := range pt.items {
			out = append(out, it.match(l[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if !equalJSON(pt.lit, v) {
		if _, isText := pt.lit.(string); isText {
			return []mismatch{{path, renderFull(pt.lit), renderFull(v)}}
		}
		return []mismatch{{path, render(pt.lit), render(v)}}
	}
	return nil
}

// matches reports whether v matches.
func (pt *pattern) matches(v any) bool { return len(pt.match(v, "")) == 0 }

// String renders the pattern compactly.
func (pt *pattern) String() string {
	if pt == nil {
		return "{}"
	}
	switch pt.kind {
	case patAny:
		return tagAny
	case patAbsent:
		return tagAbsent
	case patContains:
		return tagContains + " " + quote(pt.text)
	case patMatches:
		return tagMatches + " " + quote(pt.text)
	case patMap:
		parts := make([]string, len(pt.keys))
		for i, k := range pt.keys {
			parts[i] = k + ": " + pt.m[k].String()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case patList:
		parts := make([]string, len(pt.items))
		for i, it := range pt.items {
			parts[i] = it.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return render(pt.lit)
}

// mentions reports whether a map pattern names key.
func (pt *pattern) mentions(key string) bool {
	return pt != nil && pt.kind == patMap && slices.Contains(pt.keys, key)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonValue converts v to what encoding/json decodes into an any:
// map[string]any, []any, float64, string, bool, nil.
func jsonValue(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return v
	}
	return out
}

// equalJSON compares two JSON-like values.
func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	}
	return a == b
}

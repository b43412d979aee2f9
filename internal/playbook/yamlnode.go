package playbook

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// extensionPrefix starts the top-level keys soar ignores, as Docker
// Compose does: x-defaults: &page {...} holds anchors for the steps.
const extensionPrefix = "x-"

// pair is one key and value of a YAML mapping.
type pair struct {
	key, val *yaml.Node
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or a YAML null.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the YAML type of n for messages: "a string", "a list", …
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!str", "!!timestamp":
			return "a string"
		}
		return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
	}
	return "something else"
}

// isString reports whether n is a scalar that reads as a string: a string,
// or a timestamp-looking plain scalar (2024-01-02), which yaml.v3 tags
// separately.
func isString(n *yaml.Node) bool {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return true
	}
	return false
}

// pairs returns the key/value pairs of mapping n, with merge keys (<<)
// expanded, and reports keys that appear twice.
func (p *parser) pairs(n *yaml.Node) []pair {
	n = deref(n)
	var out []pair
	seen := map[string]*yaml.Node{}
	add := func(k, v *yaml.Node, merged bool) {
		if prev, dup := seen[k.Value]; dup {
			if !merged {
				p.errorf(k, CodeDuplicateKey, "key %q appears twice in this mapping (first at line %d)", k.Value, prev.Line)
			}
			return
		}
		seen[k.Value] = k
		out = append(out, pair{key: k, val: v})
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		add(k, v, false)
	}
	// Keys written in the mapping win over merged ones.
	for _, m := range merges {
		m = deref(m)
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, c := range m.Content {
				sources = append(sources, deref(c))
			}
		}
		for _, src := range sources {
			if src.Kind != yaml.MappingNode {
				p.errorf(m, CodeWrongType, "a merge key (<<) needs a mapping, got %s", describe(src))
				continue
			}
			for _, pr := range p.pairs(src) {
				add(pr.key, pr.val, true)
			}
		}
	}
	return out
}

// fields checks that n is a mapping whose keys are all in known, and
// returns its values by key. what names the mapping in messages ("the
// playbook", "a step"). ok is false when n is not a mapping.
func (p *parser) fields(n *yaml.Node, what string, known []string, hint func(key string) string) (map[string]pair, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, CodeWrongType, "%s must be a mapping, got %s", what, describe(n))
		return nil, false
	}
	out := map[string]pair{}
	for _, pr := range p.pairs(n) {
		k := pr.key.Value
		if strings.HasPrefix(k, extensionPrefix) && contains(known, extensionPrefix+"*") {
			continue // an extension: a home for YAML anchors
		}
		if !contains(known, k) {
			msg := fmt.Sprintf("unknown key %q in %s", k, what)
			if h := hintFor(hint, k); h != "" {
				msg += h
			} else {
				msg += didYouMean(k, slices.DeleteFunc(slices.Clone(known), func(c string) bool { return strings.HasSuffix(c, "*") }))
			}
			p.errorf(pr.key, CodeUnknownKey, "%s", msg)
			continue
		}
		out[k] = pr
	}
	return out, true
}

func hintFor(hint func(string) string, key string) string {
	if hint == nil {
		return ""
	}
	return hint(key)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// treeValue converts n into a plain value: map[string]any, []any, string,
// int, float64, bool or nil. Each string is passed to str, which checks
// templates. ok is false after a reported problem.
func (p *parser) treeValue(n *yaml.Node, str func(n *yaml.Node, s string)) (any, bool) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		ok := true
		for _, pr := range p.pairs(n) {
			if pr.key.Kind != yaml.ScalarNode {
				p.errorf(pr.key, CodeWrongType, "a mapping key must be a string, got %s", describe(pr.key))
				ok = false
				continue
			}
			v, vok := p.treeValue(pr.val, str)
			ok = ok && vok
			m[pr.key.Value] = v
		}
		return m, ok
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		ok := true
		for _, c := range n.Content {
			v, vok := p.treeValue(c, str)
			ok = ok && vok
			l = append(l, v)
		}
		return l, ok
	case yaml.ScalarNode:
		return p.scalarValue(n, str)
	}
	p.errorf(n, CodeWrongType, "unsupported YAML node")
	return nil, false
}

// scalarValue converts a scalar node to string, int, float64, bool or nil.
func (p *parser) scalarValue(n *yaml.Node, str func(n *yaml.Node, s string)) (any, bool) {
	switch n.ShortTag() {
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			p.errorf(n, CodeWrongType, "%q is not a boolean: %v", n.Value, err)
			return nil, false
		}
		return b, true
	case "!!int":
		var i int
		if err := n.Decode(&i); err != nil {
			p.errorf(n, CodeWrongType, "%s is not an integer soar can hold (64 bits)", n.Value)
			return nil, false
		}
		return i, true
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			p.errorf(n, CodeWrongType, "%s is not a finite number", n.Value)
			return nil, false
		}
		return f, true
	}
	if str != nil {
		str(n, n.Value)
	}
	return n.Value, true
}

// DerefNode follows YAML aliases to the node they name.
func DerefNode(n *yaml.Node) *yaml.Node { return deref(n) }

// IsNullNode reports whether n is absent or a YAML null.
func IsNullNode(n *yaml.Node) bool { return isNull(n) }

// DescribeNode names the YAML type of n for messages: "a string", "a list",
// "the number 3", …
func DescribeNode(n *yaml.Node) string { return describe(n) }

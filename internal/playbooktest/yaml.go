package playbooktest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/playbook"
)

// Diagnostic codes of test files. The generic ones are the playbook
// validator's codes, so editors treat both alike.
const (
	CodeReadError     = playbook.CodeReadError
	CodeYAMLSyntax    = playbook.CodeYAMLSyntax
	CodeUnknownKey    = playbook.CodeUnknownKey
	CodeDuplicateKey  = playbook.CodeDuplicateKey
	CodeMissingField  = playbook.CodeMissingField
	CodeWrongType     = playbook.CodeWrongType
	CodeInvalidValue  = playbook.CodeInvalidValue
	CodeInvalidDur    = playbook.CodeInvalidDur
	CodeUnknownAction = playbook.CodeUnknownAction
	CodeUnknownStep   = playbook.CodeUnknownStep
	// CodeUnknownField is an alert or output field the envelope or the
	// action's catalog entry does not have.
	CodeUnknownField = "unknown-field"
	// CodeNoPlaybook is a test file whose playbook cannot be found or does
	// not validate.
	CodeNoPlaybook = "no-playbook"
	// CodeUnknownSample is a sample name that is not built in.
	CodeUnknownSample = "unknown-sample"
	// CodeDuplicateCase is a case name used twice in one file.
	CodeDuplicateCase = "duplicate-case"
)

// extensionPrefix starts top-level keys the harness ignores, as in
// playbooks: x-alert: &alert {...} holds anchors for the cases.
const extensionPrefix = "x-"

var yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// pair is one key and value of a YAML mapping.
type pair struct {
	key, val *yaml.Node
}

// parser holds the state of parsing one test file.
type parser struct {
	file  string
	lines []string
	diags playbook.Diagnostics
}

func newParser(file string, data []byte) *parser {
	return &parser{file: file, lines: strings.Split(string(data), "\n")}
}

func (p *parser) line(n int) string {
	if n < 1 || n > len(p.lines) {
		return ""
	}
	return strings.TrimRight(p.lines[n-1], "\r")
}

func (p *parser) pos(n *yaml.Node) playbook.Position {
	if n == nil {
		return playbook.Position{File: p.file, Line: 1, Column: 1}
	}
	return playbook.Position{File: p.file, Line: n.Line, Column: n.Column}
}

func (p *parser) errorAt(pos playbook.Position, code, format string, args ...any) {
	if pos.File == "" {
		pos.File = p.file
	}
	p.diags = append(p.diags, playbook.Diagnostic{Pos: pos, Code: code, Severity: playbook.SeverityError,
		Message: fmt.Sprintf(format, args...), SourceLine: p.line(pos.Line)})
}

func (p *parser) errorf(n *yaml.Node, code, format string, args ...any) {
	p.errorAt(p.pos(n), code, format, args...)
}

// decode parses data into its document node, reporting syntax errors with
// their line.
func (p *parser) decode(data []byte) (*yaml.Node, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		p.errorAt(playbook.Position{File: p.file, Line: line, Column: 1}, CodeYAMLSyntax, "%s", msg)
		return nil, false
	}
	if len(doc.Content) == 0 {
		p.errorAt(playbook.Position{File: p.file, Line: 1, Column: 1}, CodeMissingField, "the test file is empty: it needs cases:")
		return nil, false
	}
	return doc.Content[0], true
}

// pairs returns the key/value pairs of mapping n, with merge keys (<<)
// expanded (explicit keys win), and reports keys that appear twice.
func (p *parser) pairs(n *yaml.Node) []pair {
	n = playbook.DerefNode(n)
	var out []pair
	seen := map[string]bool{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			src := playbook.DerefNode(v)
			var maps []*yaml.Node
			if src.Kind == yaml.SequenceNode {
				for _, c := range src.Content {
					maps = append(maps, playbook.DerefNode(c))
				}
			} else {
				maps = append(maps, src)
			}
			for _, m := range maps {
				if m.Kind != yaml.MappingNode {
					p.errorf(v, CodeWrongType, "<< merges a mapping, not %s", playbook.DescribeNode(m))
					continue
				}
				merged = append(merged, p.pairs(m)...)
			}
			continue
		}
		if seen[k.Value] {
			p.errorf(k, CodeDuplicateKey, "key %q appears twice in this mapping", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k, v})
	}
	for _, m := range merged {
		if !seen[m.key.Value] {
			seen[m.key.Value] = true
			out = append(out, m)
		}
	}
	return out
}

// fields checks that n is a mapping whose keys are among allowed (a key
// ending in * allows a prefix) and returns its pairs by key.
func (p *parser) fields(n *yaml.Node, what string, allowed []string) (map[string]pair, bool) {
	if playbook.DerefNode(n) == nil || playbook.DerefNode(n).Kind != yaml.MappingNode {
		p.errorf(n, CodeWrongType, "%s must be a mapping, not %s", what, playbook.DescribeNode(n))
		return nil, false
	}
	out := map[string]pair{}
	for _, pr := range p.pairs(n) {
		if !keyAllowed(pr.key.Value, allowed) {
			msg := fmt.Sprintf("unknown key %q in %s", pr.key.Value, what)
			if s := playbook.Closest(pr.key.Value, plainKeys(allowed)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += fmt.Sprintf(" (allowed: %s)", strings.Join(plainKeys(allowed), ", "))
			}
			p.errorf(pr.key, CodeUnknownKey, "%s", msg)
			continue
		}
		out[pr.key.Value] = pr
	}
	return out, true
}

func keyAllowed(k string, allowed []string) bool {
	for _, a := range allowed {
		if a == k || strings.HasSuffix(a, "*") && strings.HasPrefix(k, strings.TrimSuffix(a, "*")) {
			return true
		}
	}
	return false
}

func plainKeys(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		if !strings.HasSuffix(a, "*") {
			out = append(out, a)
		}
	}
	return out
}

// str reads a string scalar.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	d := playbook.DerefNode(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() == "!!null" {
		p.errorf(n, CodeWrongType, "%s must be a string, not %s", what, playbook.DescribeNode(n))
		return "", false
	}
	return d.Value, true
}

// nonEmpty reads a non-empty string scalar.
func (p *parser) nonEmpty(n *yaml.Node, what string) (string, bool) {
	s, ok := p.str(n, what)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(n, CodeInvalidValue, "%s must not be empty", what)
		return "", false
	}
	return s, ok
}

// integer reads a non-negative int scalar.
func (p *parser) integer(n *yaml.Node, what string) (int, bool) {
	d := playbook.DerefNode(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!int" {
		p.errorf(n, CodeWrongType, "%s must be a whole number, not %s", what, playbook.DescribeNode(n))
		return 0, false
	}
	v, err := strconv.Atoi(d.Value)
	if err != nil || v < 0 {
		p.errorf(n, CodeInvalidValue, "%s must be a whole number ≥ 0, not %s", what, d.Value)
		return 0, false
	}
	return v, true
}

// boolean reads a bool scalar.
func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	d := playbook.DerefNode(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!bool" {
		p.errorf(n, CodeWrongType, "%s must be true or false, not %s", what, playbook.DescribeNode(n))
		return false, false
	}
	var b bool
	if err := d.Decode(&b); err != nil {
		p.errorf(n, CodeWrongType, "%s must be true or false: %v", what, err)
		return false, false
	}
	return b, true
}

// duration reads a playbook duration (30s, 10m, 24h, 7d, 0s).
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	d := playbook.DerefNode(n)
	if d != nil && d.Kind == yaml.ScalarNode && d.ShortTag() == "!!int" && d.Value == "0" {
		return 0, true
	}
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := playbook.ParseDuration(s)
	if err != nil {
		p.errorf(n, CodeInvalidDur, "%s: %v", what, err)
		return 0, false
	}
	return v, true
}

// strList reads a list of strings (a single string is a list of one).
func (p *parser) strList(n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	d := playbook.DerefNode(n)
	if d != nil && d.Kind == yaml.ScalarNode {
		s, ok := p.nonEmpty(n, what)
		return []string{s}, []*yaml.Node{n}, ok
	}
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errorf(n, CodeWrongType, "%s must be a list of strings, not %s", what, playbook.DescribeNode(n))
		return nil, nil, false
	}
	var out []string
	var nodes []*yaml.Node
	ok := true
	for _, c := range d.Content {
		s, good := p.nonEmpty(c, what+" entry")
		ok = ok && good
		out = append(out, s)
		nodes = append(nodes, c)
	}
	return out, nodes, ok
}

// list returns the items of a sequence node.
func (p *parser) list(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	d := playbook.DerefNode(n)
	if playbook.IsNullNode(n) {
		return nil, true
	}
	if d.Kind != yaml.SequenceNode {
		p.errorf(n, CodeWrongType, "%s must be a list, not %s", what, playbook.DescribeNode(n))
		return nil, false
	}
	out := make([]*yaml.Node, len(d.Content))
	for i, c := range d.Content {
		out[i] = c
	}
	return out, true
}

// value decodes a node into plain Go values (maps, lists, scalars).
func (p *parser) value(n *yaml.Node, what string) (any, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		p.errorf(n, CodeWrongType, "%s: %v", what, err)
		return nil, false
	}
	return normalizeYAML(v), true
}

// normalizeYAML turns yaml.v3's decoded values into JSON-like ones:
// map[string]any, []any, int64 for whole numbers, RFC 3339 strings for
// timestamps.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeYAML(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeYAML(e)
		}
		return out
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// sortedCopy returns a sorted copy of names.
func sortedCopy(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return out
}

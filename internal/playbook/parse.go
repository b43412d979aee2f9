package playbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/guard"
)

// Limits of names and IDs.
const (
	maxNameLen = 63
	maxIDLen   = 64
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	idRE      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Options configures [Parse], [ParseFile], [LoadDir] and [LoadPaths].
type Options struct {
	// Env checks the CEL expressions. When nil, Parse and ParseFile build a
	// default environment on each call (slow: pass one), and LoadDir and
	// LoadPaths build one per call.
	Env *expr.Env
	// Actions resolves action names; nil means the real catalog
	// ([activities.Lookup]).
	Actions ActionLookup
	// Config, when set, enables the checks against soar.yaml: approver
	// groups and users, notification channels, command templates and their
	// parameters, account names, and the guardrails' protected networks
	// (without it the built-in protected networks still apply).
	Config *config.Config
}

// ActionLookup resolves action names to their catalog entries. A lookup
// that also has a Names() []string method gets "did you mean" suggestions
// for unknown actions.
type ActionLookup interface {
	Lookup(name string) (activities.ActionSpec, bool)
}

// Catalog returns an [ActionLookup] over specs, with suggestions.
func Catalog(specs []activities.ActionSpec) ActionLookup {
	c := catalogLookup{}
	for _, s := range specs {
		c[s.Name] = s
	}
	return c
}

type catalogLookup map[string]activities.ActionSpec

func (c catalogLookup) Lookup(name string) (activities.ActionSpec, bool) {
	s, ok := c[name]
	return s, ok
}

func (c catalogLookup) Names() []string {
	out := make([]string, 0, len(c))
	for n := range c {
		out = append(out, n)
	}
	return out
}

// ParseFile reads and parses the playbook at path; see [Parse].
func ParseFile(path string, opts Options) (*Playbook, Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Diagnostics{readError(path, err)}
	}
	return Parse(path, data, opts)
}

func readError(file string, err error) Diagnostic {
	return Diagnostic{Pos: Position{File: file}, Code: CodeReadError, Message: fmt.Sprintf("cannot read the playbook: %v", unwrapPath(err))}
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap()
	}
	return err
}

// Parse parses and validates one playbook. file names it in positions and
// becomes [Playbook.File]. Defaults are applied (see the package
// documentation). Every problem is reported, sorted by position; the
// playbook is nil when there is at least one error, and returned with the
// warnings otherwise.
func Parse(file string, data []byte, opts Options) (*Playbook, Diagnostics) {
	pb, diags, _ := parse(file, data, opts)
	return pb, diags
}

// parse is Parse that also returns the position of the name's value, for
// duplicate-name diagnostics.
func parse(file string, data []byte, opts Options) (*Playbook, Diagnostics, Position) {
	p := &parser{src: newSource(file, data), opts: opts}
	pb := p.run(data)
	p.diags = sortDiagnostics(p.diags)
	if p.diags.HasErrors() || pb == nil {
		return nil, p.diags, p.namePos
	}
	sum := sha256.Sum256(data)
	pb.File, pb.Hash = file, hex.EncodeToString(sum[:])
	return pb, p.diags, p.namePos
}

// parser holds the state of parsing one file.
type parser struct {
	src     *source
	opts    Options
	actions ActionLookup
	guard   *guard.Guard
	diags   Diagnostics
	namePos Position

	// Filled before the steps are parsed, so that expressions can be
	// checked against every step ID and var name.
	hasDedup bool
	steps    map[string]stepRef
	stepIDs  []string
	vars     map[string]int
	varList  []string
}

// stepRef locates a step in execution order.
type stepRef struct {
	order int  // index of the top-level step (or of its parallel block); on_failure steps follow the steps
	group bool // inside a parallel block
	line  int
}

func (p *parser) report(pos Position, sev Severity, code, format string, args ...any) {
	if pos.File == "" {
		pos.File = p.src.file
	}
	p.diags = append(p.diags, Diagnostic{Pos: pos, Code: code, Severity: sev,
		Message: fmt.Sprintf(format, args...), SourceLine: p.src.line(pos.Line)})
}

func (p *parser) errorAt(pos Position, code, format string, args ...any) {
	p.report(pos, SeverityError, code, format, args...)
}

func (p *parser) warnAt(pos Position, code, format string, args ...any) {
	p.report(pos, SeverityWarning, code, format, args...)
}

func (p *parser) pos(n *yaml.Node) Position {
	if n == nil {
		return Position{File: p.src.file, Line: 1, Column: 1}
	}
	return p.src.nodePos(n)
}

func (p *parser) errorf(n *yaml.Node, code, format string, args ...any) {
	p.errorAt(p.pos(n), code, format, args...)
}

func (p *parser) warnf(n *yaml.Node, code, format string, args ...any) {
	p.warnAt(p.pos(n), code, format, args...)
}

// playbookKeys are the top-level keys.
func playbookKeys() []string {
	return []string{"name", "title", "description", "mode", "enabled", "trigger", "dedup", "severity",
		"vars", "steps", "on_failure", "rollback_on_failure", "tags", extensionPrefix + "*"}
}

func (p *parser) run(data []byte) *Playbook {
	root, ok := p.decode(data)
	if !ok {
		return nil
	}
	if p.opts.Env == nil {
		env, err := expr.NewEnv(expr.Options{})
		if err != nil {
			p.errorAt(Position{File: p.src.file}, CodeReadError, "build the expression environment: %v", err)
			return nil
		}
		p.opts.Env = env
	}
	p.actions = p.opts.Actions
	if p.actions == nil {
		// activities.Lookup builds the catalog on each call: index it once.
		p.actions = Catalog(activities.Catalog())
	}
	var policy guard.Policy
	if p.opts.Config != nil {
		policy = p.opts.Config.Guardrails
	}
	g, err := guard.New(policy)
	if err != nil {
		// A broken policy is the config's problem; fall back to the
		// built-in protected networks.
		g, _ = guard.New(guard.Policy{})
	}
	p.guard = g

	f, ok := p.fields(root, "the playbook", playbookKeys(), nil)
	if !ok {
		return nil
	}
	pb := &Playbook{Mode: ModeEnforce, Enabled: true}
	p.collectRefs(f)
	_, p.hasDedup = f["dedup"]

	if pr, ok := f["name"]; ok {
		p.namePos = p.pos(pr.val)
		if s, ok := p.str(pr.val, "name"); ok {
			pb.Name = s
			switch {
			case len(s) > maxNameLen:
				p.errorf(pr.val, CodeInvalidName, "name %q is %d characters long; the limit is %d", s, len(s), maxNameLen)
			case !nameRE.MatchString(s):
				p.errorf(pr.val, CodeInvalidName, "name %q must use only a-z, 0-9 and - (not at the start or end): it prefixes incident workflow IDs%s", s, nameHint(s))
			}
		}
	} else {
		p.errorf(root, CodeMissingField, "the playbook has no name")
	}
	if pr, ok := f["title"]; ok {
		pb.Title, _ = p.str(pr.val, "title")
	}
	if pr, ok := f["description"]; ok {
		pb.Description, _ = p.str(pr.val, "description")
	}
	if pr, ok := f["mode"]; ok {
		if s, ok := p.str(pr.val, "mode"); ok {
			pb.Mode = s
			p.oneOf(pr.val, "mode", s, ModeEnforce, ModeDryRun)
		}
	}
	if pr, ok := f["enabled"]; ok {
		pb.Enabled, _ = p.boolean(pr.val, "enabled")
	}
	if pr, ok := f["rollback_on_failure"]; ok {
		pb.RollbackOnFailure, _ = p.boolean(pr.val, "rollback_on_failure")
	}
	if pr, ok := f["tags"]; ok {
		pb.Tags, _ = p.strList(pr.val, "tags")
	}
	if pr, ok := f["trigger"]; ok {
		pb.Trigger = p.trigger(pr)
	} else {
		p.errorf(root, CodeMissingField, "the playbook has no trigger (trigger: {subjects: [alerts.<source>.<type>]})")
	}
	if pr, ok := f["dedup"]; ok {
		pb.Dedup = p.dedup(pr)
	}
	if pr, ok := f["severity"]; ok {
		pb.Severity = p.triggerCEL(pr.val, "severity", "int")
	}
	if pr, ok := f["vars"]; ok {
		pb.Vars = p.parseVars(pr.val)
	}
	if pr, ok := f["steps"]; ok {
		pb.Steps = p.stepList(pr.val, "steps", 0)
		if len(pb.Steps) == 0 && deref(pr.val).Kind == yaml.SequenceNode {
			p.errorf(pr.val, CodeEmptySteps, "steps is empty: a playbook needs at least one step")
		}
	} else {
		p.errorf(root, CodeMissingField, "the playbook has no steps")
	}
	if pr, ok := f["on_failure"]; ok {
		pb.OnFailure = p.stepList(pr.val, "on_failure", p.mainSteps(f))
	}
	return pb
}

// decode parses the YAML into its root node, reporting syntax errors.
func (p *parser) decode(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorAt(Position{File: p.src.file, Line: 1, Column: 1}, CodeMissingField, "the file is empty: a playbook needs name, trigger and steps")
			return nil, false
		}
		p.yamlError(err)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, CodeYAMLSyntax, "a playbook file holds one YAML document; found a second one")
		return nil, false
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
		return nil, false
	}
	if len(doc.Content) == 0 {
		p.errorAt(Position{File: p.src.file, Line: 1, Column: 1}, CodeMissingField, "the file is empty: a playbook needs name, trigger and steps")
		return nil, false
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.errorf(root, CodeWrongType, "a playbook must be a mapping (name, trigger, steps, …), got %s", describe(root))
		return nil, false
	}
	return root, true
}

// yamlError reports a yaml.v3 error. yaml.v3 gives a line (sometimes
// approximate) but no column: point at the line's first non-blank
// character.
func (p *parser) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlErrRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else if strings.Contains(msg, "end of stream") {
		line = len(p.src.lines)
		for line > 1 && strings.TrimSpace(p.src.line(line)) == "" {
			line--
		}
	}
	text := p.src.line(line)
	col := len([]rune(text)) - len([]rune(strings.TrimLeft(text, " \t"))) + 1
	if strings.Contains(msg, "found character that cannot start any token") && strings.Contains(text, "\t") {
		msg += " (YAML indentation must use spaces, not tabs)"
	}
	if l, c, ok := p.unquotedTemplate(line, msg); ok {
		line, col = l, c
		msg += ` (quote a value holding ${{ }}, as in ip: "${{ alert.source_ip }}": unquoted, YAML reads its braces and ": " as its own syntax)`
	}
	p.errorAt(Position{File: p.src.file, Line: line, Column: col}, CodeYAMLSyntax, "%s", msg)
}

// unquotedTemplate finds the unquoted ${{ that most likely caused the YAML
// syntax error msg reported at line: on that line or the next for a colon
// ("mapping values are not allowed"), and a few lines further for an
// unclosed flow collection ({ } or [ ]), which yaml.v3 reports on the line
// before the one that opens it. It returns the position of the ${{.
func (p *parser) unquotedTemplate(line int, msg string) (int, int, bool) {
	last := line
	switch {
	case strings.Contains(msg, "did not find expected ',' or"):
		last = line + 5
	case strings.Contains(msg, "mapping values are not allowed"), strings.Contains(msg, "could not find expected ':'"):
		last = line + 1
	default:
		return 0, 0, false
	}
	for l := max(line, 1); l <= last && l <= len(p.src.lines); l++ {
		if c := unquotedTemplateCol(p.src.line(l)); c > 0 {
			return l, c, true
		}
	}
	return 0, 0, false
}

// unquotedTemplateCol returns the 1-based column of the first ${{ on text
// that is outside quotes and before any comment, or 0.
func unquotedTemplateCol(text string) int {
	r := []rune(text)
	var quote rune
	for i := 0; i < len(r); i++ {
		switch {
		case quote != 0:
			if r[i] == quote {
				quote = 0
			}
		case r[i] == '"' || r[i] == '\'':
			quote = r[i]
		case r[i] == '#' && (i == 0 || r[i-1] == ' ' || r[i-1] == '\t'):
			return 0
		case r[i] == '$' && i+2 < len(r) && r[i+1] == '{' && r[i+2] == '{':
			return i + 1
		}
	}
	return 0
}

// nameHint suggests a valid spelling of a playbook name.
func nameHint(s string) string {
	fixed := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == '_' || r == ' ' || r == '.':
			return '-'
		}
		return -1
	}, s), "-")
	if fixed == "" || fixed == s || !nameRE.MatchString(fixed) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", fixed)
}

// str reads a string scalar. Numbers and booleans are taken as written.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, CodeWrongType, "%s must be a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.errorf(n, CodeWrongType, "%s must be true or false, got %s", what, describe(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.errorf(n, CodeWrongType, "%s must be true or false, got %q", what, n.Value)
		return false, false
	}
	return b, true
}

func (p *parser) integer(n *yaml.Node, what string) (int, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		p.errorf(n, CodeWrongType, "%s must be a whole number, got %s", what, describe(n))
		return 0, false
	}
	var i int
	if err := n.Decode(&i); err != nil {
		p.errorf(n, CodeWrongType, "%s: %s is not a number soar can hold", what, n.Value)
		return 0, false
	}
	return i, true
}

func (p *parser) number(n *yaml.Node, what string) (float64, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		p.errorf(n, CodeWrongType, "%s must be a number, got %s", what, describe(n))
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		p.errorf(n, CodeWrongType, "%s: %s is not a number", what, n.Value)
		return 0, false
	}
	return f, true
}

// strList reads a list of string scalars.
func (p *parser) strList(n *yaml.Node, what string) ([]string, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, CodeWrongType, "%s must be a list of strings, got %s%s", what, describe(n), listHint(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		c = deref(c)
		if c.Kind != yaml.ScalarNode || c.ShortTag() == "!!null" {
			p.errorf(c, CodeWrongType, "%s must hold strings, got %s", what, describe(c))
			ok = false
			continue
		}
		out = append(out, c.Value)
	}
	return out, ok
}

// listHint suggests the list form of a scalar.
func listHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Value != "" {
		return fmt.Sprintf(" (write [%s] for a list of one)", n.Value)
	}
	return ""
}

// duration reads a positive duration ("30s", "24h", "7d").
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, CodeWrongType, "%s must be a duration such as 30s, 10m, 24h or 7d, got %s", what, describe(n))
		return 0, false
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		p.errorf(n, CodeInvalidDur, "%s: %v", what, err)
		return 0, false
	}
	if d <= 0 {
		p.errorf(n, CodeInvalidDur, "%s must be longer than zero", what)
		return 0, false
	}
	return d, true
}

// oneOf reports s when it is not one of allowed.
func (p *parser) oneOf(n *yaml.Node, what, s string, allowed ...string) bool {
	if contains(allowed, s) {
		return true
	}
	p.errorf(n, CodeInvalidValue, "%s %q is not one of %s%s", what, s, strings.Join(allowed, ", "), didYouMean(s, allowed))
	return false
}

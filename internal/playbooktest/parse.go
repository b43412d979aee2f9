package playbooktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// DefaultStart returns the workflow time at offset 0 of a case that sets
// no start: Monday 2025-06-02 10:00 UTC.
func DefaultStart() time.Time { return time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC) }

func fileKeys() []string {
	return []string{"playbook", "start", "config", "cases", extensionPrefix + "*"}
}

func caseKeys() []string {
	return []string{"name", "description", "start", "mode", "config", "alerts", "mocks", "approvals", "updates", "expect"}
}

// target is what the test file is checked against: the playbook's step
// IDs (nil when the playbook did not load) and the sample names.
type target struct {
	steps   []string
	samples func(name string) bool
	names   []string
}

// header is the part of a test file read before the playbook is known.
type header struct {
	root     *yaml.Node
	fields   map[string]pair
	playbook string
}

// parseHeader reads the top level of a test file and works out the
// playbook's path: playbook: (relative to the test file), else the test
// file's name without .test.
func (p *parser) parseHeader(data []byte) (*header, bool) {
	root, ok := p.decode(data)
	if !ok {
		return nil, false
	}
	f, ok := p.fields(root, "the test file", fileKeys())
	if !ok {
		return nil, false
	}
	h := &header{root: root, fields: f}
	if pr, ok := f["playbook"]; ok {
		s, ok := p.nonEmpty(pr.val, "playbook")
		if !ok {
			return nil, false
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(filepath.Dir(p.file), s)
		}
		h.playbook = s
		return h, true
	}
	h.playbook = siblingPlaybook(p.file)
	return h, true
}

// siblingPlaybook returns the playbook beside a test file: x.test.yaml →
// x.yaml (or x.yml when only that exists).
func siblingPlaybook(testFile string) string {
	base := testFile
	for _, ext := range []string{".test.yaml", ".test.yml"} {
		if strings.HasSuffix(base, ext) {
			base = strings.TrimSuffix(base, ext)
			break
		}
	}
	yml := base + ".yml"
	if _, err := os.Stat(base + ".yaml"); err != nil {
		if _, err := os.Stat(yml); err == nil {
			return yml
		}
	}
	return base + ".yaml"
}

// parseCases reads the cases of a test file.
func (p *parser) parseCases(h *header, t target) *spec {
	sp := &spec{file: p.file, playbookPath: h.playbook}
	start := DefaultStart()
	if pr, ok := h.fields["start"]; ok {
		if v, ok := p.timestamp(pr.val, "start"); ok {
			start = v
		}
	}
	var base caseConfig
	if pr, ok := h.fields["config"]; ok {
		base = p.caseConfig(pr.val)
	}
	pr, ok := h.fields["cases"]
	if !ok {
		p.errorf(h.root, CodeMissingField, "the test file has no cases:")
		return sp
	}
	items, ok := p.list(pr.val, "cases")
	if !ok {
		return sp
	}
	if len(items) == 0 {
		p.errorf(pr.val, CodeMissingField, "cases: is empty: write at least one case")
	}
	names := map[string]bool{}
	for _, n := range items {
		c := p.parseCase(n, t, start, base)
		if c == nil {
			continue
		}
		if names[c.name] {
			p.errorAt(c.pos, CodeDuplicateCase, "case name %q is used twice in this file", c.name)
		}
		names[c.name] = true
		sp.cases = append(sp.cases, c)
	}
	return sp
}

func (p *parser) timestamp(n *yaml.Node, what string) (time.Time, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return time.Time{}, false
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		p.errorf(n, CodeInvalidValue, "%s must be an RFC 3339 time such as 2025-06-02T03:00:00+08:00: %v", what, err)
		return time.Time{}, false
	}
	return v, true
}

func (p *parser) parseCase(n *yaml.Node, t target, start time.Time, base caseConfig) *testCase {
	f, ok := p.fields(n, "a case", caseKeys())
	if !ok {
		return nil
	}
	c := &testCase{pos: p.pos(n), start: start, config: base, mocks: map[string][]*mock{}}
	if pr, ok := f["name"]; ok {
		c.name, _ = p.nonEmpty(pr.val, "name")
		c.pos = p.pos(pr.val)
	} else {
		p.errorf(n, CodeMissingField, "the case has no name")
	}
	if pr, ok := f["description"]; ok {
		_, _ = p.str(pr.val, "description")
	}
	if pr, ok := f["start"]; ok {
		if v, ok := p.timestamp(pr.val, "start"); ok {
			c.start = v
		}
	}
	if pr, ok := f["mode"]; ok {
		if s, ok := p.str(pr.val, "mode"); ok {
			if s != playbook.ModeEnforce && s != playbook.ModeDryRun {
				p.errorf(pr.val, CodeInvalidValue, "mode must be %s or %s, not %q", playbook.ModeEnforce, playbook.ModeDryRun, s)
			}
			c.mode = s
		}
	}
	if pr, ok := f["config"]; ok {
		c.config = mergeConfig(base, p.caseConfig(pr.val))
	}
	if pr, ok := f["alerts"]; ok {
		c.alerts = p.alerts(pr.val, t)
	} else {
		p.errorf(n, CodeMissingField, "case %q has no alerts: the first alert opens the incident", c.name)
	}
	if pr, ok := f["mocks"]; ok {
		c.mocks = p.mocks(pr.val)
	}
	if pr, ok := f["approvals"]; ok {
		c.approvals = p.approvals(pr.val, t)
	}
	if pr, ok := f["updates"]; ok {
		c.updates = p.updates(pr.val, t)
	}
	if pr, ok := f["expect"]; ok {
		c.expect = p.expect(pr.val, t)
	} else {
		p.errorf(n, CodeMissingField, "case %q has no expect: say what the playbook should do", c.name)
	}
	return c
}

// caseConfig reads config overrides.
func (p *parser) caseConfig(n *yaml.Node) caseConfig {
	cc := caseConfig{pos: p.pos(n)}
	f, ok := p.fields(n, "config", []string{"approvers", "guardrails", "default_approvers"})
	if !ok {
		return cc
	}
	if pr, ok := f["approvers"]; ok {
		if g, ok := p.fields(pr.val, "config.approvers", []string{"*"}); ok {
			cc.approvers = map[string][]string{}
			for name, gp := range g {
				users, _, _ := p.strList(gp.val, "approver group "+name)
				cc.approvers[name] = users
			}
		}
	}
	if pr, ok := f["guardrails"]; ok {
		if p.checkFields(pr.val, reflect.TypeFor[guard.Policy](), "config.guardrails", "yaml") {
			cc.guardrails = []*yaml.Node{pr.val}
		}
	}
	if pr, ok := f["default_approvers"]; ok {
		cc.defaultApprovers, _, _ = p.strList(pr.val, "default_approvers")
	}
	return cc
}

// mergeConfig applies a case's overrides over the file's.
func mergeConfig(base, over caseConfig) caseConfig {
	out := base
	if over.approvers != nil {
		out.approvers = map[string][]string{}
		for k, v := range base.approvers {
			out.approvers[k] = v
		}
		for k, v := range over.approvers {
			out.approvers[k] = v
		}
	}
	out.guardrails = append(slices.Clip(base.guardrails), over.guardrails...)
	if over.defaultApprovers != nil {
		out.defaultApprovers = over.defaultApprovers
	}
	out.pos = over.pos
	return out
}

func alertKeys() []string {
	return []string{"at", "alert", "sample", "subject", "payload", "hops", "repeat", "every"}
}

func (p *parser) alerts(n *yaml.Node, t target) []alertIn {
	items, ok := p.list(n, "alerts")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, CodeMissingField, "alerts: is empty: the first alert opens the incident")
	}
	var out []alertIn
	for i, it := range items {
		f, ok := p.fields(it, "an alert", alertKeys())
		if !ok {
			continue
		}
		a := alertIn{pos: p.pos(it)}
		if pr, ok := f["at"]; ok {
			a.at, _ = p.duration(pr.val, "at")
			if i == 0 && a.at != 0 {
				p.errorf(pr.val, CodeInvalidValue, "the first alert opens the incident at offset 0; it cannot be at %s", pr.val.Value)
			}
		} else if i > 0 {
			p.errorf(it, CodeMissingField, "alert %d has no at: (its time offset, e.g. at: 10m)", i+1)
		}
		if pr, ok := f["subject"]; ok {
			a.subject, _ = p.nonEmpty(pr.val, "subject")
		}
		kinds := 0
		if pr, ok := f["alert"]; ok {
			kinds++
			a.envelope = p.envelope(pr.val)
		}
		if pr, ok := f["sample"]; ok {
			kinds++
			if s, ok := p.nonEmpty(pr.val, "sample"); ok {
				a.sample = s
				if t.samples != nil && !t.samples(s) {
					p.errorf(pr.val, CodeUnknownSample, "no built-in sample %q%s", s, playbook.DidYouMean(s, t.names))
				}
			}
		}
		if pr, ok := f["payload"]; ok {
			kinds++
			a.payload = p.payload(pr.val)
			if a.subject == "" {
				p.errorf(pr.key, CodeMissingField, "a vendor payload needs its subject: (e.g. alerts.waf.sqli): the subject picks the decoder")
			}
		}
		if kinds != 1 {
			p.errorf(it, CodeMissingField, "an alert needs exactly one of alert: (the envelope), sample: (a built-in sample) or payload: (a vendor payload with its subject:)")
		}
		if pr, ok := f["hops"]; ok {
			a.hops, _ = p.integer(pr.val, "hops")
		}
		if pr, ok := f["repeat"]; ok {
			a.repeat, _ = p.integer(pr.val, "repeat")
			if i == 0 && a.repeat > 0 {
				a.every = time.Minute
			}
		}
		if pr, ok := f["every"]; ok {
			a.every, _ = p.duration(pr.val, "every")
			if _, hasRepeat := f["repeat"]; !hasRepeat {
				p.errorf(pr.key, CodeMissingField, "every: needs repeat: (how many more copies of the alert to send)")
			}
		} else if a.repeat > 0 {
			a.every = time.Minute
		}
		out = append(out, a)
	}
	return out
}

// envelope reads an alert in the envelope's shape, checking every field
// name and type against internal/alert.Alert.
func (p *parser) envelope(n *yaml.Node) *alert.Alert {
	if !p.checkFields(n, reflect.TypeFor[alert.Alert](), "alert", "json") {
		return nil
	}
	v, ok := p.value(n, "alert")
	if !ok {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		p.errorf(n, CodeWrongType, "alert: %v", err)
		return nil
	}
	var a alert.Alert
	if err := json.Unmarshal(data, &a); err != nil {
		p.errorf(n, CodeWrongType, "alert: %v", err)
		return nil
	}
	return &a
}

// payload reads a vendor payload: a mapping (converted to JSON) or a
// string holding JSON.
func (p *parser) payload(n *yaml.Node) []byte {
	d := playbook.DerefNode(n)
	if d != nil && d.Kind == yaml.ScalarNode && d.ShortTag() == "!!str" {
		if !json.Valid([]byte(d.Value)) {
			p.errorf(n, CodeInvalidValue, "payload: the string is not valid JSON")
			return nil
		}
		return []byte(d.Value)
	}
	v, ok := p.value(n, "payload")
	if !ok {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		p.errorf(n, CodeWrongType, "payload: %v", err)
		return nil
	}
	return data
}

// checkFields checks a mapping's keys and scalar kinds against a Go type's
// fields named by tag (json or yaml), recursively. It reports unknown
// keys with a suggestion and scalars of the wrong kind.
func (p *parser) checkFields(n *yaml.Node, t reflect.Type, path, tag string) bool {
	d := playbook.DerefNode(n)
	if playbook.IsNullNode(n) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		if d.Kind != yaml.ScalarNode {
			p.errorf(n, CodeWrongType, "%s must be an RFC 3339 time, not %s", path, playbook.DescribeNode(n))
			return false
		}
		if d.ShortTag() != "!!timestamp" {
			if _, err := time.Parse(time.RFC3339Nano, d.Value); err != nil {
				p.errorf(n, CodeWrongType, "%s must be an RFC 3339 time such as 2025-06-02T10:00:00Z, not %q", path, d.Value)
				return false
			}
		}
		return true
	case t == reflect.TypeFor[time.Duration]() && tag == "yaml":
		s, ok := p.str(n, path)
		if !ok {
			return false
		}
		if _, err := time.ParseDuration(s); err != nil {
			p.errorf(n, CodeInvalidDur, "%s must be a duration such as 30m or 24h: %v", path, err)
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		if d.Kind != yaml.MappingNode {
			p.errorf(n, CodeWrongType, "%s must be a mapping, not %s", path, playbook.DescribeNode(n))
			return false
		}
		fields := map[string]reflect.Type{}
		var names []string
		collectFields(t, tag, fields, &names)
		ok := true
		for _, pr := range p.pairs(d) {
			ft, known := fields[pr.key.Value]
			if !known {
				p.errorf(pr.key, CodeUnknownField, "%s has no field %q%s", path, pr.key.Value, playbook.DidYouMean(pr.key.Value, names))
				ok = false
				continue
			}
			ok = p.checkFields(pr.val, ft, path+"."+pr.key.Value, tag) && ok
		}
		return ok
	case reflect.Map:
		if d.Kind != yaml.MappingNode {
			p.errorf(n, CodeWrongType, "%s must be a mapping, not %s", path, playbook.DescribeNode(n))
			return false
		}
		ok := true
		for _, pr := range p.pairs(d) {
			ok = p.checkFields(pr.val, t.Elem(), path+"."+pr.key.Value, tag) && ok
		}
		return ok
	case reflect.Slice:
		if d.Kind != yaml.SequenceNode {
			p.errorf(n, CodeWrongType, "%s must be a list, not %s", path, playbook.DescribeNode(n))
			return false
		}
		ok := true
		for i, c := range d.Content {
			ok = p.checkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), tag) && ok
		}
		return ok
	case reflect.String:
		if d.Kind != yaml.ScalarNode || d.ShortTag() == "!!null" {
			p.errorf(n, CodeWrongType, "%s must be a string, not %s", path, playbook.DescribeNode(n))
			return false
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if d.Kind != yaml.ScalarNode || d.ShortTag() != "!!int" {
			p.errorf(n, CodeWrongType, "%s must be a whole number, not %s", path, playbook.DescribeNode(n))
			return false
		}
	case reflect.Bool:
		if d.Kind != yaml.ScalarNode || d.ShortTag() != "!!bool" {
			p.errorf(n, CodeWrongType, "%s must be true or false, not %s", path, playbook.DescribeNode(n))
			return false
		}
	}
	return true
}

// collectFields maps the tag names of a struct's fields (embedded structs
// flattened) to their types.
func collectFields(t reflect.Type, tag string, out map[string]reflect.Type, names *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, tag, out, names)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
		*names = append(*names, name)
	}
}

func mockKeys() []string { return []string{"when", "output", "error"} }

// mocks reads the mocked action results: action name → a mapping (every
// call) or a list of mappings (per call, in order).
func (p *parser) mocks(n *yaml.Node) map[string][]*mock {
	out := map[string][]*mock{}
	f, ok := p.fields(n, "mocks", []string{"*"})
	if !ok {
		return out
	}
	for _, name := range sortedKeys(f) {
		pr := f[name]
		spec, ok := activities.Lookup(name)
		if !ok {
			p.errorf(pr.key, CodeUnknownAction, "unknown action %q%s", name, playbook.DidYouMean(name, activities.Names()))
			continue
		}
		d := playbook.DerefNode(pr.val)
		var nodes []*yaml.Node
		if d != nil && d.Kind == yaml.SequenceNode {
			nodes = d.Content
			if len(nodes) == 0 {
				p.errorf(pr.val, CodeMissingField, "mocks of %s: the list is empty", name)
			}
		} else {
			nodes = []*yaml.Node{pr.val}
		}
		for _, mn := range nodes {
			if m := p.mock(mn, spec); m != nil {
				out[name] = append(out[name], m)
			}
		}
	}
	return out
}

func (p *parser) mock(n *yaml.Node, spec activities.ActionSpec) *mock {
	f, ok := p.fields(n, "a mock of "+spec.Name, mockKeys())
	if !ok {
		return nil
	}
	m := &mock{pos: p.pos(n)}
	if pr, ok := f["when"]; ok {
		if playbook.DerefNode(pr.val).Kind != yaml.MappingNode {
			p.errorf(pr.val, CodeWrongType, "when must be a mapping of parameters, not %s", playbook.DescribeNode(pr.val))
		} else {
			p.checkParamNames(pr.val, spec)
			m.when, _ = p.pattern(pr.val, "when")
		}
	}
	_, hasOut := f["output"]
	_, hasErr := f["error"]
	if hasOut && hasErr {
		p.errorf(n, CodeInvalidValue, "a mock has output: or error:, not both")
	}
	if pr, ok := f["output"]; ok {
		if f, ok := p.fields(pr.val, "output", []string{"*"}); ok {
			names := make([]string, 0, len(spec.Outputs))
			for _, o := range spec.Outputs {
				names = append(names, o.Name)
			}
			for k, op := range f {
				if _, known := spec.Output(k); !known {
					p.errorf(op.key, CodeUnknownField, "%s has no output field %q%s (fields: %s)", spec.Name, k, playbook.DidYouMean(k, names), strings.Join(names, ", "))
				}
			}
			if v, ok := p.value(pr.val, "output"); ok {
				m.output, _ = jsonValue(v).(map[string]any)
			}
		}
	}
	if pr, ok := f["error"]; ok {
		m.err = p.mockError(pr.val)
	}
	return m
}

func (p *parser) mockError(n *yaml.Node) *mockError {
	d := playbook.DerefNode(n)
	if d != nil && d.Kind == yaml.ScalarNode {
		s, ok := p.nonEmpty(n, "error")
		if !ok {
			return nil
		}
		return &mockError{typ: activities.ErrTypeCloudRejected, message: s}
	}
	f, ok := p.fields(n, "error", []string{"type", "message"})
	if !ok {
		return nil
	}
	e := &mockError{typ: activities.ErrTypeCloudRejected, message: "mocked error"}
	if pr, ok := f["type"]; ok {
		if s, ok := p.nonEmpty(pr.val, "error.type"); ok {
			e.typ = s
		}
	}
	if pr, ok := f["message"]; ok {
		if s, ok := p.nonEmpty(pr.val, "error.message"); ok {
			e.message = s
		}
	}
	return e
}

// checkParamNames reports parameters the action does not take.
func (p *parser) checkParamNames(n *yaml.Node, spec activities.ActionSpec) {
	var names []string
	for _, pa := range spec.AllParams() {
		names = append(names, pa.Name)
	}
	for _, pr := range p.pairs(n) {
		if _, ok := spec.Param(pr.key.Value); !ok {
			p.errorf(pr.key, CodeUnknownField, "%s has no parameter %q%s (parameters: %s)", spec.Name, pr.key.Value, playbook.DidYouMean(pr.key.Value, names), strings.Join(names, ", "))
		}
	}
}

func (p *parser) approvals(n *yaml.Node, t target) []approvalIn {
	items, ok := p.list(n, "approvals")
	if !ok {
		return nil
	}
	var out []approvalIn
	for _, it := range items {
		f, ok := p.fields(it, "an approval", []string{"at", "step", "by", "decision", "comment", "refused"})
		if !ok {
			continue
		}
		a := approvalIn{pos: p.pos(it), decision: workflows.DecisionApprove}
		if pr, ok := f["at"]; ok {
			a.at, _ = p.duration(pr.val, "at")
		} else {
			p.errorf(it, CodeMissingField, "the approval has no at: (its time offset, e.g. at: 5m)")
		}
		if pr, ok := f["step"]; ok {
			if s, ok := p.nonEmpty(pr.val, "step"); ok {
				a.step = s
				p.checkStep(pr.val, s, t)
			}
		} else {
			p.errorf(it, CodeMissingField, "the approval has no step:")
		}
		if pr, ok := f["by"]; ok {
			a.by, _ = p.str(pr.val, "by")
		} else {
			p.errorf(it, CodeMissingField, "the approval has no by: (the approving user)")
		}
		if pr, ok := f["decision"]; ok {
			if s, ok := p.str(pr.val, "decision"); ok {
				a.decision = s // a bad decision is something a test may expect to be refused
			}
		}
		if pr, ok := f["comment"]; ok {
			a.comment, _ = p.str(pr.val, "comment")
		}
		if pr, ok := f["refused"]; ok {
			a.refused = p.refusal(pr.val)
		}
		out = append(out, a)
	}
	return out
}

// refusal reads an expected refusal: true (any reason), a string (the
// reason contains it) or a pattern.
func (p *parser) refusal(n *yaml.Node) *pattern {
	d := playbook.DerefNode(n)
	if d != nil && d.Kind == yaml.ScalarNode && d.ShortTag() == "!!bool" {
		b, _ := p.boolean(n, "refused")
		if !b {
			return nil
		}
		return &pattern{kind: patAny}
	}
	if d != nil && d.Kind == yaml.ScalarNode && d.ShortTag() == "!!str" && d.Tag == "!!str" {
		return &pattern{kind: patContains, text: d.Value}
	}
	pt, _ := p.pattern(n, "refused")
	if pt != nil && pt.kind == patLiteral {
		if s, ok := pt.lit.(string); ok {
			return &pattern{kind: patContains, text: s}
		}
	}
	return pt
}

// checkStep reports a step ID (or step#index) the playbook lacks.
func (p *parser) checkStep(n *yaml.Node, s string, t target) {
	if t.steps == nil {
		return
	}
	id, _, _ := strings.Cut(s, "#")
	if !slices.Contains(t.steps, id) {
		p.errorf(n, CodeUnknownStep, "the playbook has no step %q%s", id, playbook.DidYouMean(id, t.steps))
	}
}

func (p *parser) updates(n *yaml.Node, t target) []updateIn {
	items, ok := p.list(n, "updates")
	if !ok {
		return nil
	}
	var out []updateIn
	for _, it := range items {
		f, ok := p.fields(it, "an update", []string{"at", "revert", "extend", "keep", "by", "user", "refused"})
		if !ok {
			continue
		}
		u := updateIn{pos: p.pos(it)}
		if pr, ok := f["at"]; ok {
			u.at, _ = p.duration(pr.val, "at")
		} else {
			p.errorf(it, CodeMissingField, "the update has no at: (its time offset)")
		}
		for _, k := range []string{"revert", "extend", "keep"} {
			pr, ok := f[k]
			if !ok {
				continue
			}
			if u.kind != "" {
				p.errorf(pr.key, CodeInvalidValue, "an update is one of revert:, extend: or keep:, not several")
				continue
			}
			u.kind = k
			if s, ok := p.nonEmpty(pr.val, k); ok {
				u.step = s
				p.checkStep(pr.val, s, t)
			}
		}
		if u.kind == "" {
			p.errorf(it, CodeMissingField, "the update needs revert: STEP, extend: STEP (with by: 24h) or keep: STEP")
		}
		if pr, ok := f["by"]; ok {
			if u.kind == "extend" {
				if _, ok := p.duration(pr.val, "by"); ok {
					u.by = playbook.DerefNode(pr.val).Value
				}
			} else {
				u.by, _ = p.str(pr.val, "by")
			}
		} else if u.kind == "extend" {
			p.errorf(it, CodeMissingField, "extend needs by: (how much later, e.g. 24h)")
		}
		if pr, ok := f["user"]; ok {
			if u.kind != "extend" {
				p.errorf(pr.key, CodeInvalidValue, "user: is for extend (revert and keep name the user in by:)")
			} else {
				u.user, _ = p.str(pr.val, "user")
			}
		}
		if pr, ok := f["refused"]; ok {
			u.refused = p.refusal(pr.val)
		}
		out = append(out, u)
	}
	return out
}

func expectKeys() []string {
	return []string{"triggered", "calls", "not_called", "steps", "reverts", "state", "error", "status", "during"}
}

func (p *parser) expect(n *yaml.Node, t target) expectation {
	var e expectation
	f, ok := p.fields(n, "expect", expectKeys())
	if !ok {
		return e
	}
	if pr, ok := f["triggered"]; ok {
		if b, ok := p.boolean(pr.val, "triggered"); ok {
			e.triggered = &b
		}
	}
	if pr, ok := f["calls"]; ok {
		e.hasCalls = true
		e.calls = p.callList(pr.val, "calls", t)
	}
	if pr, ok := f["not_called"]; ok {
		names, nodes, _ := p.strList(pr.val, "not_called")
		for i, name := range names {
			if _, ok := activities.Lookup(name); !ok {
				p.errorf(nodes[i], CodeUnknownAction, "unknown action %q%s", name, playbook.DidYouMean(name, activities.Names()))
			}
			e.notCalled = append(e.notCalled, nameAt{name: name, pos: p.pos(nodes[i])})
		}
	}
	if pr, ok := f["steps"]; ok {
		e.steps = p.stepExpects(pr.val, t)
	}
	if pr, ok := f["reverts"]; ok {
		e.hasReverts = true
		e.reverts = p.callList(pr.val, "reverts", t)
	}
	if pr, ok := f["state"]; ok {
		if s, ok := p.str(pr.val, "state"); ok {
			states := []string{workflows.StateClosed, workflows.StateFailed}
			if !slices.Contains(states, s) {
				p.errorf(pr.val, CodeInvalidValue, "state is the incident's final state: %s, not %q", strings.Join(states, " or "), s)
			}
			e.state = s
		}
	}
	if pr, ok := f["error"]; ok {
		e.errText = p.refusal(pr.val)
	}
	if pr, ok := f["status"]; ok {
		if p.checkFields(pr.val, reflect.TypeFor[workflows.Result](), "status", "json") {
			e.status, _ = p.pattern(pr.val, "status")
		}
	}
	if pr, ok := f["during"]; ok {
		e.during = p.checkpoints(pr.val)
	}
	return e
}

func (p *parser) callList(n *yaml.Node, what string, t target) []callExpect {
	items, ok := p.list(n, what)
	if !ok {
		return nil
	}
	var out []callExpect
	for _, it := range items {
		c := callExpect{pos: p.pos(it)}
		if d := playbook.DerefNode(it); d.Kind == yaml.ScalarNode {
			if s, ok := p.nonEmpty(it, what+" entry"); ok {
				c.action = s
				p.checkAction(it, s)
			}
			out = append(out, c)
			continue
		}
		f, ok := p.fields(it, "an expected call", []string{"action", "with", "step", "at", "error"})
		if !ok {
			continue
		}
		spec, known := activities.ActionSpec{}, false
		if pr, ok := f["action"]; ok {
			if s, ok := p.nonEmpty(pr.val, "action"); ok {
				c.action = s
				spec, known = p.checkAction(pr.val, s)
			}
		} else {
			p.errorf(it, CodeMissingField, "the expected call has no action:")
		}
		if pr, ok := f["with"]; ok {
			if playbook.DerefNode(pr.val).Kind != yaml.MappingNode {
				p.errorf(pr.val, CodeWrongType, "with must be a mapping of parameters, not %s", playbook.DescribeNode(pr.val))
			} else {
				if known {
					p.checkParamNames(pr.val, spec)
				}
				c.with, _ = p.pattern(pr.val, "with")
			}
		}
		if pr, ok := f["step"]; ok {
			if s, ok := p.nonEmpty(pr.val, "step"); ok {
				c.step = s
				p.checkStep(pr.val, s, t)
			}
		}
		if pr, ok := f["at"]; ok {
			if d, ok := p.duration(pr.val, "at"); ok {
				c.at = &d
			}
		}
		if pr, ok := f["error"]; ok {
			c.error = p.refusal(pr.val)
		}
		out = append(out, c)
	}
	return out
}

func (p *parser) checkAction(n *yaml.Node, name string) (activities.ActionSpec, bool) {
	spec, ok := activities.Lookup(name)
	if !ok {
		p.errorf(n, CodeUnknownAction, "unknown action %q%s", name, playbook.DidYouMean(name, activities.Names()))
	}
	return spec, ok
}

var stepStatuses = []string{
	activities.StatusSucceeded, activities.StatusFailed, activities.StatusSkipped, activities.StatusRejected,
	activities.StatusTimedOut, activities.StatusPlanned, activities.StatusReverted, activities.StatusPending,
}

func (p *parser) stepExpects(n *yaml.Node, t target) []stepExpect {
	f, ok := p.fields(n, "steps", []string{"*"})
	if !ok {
		return nil
	}
	var out []stepExpect
	for _, pr := range p.pairs(n) {
		if _, ok := f[pr.key.Value]; !ok {
			continue
		}
		se := stepExpect{pos: p.pos(pr.key), id: pr.key.Value}
		p.checkStep(pr.key, se.id, t)
		d := playbook.DerefNode(pr.val)
		if d != nil && d.Kind == yaml.ScalarNode {
			se.status, _ = p.str(pr.val, "steps."+se.id)
			p.checkStatus(pr.val, se.status)
			out = append(out, se)
			continue
		}
		sf, ok := p.fields(pr.val, "steps."+se.id, []string{"status", "error", "approved_by", "output"})
		if !ok {
			continue
		}
		if sp, ok := sf["status"]; ok {
			se.status, _ = p.str(sp.val, "status")
			p.checkStatus(sp.val, se.status)
		}
		if sp, ok := sf["error"]; ok {
			se.err = p.refusal(sp.val)
		}
		if sp, ok := sf["approved_by"]; ok {
			se.approvedBy, _ = p.pattern(sp.val, "approved_by")
		}
		if sp, ok := sf["output"]; ok {
			se.output, _ = p.pattern(sp.val, "output")
		}
		out = append(out, se)
	}
	return out
}

func (p *parser) checkStatus(n *yaml.Node, s string) {
	if s != "" && !slices.Contains(stepStatuses, s) {
		p.errorf(n, CodeInvalidValue, "unknown step status %q%s (statuses: %s)", s, playbook.DidYouMean(s, stepStatuses), strings.Join(stepStatuses, ", "))
	}
}

func (p *parser) checkpoints(n *yaml.Node) []checkpoint {
	items, ok := p.list(n, "during")
	if !ok {
		return nil
	}
	var out []checkpoint
	for _, it := range items {
		d := playbook.DerefNode(it)
		if d.Kind != yaml.MappingNode {
			p.errorf(it, CodeWrongType, "a during: entry must be a mapping (at: plus status fields), not %s", playbook.DescribeNode(it))
			continue
		}
		cp := checkpoint{pos: p.pos(it)}
		rest := &yaml.Node{Kind: yaml.MappingNode, Line: d.Line, Column: d.Column}
		hasAt := false
		for _, pr := range p.pairs(d) {
			if pr.key.Value == "at" {
				cp.at, _ = p.duration(pr.val, "at")
				hasAt = true
				continue
			}
			rest.Content = append(rest.Content, pr.key, pr.val)
		}
		if !hasAt {
			p.errorf(it, CodeMissingField, "the during: entry has no at: (when to query the status)")
		}
		if p.checkFields(rest, reflect.TypeFor[workflows.Status](), "status", "json") {
			cp.status, _ = p.pattern(rest, "status")
		}
		out = append(out, cp)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

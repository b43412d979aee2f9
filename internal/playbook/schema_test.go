package playbook_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

const schemaFile = "../../playbooks/schema.json"

func TestSchemaInSync(t *testing.T) {
	got, err := playbook.JSONSchema(activities.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, schemaFile, string(got))
}

// mustSchema loads the generated schema.
func mustSchema(tb testing.TB) map[string]any {
	tb.Helper()
	b, err := playbook.JSONSchema(activities.Catalog())
	if err != nil {
		tb.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// yamlValue decodes a YAML document into JSON-like values.
func yamlValue(tb testing.TB, data []byte) any {
	tb.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestSchemaAcceptsPlaybooks validates the shipped and the valid test
// playbooks against the schema with a small draft-07 validator (the
// subset the generator uses), so the schema never rejects a playbook soar
// accepts.
func TestSchemaAcceptsPlaybooks(t *testing.T) {
	schema := mustSchema(t)
	files, err := filepath.Glob("../../playbooks/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	valid, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, valid...)
	n := 0
	for _, f := range files {
		if !playbook.IsPlaybookFile(f) {
			continue
		}
		n++
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v := &validator{root: schema}
		v.validate(schema, yamlValue(t, data), "")
		for _, e := range v.errs {
			t.Errorf("%s: %s", f, e)
		}
	}
	if n < 3 {
		t.Fatalf("validated %d playbooks, want the shipped ones and testdata/valid", n)
	}
}

func TestSchemaRejects(t *testing.T) {
	schema := mustSchema(t)
	const ok = "name: t\ntrigger: { subjects: [alerts.>] }\nsteps:\n"
	tests := []struct {
		name, src, want string
	}{
		{"unknown top-level key", ok + "  - { id: w, wait: 1m }\ntigger: x\n", "/tigger: not allowed"},
		{"bad name", "name: Bad_Name\ntrigger: { subjects: [alerts.>] }\nsteps: [{ id: w, wait: 1m }]\n", "/name: does not match"},
		{"unknown action", ok + "  - { id: a, action: nope }\n", "/steps/0/action: not one of"},
		{"unknown parameter", ok + "  - { id: a, action: notify.webhook, with: { channel: c, text: t, meta: 1 } }\n", "/steps/0/with/meta: not allowed"},
		{"missing parameter", ok + "  - { id: a, action: notify.webhook, with: { channel: c } }\n", "/steps/0/with: missing text"},
		{"missing with", ok + "  - { id: a, action: notify.webhook }\n", "/steps/0: missing with"},
		{"enum value", ok + "  - { id: a, action: alicloud.cloudfw.block_ip, with: { ip: 1.2.3.4, direction: sideways } }\n", "/steps/0/with/direction"},
		{"list for a string list", ok + "  - { id: a, action: alicloud.sas.handle_event, with: { event_ids: abc, operation: deal } }\n", "/steps/0/with/event_ids"},
		{"bad duration", ok + "  - { id: w, wait: 5 minutes }\n", "/steps/0/wait"},
		{"bad subject", "name: t\ntrigger: { subjects: [alerts.>.x] }\nsteps: [{ id: w, wait: 1m }]\n", "/trigger/subjects/0: does not match"},
		{"no kind", ok + "  - { id: a }\n", "/steps/0: no branch of anyOf"},
		{"no id", ok + "  - { wait: 1m }\n", "/steps/0: missing id"},
		{"missing steps", "name: t\ntrigger: { subjects: [alerts.>] }\n", ": missing steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &validator{root: schema}
			v.validate(schema, yamlValue(t, []byte(tt.src)), "")
			all := strings.Join(v.errs, "\n")
			if !strings.Contains(all, tt.want) {
				t.Errorf("schema errors:\n%s\nwant one containing %q", all, tt.want)
			}
		})
	}
}

// validator is a minimal JSON Schema draft-07 validator for the keywords
// JSONSchema generates: $ref (local), type, enum, const, pattern,
// maxLength, minimum, minItems, items, properties, patternProperties,
// additionalProperties, propertyNames, required, allOf, anyOf, if/then/else.
type validator struct {
	root map[string]any
	errs []string
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

// ok validates without recording errors.
func (v *validator) ok(s map[string]any, x any, path string) bool {
	sub := &validator{root: v.root}
	sub.validate(s, x, path)
	return len(sub.errs) == 0
}

func (v *validator) validate(s map[string]any, x any, path string) {
	if r, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(r, "#/definitions/")
		def, _ := v.root["definitions"].(map[string]any)[name].(map[string]any)
		if def == nil {
			v.fail(path, "unresolved $ref %s", r)
			return
		}
		v.validate(def, x, path)
		return
	}
	if t, ok := s["type"]; ok && !typeMatches(t, x) {
		v.fail(path, "want type %v, got %T", t, x)
		return
	}
	if e, ok := s["enum"].([]any); ok && !containsValue(e, x) {
		v.fail(path, "not one of %v", e)
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(x) {
		v.fail(path, "want %v", c)
	}
	if str, ok := x.(string); ok {
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			v.fail(path, "does not match %s", p)
		}
		if m, ok := s["maxLength"].(float64); ok && len([]rune(str)) > int(m) {
			v.fail(path, "longer than %v", m)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, isNum := number(x); isNum && n < m {
			v.fail(path, "less than %v", m)
		}
	}
	if list, ok := x.([]any); ok {
		if m, ok := s["minItems"].(float64); ok && len(list) < int(m) {
			v.fail(path, "fewer than %v items", m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, el := range list {
				v.validate(items, el, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	if m, ok := x.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		patterns, _ := s["patternProperties"].(map[string]any)
		for k, val := range m {
			matched := false
			if ps, ok := props[k].(map[string]any); ok {
				v.validate(ps, val, path+"/"+k)
				matched = true
			}
			for p, ps := range patterns {
				if regexp.MustCompile(p).MatchString(k) {
					v.validate(ps.(map[string]any), val, path+"/"+k)
					matched = true
				}
			}
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				v.validate(pn, k, path+"/"+k)
			}
			if matched {
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					v.fail(path+"/"+k, "not allowed")
				}
			case map[string]any:
				v.validate(ap, val, path+"/"+k)
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, present := m[r.(string)]; !present {
					v.fail(path, "missing %s", r)
				}
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			v.validate(sub.(map[string]any), x, path)
		}
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		matched := false
		for _, sub := range anyOf {
			if v.ok(sub.(map[string]any), x, path) {
				matched = true
				break
			}
		}
		if !matched {
			v.fail(path, "no branch of anyOf matches")
		}
	}
	if cond, ok := s["if"].(map[string]any); ok {
		if v.ok(cond, x, path) {
			if then, ok := s["then"].(map[string]any); ok {
				v.validate(then, x, path)
			}
		} else if els, ok := s["else"].(map[string]any); ok {
			v.validate(els, x, path)
		}
	}
}

func typeMatches(t, x any) bool {
	if list, ok := t.([]any); ok {
		for _, e := range list {
			if typeMatches(e, x) {
				return true
			}
		}
		return false
	}
	switch t {
	case "string":
		_, ok := x.(string)
		return ok
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "integer":
		_, ok := x.(int)
		return ok
	case "number":
		_, ok := number(x)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "null":
		return x == nil
	}
	return false
}

func number(x any) (float64, bool) {
	switch n := x.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func containsValue(list []any, x any) bool {
	for _, e := range list {
		if fmt.Sprint(e) == fmt.Sprint(x) {
			return true
		}
	}
	return false
}

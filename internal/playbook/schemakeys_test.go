package playbook

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
)

// TestSchemaKeysMatchParser keeps the JSON Schema's hand-written property
// lists equal to the keys the parser accepts: a key added to one and not
// the other would have editors flag a valid playbook, or accept one soar
// rejects.
func TestSchemaKeysMatchParser(t *testing.T) {
	b, err := JSONSchema(activities.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	props := func(path ...string) []string {
		t.Helper()
		var node any = schema
		for _, p := range path {
			m, ok := node.(map[string]any)
			if !ok {
				t.Fatalf("schema has no %s", strings.Join(path, "/"))
			}
			node = m[p]
		}
		m, ok := node.(map[string]any)["properties"].(map[string]any)
		if !ok {
			t.Fatalf("schema %s has no properties", strings.Join(path, "/"))
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	sorted := func(keys []string) []string {
		keys = slices.Clone(keys)
		slices.Sort(keys)
		return keys
	}

	var top []string
	for _, k := range playbookKeys() {
		if k == extensionPrefix+"*" {
			if _, ok := schema["patternProperties"].(map[string]any)["^"+extensionPrefix]; !ok {
				t.Errorf("schema has no patternProperties ^%s for the extension keys the parser accepts", extensionPrefix)
			}
			continue
		}
		top = append(top, k)
	}
	var allKinds []string
	for _, kind := range []string{KindAction, KindParallel, KindWait, KindApproval} {
		allKinds = append(allKinds, kindKeys(kind)...)
	}
	slices.Sort(allKinds)
	for _, tc := range []struct {
		what         string
		schema, keys []string
	}{
		{"top level", props(), sorted(top)},
		{"trigger", props("properties", "trigger"), sorted(triggerKeys())},
		{"dedup", props("properties", "dedup"), sorted(dedupKeys())},
		{"step", props("definitions", "step"), sorted(stepKeys())},
		{"step kinds", sorted(stepKeys()), slices.Compact(allKinds)},
		{"approval", props("definitions", "approval"), sorted(approvalKeys())},
		{"retry", props("definitions", "retry"), sorted(retryKeys())},
	} {
		if diff := cmp.Diff(tc.keys, tc.schema); diff != "" {
			t.Errorf("%s: schema properties differ from the parser's keys (-parser +schema):\n%s", tc.what, diff)
		}
	}
}

// TestSchemaURLDocumented keeps the schema's stable URL in the READMEs,
// which tell editors where to find it outside playbooks/.
func TestSchemaURLDocumented(t *testing.T) {
	for _, path := range []string{"../../README.md", "../../playbooks/README.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := "$schema=" + SchemaID; !strings.Contains(string(b), want) {
			t.Errorf("%s does not give the schema's stable URL %q", path, want)
		}
		if strings.Contains(string(b), "DESIGN") {
			t.Errorf("%s points at DESIGN.md, which is not in this repository", path)
		}
	}
}

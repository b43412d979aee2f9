package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadBudgetActions checks that soar.yaml refuses a budget that would
// never apply: on a misspelt action, or on one whose runs the incident
// workflow does not count.
func TestLoadBudgetActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "soar.yaml")
	data := `
guardrails:
  budgets:
    - { action: alicloud.ecs.isolate_instance, max: 5, window: 1h }
    - { action: alicloud.ecs.isolate_instanse, max: 5, window: 1h }
    - { action: nats.publish, max: 5, window: 1h }
    - { action: "*", max: 50, window: 24h }
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil {
		t.Fatal("Load(misspelt and uncounted budgets) = nil error")
	}
	for _, want := range []string{
		`guardrails.budgets[1].action: "alicloud.ecs.isolate_instanse" is not an action (did you mean "alicloud.ecs.isolate_instance"?)`,
		`guardrails.budgets[2].action: "nats.publish" changes nothing, so its runs are not counted`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load() error lacks %q:\n%v", want, err)
		}
	}
	for _, unwanted := range []string{"budgets[0]", "budgets[3]"} {
		if strings.Contains(err.Error(), unwanted) {
			t.Errorf("Load() error names the valid %s:\n%v", unwanted, err)
		}
	}
}

package workflows

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

func TestEval_ContextCarriesOnlyWhatExpressionsUse(t *testing.T) {
	h := newHarness(t)
	h.run(testInput(
		playbook.Step{ID: "evidence", Kind: playbook.KindAction, Action: activities.ECSSnapshotInstance, With: map[string]any{"instance_id": "${{ alert.resource.instance_id }}"}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
			With: map[string]any{"channel": "c", "text": "${{ steps.evidence.status }} ${{ alert.raw.vendor }}"}},
	))
	h.result()
	if len(h.evals) != 2 {
		t.Fatalf("ExprEval calls = %d, want 2 (one per step)", len(h.evals))
	}
	tests := []struct {
		step      int
		wantRaw   bool
		wantSteps []string
	}{
		{0, false, nil},
		{1, true, []string{"evidence"}},
	}
	for _, tt := range tests {
		req := h.evals[tt.step]
		var a map[string]any
		if err := json.Unmarshal(req.Context.Alert, &a); err != nil {
			t.Fatal(err)
		}
		if hasRaw := a["raw"] != nil; hasRaw != tt.wantRaw {
			t.Errorf("eval %d (%s): alert.raw sent = %v, want %v", tt.step, req.Items[0].Name, hasRaw, tt.wantRaw)
		}
		var steps []string
		for id := range req.Context.Steps {
			steps = append(steps, id)
		}
		if strings.Join(steps, ",") != strings.Join(tt.wantSteps, ",") {
			t.Errorf("eval %d: steps sent = %v, want %v", tt.step, steps, tt.wantSteps)
		}
	}
	if got := h.callsOf(activities.NotifyWebhook)[0].Input["text"]; got != "succeeded sas" {
		t.Errorf("page text = %q, want %q", got, "succeeded sas")
	}
}

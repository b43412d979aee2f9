package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// BenchmarkIncident measures one incident in the SDK test environment
// (interpreter, recorded evaluation and stubs; no server): a four-step
// playbook with a foreach and a 72h auto-revert, and a hundred aggregated
// alerts.
//
//	go test -run '^$' -bench Incident -benchtime 50x ./workflows/
func BenchmarkIncident(b *testing.B) {
	steps := func() IncidentInput {
		return testInput(
			playbook.Step{ID: "evidence", Kind: playbook.KindAction, Action: activities.ECSSnapshotInstance, With: map[string]any{"instance_id": "${{ alert.resource.instance_id }}"}},
			playbook.Step{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, Foreach: "${{ alert.iocs.ips }}",
				RevertAfter: 72 * time.Hour, With: map[string]any{"ip": "${{ item }}", "direction": "out"}},
			playbook.Step{ID: "kill", Kind: playbook.KindAction, Action: activities.ECSRunCommand, If: `steps.block_c2.status == "succeeded"`,
				With: map[string]any{"instance_id": "i-web1", "template": "kill"}},
			playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "${{ alert.title }}"}},
		)
	}
	b.Run("four steps with foreach and revert", func(b *testing.B) {
		for b.Loop() {
			h := newHarness(b)
			h.run(steps())
			if err := h.env.GetWorkflowError(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hundred aggregated alerts", func(b *testing.B) {
		for b.Loop() {
			h := newHarness(b)
			in := steps()
			in.Playbook.Dedup = &playbook.Dedup{Key: "k", Window: time.Hour}
			for i := 2; i <= 100; i++ {
				h.updateAt(time.Duration(i)*time.Second, UpdateAlert, repeatAlert(fmt.Sprintf("alert-%d", i)))
			}
			h.run(in)
			if err := h.env.GetWorkflowError(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

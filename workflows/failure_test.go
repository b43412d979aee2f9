package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/playbook"
)

// rollbackPlaybook blocks at the WAF, isolates, blocks C&C (with an
// auto-revert), then fails in run_command.
func rollbackPlaybook() IncidentInput {
	in := testInput(
		playbook.Step{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"}},
		playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, With: map[string]any{"instance_id": "i-web1"}},
		blockC2(72*time.Hour),
		playbook.Step{ID: "kill", Kind: playbook.KindAction, Action: activities.ECSRunCommand, With: map[string]any{"instance_id": "i-web1", "template": "kill"}},
		playbook.Step{ID: "never", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
	)
	in.Playbook.OnFailure = []playbook.Step{
		{ID: "tell_humans", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
			With: map[string]any{"channel": "secops", "text": "playbook failed: ${{ incident.error }}"}},
	}
	in.Playbook.RollbackOnFailure = true
	return in
}

func TestFailure_OnFailureThenRollbackInReverseOrder(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	// The mocks replace the stubs for the inverses, so their order can be
	// asserted with InOrderMockCalls.
	unblockFW := h.env.OnActivity(activities.CloudFWUnblockIP, mock.Anything, mock.Anything).Return(map[string]any{"changed": true}, nil).Once()
	restore := h.env.OnActivity(activities.ECSRestoreInstance, mock.Anything, mock.Anything).Return(map[string]any{"changed": true}, nil).Once()
	unblockWAF := h.env.OnActivity(activities.WAFUnblockIP, mock.Anything, mock.Anything).Return(map[string]any{"changed": true}, nil).Once()
	h.env.InOrderMockCalls(unblockFW, restore, unblockWAF)
	h.on(activities.ECSRunCommand, func(call) (map[string]any, error) {
		return nil, temporal.NewNonRetryableApplicationError("template kill not allowed", activities.ErrTypeNotConfigured, nil)
	})
	h.run(rollbackPlaybook())
	h.env.AssertExpectations(t)

	err := h.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypePlaybookFailed {
		t.Fatalf("workflow error = %v, want type %s", err, ErrTypePlaybookFailed)
	}
	var res Result
	if !appErr.HasDetails() || appErr.Details(&res) != nil {
		t.Fatalf("failure carries no Result details")
	}
	want := map[string]string{"waf": "reverted", "isolate": "reverted", "block_c2": "reverted", "kill": "failed", "never": "pending", "tell_humans": "succeeded"}
	if diff := cmp.Diff(want, statuses(res.Status)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if res.State != StateFailed || !strings.Contains(res.Error, "step kill: template kill not allowed (NotConfigured)") {
		t.Errorf("result state %q error %q, want failed naming step kill", res.State, res.Error)
	}
	page := h.callsOf(activities.NotifyWebhook)
	if len(page) != 1 || page[0].Input["text"] != "playbook failed: step kill: template kill not allowed (NotConfigured)" {
		t.Errorf("on_failure calls = %+v, want one with incident.error", page)
	}
}

func TestFailure_WithoutRollbackKeepsAutoRevert(t *testing.T) {
	h := newHarness(t)
	start := h.env.Now()
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	h.on(activities.ECSRunCommand, func(call) (map[string]any, error) {
		return nil, temporal.NewNonRetryableApplicationError("x", "RemoteFailed", nil)
	})
	in := rollbackPlaybook()
	in.Playbook.RollbackOnFailure = false
	h.run(in)
	if h.env.GetWorkflowError() == nil {
		t.Fatal("workflow error = nil, want the playbook failure")
	}
	if got := h.callsOf(activities.WAFUnblockIP, activities.ECSRestoreInstance); len(got) != 0 {
		t.Errorf("inverses without rollback = %+v, want none", got)
	}
	// The auto-revert still runs on its timer.
	if got := h.callsOf(activities.CloudFWUnblockIP); len(got) != 1 || got[0].At.Sub(start) != 72*time.Hour {
		t.Errorf("cloudfw unblocks = %+v, want one at 72h", got)
	}
}

func TestFailure_CancellationRollsBack(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	in := testInput(
		playbook.Step{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"}},
		blockC2(72*time.Hour),
		isolateStep(playbook.Approval{Approvers: []string{"secops"}, Timeout: 24 * time.Hour}),
	)
	in.Playbook.RollbackOnFailure = true
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour)
	h.run(in)
	if err := h.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Errorf("workflow error = %v, want cancelled", err)
	}
	var order []string
	for _, c := range h.callsOf(activities.CloudFWUnblockIP, activities.WAFUnblockIP) {
		order = append(order, c.Name)
	}
	if diff := cmp.Diff([]string{activities.CloudFWUnblockIP, activities.WAFUnblockIP}, order); diff != "" {
		t.Errorf("rollback order mismatch (-want +got):\n%s", diff)
	}
	if got := len(h.callsOf(activities.ECSIsolateInstance)); got != 0 {
		t.Errorf("isolate calls = %d, want 0", got)
	}
	if !strings.Contains(strings.Join(h.eventNames(), ","), "closed") {
		t.Errorf("events %v lack closed", h.eventNames())
	}
}

func TestFailure_VarsErrorFailsThePlaybook(t *testing.T) {
	h := newHarness(t)
	in := testInput(playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}})
	in.Playbook.Vars = []playbook.Var{{Name: "bad", Value: "${{ alert.resource.missing_field }}"}}
	in.Playbook.OnFailure = []playbook.Step{{ID: "tell", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
		With: map[string]any{"channel": "c", "text": "${{ incident.error }}"}}}
	h.run(in)
	st := h.status()
	if diff := cmp.Diff(map[string]string{"page": "pending", "tell": "succeeded"}, statuses(st)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(st.Error, "vars.bad") {
		t.Errorf("error = %q, want it to name vars.bad", st.Error)
	}
}

func TestDryRun_PlansEverything(t *testing.T) {
	h := newHarness(t)
	in := testInput(
		playbook.Step{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"}, RevertAfter: 24 * time.Hour},
		playbook.Step{ID: "c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, Foreach: "${{ alert.iocs.ips }}", With: map[string]any{"ip": "${{ item }}"}},
		isolateStep(playbook.Approval{Approvers: []string{"secops"}, Timeout: time.Hour}),
		playbook.Step{ID: "pause", Kind: playbook.KindWait, Wait: time.Hour},
		playbook.Step{ID: "gate", Kind: playbook.KindApproval, Approval: &playbook.Approval{Approvers: []string{"secops"}}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, If: `steps.waf.status == "planned"`,
			With: map[string]any{"channel": "c", "text": "plan: ${{ steps.waf.output.plan }}"}},
	)
	in.Playbook.Mode = playbook.ModeDryRun
	in.Policy.ProtectedInstances = []string{"i-web1"}
	in.Policy.Budgets = []guard.Budget{{Action: "*", Max: 1, Window: time.Hour}}
	h.run(in)
	r := h.result()

	calls := h.callsOf()
	if len(calls) != 5 {
		t.Errorf("calls = %d, want 5 (waf, two c2 items, isolate, page)", len(calls))
	}
	for _, c := range calls {
		if !c.meta().DryRun {
			t.Errorf("%s meta.dry_run = false, want true", c.Name)
		}
	}
	want := map[string]string{"waf": "planned", "c2": "planned", "isolate": "planned", "pause": "planned", "gate": "planned", "page": "planned"}
	if diff := cmp.Diff(want, statuses(r.Status)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if got := stepByID(t, r.Status, "isolate").Gates; !cmp.Equal(got, []string{ReasonPlaybook}) {
		t.Errorf("isolate gates = %v, want [playbook] (its gate covers the protected instance)", got)
	}
	if len(r.Reverts) != 1 || r.Reverts[0].Status != RevertPlanned || r.Reverts[0].Action != activities.WAFUnblockIP {
		t.Errorf("reverts = %+v, want one planned waf unblock", r.Reverts)
	}
	if got := len(h.callsOf(activities.WAFUnblockIP)); got != 0 {
		t.Errorf("unblock calls = %d, want none on dry-run", got)
	}
	if got := h.env.Now().Sub(r.FirstSeen); got >= time.Hour {
		t.Errorf("dry-run took %v of workflow time, want no waiting", got)
	}
	if !r.DryRun {
		t.Error("status dry_run = false")
	}
}

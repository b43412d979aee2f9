package workflows

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/mock"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// statusPlaybook blocks C&C with a 72h revert, then waits for an approval.
func statusPlaybook() IncidentInput {
	in := testInput(blockC2(72*time.Hour), isolateStep(playbook.Approval{Approvers: []string{"secops"}, Timeout: time.Hour, OnTimeout: playbook.OnTimeoutReject}))
	in.Playbook.Severity = "int(alert.severity) + 1"
	return in
}

func TestStatus_QueryAndCurrentDetails(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	var st Status
	var details string
	h.env.RegisterDelayedCallback(func() {
		st = h.status()
		v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
		if err != nil {
			t.Errorf("query metadata: %v", err)
			return
		}
		var md sdkpb.WorkflowMetadata
		if err := v.Get(&md); err != nil {
			t.Errorf("decode metadata: %v", err)
			return
		}
		details = md.GetCurrentDetails()
		var updates []string
		for _, u := range md.GetDefinition().GetUpdateDefinitions() {
			if u.GetDescription() == "" {
				t.Errorf("update %s has no description for the UI", u.GetName())
			}
			updates = append(updates, u.GetName())
		}
		if diff := cmp.Diff([]string{"alert", "approve", "extend", "keep", "revert"}, updates); diff != "" {
			t.Errorf("update definitions mismatch (-want +got):\n%s", diff)
		}
		h.update(UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"})
	}, 10*time.Minute)
	h.run(statusPlaybook())
	h.result()

	start := st.FirstSeen
	want := Status{
		Incident: "test-pb.i-web1", Playbook: "test-pb", State: StateAwaitingApproval, AlertCount: 1, FirstSeen: start, LastSeen: start,
		Steps: []StepStatus{
			{ID: "block_c2", Action: activities.CloudFWBlockIP, Status: "succeeded", Target: "198.51.100.1", Kind: "action",
				Output:    map[string]any{"changed": true, "ip": "198.51.100.1/32", "direction": "out", "address_book": "soar-blocked-out", "address_book_id": "ab-1", "policy_id": "acl-1"},
				StartedAt: start, EndedAt: start},
			{ID: "isolate", Action: activities.ECSIsolateInstance, Status: activities.StatusWaiting, Target: "i-web1", Kind: "action",
				Gates: []string{ReasonPlaybook}, StartedAt: start},
		},
		Pending: []PendingGate{{Step: "isolate", Message: "Approve step isolate: alicloud.ecs.isolate_instance i-web1?", Approvers: []string{"secops"},
			Quorum: 1, Deadline: start.Add(time.Hour), OnTimeout: "reject", Reason: ReasonPlaybook}},
		Reverts: []PlannedRevert{{Step: "block_c2", Action: activities.CloudFWUnblockIP, Target: "198.51.100.1", At: start.Add(72 * time.Hour),
			Key: "block_c2", Status: RevertScheduled}},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	for _, s := range []string{
		"**Test playbook** · awaiting_approval",
		"severity 5",
		"**Waiting for approval**",
		"- `isolate` (playbook): Approve step isolate: alicloud.ecs.isolate\\_instance i-web1? — approvers secops · 0/1 approvals",
		"Send Update `approve` with `{\"step\":\"isolate\",\"decision\":\"approve\",\"by\":\"<you>\"}`",
		"- `block_c2` alicloud.cloudfw.unblock_ip 198.51.100.1 at " + start.Add(72*time.Hour).UTC().Format(time.RFC3339) + " (scheduled)",
		"`keep` with `{\"step\":\"block_c2\"}`",
		"**Steps**: block_c2 succeeded · isolate awaiting_approval",
	} {
		if !strings.Contains(details, s) {
			t.Errorf("current details lack %q:\n%s", s, details)
		}
	}
}

func TestStatus_SearchAttributes(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	var mu sync.Mutex
	var states []string
	final := map[string]any{}
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		mu.Lock()
		defer mu.Unlock()
		if v, ok := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(SearchAttrState)); ok {
			states = append(states, v)
		}
		for _, k := range []string{SearchAttrPlaybook, SearchAttrTarget, SearchAttrAlertType, SearchAttrState} {
			if v, ok := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(k)); ok {
				final[k] = v
			}
		}
		if v, ok := sa.GetInt64(temporal.NewSearchAttributeKeyInt64(SearchAttrSeverity)); ok {
			final[SearchAttrSeverity] = v
		}
	}).Return()
	h.updateAt(10*time.Minute, UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"})
	h.run(statusPlaybook())
	h.result()
	// running while the steps run, awaiting_approval at the gate, reverting
	// while the 72h revert is pending, running once it ran, then closed.
	wantStates := []string{StateRunning, StateAwaitingApproval, StateRunning, StateReverting, StateRunning, StateClosed}
	if diff := cmp.Diff(wantStates, states); diff != "" {
		t.Errorf("SoarState sequence mismatch (-want +got):\n%s", diff)
	}
	want := map[string]any{SearchAttrPlaybook: "test-pb", SearchAttrTarget: "i-web1", SearchAttrAlertType: "webshell",
		SearchAttrState: StateClosed, SearchAttrSeverity: int64(5)}
	if diff := cmp.Diff(want, final); diff != "" {
		t.Errorf("final search attributes mismatch (-want +got):\n%s", diff)
	}
}

func TestEvents_FailuresNeverFailTheIncident(t *testing.T) {
	h := newHarness(t)
	h.eventErr = temporal.NewApplicationError("nats down", "Unavailable")
	h.run(testInput(playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}}))
	r := h.result()
	if r.State != StateClosed || stepByID(t, r.Status, "page").Status != "succeeded" {
		t.Errorf("result = %+v, want closed with page succeeded", r.Status)
	}
	// Each event was tried 3 times.
	if got := len(h.eventNames()); got != 4*3 {
		t.Errorf("publish attempts = %d, want 12 (4 events × 3 attempts)", got)
	}
}

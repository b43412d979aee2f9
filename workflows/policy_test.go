package workflows

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/playbook"
)

func plainIsolate(instance string) playbook.Step {
	return playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, With: map[string]any{"instance_id": instance}}
}

func TestPolicy_ProtectedInstanceGate(t *testing.T) {
	tests := []struct {
		name      string
		protected []string
		step      playbook.Step
		wantGates []string // reasons of the gates opened, in order
	}{
		{"protected by id", []string{"i-web1"}, plainIsolate("i-web1"), []string{ReasonProtectedInstance}},
		{"protected by the alert's tag", []string{"tag:env=prod"}, plainIsolate("i-web1"), []string{ReasonProtectedInstance}},
		{"tag rule does not match another instance", []string{"tag:env=prod"}, plainIsolate("i-other"), nil},
		{"unprotected", []string{"i-db9"}, plainIsolate("i-web1"), nil},
		{"playbook gate covers it", []string{"i-web1"}, isolateStep(playbook.Approval{Approvers: []string{"secops"}, Timeout: time.Hour}), []string{ReasonPlaybook}},
		{"not a disruptive action", []string{"i-web1"}, playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSSnapshotInstance,
			With: map[string]any{"instance_id": "i-web1"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			in := testInput(tt.step)
			in.Policy = guard.Policy{ProtectedInstances: tt.protected, ApprovalTimeout: 2 * time.Hour}
			in.DefaultApprovers = []string{"secops"}
			var gates []PendingGate
			for i := range 2 {
				h.env.RegisterDelayedCallback(func() {
					st := h.status()
					gates = append(gates, st.Pending...)
					for _, g := range st.Pending {
						h.update(UpdateApprove, ApproveRequest{Step: g.Step, Decision: "approve", By: "alice"})
					}
				}, time.Duration(i+1)*time.Minute)
			}
			h.run(in)
			r := h.result()
			var reasons []string
			for _, g := range gates {
				reasons = append(reasons, g.Reason)
			}
			if diff := cmp.Diff(tt.wantGates, reasons); diff != "" {
				t.Fatalf("gates mismatch (-want +got):\n%s", diff)
			}
			if len(gates) > 0 && gates[0].Reason == ReasonProtectedInstance {
				want := PendingGate{Step: "isolate", Message: "i-web1 is a protected instance: approve alicloud.ecs.isolate_instance on it?",
					Approvers: []string{"secops"}, Quorum: 1, Deadline: r.FirstSeen.Add(2 * time.Hour), OnTimeout: playbook.OnTimeoutReject, Reason: ReasonProtectedInstance}
				if diff := cmp.Diff(want, gates[0]); diff != "" {
					t.Errorf("protected gate mismatch (-want +got):\n%s", diff)
				}
			}
			calls := h.callsOf(tt.step.Action)
			if len(calls) != 1 {
				t.Fatalf("action calls = %d, want 1", len(calls))
			}
			if got, want := calls[0].meta().Approved, len(tt.wantGates) > 0; got != want {
				t.Errorf("meta.approved = %v, want %v", got, want)
			}
			if got := stepByID(t, r.Status, "isolate").Gates; !cmp.Equal(got, tt.wantGates) && len(got)+len(tt.wantGates) > 0 {
				t.Errorf("step gates = %v, want %v", got, tt.wantGates)
			}
		})
	}
}

func TestPolicy_RequireApprovalRules(t *testing.T) {
	h := newHarness(t)
	in := testInput(
		playbook.Step{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"},
			Approval: &playbook.Approval{Approvers: []string{"secops"}, Timeout: time.Hour}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
		playbook.Step{ID: "ecs", Kind: playbook.KindAction, Action: activities.ECSBlockIP, With: map[string]any{"security_group_id": "sg-1", "ip": "203.0.113.7"}},
	)
	in.Policy.RequireApproval = []guard.ApprovalRule{
		{Name: "public-waf", When: `action == "alicloud.waf.block_ip" && params.ip.startsWith("203.") && alert.severity >= 3`, Approvers: []string{"admins"}},
		{Name: "broken", When: `action == "alicloud.ecs.block_ip" && params.no_such_param == "x"`, Approvers: []string{"admins"}},
	}
	// The playbook gate first (secops), then the policy gate (admins).
	early := h.updateAt(time.Minute, UpdateApprove, ApproveRequest{Step: "waf", Decision: "approve", By: "root"})
	h.updateAt(2*time.Minute, UpdateApprove, ApproveRequest{Step: "waf", Decision: "approve", By: "alice"})
	var policyGate Status
	h.env.RegisterDelayedCallback(func() { policyGate = h.status() }, 3*time.Minute)
	wrongGroup := h.updateAt(4*time.Minute, UpdateApprove, ApproveRequest{Step: "waf", Decision: "approve", By: "alice"})
	h.updateAt(5*time.Minute, UpdateApprove, ApproveRequest{Step: "waf", Decision: "approve", By: "root"})
	// The broken rule fails closed on ecs.block_ip.
	h.updateAt(6*time.Minute, UpdateApprove, ApproveRequest{Step: "ecs", Decision: "reject", By: "root", Comment: "not now"})
	h.run(in)
	r := h.result()

	if early.rejected == nil || !strings.Contains(early.rejected.Error(), `user "root" is not among the approvers of step "waf" (secops)`) {
		t.Errorf("root on the playbook gate: %v, want refused", early.rejected)
	}
	if len(policyGate.Pending) != 1 || policyGate.Pending[0].Reason != "policy:public-waf" || !cmp.Equal(policyGate.Pending[0].Approvers, []string{"admins"}) {
		t.Fatalf("pending at 3m = %+v, want the policy:public-waf gate for admins", policyGate.Pending)
	}
	if wrongGroup.rejected == nil {
		t.Error("alice on the admins' policy gate accepted, want refused")
	}
	waf := stepByID(t, r.Status, "waf")
	if waf.Status != "succeeded" || !cmp.Equal(waf.ApprovedBy, []string{"alice", "root"}) || !cmp.Equal(waf.Gates, []string{ReasonPlaybook, "policy:public-waf"}) {
		t.Errorf("waf = %s by %v gates %v, want succeeded by [alice root] through playbook and policy gates", waf.Status, waf.ApprovedBy, waf.Gates)
	}
	if got := stepByID(t, r.Status, "page").Gates; len(got) != 0 {
		t.Errorf("page gates = %v, want none", got)
	}
	ecs := stepByID(t, r.Status, "ecs")
	if ecs.Status != "rejected" || ecs.Error != "rejected by root: not now" {
		t.Errorf("ecs = %s %q, want rejected by root", ecs.Status, ecs.Error)
	}
	if got := len(h.callsOf(activities.ECSBlockIP)); got != 0 {
		t.Errorf("ecs.block_ip calls = %d, want 0", got)
	}
}

func TestPolicy_GateTimesOut(t *testing.T) {
	h := newHarness(t)
	in := testInput(plainIsolate("i-web1"), pageStep())
	in.Policy = guard.Policy{ProtectedInstances: []string{"i-web1"}, ApprovalTimeout: 2 * time.Hour}
	h.run(in)
	r := h.result()
	if got := stepByID(t, r.Status, "isolate"); got.Status != "timed_out" {
		t.Errorf("isolate = %+v, want timed_out", got)
	}
	if got := r.ClosedAt.Sub(r.FirstSeen); got != 2*time.Hour {
		t.Errorf("closed %v after start, want the 2h policy timeout", got)
	}
	if got := len(h.callsOf(activities.ECSIsolateInstance)); got != 0 {
		t.Errorf("isolate calls = %d, want 0", got)
	}
}

func TestPolicy_BudgetGate(t *testing.T) {
	h := newHarness(t)
	var reqs []activities.BudgetRequest
	h.budget = func(req activities.BudgetRequest) (activities.BudgetResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		reqs = append(reqs, req)
		switch len(reqs) {
		case 1:
			return activities.BudgetResult{Allowed: true, Used: 1, Max: 1, WindowEnds: req.Now.Add(time.Hour)}, nil
		case 2:
			return activities.BudgetResult{Allowed: false, Used: 1, Max: 1, WindowEnds: req.Now.Add(time.Hour)}, nil
		}
		return activities.BudgetResult{}, errors.New("budget store down")
	}
	step := blockC2(0)
	step.Foreach, step.MaxParallel = "${{ alert.iocs.ips }}", 1
	step.With = map[string]any{"ip": "${{ item }}", "direction": "out"}
	in := testInput(step, playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}})
	in.Alert.IOCs.IPs = []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}
	in.Policy.Budgets = []guard.Budget{{Action: activities.CloudFWBlockIP, Max: 1, Window: time.Hour, Approvers: []string{"admins"}}}
	var waiting Status
	h.env.RegisterDelayedCallback(func() { waiting = h.status() }, time.Minute)
	wrongKey := h.updateAt(2*time.Minute, UpdateApprove, ApproveRequest{Step: "block_c2", Decision: "approve", By: "root"})
	h.updateAt(3*time.Minute, UpdateApprove, ApproveRequest{Step: "block_c2#1", Decision: "approve", By: "root"})
	h.updateAt(4*time.Minute, UpdateApprove, ApproveRequest{Step: "block_c2#2", Decision: "reject", By: "root"})
	h.run(in)
	r := h.result()

	if len(waiting.Pending) != 1 || waiting.Pending[0].Step != "block_c2#1" || waiting.Pending[0].Reason != ReasonBudget ||
		!strings.Contains(waiting.Pending[0].Message, "budget of alicloud.cloudfw.block_ip is exhausted (1 of 1 per 1h") {
		t.Fatalf("pending at 1m = %+v, want a budget gate on block_c2#1", waiting.Pending)
	}
	want := `step "block_c2" is not awaiting approval (status running; steps awaiting approval: block_c2#1)`
	if wrongKey.rejected == nil || wrongKey.rejected.Error() != want {
		t.Errorf("approve on the step instead of the item: %v, want %q", wrongKey.rejected, want)
	}
	// Items 0 and 1 take once; item 2's failing take is retried 5 times.
	if len(reqs) != 7 || reqs[0].Token != "test-pb.i-web1/block_c2#0" || reqs[1].Token != "test-pb.i-web1/block_c2#1" ||
		reqs[6].Token != "test-pb.i-web1/block_c2#2" || reqs[0].Max != 1 {
		t.Errorf("budget requests = %+v, want one per item with its token, 5 attempts for the failing one", reqs)
	}
	var items []string
	for _, it := range stepByID(t, r.Status, "block_c2").ItemStates {
		items = append(items, it.Status)
	}
	// Item 2's budget check failed: it waited for an approval (fail
	// closed), which was rejected.
	if diff := cmp.Diff([]string{"succeeded", "succeeded", "rejected"}, items); diff != "" {
		t.Errorf("item statuses mismatch (-want +got):\n%s", diff)
	}
	if got := len(h.callsOf(activities.CloudFWBlockIP)); got != 2 {
		t.Errorf("block calls = %d, want 2", got)
	}
	if got := h.callsOf(activities.CloudFWBlockIP); !got[1].meta().Approved || got[0].meta().Approved {
		t.Errorf("meta.approved = %v, %v; want only the approved item", got[0].meta().Approved, got[1].meta().Approved)
	}
	if got := len(h.callsOf(activities.NotifyWebhook)); got != 1 {
		t.Errorf("page calls = %d, want 1 (no budget on non-mutating actions)", got)
	}
}

// TestPolicy_TimedOutGateNeverCoversProtectedInstance: a playbook gate that
// passed by timing out (on_timeout approve) is nobody's approval, so a
// protected instance still needs analysts' votes on its own gate, and the
// action is called with meta.approved false unless they gave them.
func TestPolicy_TimedOutGateNeverCoversProtectedInstance(t *testing.T) {
	tests := []struct {
		name      string
		protected []string
		quorum    int
		votes     []ApproveRequest // sent 10m after the playbook gate opened
		policy    *ApproveRequest  // sent at 1h, on the protected gate
		wantCall  bool
		wantAt    time.Duration // when isolate runs
		wantMeta  bool          // meta.approved of the call
		wantStep  string
		wantGates []string // reasons of the gates pending at 40m
		wantEvent string   // the step's end event
	}{
		{name: "no votes: the protected gate times out, nothing is isolated", protected: []string{"i-web1"},
			wantStep: "timed_out", wantGates: []string{ReasonProtectedInstance}, wantEvent: "step_timed_out"},
		{name: "a vote short of the quorum is not an approval", protected: []string{"i-web1"}, quorum: 2,
			votes:    []ApproveRequest{{Step: "isolate", Decision: "approve", By: "alice"}},
			wantStep: "timed_out", wantGates: []string{ReasonProtectedInstance}, wantEvent: "step_timed_out"},
		{name: "analysts approve the protected gate", protected: []string{"i-web1"},
			policy:   &ApproveRequest{Step: "isolate", Decision: "approve", By: "bob"},
			wantCall: true, wantAt: time.Hour, wantMeta: true, wantStep: "succeeded", wantGates: []string{ReasonProtectedInstance}, wantEvent: "step_succeeded"},
		{name: "analysts reject the protected gate", protected: []string{"i-web1"},
			policy:   &ApproveRequest{Step: "isolate", Decision: "reject", By: "bob"},
			wantStep: "rejected", wantGates: []string{ReasonProtectedInstance}, wantEvent: "step_rejected"},
		{name: "an unprotected instance is isolated on the timeout, unapproved", protected: []string{"i-db9"},
			wantCall: true, wantAt: 30 * time.Minute, wantMeta: false, wantStep: "succeeded", wantEvent: "step_succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			in := testInput(isolateStep(playbook.Approval{Approvers: []string{"secops"}, Quorum: tt.quorum, Timeout: 30 * time.Minute, OnTimeout: playbook.OnTimeoutApprove}))
			in.Policy = guard.Policy{ProtectedInstances: tt.protected, ApprovalTimeout: 2 * time.Hour}
			in.DefaultApprovers = []string{"secops"}
			for _, v := range tt.votes {
				h.updateAt(10*time.Minute, UpdateApprove, v)
			}
			var at40m Status
			h.env.RegisterDelayedCallback(func() { at40m = h.status() }, 40*time.Minute)
			var policyVote *updateResult
			if tt.policy != nil {
				policyVote = h.updateAt(time.Hour, UpdateApprove, *tt.policy)
			}
			h.run(in)
			r := h.result()

			var reasons []string
			for _, g := range at40m.Pending {
				reasons = append(reasons, g.Reason)
			}
			if diff := cmp.Diff(tt.wantGates, reasons); diff != "" {
				t.Errorf("gates pending at 40m mismatch (-want +got):\n%s", diff)
			}
			if policyVote != nil && (policyVote.rejected != nil || policyVote.err != nil) {
				t.Errorf("vote on the protected gate: rejected %v err %v, want accepted", policyVote.rejected, policyVote.err)
			}
			calls := h.callsOf(activities.ECSIsolateInstance)
			switch {
			case !tt.wantCall && len(calls) > 0:
				t.Errorf("isolate called %d time(s) (meta %+v), want never", len(calls), calls[0].meta())
			case tt.wantCall && len(calls) != 1:
				t.Errorf("isolate calls = %d, want 1", len(calls))
			case tt.wantCall:
				if got := calls[0].At.Sub(r.FirstSeen); got != tt.wantAt {
					t.Errorf("isolate ran %v after the alert, want %v", got, tt.wantAt)
				}
				if got := calls[0].meta().Approved; got != tt.wantMeta {
					t.Errorf("meta.approved = %v, want %v", got, tt.wantMeta)
				}
			}
			if got := stepByID(t, r.Status, "isolate"); got.Status != tt.wantStep {
				t.Errorf("isolate = %s (%s), want %s", got.Status, got.Error, tt.wantStep)
			}
			if ev := h.eventNames(); !slices.Contains(ev, tt.wantEvent) || slices.Contains(ev, "step_skipped") {
				t.Errorf("events %v, want %s and no step_skipped", ev, tt.wantEvent)
			}
		})
	}
}

// TestPolicy_StepApprovalCoversProtectedOnlyWithDefaultApprover: a step's
// own approval covers a protected instance only when a default approver
// of policy gates voted for it. Approved by devs alone, the protected gate
// still waits for a default approver, and the action's meta.approved
// comes from that gate.
func TestPolicy_StepApprovalCoversProtectedOnlyWithDefaultApprover(t *testing.T) {
	tests := []struct {
		name      string
		voter     string          // approves the step's own gate at 10m
		policy    *ApproveRequest // sent at 1h, on the protected gate
		wantAt    time.Duration   // when isolate runs; 0: never
		wantGates []string        // reasons of the gates pending at 30m
		wantStep  string
	}{
		{name: "a default approver's step approval covers it", voter: "alice",
			wantAt: 10 * time.Minute, wantStep: activities.StatusSucceeded},
		{name: "devs alone: the protected gate waits, a default approver approves", voter: "dan",
			policy: &ApproveRequest{Step: "isolate", Decision: DecisionApprove, By: "bob"},
			wantAt: time.Hour, wantGates: []string{ReasonProtectedInstance}, wantStep: activities.StatusSucceeded},
		{name: "devs alone: the protected gate times out", voter: "dan",
			wantGates: []string{ReasonProtectedInstance}, wantStep: activities.StatusTimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			in := testInput(isolateStep(playbook.Approval{Approvers: []string{"devs"}, Timeout: 20 * time.Minute}))
			in.Approvers["devs"] = []string{"dan", "alice"}
			in.DefaultApprovers = []string{"secops"}
			in.Policy = guard.Policy{ProtectedInstances: []string{"i-web1"}, ApprovalTimeout: 2 * time.Hour}
			h.updateAt(10*time.Minute, UpdateApprove, ApproveRequest{Step: "isolate", Decision: DecisionApprove, By: tt.voter})
			var at30m Status
			h.env.RegisterDelayedCallback(func() { at30m = h.status() }, 30*time.Minute)
			var policyVote *updateResult
			if tt.policy != nil {
				policyVote = h.updateAt(time.Hour, UpdateApprove, *tt.policy)
			}
			h.run(in)
			r := h.result()

			var reasons []string
			for _, g := range at30m.Pending {
				reasons = append(reasons, g.Reason)
			}
			if diff := cmp.Diff(tt.wantGates, reasons); diff != "" {
				t.Errorf("gates pending at 30m mismatch (-want +got):\n%s", diff)
			}
			if policyVote != nil && (policyVote.rejected != nil || policyVote.err != nil) {
				t.Errorf("vote on the protected gate: rejected %v err %v, want accepted", policyVote.rejected, policyVote.err)
			}
			calls := h.callsOf(activities.ECSIsolateInstance)
			switch {
			case tt.wantAt == 0 && len(calls) > 0:
				t.Errorf("isolate called %d time(s), want never", len(calls))
			case tt.wantAt != 0 && len(calls) != 1:
				t.Errorf("isolate calls = %d, want 1", len(calls))
			case tt.wantAt != 0:
				if got := calls[0].At.Sub(r.FirstSeen); got != tt.wantAt {
					t.Errorf("isolate ran %v after the alert, want %v", got, tt.wantAt)
				}
				if !calls[0].meta().Approved {
					t.Error("meta.approved = false, want true")
				}
			}
			if got := stepByID(t, r.Status, "isolate"); got.Status != tt.wantStep {
				t.Errorf("isolate = %s (%s), want %s", got.Status, got.Error, tt.wantStep)
			}
		})
	}
}

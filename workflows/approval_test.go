package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// isolateStep is an action step gated by a playbook approval.
func isolateStep(ap playbook.Approval) playbook.Step {
	return playbook.Step{
		ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, Approval: &ap,
		With: map[string]any{"instance_id": "${{ alert.resource.instance_id }}"},
	}
}

// pageStep runs after the gate, to show the playbook goes on.
func pageStep() playbook.Step {
	return playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
		With: map[string]any{"channel": "secops", "text": "isolate ${{ steps.isolate.status }} by ${{ steps.isolate.approved_by }}"}}
}

func approvalInput(ap playbook.Approval) IncidentInput {
	return testInput(isolateStep(ap), pageStep())
}

func TestApproval_Outcomes(t *testing.T) {
	base := playbook.Approval{Approvers: []string{"secops"}, Quorum: 1, Timeout: 30 * time.Minute, OnTimeout: playbook.OnTimeoutReject,
		Message: "Isolate ${{ alert.resource.instance_id }} (${{ alert.title }})?"}
	tests := []struct {
		name         string
		onTimeout    string
		votes        []ApproveRequest
		wantStatus   string
		wantIsolated bool
		wantBy       []string
		wantOutcome  string // of the last vote
		wantText     string
	}{
		{
			name:  "approve",
			votes: []ApproveRequest{{Step: "isolate", Decision: "approve", By: "alice"}},
			// page sees the status and approvers of isolate.
			wantStatus: "succeeded", wantIsolated: true, wantBy: []string{"alice"}, wantOutcome: OutcomeApproved,
			wantText: `isolate succeeded by ["alice"]`,
		},
		{
			name:       "reject goes on with the playbook",
			votes:      []ApproveRequest{{Step: "isolate", Decision: "reject", By: "bob", Comment: "false positive"}},
			wantStatus: "rejected", wantOutcome: OutcomeRejected, wantText: "isolate rejected by []",
		},
		{
			name: "timeout approves with on_timeout approve", onTimeout: playbook.OnTimeoutApprove,
			wantStatus: "succeeded", wantIsolated: true,
		},
		{
			name:       "timeout rejects as timed_out",
			wantStatus: "timed_out",
		},
		{
			name:       "decision is case-insensitive",
			votes:      []ApproveRequest{{Step: "isolate", Decision: " Approve ", By: "carol"}},
			wantStatus: "succeeded", wantIsolated: true, wantBy: []string{"carol"}, wantOutcome: OutcomeApproved,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ap := base
			if tt.onTimeout != "" {
				ap.OnTimeout = tt.onTimeout
			}
			var pending Status
			h.env.RegisterDelayedCallback(func() { pending = h.status() }, time.Minute)
			var results []*updateResult
			for i, v := range tt.votes {
				results = append(results, h.updateAt(time.Duration(2+i)*time.Minute, UpdateApprove, v))
			}
			h.run(approvalInput(ap))
			r := h.result()

			if len(pending.Pending) != 1 {
				t.Fatalf("pending gates at 1m = %+v, want the isolate gate", pending.Pending)
			}
			wantGate := PendingGate{Step: "isolate", Message: "Isolate i-web1 (webshell in index.php)?", Approvers: []string{"secops"},
				Quorum: 1, Deadline: pending.FirstSeen.Add(30 * time.Minute), OnTimeout: ap.OnTimeout, Reason: ReasonPlaybook}
			if diff := cmp.Diff(wantGate, pending.Pending[0]); diff != "" {
				t.Errorf("pending gate mismatch (-want +got):\n%s", diff)
			}
			if got := stepByID(t, pending, "isolate").Status; got != activities.StatusWaiting {
				t.Errorf("isolate status while pending = %q, want %q", got, activities.StatusWaiting)
			}
			if pending.State != StateAwaitingApproval {
				t.Errorf("state while pending = %q, want %q", pending.State, StateAwaitingApproval)
			}
			for i, res := range results {
				if !res.done || res.rejected != nil || res.err != nil {
					t.Fatalf("vote %d: done %v rejected %v err %v, want accepted", i, res.done, res.rejected, res.err)
				}
			}
			if n := len(results); n > 0 {
				if got := decode[ApproveResult](t, results[n-1].value); got.Outcome != tt.wantOutcome {
					t.Errorf("last vote outcome = %q, want %q", got.Outcome, tt.wantOutcome)
				}
			}
			isolate := stepByID(t, r.Status, "isolate")
			if isolate.Status != tt.wantStatus {
				t.Errorf("isolate status = %q (%s), want %q", isolate.Status, isolate.Error, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBy, isolate.ApprovedBy); diff != "" {
				t.Errorf("approved_by mismatch (-want +got):\n%s", diff)
			}
			calls := h.callsOf(activities.ECSIsolateInstance)
			if got := len(calls) == 1; got != tt.wantIsolated {
				t.Fatalf("isolate called %d times, want called = %v", len(calls), tt.wantIsolated)
			}
			// Only analysts approve: a gate that timed out into approved
			// leaves meta.approved false.
			if tt.wantIsolated && calls[0].meta().Approved != (len(tt.votes) > 0) {
				t.Errorf("isolate meta.approved = %v after %d vote(s)", calls[0].meta().Approved, len(tt.votes))
			}
			// The step's end is published under its own event name.
			wantEvent := map[string]string{"succeeded": "step_succeeded", "rejected": "step_rejected", "timed_out": "step_timed_out"}[tt.wantStatus]
			var ended []string
			for _, ev := range h.events {
				if ev.Step == "isolate" && strings.HasPrefix(ev.Event, "step_") && ev.Event != "step_started" {
					ended = append(ended, ev.Event)
				}
			}
			if !cmp.Equal(ended, []string{wantEvent}) {
				t.Errorf("isolate end events = %v, want [%s]", ended, wantEvent)
			}
			if got := stepByID(t, r.Status, "page").Status; got != "succeeded" {
				t.Errorf("page status = %q, want succeeded: the playbook goes on", got)
			}
			if tt.wantText != "" {
				if got := h.callsOf(activities.NotifyWebhook)[0].Input["text"]; got != tt.wantText {
					t.Errorf("page text = %q, want %q", got, tt.wantText)
				}
			}
			if !slices.Contains(h.eventNames(), "approval_requested") || !slices.Contains(h.eventNames(), "approval_decided") {
				t.Errorf("events %v lack approval_requested/approval_decided", h.eventNames())
			}
		})
	}
}

func TestApproval_ValidatorRejections(t *testing.T) {
	ap := playbook.Approval{Approvers: []string{"secops", "dave"}, Quorum: 2, Timeout: time.Hour, OnTimeout: playbook.OnTimeoutReject}
	steps := []playbook.Step{
		{ID: "first", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
		isolateStep(ap),
	}
	tests := []struct {
		name string
		req  ApproveRequest
		want string // substring of the rejection; "" = accepted
	}{
		{"unknown step", ApproveRequest{Step: "nope", Decision: "approve", By: "alice"}, `unknown step "nope" (steps awaiting approval: isolate)`},
		{"step not pending", ApproveRequest{Step: "first", Decision: "approve", By: "alice"}, `step "first" is not awaiting approval (status succeeded; steps awaiting approval: isolate)`},
		{"empty step", ApproveRequest{Decision: "approve", By: "alice"}, "step is required"},
		{"bad decision", ApproveRequest{Step: "isolate", Decision: "maybe", By: "alice"}, `decision must be "approve" or "reject", got "maybe"`},
		{"unauthorized user", ApproveRequest{Step: "isolate", Decision: "approve", By: "mallory"}, `user "mallory" is not among the approvers of step "isolate" (secops, dave)`},
		{"admin of another group", ApproveRequest{Step: "isolate", Decision: "approve", By: "root"}, `user "root" is not among the approvers`},
		{"no user", ApproveRequest{Step: "isolate", Decision: "approve"}, "by is required"},
		{"group member", ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"}, ""},
		{"repeat vote", ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"}, `user "alice" already voted on step "isolate" (approve); 1 of 2 approvals so far`},
		{"repeat vote with another decision", ApproveRequest{Step: "isolate", Decision: "reject", By: "alice"}, `user "alice" already voted`},
		{"user listed by name completes the quorum", ApproveRequest{Step: "isolate", Decision: "approve", By: "dave"}, ""},
	}
	h := newHarness(t)
	results := make([]*updateResult, len(tests))
	for i, tt := range tests {
		h.env.RegisterDelayedCallback(func() { results[i] = h.update(UpdateApprove, tt.req) }, time.Duration(i+1)*time.Minute)
	}
	h.run(testInput(steps...))
	r := h.result()
	for i, tt := range tests {
		res := results[i]
		if res == nil || !res.done {
			t.Errorf("%s: no outcome", tt.name)
			continue
		}
		if tt.want == "" {
			if res.rejected != nil || res.err != nil {
				t.Errorf("%s: rejected %v, err %v, want accepted", tt.name, res.rejected, res.err)
			}
			continue
		}
		if res.rejected == nil || !strings.Contains(res.rejected.Error(), tt.want) {
			t.Errorf("%s: rejection = %q, want it to contain %q", tt.name, errText(res.rejected), tt.want)
		}
	}
	if got := decode[ApproveResult](t, results[7].value); got != (ApproveResult{Step: "isolate", Approvals: 1, Quorum: 2, Outcome: OutcomePending}) {
		t.Errorf("first approval result = %+v, want 1 of 2 pending", got)
	}
	if got := decode[ApproveResult](t, results[10].value); got.Outcome != OutcomeApproved || got.Approvals != 2 {
		t.Errorf("second approval result = %+v, want approved with 2", got)
	}
	isolate := stepByID(t, r.Status, "isolate")
	if isolate.Status != "succeeded" || !cmp.Equal(isolate.ApprovedBy, []string{"alice", "dave"}) {
		t.Errorf("isolate = %s approved by %v, want succeeded by [alice dave]", isolate.Status, isolate.ApprovedBy)
	}
}

// principalInterceptor stamps the soar-principal header into every
// Update, as internal/devstack's frontend interceptor does.
type principalInterceptor struct {
	interceptor.WorkerInterceptorBase
	who string
}

func (p *principalInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &principalInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, who: p.who}
}

type principalInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	who string
}

func (p *principalInbound) stamp(ctx workflow.Context) {
	if h := interceptor.WorkflowHeader(ctx); h != nil {
		pl, _ := converter.GetDefaultDataConverter().ToPayload(p.who)
		h[PrincipalHeader] = pl
	}
}

func (p *principalInbound) ValidateUpdate(ctx workflow.Context, in *interceptor.UpdateInput) error {
	p.stamp(ctx)
	return p.Next.ValidateUpdate(ctx, in)
}

func (p *principalInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	p.stamp(ctx)
	return p.Next.ExecuteUpdate(ctx, in)
}

func TestApproval_PrincipalHeader(t *testing.T) {
	h := newHarness(t)
	h.setWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&principalInterceptor{who: "alice"}}})
	ap := playbook.Approval{Approvers: []string{"secops"}, Quorum: 1, Timeout: time.Hour, OnTimeout: playbook.OnTimeoutReject}
	impostor := h.updateAt(time.Minute, UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve", By: "bob"})
	self := h.updateAt(2*time.Minute, UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve"})
	h.run(approvalInput(ap))
	r := h.result()
	want := `by "bob" does not match the authenticated caller "alice"`
	if impostor.rejected == nil || !strings.Contains(impostor.rejected.Error(), want) {
		t.Errorf("bob's vote as alice: rejection %q, want it to contain %q", errText(impostor.rejected), want)
	}
	if self.rejected != nil || self.err != nil {
		t.Fatalf("vote without by: rejected %v err %v, want accepted as the principal", self.rejected, self.err)
	}
	if got := stepByID(t, r.Status, "isolate"); got.Status != "succeeded" || !cmp.Equal(got.ApprovedBy, []string{"alice"}) {
		t.Errorf("isolate = %s by %v, want succeeded by [alice]", got.Status, got.ApprovedBy)
	}
}

func TestApproval_GateStep(t *testing.T) {
	h := newHarness(t)
	h.updateAt(time.Minute, UpdateApprove, ApproveRequest{Step: "go_ahead", Decision: "approve", By: "bob"})
	h.run(testInput(
		playbook.Step{ID: "go_ahead", Kind: playbook.KindApproval, Approval: &playbook.Approval{
			Approvers: []string{"secops"}, Quorum: 1, Timeout: time.Hour, OnTimeout: playbook.OnTimeoutReject, Message: "Proceed on ${{ alert.resource.instance_id }}?"}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, If: `steps.go_ahead.status == "succeeded"`,
			With: map[string]any{"channel": "c", "text": "approved by ${{ steps.go_ahead.approved_by[0] }}"}},
	))
	r := h.result()
	if got := stepByID(t, r.Status, "go_ahead"); got.Status != "succeeded" || got.Kind != playbook.KindApproval {
		t.Errorf("go_ahead = %+v, want a succeeded approval step", got)
	}
	if got := h.callsOf(activities.NotifyWebhook); len(got) != 1 || got[0].Input["text"] != "approved by bob" {
		t.Errorf("page calls = %+v, want one saying approved by bob", got)
	}
}

package workflows

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// TestUpdates_OnlyApproversRevertKeepExtend: the revert, keep and extend
// Updates name who asks (by, or user for extend), who must be one of the
// incident's approvers (a member of its approver groups or of its default
// approvers); anyone else is refused and the measure stays.
func TestUpdates_OnlyApproversRevertKeepExtend(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	tests := []struct {
		name, update string
		arg          any
		want         string // the rejection; "" for accepted
	}{
		{"revert without by", UpdateRevert, StepRequest{Step: "block_c2"}, "by is required"},
		{"revert by a stranger", UpdateRevert, StepRequest{Step: "block_c2", By: "mallory"}, `user "mallory" is not among the incident's approvers (admins, secops, zoe)`},
		{"keep by a stranger", UpdateKeep, StepRequest{Step: "block_c2", By: "mallory"}, `user "mallory" is not among`},
		{"extend without user", UpdateExtend, ExtendRequest{Step: "block_c2", By: "1h"}, "user is required"},
		{"extend by a stranger", UpdateExtend, ExtendRequest{Step: "block_c2", By: "1h", User: "mallory"}, `user "mallory" is not among`},
		{"extend by an admin", UpdateExtend, ExtendRequest{Step: "block_c2", By: "1h", User: "root"}, ""},
		{"extend by a default approver named directly", UpdateExtend, ExtendRequest{Step: "block_c2", By: "1h", User: "zoe"}, ""},
		{"revert by a secops member", UpdateRevert, StepRequest{Step: "block_c2", By: "alice"}, ""},
	}
	results := make([]*updateResult, len(tests))
	for i, tt := range tests {
		results[i] = h.updateAt(time.Duration(i+1)*time.Minute, tt.update, tt.arg)
	}
	in := testInput(blockC2(72 * time.Hour))
	in.DefaultApprovers = []string{"secops", "zoe"}
	h.run(in)
	r := h.result()
	for i, tt := range tests {
		res := results[i]
		switch {
		case res == nil || !res.done:
			t.Errorf("%s: no outcome", tt.name)
		case tt.want == "" && (res.rejected != nil || res.err != nil):
			t.Errorf("%s: rejected %v err %v, want accepted", tt.name, res.rejected, res.err)
		case tt.want != "" && (res.rejected == nil || !strings.Contains(res.rejected.Error(), tt.want)):
			t.Errorf("%s: rejection %q, want it to contain %q", tt.name, errText(res.rejected), tt.want)
		}
	}
	undos := h.callsOf(activities.CloudFWUnblockIP)
	if len(undos) != 1 || undos[0].At.Sub(r.FirstSeen) != 8*time.Minute {
		t.Fatalf("unblock calls = %d, want 1 at 8m (alice's revert, nobody's before)", len(undos))
	}
	if got := r.Reverts[0].Status; got != RevertReverted {
		t.Errorf("revert status = %q, want reverted", got)
	}
}

// TestUpdates_RevertAsThePrincipal: with an authenticated caller, revert
// acts as the caller: another by is refused, an empty by is the caller.
func TestUpdates_RevertAsThePrincipal(t *testing.T) {
	h := newHarness(t)
	h.setWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&principalInterceptor{who: "alice"}}})
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	impostor := h.updateAt(time.Minute, UpdateRevert, StepRequest{Step: "block_c2", By: "bob"})
	self := h.updateAt(2*time.Minute, UpdateRevert, StepRequest{Step: "block_c2"})
	h.run(testInput(blockC2(72 * time.Hour)))
	r := h.result()
	want := `by "bob" does not match the authenticated caller "alice"`
	if impostor.rejected == nil || !strings.Contains(impostor.rejected.Error(), want) {
		t.Errorf("bob's revert as alice: rejection %q, want it to contain %q", errText(impostor.rejected), want)
	}
	if self.rejected != nil || self.err != nil {
		t.Errorf("revert without by: rejected %v err %v, want accepted as the principal", self.rejected, self.err)
	}
	if undos := h.callsOf(activities.CloudFWUnblockIP); len(undos) != 1 || undos[0].At.Sub(r.FirstSeen) != 2*time.Minute {
		t.Errorf("unblock calls = %d, want 1 at 2m", len(undos))
	}
}

// TestApproval_VoteAtTheDeadlineRefused: a vote arriving once the gate's
// deadline has come, before its timer fired, is refused; one before it is
// accepted. (The test environment fires the gate's timer before an Update
// due at the same instant, so the validator is called directly.)
func TestApproval_VoteAtTheDeadlineRefused(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	check := func(ctx workflow.Context, left time.Duration) (string, error) {
		s := &incident{in: testInput()}
		s.Gates = map[string]*gate{"isolate": {
			Key: "isolate", Step: "isolate", Reason: ReasonPlaybook, Approvers: []string{"secops"}, Quorum: 1,
			Deadline: workflow.Now(ctx).Add(left), OnTimeout: playbook.OnTimeoutReject,
		}}
		if err := s.validateVote(ctx, ApproveRequest{Step: "isolate", Decision: DecisionApprove, By: "alice"}); err != nil {
			return err.Error(), nil
		}
		return "", nil
	}
	for _, tt := range []struct {
		left time.Duration
		want string
	}{
		{0, `the approval of step "isolate" timed out at`},
		{-time.Second, "timed out at"},
		{time.Second, ""},
	} {
		env := suite.NewTestWorkflowEnvironment()
		env.RegisterWorkflowWithOptions(check, workflow.RegisterOptions{Name: "check"})
		env.ExecuteWorkflow("check", tt.left)
		var got string
		if err := env.GetWorkflowResult(&got); err != nil {
			t.Fatalf("check %v: %v", tt.left, err)
		}
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("vote with %v left: %q, want %q", tt.left, got, tt.want)
		}
	}
}

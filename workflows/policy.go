package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// isDisruptive reports whether protected instances reserve the action for
// approved steps (DESIGN §8: isolate, stop, run_command).
func isDisruptive(action string) bool {
	switch action {
	case activities.ECSIsolateInstance, activities.ECSStopInstance, activities.ECSRunCommand:
		return true
	}
	return false
}

// policyTimeout is how long a policy gate waits before it is rejected.
func (s *incident) policyTimeout() time.Duration {
	if t := s.in.Policy.ApprovalTimeout; t > 0 {
		return t
	}
	return playbook.DefaultApprovalTimeout
}

// policyNeeds returns the policy gates of a unit: every require_approval
// rule that matches (evaluated through ExprEval with action and params
// bound; a rule that fails to evaluate requires its approval: fail closed),
// then protected_instance when a disruptive action targets a protected
// instance.
func (s *incident) policyNeeds(ctx workflow.Context, st *playbook.Step, spec activities.ActionSpec, u *unitRun) ([]need, error) {
	var needs []need
	rules := s.in.Policy.RequireApproval
	if len(rules) > 0 {
		var b evalBatch
		for i, r := range rules {
			b.cel(ruleItem(i, r.Name), r.When)
		}
		res, err := s.eval(ctx, &b, evalScope{action: st.Action, params: u.Params})
		if err != nil {
			return nil, err
		}
		for i, r := range rules {
			match := true
			why := ""
			v, err := res.value(ruleItem(i, r.Name))
			if err == nil {
				match, err = asBool(ruleItem(i, r.Name), v)
			}
			if err != nil {
				match = true
				why = fmt.Sprintf(" (the rule failed to evaluate, so it applies: %v)", err)
				s.logger.Warn("require_approval rule failed; requiring the approval", "rule", r.Name, "error", err)
			}
			if !match {
				continue
			}
			needs = append(needs, need{
				Reason: ReasonPolicyPrefix + r.Name, Approvers: r.Approvers, Quorum: max(1, r.Quorum),
				Timeout: s.policyTimeout(), OnTimeout: playbook.OnTimeoutReject,
				Message: fmt.Sprintf("Policy %s requires an approval for %s%s%s", r.Name, spec.Name, targetSuffix(u.Target), why),
			})
		}
	}
	if s.protectedInstance(st.Action, u.Params) {
		needs = append(needs, need{
			Reason: ReasonProtectedInstance, Quorum: 1, Timeout: s.policyTimeout(), OnTimeout: playbook.OnTimeoutReject,
			Message: fmt.Sprintf("%s is a protected instance: approve %s on it?", u.Target, spec.Name),
		})
	}
	return needs, nil
}

func ruleItem(i int, name string) string {
	return fmt.Sprintf("policy.require_approval[%d].%s", i, name)
}

func targetSuffix(t string) string {
	if t == "" {
		return ""
	}
	return " " + t
}

// protectedInstance reports whether a disruptive action targets a
// protected instance: by ID, or, for the alert's own instance, by one of
// its tags ("tag:k=v").
func (s *incident) protectedInstance(action string, params map[string]any) bool {
	if !isDisruptive(action) {
		return false
	}
	id, _ := params["instance_id"].(string)
	if id == "" {
		return false
	}
	res := s.in.Alert.Resource
	for _, p := range s.in.Policy.ProtectedInstances {
		if tag, ok := strings.CutPrefix(p, "tag:"); ok {
			k, v, _ := strings.Cut(tag, "=")
			if id == res.InstanceID && res.Tags != nil {
				if got, ok := res.Tags[k]; ok && got == v {
					return true
				}
			}
			continue
		}
		if p == id {
			return true
		}
	}
	return false
}

// budgetNeed takes one run of a mutating action from every matching budget
// (the action's own, then "*"), stopping at the first exhausted one, which
// becomes a budget gate. A budget check that fails also becomes a gate
// (fail closed). It returns an error only on cancellation.
func (s *incident) budgetNeed(ctx workflow.Context, st *playbook.Step, spec activities.ActionSpec, u *unitRun) (*need, error) {
	if !spec.Mutating {
		return nil, nil
	}
	for _, b := range s.in.Policy.Budgets {
		if b.Action != st.Action && b.Action != "*" {
			continue
		}
		req := activities.BudgetRequest{
			Action: b.Action, Max: b.Max, Window: b.Window, Token: s.id + "/" + u.Key, Now: workflow.Now(ctx),
		}
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
			Summary:             fmt.Sprintf("budget %s for %s", b.Action, u.Key),
		})
		var res activities.BudgetResult
		s.inflight++
		err := workflow.ExecuteActivity(actx, activities.BudgetTake, req).Get(actx, &res)
		s.inflight--
		n := &need{
			Reason: ReasonBudget, Approvers: b.Approvers, Quorum: 1,
			Timeout: s.policyTimeout(), OnTimeout: playbook.OnTimeoutReject,
		}
		switch {
		case err != nil && isCancel(ctx, err):
			return nil, err
		case err != nil:
			n.Message = fmt.Sprintf("The budget of %s could not be checked (%s): approve %s%s?", b.Action, errMessage(err), spec.Name, targetSuffix(u.Target))
			return n, nil
		case !res.Allowed:
			n.Message = fmt.Sprintf("The budget of %s is exhausted (%d of %d per %s, refills %s): approve %s%s anyway?",
				b.Action, res.Used, res.Max, shortDuration(b.Window), res.WindowEnds.UTC().Format(time.RFC3339), spec.Name, targetSuffix(u.Target))
			return n, nil
		}
	}
	return nil, nil
}

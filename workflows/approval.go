package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/internal/playbook"
)

// approvalOf returns a step's approval with the parser's defaults applied.
func approvalOf(st *playbook.Step) playbook.Approval {
	var ap playbook.Approval
	if st.Approval != nil {
		ap = *st.Approval
	}
	if ap.Quorum <= 0 {
		ap.Quorum = playbook.DefaultQuorum
	}
	if ap.Timeout <= 0 {
		ap.Timeout = playbook.DefaultApprovalTimeout
	}
	if ap.OnTimeout == "" {
		ap.OnTimeout = playbook.OnTimeoutReject
	}
	return ap
}

// playbookNeed is the gate of a step's own approval.
func (s *incident) playbookNeed(st *playbook.Step, msg string) need {
	ap := approvalOf(st)
	return need{
		Reason: ReasonPlaybook, Approvers: ap.Approvers, Quorum: ap.Quorum,
		Timeout: ap.Timeout, OnTimeout: ap.OnTimeout, Message: msg,
	}
}

// defaultApprovers approve policy gates naming no approvers: the input's
// DefaultApprovers, else every approver group.
func (s *incident) defaultApprovers() []string {
	if len(s.in.DefaultApprovers) > 0 {
		return s.in.DefaultApprovers
	}
	return workflow.DeterministicKeys(s.in.Approvers)
}

// awaitGate opens the gate of n under key (or resumes the carried one) and
// waits for its decision or its deadline. It returns approved, rejected or
// timed_out (on_timeout approve turns a timeout into approved), and an
// error only on cancellation.
func (s *incident) awaitGate(ctx workflow.Context, n need, key, step string) (string, *gate, error) {
	g := s.Gates[key]
	if g == nil || g.Reason != n.Reason {
		now := workflow.Now(ctx)
		approvers := n.Approvers
		if len(approvers) == 0 {
			approvers = s.defaultApprovers()
		}
		g = &gate{
			Key: key, Step: step, Reason: n.Reason, Message: n.Message, Approvers: approvers,
			Quorum: max(1, n.Quorum), OpenedAt: now, Deadline: now.Add(n.Timeout), OnTimeout: n.OnTimeout,
		}
		s.Gates[key] = g
		s.publish(eventApprovalRequested, step, map[string]any{
			"key": key, "reason": g.Reason, "message": g.Message, "approvers": g.Approvers,
			"quorum": g.Quorum, "deadline": g.Deadline.Format(time.RFC3339),
		})
		s.touch(ctx)
	}
	timedOut := false
	for g.Outcome == "" {
		d := g.Deadline.Sub(workflow.Now(ctx))
		if d <= 0 {
			timedOut = true
			g.Outcome = OutcomeTimedOut
			if g.OnTimeout == playbook.OnTimeoutApprove {
				g.Outcome = OutcomeApproved
			}
			break
		}
		_, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      d,
			TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("approval %s times out (%s)", key, g.OnTimeout)},
		}, func() bool { return g.Outcome != "" })
		if err != nil {
			delete(s.Gates, key)
			s.touch(ctx)
			return "", g, err
		}
	}
	delete(s.Gates, key)
	s.publish(eventApprovalDecided, step, map[string]any{
		"key": key, "reason": g.Reason, "outcome": g.Outcome, "approved_by": approvals(g), "timed_out": timedOut,
	})
	s.touch(ctx)
	return g.Outcome, g, nil
}

// humanApprovalChange is the workflow.GetVersion change after which a
// playbook gate that timed out into approved (on_timeout approve) is not
// an analyst's approval: a protected instance's gate still waits for
// votes, and the action's meta.approved stays false. Runs recorded before
// it (version DefaultVersion) let such a gate cover the protected
// instance.
const humanApprovalChange = "protected-instance-needs-votes"

// humanApproved reports whether analysts decided the gate: a quorum of
// approvals, as opposed to a timeout turned into approved.
func humanApproved(g *gate) bool {
	return g != nil && len(approvals(g)) >= g.Quorum
}

// stepApproved reports whether the step's own gate counts as an approval
// for the protected-instance policy and meta.approved: it passed, and by
// the analysts' votes. It asks for the version only for a gate that timed
// out into approved, so other histories get no marker.
func (s *incident) stepApproved(ctx workflow.Context, sr *stepRun) bool {
	if !sr.GatePassed {
		return false
	}
	if !sr.GateTimedOut {
		return true
	}
	return workflow.GetVersion(ctx, humanApprovalChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion
}

// protectedApprovalChange is the workflow.GetVersion change after which a
// step's own approval covers a protected instance (its policy gate and the
// action's meta.approved) only when one of its voters is also a default
// approver of policy gates (see defaultApprovers): a group the playbook
// names, such as devs, cannot approve disrupting a protected instance by
// itself. It is asked only when no voter is one, so other histories get no
// marker; runs recorded before it let any voter of the step cover it.
const protectedApprovalChange = "protected-instance-needs-default-approver"

// stepCoversProtected reports whether the step's own approval covers a
// protected instance: it counts (stepApproved) and, but on runs recorded
// before protectedApprovalChange, one of its voters may approve policy
// gates.
func (s *incident) stepCoversProtected(ctx workflow.Context, sr *stepRun) bool {
	if !s.stepApproved(ctx, sr) {
		return false
	}
	defaults := s.defaultApprovers()
	for _, by := range sr.ApprovedBy {
		if s.mayApprove(by, defaults) {
			return true
		}
	}
	return workflow.GetVersion(ctx, protectedApprovalChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion
}

// approvals lists the users who approved the gate.
func approvals(g *gate) []string {
	var out []string
	for _, v := range g.Votes {
		if v.Decision == DecisionApprove {
			out = append(out, v.By)
		}
	}
	return out
}

// rejection describes who rejected a gate.
func rejection(g *gate) string {
	for _, v := range g.Votes {
		if v.Decision == DecisionReject {
			if v.Comment != "" {
				return fmt.Sprintf("rejected by %s: %s", v.By, v.Comment)
			}
			return "rejected by " + v.By
		}
	}
	return "rejected"
}

// principal returns the authenticated caller the Temporal frontend stamped
// into the Update header, or "" when there is none.
func principal(ctx workflow.Context) (string, error) {
	p := interceptor.WorkflowHeader(ctx)[PrincipalHeader]
	if p == nil {
		return "", nil
	}
	var who string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &who); err != nil {
		return "", fmt.Errorf("decode the %s header: %w", PrincipalHeader, err)
	}
	return who, nil
}

// voteCheck is a checked approve request.
type voteCheck struct {
	gate     *gate
	by       string
	decision string
}

// checkVote validates an approve request against the current state. It is
// used by the validator (so the Temporal UI shows the reason) and again by
// the handler; it never mutates state.
func (s *incident) checkVote(ctx workflow.Context, req ApproveRequest) (voteCheck, error) {
	key := strings.TrimSpace(req.Step)
	if key == "" {
		return voteCheck{}, fmt.Errorf("step is required: one of the steps awaiting approval (%s)", s.pendingList())
	}
	g, ok := s.Gates[key]
	if !ok {
		if !s.knownKey(key) {
			return voteCheck{}, fmt.Errorf("unknown step %q (steps awaiting approval: %s)", key, s.pendingList())
		}
		return voteCheck{}, fmt.Errorf("step %q is not awaiting approval (status %s; steps awaiting approval: %s)",
			key, s.keyStatus(key), s.pendingList())
	}
	if g.Outcome != "" {
		return voteCheck{}, fmt.Errorf("step %q was already decided: %s", key, g.Outcome)
	}
	decision := strings.ToLower(strings.TrimSpace(req.Decision))
	if decision != DecisionApprove && decision != DecisionReject {
		return voteCheck{}, fmt.Errorf("decision must be %q or %q, got %q", DecisionApprove, DecisionReject, req.Decision)
	}
	by := strings.TrimSpace(req.By)
	who, err := principal(ctx)
	if err != nil {
		return voteCheck{}, err
	}
	switch {
	case who != "" && by == "":
		by = who
	case who != "" && by != who:
		return voteCheck{}, fmt.Errorf("by %q does not match the authenticated caller %q: you can only vote as yourself", by, who)
	case by == "":
		return voteCheck{}, errors.New(`by is required: your user name, e.g. {"step":"` + key + `","decision":"approve","by":"alice"}`)
	}
	if !s.mayApprove(by, g.Approvers) {
		return voteCheck{}, fmt.Errorf("user %q is not among the approvers of step %q (%s)", by, key, strings.Join(g.Approvers, ", "))
	}
	for _, v := range g.Votes {
		if v.By == by {
			return voteCheck{}, fmt.Errorf("user %q already voted on step %q (%s); %d of %d approvals so far",
				by, key, v.Decision, len(approvals(g)), g.Quorum)
		}
	}
	return voteCheck{gate: g, by: by, decision: decision}, nil
}

// validateVote is the validator of the "approve" Update: checkVote, and
// the gate's deadline not passed (its timer may not have fired yet). Only
// the validator checks the deadline: it does not run on replay, and the
// handler runs in the same workflow task, at the same workflow.Now.
func (s *incident) validateVote(ctx workflow.Context, req ApproveRequest) error {
	vc, err := s.checkVote(ctx, req)
	if err != nil {
		return err
	}
	if g := vc.gate; !g.Deadline.IsZero() && !workflow.Now(ctx).Before(g.Deadline) {
		return fmt.Errorf("the approval of step %q timed out at %s (on_timeout %s)", g.Key, fmtTime(g.Deadline), g.OnTimeout)
	}
	return nil
}

// checkAnalyst is the identity check of the "revert", "keep" and "extend"
// Updates' validators: the user, named in field (else taken from the
// authenticated caller, with whom it must agree as for votes), must be one
// of the incident's approvers: a member of one of its approver groups or
// of its default approvers, or a default approver named directly. example
// is a valid request, for the error message. Validators do not run on
// replay, so Updates recorded before this check still replay.
func (s *incident) checkAnalyst(ctx workflow.Context, by, field, example string) error {
	by = strings.TrimSpace(by)
	who, err := principal(ctx)
	if err != nil {
		return err
	}
	switch {
	case who != "" && by == "":
		by = who
	case who != "" && by != who:
		return fmt.Errorf("%s %q does not match the authenticated caller %q: you can only act as yourself", field, by, who)
	case by == "":
		return fmt.Errorf("%s is required: your user name, one of the incident's approvers, e.g. %s", field, example)
	}
	approvers := mergeNames(workflow.DeterministicKeys(s.in.Approvers), s.in.DefaultApprovers)
	if !s.mayApprove(by, approvers) {
		list := strings.Join(approvers, ", ")
		if list == "" {
			list = "none"
		}
		return fmt.Errorf("user %q is not among the incident's approvers (%s): only they may revert, keep or extend its actions", by, list)
	}
	return nil
}

// mayApprove reports whether user is one of approvers, directly or as a
// member of a group named there.
func (s *incident) mayApprove(user string, approvers []string) bool {
	for _, a := range approvers {
		if members, isGroup := s.in.Approvers[a]; isGroup {
			if slices.Contains(members, user) {
				return true
			}
			continue
		}
		if a == user {
			return true
		}
	}
	return false
}

// approve is the handler of the "approve" Update.
func (s *incident) approve(ctx workflow.Context, req ApproveRequest) (ApproveResult, error) {
	vc, err := s.checkVote(ctx, req)
	if err != nil {
		return ApproveResult{}, err
	}
	s.updates++
	g := vc.gate
	g.Votes = append(g.Votes, vote{By: vc.by, Decision: vc.decision, Comment: req.Comment, At: workflow.Now(ctx)})
	n := len(approvals(g))
	outcome := OutcomePending
	switch {
	case vc.decision == DecisionReject:
		outcome = OutcomeRejected
		g.Outcome = OutcomeRejected
	case n >= g.Quorum:
		outcome = OutcomeApproved
		g.Outcome = OutcomeApproved
	}
	s.logger.Info("approval vote", "incident", s.id, "step", g.Key, "by", vc.by, "decision", vc.decision)
	s.touch(ctx)
	return ApproveResult{Step: g.Key, Approvals: n, Quorum: g.Quorum, Outcome: outcome}, nil
}

// pendingList names the gates waiting for a decision, for error messages.
func (s *incident) pendingList() string {
	keys := workflow.DeterministicKeys(s.Gates)
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// knownKey reports whether key names a step or a foreach item.
func (s *incident) knownKey(key string) bool {
	_, ok := s.lookupKey(key)
	return ok
}

// lookupKey finds the step or unit a key names.
func (s *incident) lookupKey(key string) (status string, ok bool) {
	if sr, ok := s.Steps[key]; ok {
		return sr.Status, true
	}
	step, _, found := strings.Cut(key, "#")
	if !found {
		return "", false
	}
	sr, ok := s.Steps[step]
	if !ok {
		return "", false
	}
	for _, u := range sr.Units {
		if u.Key == key {
			return u.Status, true
		}
	}
	return "", false
}

func (s *incident) keyStatus(key string) string {
	st, _ := s.lookupKey(key)
	return st
}

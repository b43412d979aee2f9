package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// recordApplied records a revertible action that ran: its forward input
// and output, and, with revert_after, the auto-revert's due time and timer.
// In enforce mode it then holds the measure in the cross-incident registry
// until the due time (forever without revert_after), whether the action
// changed the target or found it in place: the revert releases the hold
// and undoes the measure only if this incident is its last holder and soar
// changed it (see undo). On dry-run only a planned revert is reported (no
// timer, no hold, no rollback).
func (s *incident) recordApplied(ctx workflow.Context, st *playbook.Step, spec activities.ActionSpec, u *unitRun) {
	now := workflow.Now(ctx)
	a := &applied{
		Key: u.Key, Step: st.ID, Action: st.Action, Inverse: spec.Inverse, Target: u.Target,
		Input: u.Params, Output: u.Output, RevertAfter: st.RevertAfter, ExtendOnAlert: st.ExtendOnAlert,
	}
	switch {
	case s.dryRun && st.RevertAfter <= 0:
		return
	case s.dryRun:
		a.Status, a.At = RevertPlanned, now.Add(st.RevertAfter)
	case s.useHolds(ctx):
		a.Holds = holdsOf(ctx, spec, u.Params, u.Output, s.in.Cloud)
		a.Status = RevertApplied
		if st.RevertAfter > 0 {
			a.Status, a.At = RevertScheduled, now.Add(st.RevertAfter)
		}
		s.Applied = append(s.Applied, a)
		if a.Status == RevertScheduled {
			s.watchRevert(a)
		}
		// In the background, on the root context: the playbook goes on while
		// the registry answers (or retries), and a cancelled parallel branch
		// still records its hold. A revert due meanwhile waits for it.
		s.syncHolds(a)
		return
	case !outputChanged(u.Output):
		// The target already was in this state (another incident blocked the
		// IP, an operator had stopped the instance): soar undoes only what it
		// changed, so neither the timer nor a rollback touches it.
		a.Status = RevertUnchanged
	case st.RevertAfter > 0:
		a.Status, a.At = RevertScheduled, now.Add(st.RevertAfter)
	default:
		a.Status = RevertApplied
	}
	s.Applied = append(s.Applied, a)
	if a.Status == RevertScheduled {
		s.watchRevert(a)
	}
}

// outputChanged reports whether an action's output says it changed the
// target. Only an explicit "changed": false counts as unchanged.
func outputChanged(out map[string]any) bool {
	changed, ok := out["changed"].(bool)
	return !ok || changed
}

// watchRevert starts the durable auto-revert timer of a. The goroutine
// runs on the incident's root context so that a failing parallel sibling
// never cancels it. It stops at once when the revert is kept, reverted on
// request or rolled back. Extensions only ever move the due time later, so
// the timer is not re-armed on each one (each re-arm costs two history
// events, and extend_on_alert extends on every alert): when it fires
// early it re-arms for the rest.
func (s *incident) watchRevert(a *applied) {
	workflow.Go(s.root, func(ctx workflow.Context) {
		for a.Status == RevertScheduled {
			d := a.At.Sub(workflow.Now(ctx))
			if d <= 0 {
				a.Status = RevertReverting
				_ = s.undo(ctx, a) // recorded in a
				return
			}
			_, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
				Timeout:      d,
				TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("auto-revert %s%s in %s", a.Action, targetSuffix(a.Target), shortDuration(d))},
			}, func() bool { return a.Status != RevertScheduled })
			if err != nil {
				return // cancelled: the main loop rolls back if configured
			}
		}
	})
}

// runInverse runs a's inverse action with input (copied, meta added). The
// caller has set a.Status to reverting. Failures are recorded (status
// failed, send revert to retry); a cancellation leaves the action applied,
// for the rollback.
func (s *incident) runInverse(ctx workflow.Context, a *applied, args map[string]any) error {
	s.touch(ctx)
	inv, _ := activities.Lookup(a.Inverse)
	input := make(map[string]any, len(args)+1)
	for _, k := range workflow.DeterministicKeys(args) {
		input[k] = args[k]
	}
	input["meta"] = activities.Meta{Incident: s.id, Playbook: s.pb.Name, Step: a.Key, Revert: true, Hops: s.in.Hops}
	st := s.specs[a.Step]
	if st == nil {
		st = &playbook.Step{ID: a.Step}
	}
	summary := fmt.Sprintf("revert %s: %s%s", a.Key, a.Inverse, targetSuffix(targetOf(inv, input)))
	actx := workflow.WithActivityOptions(ctx, actionOptions(st, a.Inverse, summary))
	var out map[string]any
	s.inflight++
	err := workflow.ExecuteActivity(actx, a.Inverse, input).Get(actx, &out)
	s.inflight--
	if err != nil {
		if isCancel(ctx, err) {
			a.Status = RevertApplied
			s.touch(ctx)
			return err
		}
		a.Status, a.Error = RevertFailed, errMessage(err)
		s.noteFailedRevert(ctx)
		s.publish(eventStepFailed, a.Step, map[string]any{"key": a.Key, "revert": true, "action": a.Inverse, "error": a.Error})
		s.logger.Warn("revert failed", "incident", s.id, "step", a.Key, "action", a.Inverse, "error", a.Error)
		s.touch(ctx)
		return fmt.Errorf("revert %s with %s: %s", a.Key, a.Inverse, a.Error)
	}
	a.Status, a.Error, a.InverseOutput, a.RevertedAt = RevertReverted, "", out, workflow.Now(ctx)
	s.markReverted(a)
	s.publish(eventReverted, a.Step, map[string]any{"key": a.Key, "action": a.Inverse, "target": a.Target})
	s.touch(ctx)
	return nil
}

// markReverted sets the unit's status, and the step's once every applied
// action of the step is reverted.
func (s *incident) markReverted(a *applied) {
	sr := s.Steps[a.Step]
	if sr == nil {
		return
	}
	for _, u := range sr.Units {
		if u.Key == a.Key {
			u.Status = activities.StatusReverted
		}
	}
	for _, b := range s.Applied {
		if b.Step == a.Step && b.Status != RevertReverted {
			return
		}
	}
	if sr.Status == activities.StatusSucceeded {
		sr.Status = activities.StatusReverted
	}
}

// inverseInput builds the inverse's input from the catalog's InverseArgs:
// inverse parameter → "input.<param>" or "output.<field>" of the recorded
// forward call. Missing values are left out (the inverse has defaults).
func inverseInput(args map[string]string, in, out map[string]any) map[string]any {
	res := map[string]any{}
	for _, k := range workflow.DeterministicKeys(args) {
		src := args[k]
		var v any
		var ok bool
		if f, isIn := strings.CutPrefix(src, "input."); isIn {
			v, ok = in[f]
		} else if f, isOut := strings.CutPrefix(src, "output."); isOut {
			v, ok = out[f]
		}
		if ok && v != nil {
			res[k] = v
		}
	}
	return res
}

// rollback reverts, in reverse order, every applied revertible action not
// yet reverted (an analyst's keep is respected), in a disconnected context
// so that it also runs after cancellation. Like a due revert it releases
// the holds first: a measure other incidents still hold stays.
func (s *incident) rollback(ctx workflow.Context) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var errs []error
	for i := len(s.Applied) - 1; i >= 0; i-- {
		a := s.Applied[i]
		switch a.Status {
		case RevertScheduled, RevertApplied, RevertFailed:
		default:
			continue
		}
		a.Status = RevertReverting
		if err := s.undo(dctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	s.RolledBack = true
	if err := errors.Join(errs...); err != nil {
		s.Info.Error += "; rollback: " + err.Error()
	}
	s.touch(ctx)
}

// failedRevertChange is the workflow.GetVersion change after which a failed
// revert keeps the incident open until an analyst retries it (Update
// revert) or keeps the measure (Update keep): a closed incident could do
// neither. Runs recorded before it (version DefaultVersion) close with
// the revert failed.
const failedRevertChange = "failed-revert-keeps-incident-open"

// noteFailedRevert is called when a revert fails, or a run resumes with a
// failed one: it decides whether failed reverts keep this run open (the
// version is asked only then, so histories without a failed revert get no
// marker).
func (s *incident) noteFailedRevert(ctx workflow.Context) {
	s.openOnFailedRevert = workflow.GetVersion(ctx, failedRevertChange, workflow.DefaultVersion, 1) >= 1
}

// failedRevertWaits reports whether a is a failed revert the incident waits
// on: the analyst must retry it or keep the measure before it closes.
func (s *incident) failedRevertWaits(a *applied) bool {
	return s.openOnFailedRevert && a.Status == RevertFailed
}

// revertsSettled reports whether no auto-revert is pending or running and,
// since failedRevertChange, none failed without the analyst deciding.
func (s *incident) revertsSettled() bool {
	for _, a := range s.Applied {
		if a.Status == RevertScheduled || a.Status == RevertReverting || s.failedRevertWaits(a) {
			return false
		}
	}
	return true
}

// failedRevertAdvice says what an analyst sends to settle a failed revert.
func failedRevertAdvice(key string) string {
	return fmt.Sprintf("the incident stays open until you decide: send Update revert with {\"step\":%q,\"by\":\"<you>\"} to retry, "+
		"or keep with {\"step\":%q,\"by\":\"<you>\"} to leave the measure in place", key, key)
}

// revertTargets returns the applied actions a revert, extend or keep
// request names: every one of a step, or one foreach item ("step#i").
func (s *incident) revertTargets(key string) ([]*applied, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, errors.New("step is required: the ID of a step with a revertible action")
	}
	var out []*applied
	for _, a := range s.Applied {
		if a.Key == key || a.Step == key {
			out = append(out, a)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if !s.knownKey(key) {
		return nil, fmt.Errorf("unknown step %q", key)
	}
	return nil, fmt.Errorf("nothing to revert: step %q applied no revertible action (status %s)", key, s.keyStatus(key))
}

// filterStatus keeps the targets in one of the statuses; when none is, it
// explains why with the targets' states.
func filterStatus(key string, targets []*applied, statuses ...string) ([]*applied, error) {
	var out []*applied
	for _, a := range targets {
		for _, st := range statuses {
			if a.Status == st {
				out = append(out, a)
				break
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	all := func(st string) bool {
		for _, a := range targets {
			if a.Status != st {
				return false
			}
		}
		return true
	}
	switch {
	case all(RevertReverted):
		return nil, fmt.Errorf("step %q is already reverted", key)
	case all(RevertPlanned):
		return nil, fmt.Errorf("step %q ran in dry-run: nothing was applied", key)
	case all(RevertUnchanged):
		return nil, fmt.Errorf("step %q changed nothing (the target already was in that state), so soar has nothing to undo", key)
	case all(RevertReleased):
		return nil, fmt.Errorf("step %q already released its hold: %s", key, holdNote(targets[0]))
	}
	states := make([]string, len(targets))
	for i, a := range targets {
		states[i] = a.Key + " " + a.Status
	}
	return nil, fmt.Errorf("step %q has nothing in a state this applies to (%s)", key, strings.Join(states, ", "))
}

func (s *incident) validateRevert(req StepRequest) error {
	t, err := s.revertTargets(req.Step)
	if err != nil {
		return err
	}
	_, err = filterStatus(req.Step, t, RevertScheduled, RevertApplied, RevertKept, RevertFailed)
	return err
}

// revertNow is the handler of the "revert" Update: it reverts now (as a
// due revert: the holds are released and the inverse runs only where this
// incident is the last holder) and returns once done. A failed inverse or
// registry call fails the Update with its error (send revert again to
// retry).
func (s *incident) revertNow(ctx workflow.Context, req StepRequest) (RevertResult, error) {
	t, err := s.revertTargets(req.Step)
	if err != nil {
		return RevertResult{}, err
	}
	live, err := filterStatus(req.Step, t, RevertScheduled, RevertApplied, RevertKept, RevertFailed)
	if err != nil {
		return RevertResult{}, err
	}
	s.updates++
	s.logger.Info("revert requested", "incident", s.id, "step", req.Step, "by", req.By)
	for _, a := range live {
		a.Status = RevertReverting
		workflow.Go(s.root, func(gctx workflow.Context) { _ = s.undo(gctx, a) })
	}
	s.touch(ctx)
	if err := workflow.Await(ctx, func() bool {
		for _, a := range live {
			if a.Status == RevertReverting {
				return false
			}
		}
		return true
	}); err != nil {
		return RevertResult{}, err
	}
	var errs []error
	for _, a := range live {
		if a.Status == RevertFailed {
			errs = append(errs, fmt.Errorf("revert %s with %s: %s", a.Key, a.Inverse, a.Error))
		}
	}
	return RevertResult{Step: req.Step, Reverts: s.plannedReverts(t)}, errors.Join(errs...)
}

// parseExtend validates an extend request's duration.
func parseExtend(by string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(by))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("by must be a positive duration such as 24h or 90m, got %q", by)
	}
	return d, nil
}

func (s *incident) validateExtend(req ExtendRequest) error {
	t, err := s.revertTargets(req.Step)
	if err != nil {
		return err
	}
	if _, err := filterStatus(req.Step, t, RevertScheduled, RevertPlanned); err != nil {
		return err
	}
	_, err = parseExtend(req.By)
	return err
}

// extend is the handler of the "extend" Update: the pending auto-reverts
// of the step run `by` later, and their holds are moved as far in the
// background (a registry error shows in the revert's note).
func (s *incident) extend(ctx workflow.Context, req ExtendRequest) (RevertResult, error) {
	if err := s.validateExtend(req); err != nil {
		return RevertResult{}, err
	}
	d, _ := parseExtend(req.By)
	t, _ := s.revertTargets(req.Step)
	live, _ := filterStatus(req.Step, t, RevertScheduled, RevertPlanned)
	s.updates++
	for _, a := range live {
		a.At = a.At.Add(d)
		s.syncHolds(a)
	}
	s.logger.Info("revert extended", "incident", s.id, "step", req.Step, "by", req.By, "user", req.User)
	s.touch(ctx)
	return RevertResult{Step: req.Step, Reverts: s.plannedReverts(t)}, nil
}

func (s *incident) validateKeep(req StepRequest) error {
	t, err := s.revertTargets(req.Step)
	if err != nil {
		return err
	}
	_, err = filterStatus(req.Step, t, s.keepStatuses()...)
	return err
}

// keepStatuses are the revert statuses keep applies to: pending ones and,
// since failedRevertChange (the run waits on failed reverts), failed ones.
// Runs recorded before it refused to keep a failed revert; Update handlers
// run again on replay, so they still do.
func (s *incident) keepStatuses() []string {
	if s.openOnFailedRevert {
		return []string{RevertScheduled, RevertPlanned, RevertFailed}
	}
	return []string{RevertScheduled, RevertPlanned}
}

// keep is the handler of the "keep" Update: the step's pending
// auto-reverts are cancelled, and, since failedRevertChange, its failed
// reverts given up; the actions
// stay applied, and their holds not yet released are made forever in the
// background, so no other incident's release undoes them (a registry error
// shows in the revert's note).
func (s *incident) keep(ctx workflow.Context, req StepRequest) (RevertResult, error) {
	if err := s.validateKeep(req); err != nil {
		return RevertResult{}, err
	}
	t, _ := s.revertTargets(req.Step)
	live, _ := filterStatus(req.Step, t, s.keepStatuses()...)
	s.updates++
	for _, a := range live {
		a.Status = RevertKept
		s.syncHolds(a)
	}
	s.logger.Info("revert cancelled (keep)", "incident", s.id, "step", req.Step, "by", req.By)
	s.touch(ctx)
	return RevertResult{Step: req.Step, Reverts: s.plannedReverts(t)}, nil
}

// extendOnAlert moves the reverts of extend_on_alert steps to last_seen +
// revert_after (never earlier than they were), and their holds in the
// background.
func (s *incident) extendOnAlert() {
	for _, a := range s.Applied {
		if !a.ExtendOnAlert || (a.Status != RevertScheduled && a.Status != RevertPlanned) {
			continue
		}
		if at := s.Info.LastSeen.Add(a.RevertAfter); at.After(a.At) {
			a.At = at
			s.syncHolds(a)
		}
	}
}

// plannedReverts reports applied actions. The note of a failed revert the
// incident waits on says what to send.
func (s *incident) plannedReverts(as []*applied) []PlannedRevert {
	out := make([]PlannedRevert, 0, len(as))
	for _, a := range as {
		note := holdNote(a)
		if s.failedRevertWaits(a) {
			note = strings.TrimPrefix(note+"; "+failedRevertAdvice(a.Key), "; ")
		}
		out = append(out, PlannedRevert{
			Step: a.Step, Action: a.Inverse, Target: a.Target, At: a.At, Key: a.Key, Status: a.Status, Error: a.Error,
			HeldBy: heldBy(a), Note: note,
		})
	}
	return out
}

package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// stepError is a step failure that fails the playbook (on_error: fail).
type stepError struct {
	step string
	msg  string
}

func (e *stepError) Error() string { return fmt.Sprintf("step %s: %s", e.step, e.msg) }

// interpret runs the playbook from the carried phase: the steps, then, if
// they failed, on_failure and rollback_on_failure. On cancellation it
// returns at once; the main loop runs the rollback.
func (s *incident) interpret(ctx workflow.Context) {
	if s.Phase == phaseSteps {
		if err := s.runSequence(ctx, s.pb.Steps); err != nil {
			if isCancel(ctx, err) {
				return
			}
			s.fail(ctx, err)
		} else {
			s.Phase = phaseDone
		}
	}
	if s.Phase == phaseOnFailure {
		if err := s.runSequence(ctx, s.pb.OnFailure); err != nil {
			if isCancel(ctx, err) {
				return
			}
			s.logger.Warn("on_failure steps failed", "error", err)
		}
		s.Phase = phaseRollback
	}
	if s.Phase == phaseRollback {
		if s.pb.RollbackOnFailure && !s.dryRun {
			s.rollback(ctx)
		}
		s.Phase = phaseDone
	}
	s.touch(ctx)
}

// fail records the playbook's failure: incident.error is set for the
// on_failure steps.
func (s *incident) fail(ctx workflow.Context, err error) {
	s.Failed = true
	s.Info.Error = err.Error()
	s.Phase = phaseOnFailure
	s.logger.Info("playbook failed", "incident", s.id, "error", err)
	s.touch(ctx)
}

// isCancel reports whether err comes from the cancellation of ctx.
func isCancel(ctx workflow.Context, err error) bool {
	return ctx.Err() != nil || temporal.IsCanceledError(err) || errors.Is(err, workflow.ErrCanceled)
}

// runSequence runs steps in order. It returns the error that fails the
// playbook, or a cancellation.
func (s *incident) runSequence(ctx workflow.Context, steps []playbook.Step) error {
	for i := range steps {
		if err := s.runStep(ctx, &steps[i]); err != nil {
			return err
		}
	}
	return nil
}

// runStep runs one step of any kind. A step interrupted by cancellation
// (of the incident, or of its parallel block) ends as skipped, "cancelled".
func (s *incident) runStep(ctx workflow.Context, st *playbook.Step) error {
	var err error
	switch st.Kind {
	case playbook.KindParallel:
		err = s.runParallel(ctx, st)
	case playbook.KindWait:
		err = s.runWait(ctx, st)
	case playbook.KindApproval:
		err = s.runApprovalStep(ctx, st)
	default:
		err = s.runActionStep(ctx, st)
	}
	if err != nil && isCancel(ctx, err) {
		if sr := s.Steps[st.ID]; st.ID != "" && !terminal(sr.Status) {
			s.cancelled(ctx, sr)
		}
		s.skipAll(ctx, st.Parallel)
	}
	return err
}

// fatal returns the error that fails the playbook when the step failed
// and its on_error is not continue.
func fatal(st *playbook.Step, sr *stepRun) error {
	if sr.Status == activities.StatusFailed && st.OnError != playbook.OnErrorContinue {
		return &stepError{step: st.ID, msg: sr.Error}
	}
	return nil
}

// begin marks a step started.
func (s *incident) begin(ctx workflow.Context, sr *stepRun, status string) {
	if sr.StartedAt.IsZero() {
		sr.StartedAt = workflow.Now(ctx)
	}
	sr.Status = status
	s.touch(ctx)
}

// endStep records a step's final status and publishes its event.
func (s *incident) endStep(ctx workflow.Context, sr *stepRun, status, msg string) {
	sr.Status = status
	sr.Error = msg
	now := workflow.Now(ctx)
	if sr.StartedAt.IsZero() {
		sr.StartedAt = now
	}
	sr.EndedAt = now
	detail := map[string]any{"status": status}
	if sr.Action != "" {
		detail["action"] = sr.Action
	}
	if msg != "" {
		detail["error"] = msg
	}
	if sr.Foreach {
		detail["items"] = len(sr.Units)
	}
	if s.dryRun {
		detail["dry_run"] = true
	}
	switch status {
	case activities.StatusSucceeded, activities.StatusPlanned:
		s.publish(eventStepSucceeded, sr.ID, detail)
	case activities.StatusFailed:
		s.publish(eventStepFailed, sr.ID, detail)
	case activities.StatusRejected:
		s.publish(eventStepRejected, sr.ID, detail)
	case activities.StatusTimedOut:
		s.publish(eventStepTimedOut, sr.ID, detail)
	default:
		s.publish(eventStepSkipped, sr.ID, detail)
	}
	s.touch(ctx)
}

// cancelled ends a step interrupted by cancellation.
func (s *incident) cancelled(ctx workflow.Context, sr *stepRun) {
	for _, u := range sr.Units {
		if !terminal(u.Status) {
			u.Status, u.Error = activities.StatusSkipped, "cancelled"
		}
	}
	sr.Status, sr.Error = activities.StatusSkipped, "cancelled"
	sr.EndedAt = workflow.Now(ctx)
	s.touch(ctx)
}

// evalIf evaluates a lone `if` (wait and parallel steps).
func (s *incident) evalIf(ctx workflow.Context, name, src string) (bool, error) {
	var b evalBatch
	b.cel(name, src)
	res, err := s.eval(ctx, &b, evalScope{})
	if err != nil {
		return false, err
	}
	v, err := res.value(name)
	if err != nil {
		return false, err
	}
	return asBool(name, v)
}

// runParallel runs a block's steps at the same time. The block ends when
// all have ended; the first failure cancels the siblings still running
// (their steps end as skipped, "cancelled").
func (s *incident) runParallel(ctx workflow.Context, st *playbook.Step) error {
	var sr *stepRun
	if st.ID != "" {
		sr = s.Steps[st.ID]
		if terminal(sr.Status) {
			return fatal(st, sr)
		}
	}
	if st.If != "" && (sr == nil || !sr.Evaluated) {
		name := "parallel.if"
		if st.ID != "" {
			name = "steps." + st.ID + ".if"
		}
		ok, err := s.evalIf(ctx, name, st.If)
		if err != nil {
			if isCancel(ctx, err) {
				return err
			}
			if sr == nil {
				return &stepError{step: "parallel", msg: err.Error()}
			}
			s.endStep(ctx, sr, activities.StatusFailed, err.Error())
			return fatal(st, sr)
		}
		if !ok {
			s.skipAll(ctx, st.Parallel)
			if sr != nil {
				s.endStep(ctx, sr, activities.StatusSkipped, "")
			}
			return nil
		}
		if sr != nil {
			sr.Evaluated = true
		}
	}
	if sr != nil {
		s.begin(ctx, sr, activities.StatusRunning)
	}
	cctx, cancel := workflow.WithCancel(ctx)
	errs := make([]error, len(st.Parallel))
	wg := workflow.NewWaitGroup(ctx)
	for i := range st.Parallel {
		child := &st.Parallel[i]
		wg.Add(1)
		workflow.Go(cctx, func(gctx workflow.Context) {
			defer wg.Done()
			if err := s.runStep(gctx, child); err != nil {
				errs[i] = err
				cancel()
			}
		})
	}
	wg.Wait(ctx)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var failure error
	for _, err := range errs {
		var se *stepError
		if errors.As(err, &se) {
			failure = err
			break
		}
	}
	if sr != nil {
		if failure != nil {
			s.endStep(ctx, sr, activities.StatusFailed, failure.Error())
		} else {
			s.endStep(ctx, sr, activities.StatusSucceeded, "")
		}
	}
	return failure
}

// skipAll marks steps (and nested blocks) skipped.
func (s *incident) skipAll(ctx workflow.Context, steps []playbook.Step) {
	for i := range steps {
		if id := steps[i].ID; id != "" && !terminal(s.Steps[id].Status) {
			s.endStep(ctx, s.Steps[id], activities.StatusSkipped, "")
		}
		s.skipAll(ctx, steps[i].Parallel)
	}
}

// runWait pauses durably. On dry-run it does not wait (status planned).
func (s *incident) runWait(ctx workflow.Context, st *playbook.Step) error {
	sr := s.Steps[st.ID]
	if terminal(sr.Status) {
		return fatal(st, sr)
	}
	if st.If != "" && !sr.Evaluated {
		ok, err := s.evalIf(ctx, "steps."+st.ID+".if", st.If)
		if err != nil {
			if isCancel(ctx, err) {
				return err
			}
			s.endStep(ctx, sr, activities.StatusFailed, err.Error())
			return fatal(st, sr)
		}
		if !ok {
			s.endStep(ctx, sr, activities.StatusSkipped, "")
			return nil
		}
	}
	sr.Evaluated = true
	if s.dryRun {
		s.endStep(ctx, sr, activities.StatusPlanned, "")
		return nil
	}
	if sr.WaitUntil.IsZero() {
		sr.WaitUntil = workflow.Now(ctx).Add(st.Wait)
		s.begin(ctx, sr, activities.StatusRunning)
	}
	if d := sr.WaitUntil.Sub(workflow.Now(ctx)); d > 0 {
		t := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: fmt.Sprintf("wait %s %s", st.ID, shortDuration(d))})
		if err := t.Get(ctx, nil); err != nil {
			s.cancelled(ctx, sr)
			return err
		}
	}
	s.endStep(ctx, sr, activities.StatusSucceeded, "")
	return nil
}

// runApprovalStep runs a gate of its own. Approved → succeeded; rejected →
// rejected; timed out → timed_out, or succeeded with on_timeout approve.
// Either way the playbook goes on. On dry-run it does not wait (planned).
func (s *incident) runApprovalStep(ctx workflow.Context, st *playbook.Step) error {
	sr := s.Steps[st.ID]
	if terminal(sr.Status) {
		return fatal(st, sr)
	}
	ap := approvalOf(st)
	if !sr.Evaluated {
		var b evalBatch
		if st.If != "" {
			b.cel("steps."+st.ID+".if", st.If)
		}
		if ap.Message != "" {
			b.template("steps."+st.ID+".approval.message", ap.Message)
		}
		res, err := s.eval(ctx, &b, evalScope{})
		if err == nil && st.If != "" {
			var v any
			var ok bool
			if v, err = res.value("steps." + st.ID + ".if"); err == nil {
				if ok, err = asBool("steps."+st.ID+".if", v); err == nil && !ok {
					s.endStep(ctx, sr, activities.StatusSkipped, "")
					return nil
				}
			}
		}
		if err != nil {
			if isCancel(ctx, err) {
				return err
			}
			s.endStep(ctx, sr, activities.StatusFailed, err.Error())
			return fatal(st, sr)
		}
		sr.Message = fmt.Sprintf("Approve step %s?", stepLabel(st))
		if ap.Message != "" {
			if v, err := res.value("steps." + st.ID + ".approval.message"); err == nil {
				sr.Message = asString(v)
			} else {
				s.logger.Warn("approval message failed to render", "step", st.ID, "error", err)
			}
		}
		sr.Evaluated = true
	}
	sr.Gates = mergeNames(sr.Gates, []string{ReasonPlaybook})
	if s.dryRun {
		s.endStep(ctx, sr, activities.StatusPlanned, "")
		return nil
	}
	s.begin(ctx, sr, activities.StatusWaiting)
	outcome, g, err := s.awaitGate(ctx, s.playbookNeed(st, sr.Message), st.ID, st.ID)
	if err != nil {
		s.cancelled(ctx, sr)
		return err
	}
	sr.ApprovedBy = mergeNames(sr.ApprovedBy, approvals(g))
	switch outcome {
	case OutcomeApproved:
		sr.GatePassed = true
		s.endStep(ctx, sr, activities.StatusSucceeded, "")
	case OutcomeRejected:
		s.endStep(ctx, sr, activities.StatusRejected, rejection(g))
	default:
		s.endStep(ctx, sr, activities.StatusTimedOut, "approval timed out")
	}
	return nil
}

// runActionStep runs an action step: if, foreach or with, the playbook's
// gate, then every unit (policy gates, budget, the action).
func (s *incident) runActionStep(ctx workflow.Context, st *playbook.Step) error {
	sr := s.Steps[st.ID]
	if terminal(sr.Status) {
		return fatal(st, sr)
	}
	spec, ok := activities.Lookup(st.Action)
	if !ok {
		s.endStep(ctx, sr, activities.StatusFailed, fmt.Sprintf("unknown action %q", st.Action))
		return fatal(st, sr)
	}
	if !sr.Evaluated {
		skip, err := s.evaluateAction(ctx, st, spec, sr)
		if err != nil {
			if isCancel(ctx, err) {
				return err
			}
			s.endStep(ctx, sr, activities.StatusFailed, err.Error())
			return fatal(st, sr)
		}
		if skip {
			s.endStep(ctx, sr, activities.StatusSkipped, "")
			return nil
		}
	}
	if st.Approval != nil && !sr.GatePassed {
		sr.Gates = mergeNames(sr.Gates, []string{ReasonPlaybook})
		if !s.dryRun {
			s.begin(ctx, sr, activities.StatusWaiting)
			outcome, g, err := s.awaitGate(ctx, s.playbookNeed(st, sr.Message), st.ID, st.ID)
			if err != nil {
				s.cancelled(ctx, sr)
				return err
			}
			sr.ApprovedBy = mergeNames(sr.ApprovedBy, approvals(g))
			switch outcome {
			case OutcomeApproved:
				sr.GatePassed = true
				sr.GateTimedOut = !humanApproved(g)
			case OutcomeRejected:
				s.endUnits(ctx, sr, activities.StatusRejected, rejection(g))
				s.endStep(ctx, sr, activities.StatusRejected, rejection(g))
				return nil
			default:
				s.endUnits(ctx, sr, activities.StatusTimedOut, "approval timed out")
				s.endStep(ctx, sr, activities.StatusTimedOut, "approval timed out")
				return nil
			}
		}
	}
	s.begin(ctx, sr, activities.StatusRunning)
	var err error
	if sr.Foreach {
		s.publish(eventStepStarted, st.ID, map[string]any{"action": st.Action, "items": len(sr.Units)})
		err = s.runForeach(ctx, st, spec, sr)
	} else {
		err = s.runUnit(ctx, st, spec, sr, sr.Units[0])
	}
	if err != nil {
		s.cancelled(ctx, sr)
		return err
	}
	status, msg := aggregate(sr)
	s.endStep(ctx, sr, status, msg)
	return fatal(st, sr)
}

// evaluateAction evaluates if, foreach (or with) and the approval message
// in one recorded call, and creates the step's units. It reports whether
// the step is skipped (if false, or an empty foreach list).
func (s *incident) evaluateAction(ctx workflow.Context, st *playbook.Step, spec activities.ActionSpec, sr *stepRun) (bool, error) {
	p := "steps." + st.ID
	var b evalBatch
	if st.If != "" {
		b.cel(p+".if", st.If)
	}
	if st.Foreach != "" {
		b.template(p+".foreach", st.Foreach)
	} else {
		b.template(p+".with", withOf(st))
	}
	if st.Approval != nil && st.Approval.Message != "" {
		b.template(p+".approval.message", st.Approval.Message)
	}
	res, err := s.eval(ctx, &b, evalScope{})
	if err != nil {
		return false, err
	}
	if st.If != "" {
		v, err := res.value(p + ".if")
		if err != nil {
			return false, err
		}
		ok, err := asBool(p+".if", v)
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil
		}
	}
	sr.StartedAt = workflow.Now(ctx)
	if st.Foreach != "" {
		v, err := res.value(p + ".foreach")
		if err != nil {
			return false, err
		}
		list, err := asList(p+".foreach", v)
		if err != nil {
			return false, err
		}
		sr.Foreach = true
		for i, item := range list {
			sr.Units = append(sr.Units, &unitRun{Key: fmt.Sprintf("%s#%d", st.ID, i), Index: i, Item: item, Status: activities.StatusPending})
		}
		if len(list) == 0 {
			return true, nil
		}
	} else {
		v, err := res.value(p + ".with")
		if err != nil {
			return false, err
		}
		params, err := asMap(p+".with", v)
		if err != nil {
			return false, err
		}
		u := &unitRun{Key: st.ID, Status: activities.StatusPending, Rendered: true}
		u.Params = s.withCloudDefaults(spec, params)
		u.Target = targetOf(spec, u.Params)
		sr.Units = []*unitRun{u}
	}
	if st.Approval != nil {
		sr.Message = s.defaultMessage(st, sr)
		if st.Approval.Message != "" {
			if v, err := res.value(p + ".approval.message"); err == nil {
				sr.Message = asString(v)
			} else {
				s.logger.Warn("approval message failed to render", "step", st.ID, "error", err)
			}
		}
	}
	sr.Evaluated = true
	return false, nil
}

// withOf returns a step's `with` as a template value (never a nil map, so
// that the evaluator returns a map).
func withOf(st *playbook.Step) any {
	if st.With == nil {
		return map[string]any{}
	}
	return st.With
}

// defaultMessage is the approval message of a gate without one.
func (s *incident) defaultMessage(st *playbook.Step, sr *stepRun) string {
	if sr.Foreach {
		return fmt.Sprintf("Approve step %s: %s on %d items?", stepLabel(st), st.Action, len(sr.Units))
	}
	if t := sr.Units[0].Target; t != "" {
		return fmt.Sprintf("Approve step %s: %s %s?", stepLabel(st), st.Action, t)
	}
	return fmt.Sprintf("Approve step %s: %s?", stepLabel(st), st.Action)
}

// stepLabel names a step for humans: its ID, with its name if it has one.
func stepLabel(st *playbook.Step) string {
	if st.Name != "" {
		return fmt.Sprintf("%s (%s)", st.ID, st.Name)
	}
	return st.ID
}

// endUnits ends every unit not yet ended.
func (s *incident) endUnits(ctx workflow.Context, sr *stepRun, status, msg string) {
	now := workflow.Now(ctx)
	for _, u := range sr.Units {
		if !terminal(u.Status) {
			u.Status, u.Error, u.EndedAt = status, msg, now
		}
	}
}

// aggregate derives a step's status from its units: failed if any failed;
// planned on dry-run; succeeded if any succeeded (a unit may have been
// rejected); otherwise rejected, timed_out or skipped.
func aggregate(sr *stepRun) (string, string) {
	if len(sr.Units) == 0 {
		return activities.StatusSkipped, ""
	}
	count := map[string]int{}
	msg := ""
	for _, u := range sr.Units {
		count[u.Status]++
		if u.Status == activities.StatusFailed && msg == "" {
			msg = u.Error
			if sr.Foreach {
				msg = fmt.Sprintf("item %d: %s", u.Index, u.Error)
			}
		}
	}
	switch {
	case count[activities.StatusFailed] > 0:
		return activities.StatusFailed, msg
	case count[activities.StatusPlanned] > 0:
		return activities.StatusPlanned, ""
	case count[activities.StatusSucceeded] > 0:
		return activities.StatusSucceeded, ""
	case count[activities.StatusRejected] > 0:
		return activities.StatusRejected, sr.Units[0].Error
	case count[activities.StatusTimedOut] > 0:
		return activities.StatusTimedOut, sr.Units[0].Error
	}
	return activities.StatusSkipped, ""
}

// runForeach runs a step's items, at most max_parallel at a time. A failed
// item with on_error fail stops launching new ones; items already running
// finish.
func (s *incident) runForeach(ctx workflow.Context, st *playbook.Step, spec activities.ActionSpec, sr *stepRun) error {
	limit := st.MaxParallel
	if limit <= 0 {
		limit = playbook.DefaultMaxParallel
	}
	running := 0
	stop := false
	var cancelErr error
	wg := workflow.NewWaitGroup(ctx)
	for _, u := range sr.Units {
		if terminal(u.Status) {
			if u.Status == activities.StatusFailed && st.OnError != playbook.OnErrorContinue {
				stop = true
			}
			continue
		}
		if stop || cancelErr != nil {
			break
		}
		if err := workflow.Await(ctx, func() bool { return running < limit || stop || cancelErr != nil }); err != nil {
			cancelErr = err
			break
		}
		if stop || cancelErr != nil {
			break
		}
		running++
		wg.Add(1)
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer wg.Done()
			err := s.runUnit(gctx, st, spec, sr, u)
			running--
			if err != nil {
				cancelErr = err
			}
			if u.Status == activities.StatusFailed && st.OnError != playbook.OnErrorContinue {
				stop = true
			}
		})
	}
	wg.Wait(ctx)
	return cancelErr
}

// runUnit runs one action execution: render `with` (foreach items), pass
// the policy gates, take the budgets, run the action, record it for
// revert. It returns an error only on cancellation; failures are recorded
// in the unit.
func (s *incident) runUnit(ctx workflow.Context, st *playbook.Step, spec activities.ActionSpec, sr *stepRun, u *unitRun) error {
	if terminal(u.Status) {
		return nil
	}
	failUnit := func(err error) error {
		if isCancel(ctx, err) {
			return err
		}
		u.Status, u.Error, u.EndedAt = activities.StatusFailed, err.Error(), workflow.Now(ctx)
		s.touch(ctx)
		return nil
	}
	if u.StartedAt.IsZero() {
		u.StartedAt = workflow.Now(ctx)
	}
	if !u.Rendered {
		var b evalBatch
		name := "steps." + st.ID + ".with"
		b.template(name, withOf(st))
		res, err := s.eval(ctx, &b, evalScope{hasItem: true, item: u.Item, index: u.Index})
		if err != nil {
			return failUnit(err)
		}
		v, err := res.value(name)
		if err != nil {
			return failUnit(err)
		}
		params, err := asMap(name, v)
		if err != nil {
			return failUnit(err)
		}
		u.Params = s.withCloudDefaults(spec, params)
		u.Target = targetOf(spec, u.Params)
		u.Rendered = true
	}
	if !u.PolicyChecked {
		needs, err := s.policyNeeds(ctx, st, spec, u)
		if err != nil {
			return failUnit(err)
		}
		u.Needs = needs
		u.PolicyChecked = true
	}
	if err := s.passNeeds(ctx, st, sr, u); err != nil || terminal(u.Status) {
		return err
	}
	if !u.BudgetChecked {
		if !s.dryRun {
			n, err := s.budgetNeed(ctx, st, spec, u)
			if err != nil {
				return err // cancellation only: budget errors fail closed
			}
			if n != nil {
				u.Needs = append(u.Needs, *n)
			}
		}
		u.BudgetChecked = true
		if err := s.passNeeds(ctx, st, sr, u); err != nil || terminal(u.Status) {
			return err
		}
	}

	u.Status = activities.StatusRunning
	s.touch(ctx)
	if !sr.Foreach {
		s.publish(eventStepStarted, st.ID, map[string]any{"action": st.Action, "target": u.Target})
	}
	out, err := s.execAction(ctx, st, sr, u)
	if err != nil {
		if isCancel(ctx, err) {
			return err
		}
		u.Status, u.Error, u.EndedAt = activities.StatusFailed, errMessage(err), workflow.Now(ctx)
		s.touch(ctx)
		return nil
	}
	u.Output = out
	u.Status = activities.StatusSucceeded
	if s.dryRun {
		u.Status = activities.StatusPlanned
	}
	u.EndedAt = workflow.Now(ctx)
	if spec.Revertible() {
		s.recordApplied(ctx, st, spec, u)
	}
	s.touch(ctx)
	return nil
}

// passNeeds waits for every gate of the unit not yet passed, in order. A
// protected-instance gate is already satisfied by a gate of the step that
// analysts approved (not by one that timed out into approved), one of them
// a default approver of policy gates (see stepCoversProtected). On dry-run
// gates are recorded, not waited for.
func (s *incident) passNeeds(ctx workflow.Context, st *playbook.Step, sr *stepRun, u *unitRun) error {
	for _, n := range u.Needs {
		if slices.Contains(u.Passed, n.Reason) {
			continue
		}
		if n.Reason == ReasonProtectedInstance && (s.stepCoversProtected(ctx, sr) || u.Approved || (s.dryRun && st.Approval != nil)) {
			u.Passed = append(u.Passed, n.Reason)
			continue
		}
		sr.Gates = mergeNames(sr.Gates, []string{n.Reason})
		if s.dryRun {
			u.Passed = append(u.Passed, n.Reason)
			continue
		}
		u.Status = activities.StatusWaiting
		outcome, g, err := s.awaitGate(ctx, n, u.Key, st.ID)
		if err != nil {
			return err
		}
		u.ApprovedBy = mergeNames(u.ApprovedBy, approvals(g))
		now := workflow.Now(ctx)
		switch outcome {
		case OutcomeApproved:
			u.Passed = append(u.Passed, n.Reason)
			u.Approved = u.Approved || humanApproved(g)
			u.Status = activities.StatusPending
		case OutcomeRejected:
			u.Status, u.Error, u.EndedAt = activities.StatusRejected, rejection(g), now
			return nil
		default:
			u.Status, u.Error, u.EndedAt = activities.StatusTimedOut, "approval timed out", now
			return nil
		}
	}
	return nil
}

// execAction runs the action activity: the rendered `with` plus meta.
// meta.approved is true only when analysts approved the unit, or the step
// with a default approver among them (stepCoversProtected): it is what
// lets the action touch a protected instance.
func (s *incident) execAction(ctx workflow.Context, st *playbook.Step, sr *stepRun, u *unitRun) (map[string]any, error) {
	input := make(map[string]any, len(u.Params)+1)
	for _, k := range workflow.DeterministicKeys(u.Params) {
		input[k] = u.Params[k]
	}
	input["meta"] = activities.Meta{
		Incident: s.id, Playbook: s.pb.Name, Step: u.Key, DryRun: s.dryRun, Hops: s.in.Hops,
		Approved: s.stepCoversProtected(ctx, sr) || u.Approved,
	}
	summary := st.Action
	if u.Target != "" {
		summary += " " + u.Target
	}
	if st.Name != "" {
		summary = st.Name + ": " + summary
	}
	actx := workflow.WithActivityOptions(ctx, actionOptions(st, st.Action, summary))
	var out map[string]any
	s.inflight++
	err := workflow.ExecuteActivity(actx, st.Action, input).Get(actx, &out)
	s.inflight--
	return out, err
}

// withCloudDefaults defaults a cloud action's account and region to the
// alert's.
func (s *incident) withCloudDefaults(spec activities.ActionSpec, params map[string]any) map[string]any {
	if !spec.Cloud {
		return params
	}
	if _, ok := params["account"]; !ok && s.in.Alert.Account != "" {
		params["account"] = s.in.Alert.Account
	}
	if _, ok := params["region"]; !ok && s.in.Alert.Region != "" {
		params["region"] = s.in.Alert.Region
	}
	return params
}

// targetOf renders the action's target parameter.
func targetOf(spec activities.ActionSpec, params map[string]any) string {
	if spec.Target == "" {
		return ""
	}
	switch v := params[spec.Target].(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

// errMessage extracts a readable message from an activity error.
func errMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		if t := appErr.Type(); t != "" {
			return fmt.Sprintf("%s (%s)", appErr.Message(), t)
		}
		return appErr.Message()
	}
	var toErr *temporal.TimeoutError
	if errors.As(err, &toErr) {
		return "timed out: " + toErr.Error()
	}
	return err.Error()
}

package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// RegisterWorkflow registers [Incident] under its wire name
// [IncidentWorkflow] on a worker (or a replayer).
func RegisterWorkflow(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(Incident, workflow.RegisterOptions{Name: IncidentWorkflow})
}

// Incident is the Incident workflow, one per incident: it interprets the playbook
// snapshot of in for one incident.
//
// Behaviour in brief:
//   - vars and severity are evaluated once when the incident opens; steps
//     run in order (parallel blocks, foreach with max_parallel, wait
//     steps); every if, foreach, with, message and require_approval rule is
//     evaluated by the recorded activities.ExprEval local activity.
//   - Approval gates (the playbook's, policy rules, protected instances,
//     exhausted budgets) wait for the "approve" Update; what the approver
//     sees is what runs (with is rendered before the gate).
//   - Revertible actions with revert_after get a durable timer that runs
//     the catalog inverse; "revert", "extend" and "keep" Updates change it.
//     Temporary measures are shared by incidents: every revertible action
//     holds its measure in the cross-incident registry (until its due time,
//     or forever when kept or without revert_after), and a due revert
//     releases the hold and runs the inverse only if this incident is the
//     last holder of a change soar made (released or unchanged otherwise).
//   - Repeat alerts arrive as the "alert" Update and never rerun steps.
//     The incident closes once its steps are done, its reverts have run (or
//     were kept) and dedup.window has passed since the last alert. A failed
//     revert keeps it open (state failed) until an analyst retries it with
//     "revert" or leaves the measure with "keep". While it closes, new
//     alerts are refused with [ErrTypeIncidentClosing].
//   - A failing step (on_error fail) runs on_failure with incident.error
//     set, then, with rollback_on_failure, the inverse of every applied
//     revertible action in reverse order; the run then ends with an error
//     of type [ErrTypePlaybookFailed]. Cancellation also rolls back (not
//     on_failure) and ends the run as cancelled.
//   - Dry-run (mode dry_run): every action is called with meta.dry_run and
//     ends planned; gates are recorded in the step's Gates, not waited for;
//     wait steps do not wait; budgets are not taken; reverts are reported
//     as planned, with no timer and no rollback.
//   - Before Temporal's limits the run continues as new at a safe point,
//     carrying its whole state in [IncidentInput.Carry].
//
// Determinism invariants: no map is ranged over except through
// workflow.DeterministicKeys (or where order cannot matter: copying a map,
// counting); time comes from workflow.Now and timers; concurrency only
// through workflow.Go, Await and WaitGroup; CEL is never evaluated here.
func Incident(ctx workflow.Context, in IncidentInput) (Result, error) {
	s, err := newIncident(ctx, in)
	if err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("start incident: %v", err), "InvalidInput", err)
	}
	if err := s.registerHandlers(ctx); err != nil {
		return Result{}, err
	}
	return s.run(ctx)
}

// registerHandlers registers the query and the Updates before anything
// blocks, so that the alert delivered with UpdateWithStart finds them.
func (s *incident) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (Status, error) { return s.status(), nil },
		workflow.QueryHandlerOptions{Description: "Every step's state, pending approvals, alerts seen and planned reverts."}); err != nil {
		return fmt.Errorf("register query %s: %w", QueryStatus, err)
	}
	updates := []struct {
		name string
		fn   any
		opts workflow.UpdateHandlerOptions
	}{
		{UpdateApprove, s.approve, workflow.UpdateHandlerOptions{
			Validator:   s.validateVote,
			Description: `Decide a pending approval: {"step":"<step>","decision":"approve|reject","by":"<you>","comment":"…"}.`,
		}},
		{UpdateAlert, s.addAlert, workflow.UpdateHandlerOptions{
			Validator:   func(_ workflow.Context, u AlertUpdate) error { return s.acceptAlert(u) },
			Description: "Deliver a repeat alert (ingest, UpdateWithStart; UpdateID = alert id). It never reruns steps.",
		}},
		{UpdateRevert, s.revertNow, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req StepRequest) error {
				if err := s.validateRevert(req); err != nil {
					return err
				}
				return s.checkAnalyst(ctx, req.By, "by", `{"step":"`+req.Step+`","by":"alice"}`)
			},
			Description: `Revert a step's applied action now: {"step":"<step or step#item>","by":"<you>"}.`,
		}},
		{UpdateExtend, s.extend, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req ExtendRequest) error {
				if err := s.validateExtend(req); err != nil {
					return err
				}
				return s.checkAnalyst(ctx, req.User, "user", `{"step":"`+req.Step+`","by":"24h","user":"alice"}`)
			},
			Description: `Postpone a step's auto-revert: {"step":"<step>","by":"24h","user":"<you>"}.`,
		}},
		{UpdateKeep, s.keep, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req StepRequest) error {
				if err := s.validateKeep(req); err != nil {
					return err
				}
				return s.checkAnalyst(ctx, req.By, "by", `{"step":"`+req.Step+`","by":"alice"}`)
			},
			Description: `Cancel a step's auto-revert, or give up a failed one, and keep the action: {"step":"<step>","by":"<you>"}.`,
		}},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.fn, u.opts); err != nil {
			return fmt.Errorf("register update %s: %w", u.name, err)
		}
	}
	return nil
}

// run drives one workflow run: open (or resume), interpret, wait for the
// close rule, then close, continue as new, or roll back on cancellation.
func (s *incident) run(ctx workflow.Context) (Result, error) {
	fresh := s.Phase == phaseStart
	if fresh {
		s.Phase = phaseSteps
		if err := s.startIncident(ctx); err != nil {
			if isCancel(ctx, err) {
				return s.cancel(ctx)
			}
			s.Failed = true
			s.Info.Error = err.Error()
			s.Phase = phaseOnFailure
		}
	}
	for _, a := range s.Applied {
		if a.Status == RevertFailed {
			s.noteFailedRevert(ctx) // a resumed run still waiting on it
			break
		}
	}
	s.upsertAll(ctx)
	if fresh {
		s.publish(eventOpened, "", map[string]any{
			"alert_id": s.in.Alert.ID, "alert_type": s.in.Alert.Type, "severity": s.Severity, "target": s.Target,
			"dry_run": s.dryRun, "playbook_hash": s.pb.Hash,
		})
	}
	for _, a := range s.Applied {
		if a.Status == RevertScheduled {
			s.watchRevert(a)
		}
		s.syncHolds(a) // a resumed run whose holds lag behind (a registry error)
	}
	s.touch(ctx)
	if s.Phase != phaseDone {
		workflow.Go(ctx, func(gctx workflow.Context) {
			s.interpStarted = true
			s.interpret(gctx)
			s.interpDone = true
			s.bump()
		})
	} else {
		s.interpStarted, s.interpDone = true, true
	}

	if err := s.waitClose(ctx); err != nil {
		if isCancel(ctx, err) {
			return s.cancel(ctx)
		}
		return Result{}, err // continue-as-new
	}
	return s.close(ctx)
}

// waitClose waits for the close rule: the interpreter is done, no revert
// is pending and the dedup window has passed since the last alert. It
// returns a continue-as-new error when the run should hand over.
func (s *incident) waitClose(ctx workflow.Context) error {
	canContinue := func() bool { return s.wantsContinueAsNew(ctx) && s.safeToContinue(ctx) }
	for {
		if canContinue() {
			if err := drain(ctx); err != nil {
				return err
			}
			if canContinue() {
				return s.continueAsNew(ctx)
			}
		}
		idle := s.interpDone && s.revertsSettled()
		var end time.Time
		if idle {
			end = s.windowEnd()
			if !workflow.Now(ctx).Before(end) {
				return nil
			}
		}
		var err error
		if idle {
			// Alerts only move the end later: the timer is not re-armed on
			// each one (two history events each); when it fires early the
			// loop re-arms it for the rest.
			d := end.Sub(workflow.Now(ctx))
			_, err = workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
				Timeout:      d,
				TimerOptions: workflow.TimerOptions{Summary: "dedup window: close " + shortDuration(d) + " after the last alert"},
			}, canContinue)
		} else {
			gen := s.gen
			err = workflow.Await(ctx, func() bool { return s.gen != gen || canContinue() })
		}
		if err != nil {
			return err
		}
	}
}

// windowEnd is when the incident stops absorbing alerts: last_seen +
// dedup.window; without dedup, at once.
func (s *incident) windowEnd() time.Time {
	if d := s.pb.Dedup; d != nil && d.Window > 0 {
		return s.Info.LastSeen.Add(d.Window)
	}
	return time.Time{}
}

// close ends the incident: state closed (or failed), the closed event,
// then it waits for the Update handlers and events still in flight.
func (s *incident) close(ctx workflow.Context) (Result, error) {
	s.final = StateClosed
	if s.Failed {
		s.final = StateFailed
	}
	for _, a := range s.Applied {
		if a.Status == RevertFailed && s.final == StateClosed {
			s.final = StateFailed
		}
	}
	s.touch(ctx)
	s.publish(eventClosed, "", map[string]any{"state": s.final, "alert_count": s.Info.AlertCount, "error": s.Info.Error})
	if err := drain(ctx); err != nil {
		return s.cancel(ctx)
	}
	if err := workflow.Await(ctx, func() bool { return s.inflight == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return s.cancel(ctx)
	}
	res := s.result(ctx)
	if s.Failed {
		return res, temporal.NewNonRetryableApplicationError("playbook failed: "+s.Info.Error, ErrTypePlaybookFailed, nil, res)
	}
	return res, nil
}

// cancel handles the incident's cancellation: it waits (disconnected) for
// the interpreter to stop, rolls back with rollback_on_failure, publishes
// closed and returns the cancellation. Pending auto-reverts without a
// rollback stay applied; revert them by hand if needed.
func (s *incident) cancel(ctx workflow.Context) (Result, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	s.events = dctx
	_ = workflow.Await(dctx, func() bool { return !s.interpStarted || s.interpDone })
	if s.Info.Error == "" {
		s.Info.Error = "cancelled"
	}
	if s.pb.RollbackOnFailure && !s.dryRun && !s.RolledBack {
		s.rollback(dctx)
	}
	s.final = StateClosed
	s.touch(dctx)
	s.publish(eventClosed, "", map[string]any{"state": s.final, "cancelled": true, "alert_count": s.Info.AlertCount})
	_ = workflow.Await(dctx, func() bool { return s.inflight == 0 })
	return s.result(dctx), temporal.NewCanceledError("incident cancelled")
}

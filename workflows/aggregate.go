package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// validateAlert refuses alerts without an ID: the ID is what makes
// redelivery idempotent.
func (s *incident) validateAlert(u AlertUpdate) error {
	if strings.TrimSpace(u.Alert.ID) == "" {
		return errors.New("alert has no id: every alert needs a unique id (its Nats-Msg-Id)")
	}
	return nil
}

// acceptAlert is the "alert" Update's validator: validateAlert, and, while
// the incident closes, a refusal of type [ErrTypeIncidentClosing] for an
// alert it has not seen: accepted, the alert would be counted by a run
// that is about to end and never acted on. The sender retries; once the
// run has completed the alert opens a new incident. (Validators do not run
// on replay, so this needs no version.)
func (s *incident) acceptAlert(u AlertUpdate) error {
	if err := s.validateAlert(u); err != nil {
		return err
	}
	if s.final != "" && !s.seen[u.Alert.ID] {
		return temporal.NewApplicationError(
			fmt.Sprintf("incident %s is closing (%s): its dedup window is over, so alert %s cannot join it; deliver it again once this run has completed and it opens a new incident",
				s.id, s.final, u.Alert.ID),
			ErrTypeIncidentClosing)
	}
	return nil
}

// addAlert is the handler of the "alert" Update: a repeat alert raises
// incident.alert_count and last_seen (and moves extend_on_alert reverts);
// it never reruns steps. The incident's first alert, and any alert ID
// already seen, is a duplicate.
func (s *incident) addAlert(ctx workflow.Context, u AlertUpdate) (AlertAck, error) {
	if err := s.validateAlert(u); err != nil {
		return AlertAck{}, err
	}
	s.updates++
	if s.seen[u.Alert.ID] {
		s.bump()
		return AlertAck{Incident: s.id, AlertCount: s.Info.AlertCount, Duplicate: true}, nil
	}
	s.markSeen(u.Alert.ID)
	s.Info.AlertCount++
	s.Info.LastSeen = workflow.Now(ctx)
	s.extendOnAlert()
	s.touch(ctx)
	return AlertAck{Incident: s.id, AlertCount: s.Info.AlertCount}, nil
}

// wantsContinueAsNew reports whether this run should hand over to a new
// one: Temporal suggests it, or the history or the Updates of this run
// approach the server's limits.
func (s *incident) wantsContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() ||
		info.GetCurrentHistoryLength() >= s.limits.MaxHistoryEvents ||
		s.updates >= s.limits.MaxUpdates
}

// safeToContinue reports whether the run is at a safe point: the
// interpreter has started (and is therefore parked or done), no activity
// is in flight and no Update handler runs. It is evaluated only when every
// other coroutine is blocked, so the snapshot is consistent (see snapshot).
func (s *incident) safeToContinue(ctx workflow.Context) bool {
	return s.interpStarted && s.inflight == 0 && s.final == "" && workflow.AllHandlersFinished(ctx)
}

// drain lets every coroutine already scheduled run before the caller goes
// on: an Update delivered in this workflow task has its handler coroutine
// created but not yet started when the main coroutine wakes, so
// AllHandlersFinished alone would not see it. The coroutine spawned here
// runs after those, so once it has run they have started (and, if they
// block, AllHandlersFinished reports them).
func drain(ctx workflow.Context) error {
	ran := false
	workflow.Go(ctx, func(workflow.Context) { ran = true })
	return workflow.Await(ctx, func() bool { return ran })
}

// continueAsNew hands the incident over to a new run with its state.
func (s *incident) continueAsNew(ctx workflow.Context) error {
	c, err := s.carry()
	if err != nil {
		return err
	}
	next := s.in
	next.Carry = c
	s.logger.Info("continuing as new", "incident", s.id, "run", s.Runs, "updates", s.updates,
		"history_length", workflow.GetInfo(ctx).GetCurrentHistoryLength())
	return workflow.NewContinueAsNewError(ctx, IncidentWorkflow, next)
}

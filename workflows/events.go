package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
)

// Incident events, published to soar.events.<playbook>.<event>.
const (
	eventOpened            = "opened"
	eventStepStarted       = "step_started"
	eventStepSucceeded     = "step_succeeded"
	eventStepFailed        = "step_failed"
	eventStepSkipped       = "step_skipped"
	eventStepRejected      = "step_rejected"
	eventStepTimedOut      = "step_timed_out"
	eventApprovalRequested = "approval_requested"
	eventApprovalDecided   = "approval_decided"
	eventReverted          = "reverted"
	eventReleased          = "released"
	eventClosed            = "closed"
)

// eventOptions make publishing best effort: a short timeout and few
// retries; a failure is logged and never fails the incident.
func eventOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
		Summary:                summary,
	}
}

// publish sends an incident event without waiting for it. It runs on the
// incident's event context (the root context, or a disconnected one once
// the incident is cancelled) so that a cancelled parallel branch does not
// cancel its events. Events in flight count as in-flight work: the run
// neither continues as new nor returns before they end.
func (s *incident) publish(event, step string, detail map[string]any) {
	ctx := s.events
	summary := "event " + event
	if step != "" {
		summary += " " + step
	}
	ev := activities.IncidentEvent{
		Event: event, Incident: s.id, Playbook: s.pb.Name, Step: step,
		Time: workflow.Now(ctx).UTC().Format(time.RFC3339Nano), Detail: detail,
	}
	f := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, eventOptions(summary)), activities.PublishEvent, ev)
	s.inflight++
	workflow.Go(ctx, func(gctx workflow.Context) {
		if err := f.Get(gctx, nil); err != nil {
			s.logger.Warn("publish incident event failed", "incident", s.id, "event", event, "error", err)
		}
		s.inflight--
		s.bump()
	})
}

package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// actionHeartbeatTimeout is the heartbeat timeout of the actions that poll
// an asynchronous cloud operation (see [pollingAction]): they heartbeat
// between polls, so a worker that died mid-poll is noticed after this long
// and the attempt retried, instead of after the whole StartToClose timeout.
const actionHeartbeatTimeout = 60 * time.Second

// pollingAction reports whether an action heartbeats while it polls an
// asynchronous operation (activities/alicloud pollUntil: snapshots,
// run_command, stop/start, the Security Center task). Actions that
// heartbeat once before a change and then make a few quick calls get no
// heartbeat timeout: nothing would heartbeat during those calls.
func pollingAction(action string) bool {
	switch action {
	case activities.ECSSnapshotInstance, activities.ECSRunCommand, activities.ECSStopInstance,
		activities.ECSStartInstance, activities.SASHandleEvent:
		return true
	}
	return false
}

// actionOptions are the activity options of action, a step's action or
// its inverse: timeout per attempt, the step's retry policy with the
// contract's non-retryable error types, a heartbeat timeout for the
// actions that poll, and a summary naming the action and its target for
// the Temporal UI. WaitForCancellation makes a cancelled action report how
// it ended, so that the rollback knows what was applied.
func actionOptions(st *playbook.Step, action, summary string) workflow.ActivityOptions {
	timeout := st.Timeout
	if timeout <= 0 {
		timeout = playbook.DefaultTimeout
	}
	o := workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy:         retryPolicy(st.Retry),
		Summary:             summary,
		WaitForCancellation: true,
	}
	if pollingAction(action) {
		o.HeartbeatTimeout = actionHeartbeatTimeout
	}
	return o
}

// retryPolicy maps a playbook retry onto Temporal's, with the defaults of
// playbook.DefaultRetry for the fields left zero.
func retryPolicy(r *playbook.Retry) *temporal.RetryPolicy {
	d := playbook.DefaultRetry()
	if r != nil {
		if r.MaxAttempts > 0 {
			d.MaxAttempts = r.MaxAttempts
		}
		if r.InitialInterval > 0 {
			d.InitialInterval = r.InitialInterval
		}
		if r.Backoff >= 1 {
			d.Backoff = r.Backoff
		}
		if r.MaxInterval > 0 {
			d.MaxInterval = r.MaxInterval
		}
	}
	if d.MaxInterval < d.InitialInterval {
		d.MaxInterval = d.InitialInterval
	}
	return &temporal.RetryPolicy{
		InitialInterval:        d.InitialInterval,
		BackoffCoefficient:     d.Backoff,
		MaximumInterval:        d.MaxInterval,
		MaximumAttempts:        int32(d.MaxAttempts),
		NonRetryableErrorTypes: activities.NonRetryableErrorTypes(),
	}
}

// shortDuration formats a duration for humans: 72h, 30m, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d >= time.Minute:
		d = d.Round(time.Minute)
	default:
		d = d.Round(time.Second)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

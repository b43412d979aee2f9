package workflows

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

func repeatAlert(id string) AlertUpdate {
	a := testAlert()
	a.ID = id
	return AlertUpdate{Alert: a}
}

func TestAggregate_HundredAlertsRunStepsOnce(t *testing.T) {
	h := newHarness(t)
	in := testInput(
		playbook.Step{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
	)
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Hour}
	start := h.env.Now()
	// UpdateWithStart delivers the first alert as an Update too.
	first := h.updateAt(0, UpdateAlert, AlertUpdate{Alert: in.Alert})
	var acks []*updateResult
	for i := 2; i <= 100; i++ {
		acks = append(acks, h.updateAt(time.Duration(i)*time.Second, UpdateAlert, repeatAlert(fmt.Sprintf("alert-%d", i))))
	}
	redelivered := h.updateAt(200*time.Second, UpdateAlert, repeatAlert("alert-50"))
	noID := h.updateAt(201*time.Second, UpdateAlert, repeatAlert(""))
	h.run(in)
	r := h.result()

	if got := decode[AlertAck](t, first.value); got != (AlertAck{Incident: "test-pb.i-web1", AlertCount: 1, Duplicate: true}) {
		t.Errorf("first alert ack = %+v, want a duplicate with count 1", got)
	}
	if got := decode[AlertAck](t, acks[len(acks)-1].value); got.AlertCount != 100 || got.Duplicate {
		t.Errorf("100th alert ack = %+v, want count 100", got)
	}
	if got := decode[AlertAck](t, redelivered.value); !got.Duplicate || got.AlertCount != 100 {
		t.Errorf("redelivered ack = %+v, want a duplicate with count 100", got)
	}
	if noID.rejected == nil {
		t.Error("alert without id accepted, want rejected by the validator")
	}
	if got := len(h.callsOf()); got != 2 {
		t.Errorf("action calls = %d, want 2: repeats never rerun steps", got)
	}
	if r.AlertCount != 100 || !r.LastSeen.Equal(start.Add(100*time.Second)) {
		t.Errorf("alert_count %d last_seen %v, want 100 at start+100s", r.AlertCount, r.LastSeen.Sub(start))
	}
	// The incident closes one window after the last new alert.
	if got := r.ClosedAt.Sub(start); got != 100*time.Second+time.Hour {
		t.Errorf("closed %v after start, want 1h after the last alert (1h1m40s)", got)
	}
}

// continuedInput extracts the input of a continue-as-new.
func continuedInput(t *testing.T, err error) IncidentInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("workflow error = %v, want continue-as-new", err)
	}
	var next IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatalf("decode continued input: %v", err)
	}
	if next.Carry == nil {
		t.Fatal("continued input has no carry")
	}
	return next
}

func TestContinueAsNew_KeepsState(t *testing.T) {
	steps := func() IncidentInput {
		in := testInput(
			blockC2(72*time.Hour),
			isolateStep(playbook.Approval{Approvers: []string{"secops"}, Quorum: 2, Timeout: 24 * time.Hour, OnTimeout: playbook.OnTimeoutReject}),
			pageStep(),
		)
		in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Hour}
		return in
	}
	tests := []struct {
		name    string
		suggest bool // Temporal suggests it after the 5th alert; else the update limit
	}{
		{"update limit", false},
		{"server suggestion", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Run 1: block C&C, open the gate, take one vote and four alerts,
			// then continue as new at the gate.
			h1 := newHarness(t)
			h1.on(activities.CloudFWBlockIP, cloudFWOutput)
			start := h1.env.Now()
			in := steps()
			if !tt.suggest {
				in.Limits.MaxUpdates = 5
			}
			h1.updateAt(time.Minute, UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"})
			for i := 2; i <= 5; i++ {
				h1.updateAt(time.Duration(i)*time.Minute, UpdateAlert, repeatAlert(fmt.Sprintf("alert-%d", i)))
			}
			if tt.suggest {
				// The test environment runs a workflow task when a delayed
				// callback fires, as the server would on its next event.
				h1.env.RegisterDelayedCallback(func() { h1.env.SetContinueAsNewSuggested(true) }, 6*time.Minute)
			}
			h1.env.ExecuteWorkflow(IncidentWorkflow, in)
			next := continuedInput(t, h1.env.GetWorkflowError())
			handover := h1.env.Now()
			if got := len(h1.callsOf(activities.CloudFWBlockIP)); got != 1 {
				t.Fatalf("run 1 block calls = %d, want 1", got)
			}

			// Run 2 resumes: nothing reruns, the vote, deadline, revert time
			// and seen alerts survive.
			h2 := newHarness(t)
			h2.env.SetStartTime(handover)
			var resumed Status
			h2.env.RegisterDelayedCallback(func() { resumed = h2.status() }, time.Second)
			dup := h2.updateAt(2*time.Second, UpdateAlert, repeatAlert("alert-3"))
			fresh := h2.updateAt(3*time.Second, UpdateAlert, repeatAlert("alert-6"))
			repeat := h2.updateAt(4*time.Second, UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"})
			h2.updateAt(5*time.Second, UpdateApprove, ApproveRequest{Step: "isolate", Decision: "approve", By: "bob"})
			h2.run(next)
			r := h2.result()

			if len(resumed.Pending) != 1 || !resumed.Pending[0].Deadline.Equal(start.Add(24*time.Hour)) ||
				len(resumed.Pending[0].Approvals) != 1 {
				t.Errorf("resumed gate = %+v, want the isolate gate with alice's vote and its deadline", resumed.Pending)
			}
			if resumed.AlertCount != 5 {
				t.Errorf("resumed alert_count = %d, want 5", resumed.AlertCount)
			}
			if got := decode[AlertAck](t, dup.value); !got.Duplicate {
				t.Errorf("alert seen in run 1: ack %+v, want duplicate", got)
			}
			if got := decode[AlertAck](t, fresh.value); got.Duplicate || got.AlertCount != 6 {
				t.Errorf("new alert: ack %+v, want count 6", got)
			}
			if repeat.rejected == nil {
				t.Error("alice's second vote accepted after continue-as-new, want refused")
			}
			if got := len(h2.callsOf(activities.CloudFWBlockIP)); got != 0 {
				t.Errorf("run 2 block calls = %d, want 0 (not rerun)", got)
			}
			if got := h2.callsOf(activities.ECSIsolateInstance); len(got) != 1 || !got[0].meta().Approved {
				t.Errorf("run 2 isolate calls = %+v, want one approved", got)
			}
			if got := h2.callsOf(activities.CloudFWUnblockIP); len(got) != 1 || got[0].At.Sub(start) != 72*time.Hour ||
				got[0].Input["ip"] != "198.51.100.1/32" {
				t.Errorf("run 2 unblocks = %+v, want one at 72h from run 1's start with the recorded output", got)
			}
			if r.AlertCount != 6 || stepByID(t, r.Status, "block_c2").Status != activities.StatusReverted ||
				stepByID(t, r.Status, "page").Status != activities.StatusSucceeded {
				t.Errorf("final status = %+v, want 6 alerts, block_c2 reverted, page succeeded", r.Status)
			}
		})
	}
}

func TestContinueAsNew_BoundedSeenSet(t *testing.T) {
	h := newHarness(t)
	in := testInput(playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}})
	in.Playbook.Dedup = &playbook.Dedup{Key: "k", Window: time.Hour}
	in.Limits = Limits{MaxSeenAlerts: 3, MaxUpdates: 9}
	for i := 2; i <= 10; i++ {
		h.updateAt(time.Duration(i)*time.Minute, UpdateAlert, repeatAlert(fmt.Sprintf("alert-%d", i)))
	}
	h.env.ExecuteWorkflow(IncidentWorkflow, in)
	next := continuedInput(t, h.env.GetWorkflowError())
	seen, _ := next.Carry.State["seen"].([]any)
	if fmt.Sprint(seen) != "[alert-8 alert-9 alert-10]" {
		t.Errorf("carried seen = %v, want the 3 most recent", seen)
	}
	if c, _ := next.Carry.State["info"].(map[string]any)["alert_count"].(float64); c != 10 {
		t.Errorf("carried alert_count = %v, want 10", c)
	}
}

func TestContinueAsNew_InsideAWaitStep(t *testing.T) {
	h1 := newHarness(t)
	start := h1.env.Now()
	in := testInput(
		playbook.Step{ID: "pause", Kind: playbook.KindWait, Wait: time.Hour},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
	)
	in.Limits.MaxUpdates = 2
	h1.updateAt(10*time.Minute, UpdateAlert, repeatAlert("alert-2"))
	h1.updateAt(20*time.Minute, UpdateAlert, repeatAlert("alert-3"))
	h1.env.ExecuteWorkflow(IncidentWorkflow, in)
	next := continuedInput(t, h1.env.GetWorkflowError())
	if got := len(h1.callsOf()); got != 0 {
		t.Fatalf("run 1 calls = %d, want 0 (continued inside the wait)", got)
	}

	h2 := newHarness(t)
	h2.env.SetStartTime(h1.env.Now())
	h2.run(next)
	r := h2.result()
	calls := h2.callsOf(activities.NotifyWebhook)
	if len(calls) != 1 || calls[0].At.Sub(start) != time.Hour {
		t.Errorf("run 2 page calls = %+v, want one at start+1h (the carried wait)", calls)
	}
	if r.AlertCount != 3 || stepByID(t, r.Status, "pause").Status != "succeeded" {
		t.Errorf("final = %d alerts, pause %s; want 3 and succeeded", r.AlertCount, stepByID(t, r.Status, "pause").Status)
	}
}

// TestAggregate_AlertWhileClosingIsRefused: once the dedup window is over
// the run closes; an alert arriving meanwhile (here while the closed event
// is being published) is refused with ErrTypeIncidentClosing, so that
// ingest redelivers it to a new incident instead of a run about to end.
// A redelivery of an alert the incident already absorbed is still a
// duplicate.
func TestAggregate_AlertWhileClosingIsRefused(t *testing.T) {
	h := newHarness(t)
	in := testInput(playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}})
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Hour}
	repeat := h.updateAt(10*time.Minute, UpdateAlert, repeatAlert("alert-2"))
	late, again := make(chan *updateResult, 1), make(chan *updateResult, 1)
	var once sync.Once
	h.onEvent = func(ev activities.IncidentEvent) {
		if ev.Event != eventClosed {
			return
		}
		once.Do(func() {
			late <- h.sendAndWait(UpdateAlert, repeatAlert("alert-late"))
			again <- h.sendAndWait(UpdateAlert, repeatAlert("alert-2"))
		})
	}
	h.run(in)
	r := h.result()

	if repeat.rejected != nil || decode[AlertAck](t, repeat.value).AlertCount != 2 {
		t.Fatalf("repeat in the window: rejected %v value %v, want accepted as alert 2", repeat.rejected, repeat.value)
	}
	var lateRes, againRes *updateResult
	select {
	case lateRes = <-late:
		againRes = <-again
	default:
		t.Fatal("no closed event was published, so the late alert was never sent")
	}
	var appErr *temporal.ApplicationError
	if !errors.As(lateRes.rejected, &appErr) || appErr.Type() != ErrTypeIncidentClosing ||
		!strings.Contains(appErr.Message(), "incident test-pb.i-web1 is closing (closed)") {
		t.Errorf("late alert: rejected %v (value %v err %v), want a validator refusal of type %s saying the incident is closing",
			lateRes.rejected, lateRes.value, lateRes.err, ErrTypeIncidentClosing)
	}
	if againRes.rejected != nil || !decode[AlertAck](t, againRes.value).Duplicate {
		t.Errorf("redelivered alert-2 while closing: rejected %v value %v, want accepted as a duplicate", againRes.rejected, againRes.value)
	}
	if r.AlertCount != 2 || r.State != StateClosed {
		t.Errorf("alert_count %d state %s, want 2 and closed: the late alert belongs to the next incident", r.AlertCount, r.State)
	}
}

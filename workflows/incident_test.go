package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

func TestIncident_SequenceRendersInputsAndOutputs(t *testing.T) {
	h := newHarness(t)
	h.on(activities.ECSSnapshotInstance, func(c call) (map[string]any, error) {
		return map[string]any{"changed": true, "instance_id": c.Input["instance_id"], "snapshot_ids": []any{"s-1", "s-2"}}, nil
	})
	in := testInput(
		playbook.Step{ID: "evidence", Kind: playbook.KindAction, Name: "Snapshot disks", Action: activities.ECSSnapshotInstance,
			With: map[string]any{"instance_id": "${{ vars.instance }}", "reason": "evidence for ${{ incident.id }}"}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
			With: map[string]any{"channel": "secops", "text": "snapshots ${{ steps.evidence.output.snapshot_ids }} sev ${{ vars.sev }}"}},
	)
	in.Playbook.Vars = []playbook.Var{
		{Name: "instance", Value: "${{ alert.resource.instance_id }}"},
		{Name: "sev", Value: "${{ alert.severity + 1 }}"},
		{Name: "label", Value: "${{ vars.instance }}-${{ vars.sev }}"},
	}
	h.run(in)
	r := h.result()

	calls := h.callsOf()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want 2: %+v", len(calls), calls)
	}
	wantSnap := map[string]any{"instance_id": "i-web1", "reason": "evidence for test-pb.i-web1", "account": "prod", "region": "cn-hangzhou"}
	if got, want := calls[0].meta(), (activities.Meta{Incident: "test-pb.i-web1", Playbook: "test-pb", Step: "evidence"}); got != want {
		t.Errorf("snapshot meta = %+v, want %+v", got, want)
	}
	if diff := cmp.Diff(wantSnap, params(calls[0])); diff != "" {
		t.Errorf("snapshot input mismatch (-want +got):\n%s", diff)
	}
	if got, want := calls[1].Input["text"], `snapshots ["s-1","s-2"] sev 5`; got != want {
		t.Errorf("page text = %q, want %q", got, want)
	}
	if _, ok := calls[1].Input["account"]; ok {
		t.Errorf("notify.webhook got account %v: only cloud actions default it", calls[1].Input["account"])
	}
	if calls[0].Timeout != playbook.DefaultTimeout {
		t.Errorf("StartToClose = %v, want the default %v", calls[0].Timeout, playbook.DefaultTimeout)
	}
	if diff := cmp.Diff(map[string]string{"evidence": "succeeded", "page": "succeeded"}, statuses(r.Status)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if r.State != StateClosed || r.AlertCount != 1 {
		t.Errorf("result state %q alerts %d, want closed 1", r.State, r.AlertCount)
	}
	// Events are published asynchronously (best effort): compare as sets.
	wantEvents := []string{"closed", "opened", "step_started", "step_started", "step_succeeded", "step_succeeded"}
	if diff := cmp.Diff(wantEvents, h.sortedEvents()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestIncident_IfSkipsAndStatusFeedsLaterSteps(t *testing.T) {
	h := newHarness(t)
	in := testInput(
		playbook.Step{ID: "no_ips", Kind: playbook.KindAction, Action: activities.NotifyWebhook, If: "size(alert.iocs.ips) == 0",
			With: map[string]any{"channel": "secops", "text": "no iocs"}},
		playbook.Step{ID: "kill", Kind: playbook.KindAction, Action: activities.ECSRunCommand,
			If:   `steps.no_ips.status == "skipped" && alert.process.pid > 0`,
			With: map[string]any{"instance_id": "${{ alert.resource.instance_id }}", "template": "kill", "params": map[string]any{"pid": "${{ alert.process.pid }}"}}},
	)
	h.run(in)
	r := h.result()
	if diff := cmp.Diff(map[string]string{"no_ips": "skipped", "kill": "succeeded"}, statuses(r.Status)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	calls := h.callsOf()
	if len(calls) != 1 || calls[0].Name != activities.ECSRunCommand {
		t.Fatalf("calls = %+v, want one run_command", calls)
	}
	if got := calls[0].Input["params"].(map[string]any)["pid"]; got != 4242.0 {
		t.Errorf("params.pid = %v (%T), want 4242 kept as a number", got, got)
	}
	if !slices.Contains(h.eventNames(), "step_skipped") {
		t.Errorf("events %v lack step_skipped", h.eventNames())
	}
}

func TestIncident_WaitStepIsDurable(t *testing.T) {
	h := newHarness(t)
	start := h.env.Now()
	var startedAt time.Time
	h.on(activities.NotifyWebhook, func(c call) (map[string]any, error) {
		startedAt = h.env.Now()
		return echo(c), nil
	})
	h.run(testInput(
		playbook.Step{ID: "pause", Kind: playbook.KindWait, Wait: 10 * time.Minute},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
	))
	r := h.result()
	if got := startedAt.Sub(start); got < 10*time.Minute {
		t.Errorf("page ran %v after start, want at least the 10m wait", got)
	}
	if got := stepByID(t, r.Status, "pause"); got.Status != "succeeded" || got.Kind != playbook.KindWait {
		t.Errorf("pause = %+v, want a succeeded wait step", got)
	}
}

func TestIncident_RetryTimeoutAndNonRetryable(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(attempt int32) error
		wantCalls int
		wantState string
		wantErr   string
	}{
		{
			name: "retryable error retried until success",
			fail: func(a int32) error {
				if a < 3 {
					return errBoom
				}
				return nil
			},
			wantCalls: 3, wantState: "succeeded",
		},
		{
			name: "non-retryable type fails at once",
			fail: func(int32) error {
				return temporal.NewNonRetryableApplicationError("bad ip", activities.ErrTypeInvalidInput, nil)
			},
			wantCalls: 1, wantState: "failed", wantErr: "bad ip (InvalidInput)",
		},
		{
			name: "guard type listed as non-retryable",
			fail: func(int32) error {
				return temporal.NewApplicationError("protected", activities.ErrTypeGuardDenied)
			},
			wantCalls: 1, wantState: "failed", wantErr: "protected (GuardDenied)",
		},
		{
			name:      "attempts exhausted",
			fail:      func(int32) error { return errBoom },
			wantCalls: 4, wantState: "failed", wantErr: "boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.on(activities.WAFBlockIP, func(c call) (map[string]any, error) {
				if err := tt.fail(c.Attempt); err != nil {
					return nil, err
				}
				return echo(c), nil
			})
			h.run(testInput(playbook.Step{
				ID: "block", Kind: playbook.KindAction, Action: activities.WAFBlockIP, Timeout: 7 * time.Second,
				Retry: &playbook.Retry{MaxAttempts: 4, InitialInterval: time.Second, Backoff: 2, MaxInterval: 10 * time.Second},
				With:  map[string]any{"ip": "${{ alert.source_ip }}"}, OnError: playbook.OnErrorContinue,
			}))
			r := h.result()
			calls := h.callsOf(activities.WAFBlockIP)
			if len(calls) != tt.wantCalls {
				t.Errorf("calls = %d, want %d", len(calls), tt.wantCalls)
			}
			if calls[0].Timeout != 7*time.Second {
				t.Errorf("StartToClose = %v, want 7s from the step's timeout", calls[0].Timeout)
			}
			got := stepByID(t, r.Status, "block")
			if got.Status != tt.wantState || !strings.Contains(got.Error, tt.wantErr) {
				t.Errorf("block = %s %q, want %s containing %q", got.Status, got.Error, tt.wantState, tt.wantErr)
			}
		})
	}
}

func TestIncident_OnErrorContinue(t *testing.T) {
	h := newHarness(t)
	h.on(activities.ECSRunCommand, func(call) (map[string]any, error) {
		return nil, temporal.NewNonRetryableApplicationError("exit 1", activities.ErrTypeRemoteFailed, nil)
	})
	h.run(testInput(
		playbook.Step{ID: "kill", Kind: playbook.KindAction, Action: activities.ECSRunCommand, OnError: playbook.OnErrorContinue,
			With: map[string]any{"instance_id": "i-web1", "template": "kill"}},
		playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
			With: map[string]any{"channel": "c", "text": "kill ${{ steps.kill.status }}: ${{ steps.kill.error }}"}},
	))
	r := h.result()
	if diff := cmp.Diff(map[string]string{"kill": "failed", "page": "succeeded"}, statuses(r.Status)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if got, want := h.callsOf(activities.NotifyWebhook)[0].Input["text"], "kill failed: exit 1 (RemoteFailed)"; got != want {
		t.Errorf("page text = %q, want %q", got, want)
	}
}

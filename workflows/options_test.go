package workflows

import (
	"testing"
	"time"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// TestActionOptions_HeartbeatAndSummary: the actions that poll a cloud
// operation (and heartbeat between polls) are scheduled with a heartbeat
// timeout, so that a dead worker is noticed in a minute rather than at the
// end of a 30m StartToClose; the others are not (nothing would heartbeat).
// A step's name leads its activity summary; the inverse of a polling
// action gets the timeout too.
func TestActionOptions_HeartbeatAndSummary(t *testing.T) {
	h := newHarness(t)
	in := testInput(
		playbook.Step{ID: "evidence", Name: "Snapshot every disk", Kind: playbook.KindAction, Action: activities.ECSSnapshotInstance,
			Timeout: 30 * time.Minute, With: map[string]any{"instance_id": "i-web1"}},
		playbook.Step{ID: "stop", Kind: playbook.KindAction, Action: activities.ECSStopInstance, RevertAfter: time.Hour,
			With: map[string]any{"instance_id": "i-web1"}},
		playbook.Step{ID: "kill", Kind: playbook.KindAction, Action: activities.ECSRunCommand,
			With: map[string]any{"instance_id": "i-web1", "template": "kill_and_quarantine"}},
		playbook.Step{ID: "handled", Kind: playbook.KindAction, Action: activities.SASHandleEvent,
			With: map[string]any{"event_ids": []any{"1"}, "operation": "offline_handled"}},
		playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, With: map[string]any{"instance_id": "i-web1"}},
		playbook.Step{ID: "page", Name: "Page secops", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
	)
	h.run(in)
	h.result()

	tests := []struct {
		action     string
		heartbeat  time.Duration
		summary    string // "" when not checked
		startToEnd time.Duration
	}{
		{activities.ECSSnapshotInstance, actionHeartbeatTimeout, "Snapshot every disk: alicloud.ecs.snapshot_instance i-web1", 30 * time.Minute},
		{activities.ECSStopInstance, actionHeartbeatTimeout, "alicloud.ecs.stop_instance i-web1", playbook.DefaultTimeout},
		{activities.ECSStartInstance, actionHeartbeatTimeout, "revert stop: alicloud.ecs.start_instance i-web1", playbook.DefaultTimeout},
		{activities.ECSRunCommand, actionHeartbeatTimeout, "", playbook.DefaultTimeout},
		{activities.SASHandleEvent, actionHeartbeatTimeout, "", playbook.DefaultTimeout},
		{activities.ECSIsolateInstance, 0, "alicloud.ecs.isolate_instance i-web1", playbook.DefaultTimeout},
		{activities.NotifyWebhook, 0, "Page secops: notify.webhook c", playbook.DefaultTimeout},
	}
	for _, tt := range tests {
		opts := h.scheduledOf(tt.action)
		if len(opts) != 1 {
			t.Errorf("%s scheduled %d time(s), want once", tt.action, len(opts))
			continue
		}
		o := opts[0]
		if o.HeartbeatTimeout != tt.heartbeat || o.StartToCloseTimeout != tt.startToEnd {
			t.Errorf("%s options: heartbeat %v start-to-close %v, want %v and %v", tt.action, o.HeartbeatTimeout, o.StartToCloseTimeout, tt.heartbeat, tt.startToEnd)
		}
		if tt.summary != "" && o.Summary != tt.summary {
			t.Errorf("%s summary = %q, want %q", tt.action, o.Summary, tt.summary)
		}
		switch calls := h.callsOf(tt.action); {
		case len(calls) != 1:
			t.Errorf("%s called %d time(s), want once", tt.action, len(calls))
		case calls[0].Heartbeat != tt.heartbeat:
			t.Errorf("%s as the activity saw it: heartbeat timeout %v, want %v", tt.action, calls[0].Heartbeat, tt.heartbeat)
		}
	}
}

package workflows

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// blockC2 blocks the first IOC IP outbound at the cloud firewall, with an
// auto-revert.
func blockC2(revertAfter time.Duration) playbook.Step {
	return playbook.Step{
		ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, RevertAfter: revertAfter,
		With: map[string]any{"ip": "${{ alert.iocs.ips[0] }}", "direction": "out"},
	}
}

// cloudFWOutput answers block_ip like the real action: the canonical CIDR
// and the rule it created.
func cloudFWOutput(c call) (map[string]any, error) {
	return map[string]any{
		"changed": true, "ip": c.Input["ip"].(string) + "/32", "direction": c.Input["direction"],
		"address_book": "soar-blocked-out", "address_book_id": "ab-1", "policy_id": "acl-1",
	}, nil
}

func TestRevert_AutoRevertAfter72h(t *testing.T) {
	h := newHarness(t)
	start := h.env.Now()
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	var mid Status
	h.env.RegisterDelayedCallback(func() { mid = h.status() }, time.Hour)
	h.run(testInput(blockC2(72 * time.Hour)))
	r := h.result()

	if len(mid.Reverts) != 1 || mid.Reverts[0].Status != RevertScheduled || !mid.Reverts[0].At.Equal(start.Add(72*time.Hour)) {
		t.Fatalf("reverts at 1h = %+v, want one scheduled at start+72h", mid.Reverts)
	}
	if mid.State != StateReverting {
		t.Errorf("state at 1h = %q, want %q", mid.State, StateReverting)
	}
	unblocks := h.callsOf(activities.CloudFWUnblockIP)
	if len(unblocks) != 1 {
		t.Fatalf("unblock calls = %d, want 1", len(unblocks))
	}
	// ip comes from the recorded output (canonical), account and region
	// from the recorded input (defaulted from the alert).
	want := map[string]any{"ip": "198.51.100.1/32", "direction": "out", "account": "prod", "region": "cn-hangzhou"}
	if diff := cmp.Diff(want, params(unblocks[0])); diff != "" {
		t.Errorf("inverse input mismatch (-want +got):\n%s", diff)
	}
	if m := unblocks[0].meta(); !m.Revert || m.Step != "block_c2" || m.Incident != "test-pb.i-web1" {
		t.Errorf("inverse meta = %+v, want revert of block_c2", m)
	}
	if got := unblocks[0].At.Sub(start); got != 72*time.Hour {
		t.Errorf("inverse ran %v after start, want 72h", got)
	}
	if got := stepByID(t, r.Status, "block_c2").Status; got != activities.StatusReverted {
		t.Errorf("block_c2 status = %q, want reverted", got)
	}
	if len(r.Reverts) != 1 || r.Reverts[0].Status != RevertReverted || r.Reverts[0].Action != activities.CloudFWUnblockIP {
		t.Errorf("reverts = %+v, want one reverted unblock", r.Reverts)
	}
	if !slices.Contains(h.eventNames(), "reverted") {
		t.Errorf("events %v lack reverted", h.eventNames())
	}
}

func TestRevert_IsolationRestoresOriginalGroups(t *testing.T) {
	h := newHarness(t)
	groups := []any{map[string]any{"network_interface_id": "eni-1", "primary": true, "security_group_ids": []any{"sg-1", "sg-2"}}}
	h.on(activities.ECSIsolateInstance, func(c call) (map[string]any, error) {
		return map[string]any{"changed": true, "instance_id": "i-web1", "quarantine_group_id": "sg-q", "original_groups": groups}, nil
	})
	h.run(testInput(playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, RevertAfter: 4 * time.Hour,
		With: map[string]any{"instance_id": "i-web1"}}))
	h.result()
	restores := h.callsOf(activities.ECSRestoreInstance)
	if len(restores) != 1 {
		t.Fatalf("restore calls = %d, want 1", len(restores))
	}
	want := map[string]any{"instance_id": "i-web1", "quarantine_group_id": "sg-q", "original_groups": groups, "account": "prod", "region": "cn-hangzhou"}
	if diff := cmp.Diff(want, params(restores[0])); diff != "" {
		t.Errorf("restore input mismatch (-want +got):\n%s", diff)
	}
}

func TestRevert_Updates(t *testing.T) {
	tests := []struct {
		name       string
		update     string
		arg        any
		wantAfter  time.Duration // when the inverse ran; 0 = never
		wantStatus string        // of the revert
		wantResult string        // revert status in the Update's result
	}{
		{"extend", UpdateExtend, ExtendRequest{Step: "block_c2", By: "24h", User: "alice"}, 96 * time.Hour, RevertReverted, RevertScheduled},
		{"keep", UpdateKeep, StepRequest{Step: "block_c2", By: "alice"}, 0, RevertKept, RevertKept},
		{"revert now", UpdateRevert, StepRequest{Step: "block_c2", By: "alice"}, time.Hour, RevertReverted, RevertReverted},
		{"revert one foreach item now", UpdateRevert, StepRequest{Step: "block_c2#0", By: "bob"}, time.Hour, RevertReverted, RevertReverted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			start := h.env.Now()
			h.on(activities.CloudFWBlockIP, cloudFWOutput)
			res := h.updateAt(time.Hour, tt.update, tt.arg)
			step := blockC2(72 * time.Hour)
			if strings.Contains(tt.name, "foreach") {
				step.Foreach = "${{ alert.iocs.ips }}"
				step.With = map[string]any{"ip": "${{ item }}", "direction": "out"}
			}
			h.run(testInput(step))
			r := h.result()
			if !res.done || res.rejected != nil || res.err != nil {
				t.Fatalf("update: done %v rejected %v err %v, want accepted", res.done, res.rejected, res.err)
			}
			got := decode[RevertResult](t, res.value)
			if got.Step != (tt.arg.(interface{ step() string })).step() || got.Reverts[0].Status != tt.wantResult {
				t.Errorf("update result = %+v, want step status %q", got, tt.wantResult)
			}
			unblocks := h.callsOf(activities.CloudFWUnblockIP)
			if tt.wantAfter == 0 {
				if len(unblocks) != 0 {
					t.Errorf("unblock called %d times, want never", len(unblocks))
				}
			} else if len(unblocks) == 0 || unblocks[0].At.Sub(start) != tt.wantAfter {
				t.Errorf("unblocks = %+v, want the first %v after start", unblocks, tt.wantAfter)
			}
			if r.Reverts[0].Status != tt.wantStatus {
				t.Errorf("revert status = %q, want %q", r.Reverts[0].Status, tt.wantStatus)
			}
			if strings.Contains(tt.name, "foreach") {
				// The other item keeps its 72h timer.
				if len(unblocks) != 2 || unblocks[1].At.Sub(start) != 72*time.Hour || unblocks[0].Input["ip"] != "198.51.100.1/32" {
					t.Errorf("unblocks = %+v, want item 0 at 1h and item 1 at 72h", unblocks)
				}
				if got := stepByID(t, r.Status, "block_c2").ItemStates; got[0].Status != "reverted" || got[1].Status != "reverted" {
					t.Errorf("item states = %+v, want both reverted", got)
				}
			}
		})
	}
}

func (r ExtendRequest) step() string { return r.Step }
func (r StepRequest) step() string   { return r.Step }

func TestRevert_ValidatorRejections(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	steps := []playbook.Step{
		{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
		{ID: "block_now", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "203.0.113.7"}},
		blockC2(72 * time.Hour),
	}
	tests := []struct {
		name, update string
		arg          any
		want         string
	}{
		{"unknown step", UpdateRevert, StepRequest{Step: "nope"}, `unknown step "nope"`},
		{"nothing to revert", UpdateRevert, StepRequest{Step: "page"}, `nothing to revert: step "page" applied no revertible action (status succeeded)`},
		{"keep without a timer", UpdateKeep, StepRequest{Step: "block_now"}, `step "block_now" has nothing in a state this applies to (block_now applied)`},
		{"extend with a bad duration", UpdateExtend, ExtendRequest{Step: "block_c2", By: "tomorrow"}, `by must be a positive duration such as 24h or 90m, got "tomorrow"`},
		{"extend by a negative duration", UpdateExtend, ExtendRequest{Step: "block_c2", By: "-1h"}, "by must be a positive duration"},
		{"revert without a timer", UpdateRevert, StepRequest{Step: "block_now", By: "alice"}, ""},
		{"revert again", UpdateRevert, StepRequest{Step: "block_now"}, `step "block_now" is already reverted`},
		{"extend after revert", UpdateExtend, ExtendRequest{Step: "block_now", By: "1h"}, `step "block_now" is already reverted`},
	}
	results := make([]*updateResult, len(tests))
	for i, tt := range tests {
		h.env.RegisterDelayedCallback(func() { results[i] = h.update(tt.update, tt.arg) }, time.Duration(i+1)*time.Minute)
	}
	h.run(testInput(steps...))
	r := h.result()
	for i, tt := range tests {
		res := results[i]
		switch {
		case res == nil || !res.done:
			t.Errorf("%s: no outcome", tt.name)
		case tt.want == "" && (res.rejected != nil || res.err != nil):
			t.Errorf("%s: rejected %v err %v, want accepted", tt.name, res.rejected, res.err)
		case tt.want != "" && (res.rejected == nil || !strings.Contains(res.rejected.Error(), tt.want)):
			t.Errorf("%s: rejection %q, want it to contain %q", tt.name, errText(res.rejected), tt.want)
		}
	}
	if got := stepByID(t, r.Status, "block_now").Status; got != activities.StatusReverted {
		t.Errorf("block_now status = %q, want reverted by the revert Update", got)
	}
	if got := len(h.callsOf(activities.WAFUnblockIP)); got != 1 {
		t.Errorf("waf unblock calls = %d, want 1", got)
	}
}

func TestRevert_ExtendOnAlert(t *testing.T) {
	h := newHarness(t)
	start := h.env.Now()
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	step := blockC2(time.Hour)
	step.ExtendOnAlert = true
	in := testInput(step)
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 10 * time.Minute}
	for i, at := range []time.Duration{30 * time.Minute, 50 * time.Minute} {
		a := testAlert()
		a.ID = "repeat-" + string(rune('a'+i))
		h.updateAt(at, UpdateAlert, AlertUpdate{Alert: a})
	}
	h.run(in)
	r := h.result()
	unblocks := h.callsOf(activities.CloudFWUnblockIP)
	if len(unblocks) != 1 || unblocks[0].At.Sub(start) != 110*time.Minute {
		t.Fatalf("unblocks = %+v, want one at 1h50m (last alert at 50m + 1h)", unblocks)
	}
	if r.AlertCount != 3 {
		t.Errorf("alert_count = %d, want 3", r.AlertCount)
	}
}

func TestRevert_FailureIsVisibleAndRetried(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	var fixed atomic.Bool
	h.on(activities.CloudFWUnblockIP, func(c call) (map[string]any, error) {
		if !fixed.Load() {
			return nil, temporal.NewNonRetryableApplicationError("address book gone", activities.ErrTypeCloudNotFound, nil)
		}
		return echo(c), nil
	})
	in := testInput(blockC2(time.Hour))
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 5 * time.Hour}
	var failed Status
	h.env.RegisterDelayedCallback(func() { failed = h.status(); fixed.Store(true) }, 2*time.Hour)
	retry := h.updateAt(3*time.Hour, UpdateRevert, StepRequest{Step: "block_c2", By: "alice"})
	h.run(in)
	r := h.result()
	if len(failed.Reverts) != 1 || failed.Reverts[0].Status != RevertFailed || !strings.Contains(failed.Reverts[0].Error, "address book gone") {
		t.Errorf("reverts at 2h = %+v, want one failed with the error", failed.Reverts)
	}
	if retry.rejected != nil || retry.err != nil {
		t.Errorf("retry: rejected %v err %v, want accepted", retry.rejected, retry.err)
	}
	if r.Reverts[0].Status != RevertReverted || r.State != StateClosed {
		t.Errorf("final revert %+v state %q, want reverted and closed", r.Reverts[0], r.State)
	}
	if got := len(h.callsOf(activities.CloudFWUnblockIP)); got != 2 {
		t.Errorf("unblock calls = %d, want 2 (failed, then retried)", got)
	}
}

// TestRevert_FailedRevertKeepsIncidentOpen: a failed auto-revert does not
// let the incident close (it could then never be retried): the run waits,
// in state failed, with the status and the current details naming the
// Updates to send; once the analyst keeps the measure (or a retry
// succeeds) the close rule applies again.
func TestRevert_FailedRevertKeepsIncidentOpen(t *testing.T) {
	for _, decision := range []string{UpdateKeep, UpdateRevert} {
		t.Run(decision, func(t *testing.T) {
			h := newHarness(t)
			h.on(activities.CloudFWBlockIP, cloudFWOutput)
			var fixed atomic.Bool
			h.on(activities.CloudFWUnblockIP, func(c call) (map[string]any, error) {
				if !fixed.Load() {
					return nil, temporal.NewNonRetryableApplicationError("address book gone", activities.ErrTypeCloudNotFound, nil)
				}
				return echo(c), nil
			})
			in := testInput(blockC2(time.Hour))
			in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 2 * time.Hour}
			var waiting Status
			var details string
			h.env.RegisterDelayedCallback(func() {
				waiting, details = h.status(), h.currentDetails()
				fixed.Store(true)
			}, 5*time.Hour)
			res := h.updateAt(6*time.Hour, decision, StepRequest{Step: "block_c2", By: "alice"})
			h.run(in)
			r := h.result()

			if waiting.State != StateFailed || len(waiting.Reverts) != 1 || waiting.Reverts[0].Status != RevertFailed {
				t.Fatalf("at 5h (window over 3h ago): state %q reverts %+v, want the incident open in state failed with the revert failed",
					waiting.State, waiting.Reverts)
			}
			wantNote := `send Update revert with {"step":"block_c2","by":"<you>"} to retry, or keep with {"step":"block_c2","by":"<you>"} to leave the measure in place`
			if !strings.Contains(waiting.Reverts[0].Note, wantNote) {
				t.Errorf("failed revert note = %q, want it to contain %q", waiting.Reverts[0].Note, wantNote)
			}
			if !strings.Contains(details, "the incident stays open until you decide") || !strings.Contains(details, "`keep` with `{\"step\":\"block_c2\"") {
				t.Errorf("current details lack what to send:\n%s", details)
			}
			if res.rejected != nil || res.err != nil {
				t.Fatalf("%s at 6h: rejected %v err %v, want accepted", decision, res.rejected, res.err)
			}
			wantRevert, wantUnblocks := RevertKept, 1
			if decision == UpdateRevert {
				wantRevert, wantUnblocks = RevertReverted, 2
			}
			if r.State != StateClosed || r.Reverts[0].Status != wantRevert || r.ClosedAt.Sub(r.FirstSeen) != 6*time.Hour {
				t.Errorf("final: state %q revert %s closed after %v, want closed with the revert %s right after the %s at 6h",
					r.State, r.Reverts[0].Status, r.ClosedAt.Sub(r.FirstSeen), wantRevert, decision)
			}
			if got := len(h.callsOf(activities.CloudFWUnblockIP)); got != wantUnblocks {
				t.Errorf("unblock calls = %d, want %d", got, wantUnblocks)
			}
		})
	}
}

// TestRevert_KeepOfFailedRevertBeforeTheChange: runs recorded before
// failedRevertChange refused keep on a failed revert; Update handlers run
// again on replay, so such a run still refuses it (and closes with the
// revert failed, as then).
func TestRevert_KeepOfFailedRevertBeforeTheChange(t *testing.T) {
	h := newHarness(t)
	h.env.OnGetVersion(failedRevertChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	var unblocks atomic.Int32
	h.on(activities.CloudFWUnblockIP, func(call) (map[string]any, error) {
		unblocks.Add(1)
		return nil, temporal.NewNonRetryableApplicationError("address book gone", activities.ErrTypeCloudNotFound, nil)
	})
	in := testInput(blockC2(time.Hour))
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 3 * time.Hour}
	keep := h.updateAt(2*time.Hour, UpdateKeep, StepRequest{Step: "block_c2", By: "alice"})
	h.run(in)
	r := h.result()
	if keep.rejected == nil || !strings.Contains(keep.rejected.Error(), "block_c2 failed") {
		t.Errorf("keep of the failed revert = %+v, want rejected naming its state", keep)
	}
	if d := r.ClosedAt.Sub(r.FirstSeen); d != 3*time.Hour || r.Reverts[0].Status != RevertFailed || unblocks.Load() != 1 {
		t.Errorf("final: closed after %v, revert %s, %d unblocks; want closed at the window's end (3h) with the revert failed after one unblock",
			d, r.Reverts[0].Status, unblocks.Load())
	}
}

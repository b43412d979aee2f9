package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

func TestForeach_MaxParallelAndOrderedOutputs(t *testing.T) {
	tests := []struct {
		name        string
		items       int
		maxParallel int
		want        int
	}{
		{"seven items three at a time", 7, 3, 3},
		{"one at a time", 4, 1, 1},
		{"default limit is 10", 12, 0, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ips := make([]string, tt.items)
			for i := range ips {
				ips[i] = fmt.Sprintf("198.51.100.%d", i+1)
			}
			in := testInput(playbook.Step{
				ID: "block", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, Foreach: "${{ alert.iocs.ips }}",
				MaxParallel: tt.maxParallel, With: map[string]any{"ip": "${{ item }}", "direction": "out", "note": "${{ index }}"},
			}, playbook.Step{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook,
				With: map[string]any{"channel": "c", "text": "${{ steps.block.output.items.map(o, o.ip).join(',') }}"}})
			in.Alert.IOCs.IPs = ips
			h.mu.Lock()
			h.barrier, h.total = tt.want, tt.items
			h.mu.Unlock()
			h.on(activities.CloudFWBlockIP, func(c call) (map[string]any, error) {
				return map[string]any{"ip": c.Input["ip"], "index": c.Input["note"]}, nil
			})
			h.run(in)
			r := h.result()
			if h.maxRunning != tt.want {
				t.Errorf("max concurrent calls = %d, want %d", h.maxRunning, tt.want)
			}
			block := stepByID(t, r.Status, "block")
			if block.Status != "succeeded" || block.Items != tt.items {
				t.Fatalf("block = %s with %d items, want succeeded with %d", block.Status, block.Items, tt.items)
			}
			for i, it := range block.ItemStates {
				if it.Index != i || it.Item != ips[i] || it.Output["ip"] != ips[i] || it.Output["index"] != float64(i) || it.Status != "succeeded" {
					t.Errorf("item %d = %+v, want %s in order", i, it, ips[i])
				}
			}
			if got, want := h.callsOf(activities.NotifyWebhook)[0].Input["text"], strings.Join(ips, ","); got != want {
				t.Errorf("outputs seen by the next step = %q, want %q in item order", got, want)
			}
			for _, c := range h.callsOf(activities.CloudFWBlockIP) {
				if m := c.meta(); !strings.HasPrefix(m.Step, "block#") {
					t.Errorf("item meta.step = %q, want block#<index>", m.Step)
				}
			}
		})
	}
}

func TestForeach_FailureStopsOrContinues(t *testing.T) {
	tests := []struct {
		onError    string
		wantCalls  int
		wantStatus string
		wantItems  []string
	}{
		{playbook.OnErrorFail, 2, "failed", []string{"succeeded", "failed", "pending", "pending"}},
		{playbook.OnErrorContinue, 4, "failed", []string{"succeeded", "failed", "succeeded", "succeeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.onError, func(t *testing.T) {
			h := newHarness(t)
			in := testInput(playbook.Step{
				ID: "block", Kind: playbook.KindAction, Action: activities.WAFBlockIP, Foreach: "${{ alert.iocs.ips }}",
				MaxParallel: 1, OnError: tt.onError, With: map[string]any{"ip": "${{ item }}"},
			})
			in.Alert.IOCs.IPs = []string{"198.51.100.1", "10.0.0.1", "198.51.100.3", "198.51.100.4"}
			h.on(activities.WAFBlockIP, func(c call) (map[string]any, error) {
				if c.Input["ip"] == "10.0.0.1" {
					return nil, temporal.NewNonRetryableApplicationError("protected network", activities.ErrTypeGuardDenied, nil)
				}
				return echo(c), nil
			})
			h.run(in)
			st := h.status()
			if got := len(h.callsOf(activities.WAFBlockIP)); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			block := stepByID(t, st, "block")
			var items []string
			for _, it := range block.ItemStates {
				items = append(items, it.Status)
			}
			if block.Status != tt.wantStatus || !cmp.Equal(items, tt.wantItems) {
				t.Errorf("block = %s %v, want %s %v", block.Status, items, tt.wantStatus, tt.wantItems)
			}
			if want := "item 1: protected network (GuardDenied)"; block.Error != want {
				t.Errorf("block error = %q, want %q", block.Error, want)
			}
			failed := tt.onError == playbook.OnErrorFail
			if err := h.env.GetWorkflowError(); (err != nil) != failed {
				t.Errorf("workflow error = %v, want failed = %v", err, failed)
			}
		})
	}
}

func TestForeach_EmptyListSkips(t *testing.T) {
	h := newHarness(t)
	in := testInput(playbook.Step{ID: "block", Kind: playbook.KindAction, Action: activities.WAFBlockIP, Foreach: "${{ alert.iocs.ips }}",
		With: map[string]any{"ip": "${{ item }}"}})
	in.Alert.IOCs.IPs = []string{}
	h.run(in)
	if got := stepByID(t, h.result().Status, "block").Status; got != "skipped" {
		t.Errorf("block status = %q, want skipped for an empty list", got)
	}
}

func TestParallel_RunsTogetherAndFailsFast(t *testing.T) {
	t.Run("both branches run", func(t *testing.T) {
		h := newHarness(t)
		h.mu.Lock()
		h.barrier, h.total = 2, 2
		h.mu.Unlock()
		h.run(testInput(playbook.Step{Kind: playbook.KindParallel, Parallel: []playbook.Step{
			{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"}},
			{ID: "page", Kind: playbook.KindAction, Action: activities.NotifyWebhook, With: map[string]any{"channel": "c", "text": "t"}},
		}}))
		r := h.result()
		if h.maxRunning != 2 {
			t.Errorf("max concurrent calls = %d, want 2", h.maxRunning)
		}
		if diff := cmp.Diff(map[string]string{"waf": "succeeded", "page": "succeeded"}, statuses(r.Status)); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("a failure cancels a sibling waiting for approval", func(t *testing.T) {
		h := newHarness(t)
		h.on(activities.WAFBlockIP, func(call) (map[string]any, error) {
			return nil, temporal.NewNonRetryableApplicationError("quota", activities.ErrTypeCloudQuota, nil)
		})
		h.run(testInput(playbook.Step{ID: "contain", Kind: playbook.KindParallel, Parallel: []playbook.Step{
			{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, With: map[string]any{"ip": "${{ alert.source_ip }}"}},
			isolateStep(playbook.Approval{Approvers: []string{"secops"}, Timeout: 24 * time.Hour}),
		}}, pageStep()))
		st := h.status()
		want := map[string]string{"contain": "failed", "waf": "failed", "isolate": "skipped", "page": "pending"}
		if diff := cmp.Diff(want, statuses(st)); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
		if len(st.Pending) != 0 {
			t.Errorf("pending gates = %+v, want none after the cancel", st.Pending)
		}
		var appErr *temporal.ApplicationError
		err := h.env.GetWorkflowError()
		if !errors.As(err, &appErr) || appErr.Type() != ErrTypePlaybookFailed || !strings.Contains(err.Error(), "step waf: quota (CloudQuota)") {
			t.Errorf("workflow error = %v, want %s naming step waf", err, ErrTypePlaybookFailed)
		}
	})
}

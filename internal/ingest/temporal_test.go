package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// fakeTemporal records UpdateWithStartWorkflow calls. Operations are built
// by a lazy (never dialled) real client, so their type is the SDK's own.
type fakeTemporal struct {
	client.Client
	lazy client.Client
	opts []client.UpdateWithStartWorkflowOptions
	// err fails the call; getErr fails the handle's Get.
	err, getErr error
	ack         workflows.AlertAck
}

func newFakeTemporal(t *testing.T) *fakeTemporal {
	lazy, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeTemporal{lazy: lazy}
}

func (f *fakeTemporal) NewWithStartWorkflowOperation(o client.StartWorkflowOptions, wf any, args ...any) client.WithStartWorkflowOperation {
	return f.lazy.NewWithStartWorkflowOperation(o, wf, args...)
}

func (f *fakeTemporal) UpdateWithStartWorkflow(_ context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.opts = append(f.opts, o)
	if f.err != nil {
		return nil, f.err
	}
	return fakeHandle{ack: f.ack, err: f.getErr}, nil
}

type fakeHandle struct {
	ack workflows.AlertAck
	err error
}

func (fakeHandle) WorkflowID() string { return "" }
func (fakeHandle) RunID() string      { return "" }
func (fakeHandle) UpdateID() string   { return "" }
func (h fakeHandle) Get(_ context.Context, v any) error {
	if h.err != nil {
		return h.err
	}
	*(v.(*workflows.AlertAck)) = h.ack
	return nil
}

func TestTemporalStarter_Deliver(t *testing.T) {
	ft := newFakeTemporal(t)
	ft.ack = workflows.AlertAck{Incident: "waf-sqli.203.0.113.7", AlertCount: 3}
	st := NewTemporalStarter(ft, TemporalOptions{})
	_, a := sample(t, "waf-sqli-blacklist")
	d := NewDelivery(wafPlaybook(), "203.0.113.7", a)
	ack, err := st.Deliver(context.Background(), d)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if ack != ft.ack {
		t.Errorf("ack = %+v, want %+v", ack, ft.ack)
	}
	if len(ft.opts) != 1 {
		t.Fatalf("UpdateWithStartWorkflow called %d times", len(ft.opts))
	}
	u := ft.opts[0].UpdateOptions
	if u.UpdateID != a.ID+"/waf-sqli" || u.UpdateName != workflows.UpdateAlert || u.WaitForStage != client.WorkflowUpdateStageCompleted {
		t.Errorf("UpdateOptions = {%q %q %v}", u.UpdateID, u.UpdateName, u.WaitForStage)
	}
	if diff := cmp.Diff([]any{workflows.AlertUpdate{Alert: a}}, u.Args); diff != "" {
		t.Errorf("Update args (-want +got):\n%s", diff)
	}

	tests := []struct {
		name          string
		err, getErr   error
		wantTransient bool
	}{
		{"unavailable", serviceerror.NewUnavailable("frontend down"), nil, true},
		{"overloaded", serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT, "too many updates"), nil, true},
		{"deadline", context.DeadlineExceeded, nil, true},
		{"namespace not found", serviceerror.NewNamespaceNotFound("default"), nil, true},
		{"invalid argument", serviceerror.NewInvalidArgument("blob size exceeds limit"), nil, false},
		{"invalid start in multi-op", serviceerror.NewMultiOperationExecution("multi", []error{serviceerror.NewInvalidArgument("bad id"), serviceerror.NewMultiOperationAborted("aborted")}), nil, false},
		{"aborted multi-op", serviceerror.NewMultiOperationExecution("multi", []error{serviceerror.NewUnavailable("x"), serviceerror.NewMultiOperationAborted("aborted")}), nil, true},
		{"validator rejected", nil, temporal.NewApplicationError("alert has no id", "ValidationError"), false},
		{"update canceled", nil, temporal.NewCanceledError(), true},
		{"update timed out", nil, &client.WorkflowUpdateServiceTimeoutOrCanceledError{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft.err, ft.getErr = tt.err, tt.getErr
			_, err := st.Deliver(context.Background(), d)
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			if got := IsTransient(err); got != tt.wantTransient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, got, tt.wantTransient)
			}
			inner := tt.err
			if inner == nil {
				inner = tt.getErr
			}
			if !errors.Is(err, inner) && !errors.As(err, new(*temporal.ApplicationError)) && !errors.As(err, new(*client.WorkflowUpdateServiceTimeoutOrCanceledError)) {
				t.Errorf("error %v does not wrap %v", err, inner)
			}
		})
	}
}

func TestTemporalStarter_StartOptionsAndInput(t *testing.T) {
	policy := guard.Policy{
		RequireApproval: []guard.ApprovalRule{{Name: "prod", When: "true", Approvers: []string{"sre"}}},
		Budgets:         []guard.Budget{{Action: "*", Max: 10, Window: time.Hour}},
	}
	groups := map[string][]string{"secops": {"analyst"}, "sre": {"bob", "carol"}, "audit": {"dave"}, "unused": {"eve"}}
	st := NewTemporalStarter(newFakeTemporal(t), TemporalOptions{Approvers: groups, Policy: policy})
	p := wafPlaybook()
	p.Steps = []playbook.Step{
		{ID: "gate", Kind: playbook.KindApproval, Approval: &playbook.Approval{Approvers: []string{"secops", "alice"}}},
		{Kind: playbook.KindParallel, Parallel: []playbook.Step{{ID: "x", Kind: playbook.KindAction, Approval: &playbook.Approval{Approvers: []string{"secops"}}}}},
	}
	_, a := sample(t, "waf-sqli-blacklist")
	a.Title = string(make([]rune, 300)) // a long title is cut for StaticSummary
	d := NewDelivery(p, "203.0.113.7", a)
	d.Severity = 5

	o := st.StartOptions(d)
	if o.ID != "waf-sqli.203.0.113.7" || o.TaskQueue != workflows.TaskQueue ||
		o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING ||
		o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE {
		t.Errorf("StartOptions = {%s %s %v %v}", o.ID, o.TaskQueue, o.WorkflowIDConflictPolicy, o.WorkflowIDReusePolicy)
	}
	if len(o.StaticSummary) > 200 {
		t.Errorf("StaticSummary is %d bytes, want at most 200", len(o.StaticSummary))
	}
	sa := o.TypedSearchAttributes
	for key, want := range map[string]string{
		workflows.SearchAttrPlaybook: "waf-sqli", workflows.SearchAttrState: workflows.StateRunning,
		workflows.SearchAttrAlertType: "sqli", workflows.SearchAttrTarget: "203.0.113.7",
	} {
		if got, ok := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(key)); !ok || got != want {
			t.Errorf("search attribute %s = %q, want %q", key, got, want)
		}
	}
	if got, _ := sa.GetInt64(temporal.NewSearchAttributeKeyInt64(workflows.SearchAttrSeverity)); got != 5 {
		t.Errorf("SoarSeverity = %d, want 5", got)
	}

	d.Alert.Labels = map[string]string{HopsLabel: "2"}
	in := st.Input(d)
	want := map[string][]string{"secops": {"analyst"}, "sre": {"bob", "carol"}, "audit": {"dave"}} // audit: the default group
	if diff := cmp.Diff(want, in.Approvers); diff != "" {
		t.Errorf("Approvers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"audit"}, in.DefaultApprovers); diff != "" {
		t.Errorf("DefaultApprovers (-want +got):\n%s", diff)
	}
	if in.Hops != 2 {
		t.Errorf("Hops = %d, want 2 (from the %s label)", in.Hops, HopsLabel)
	}
	if in.IncidentID != d.WorkflowID || in.DedupKey != "203.0.113.7" || in.Playbook.Name != "waf-sqli" || in.Alert.ID != a.ID {
		t.Errorf("Input = {%s %s %s %s}", in.IncidentID, in.DedupKey, in.Playbook.Name, in.Alert.ID)
	}
	// The input survives Temporal's JSON converter.
	payload, err := converter.GetDefaultDataConverter().ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	var back workflows.IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayload(payload, &back); err != nil {
		t.Fatal(err)
	}
	if back.Alert.ID != a.ID || back.Playbook.Name != "waf-sqli" {
		t.Errorf("round trip lost the input: %+v", back.Alert.ID)
	}
}

func TestIsTransient(t *testing.T) {
	if !IsTransient(fmt.Errorf("wrapped: %w", Transient(errBoom))) {
		t.Error("a wrapped TransientError is not transient")
	}
	if IsTransient(errBoom) {
		t.Error("a plain error is transient")
	}
	if Transient(nil) != nil {
		t.Error("Transient(nil) != nil")
	}
}

// TestClassifyTemporal_IncidentClosing: an alert the incident refuses only
// because it is closing is transient (nak, redeliver: the redelivery opens
// a new incident once the closing run has completed); any other refusal by
// the workflow stays permanent.
func TestClassifyTemporal_IncidentClosing(t *testing.T) {
	closing := temporal.NewApplicationError("incident waf-sqli.203.0.113.7 is closing (closed): its dedup window is over", workflows.ErrTypeIncidentClosing)
	tests := []struct {
		name          string
		err           error
		wantTransient bool
	}{
		{"closing, from the update handle", fmt.Errorf("alert update a-1 on waf-sqli.203.0.113.7: %w", closing), true},
		{"closing, in a multi-operation", serviceerror.NewMultiOperationExecution("multi", []error{serviceerror.NewMultiOperationAborted("aborted"), closing}), true},
		{"another validator refusal", fmt.Errorf("alert update: %w", temporal.NewApplicationError("alert has no id", "ValidationError")), false},
		{"an untyped refusal", temporal.NewApplicationError("refused", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classifyTemporal(tt.err)
			if got := IsTransient(err); got != tt.wantTransient {
				t.Errorf("IsTransient(classifyTemporal(%v)) = %v, want %v", tt.err, got, tt.wantTransient)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classifyTemporal(%v) = %v, does not wrap the original", tt.err, err)
			}
		})
	}
	if err := classifyTemporal(nil); err != nil {
		t.Errorf("classifyTemporal(nil) = %v, want nil", err)
	}
}

// TestTemporalStarter_InputCloudDirectory: each incident gets soar.yaml's
// accounts as a directory (default, UID → name, name → region), so that
// two incidents naming one account differently hold its measures under one
// key; without accounts there is none.
func TestTemporalStarter_InputCloudDirectory(t *testing.T) {
	cloud := config.Cloud{DefaultAccount: "prod", Accounts: map[string]config.Account{
		"prod":    {ID: "1234567890123456", Region: "cn-hangzhou", Endpoint: "127.0.0.1:1"},
		"staging": {Region: "cn-shanghai"},
	}}
	st := NewTemporalStarter(newFakeTemporal(t), TemporalOptions{Cloud: cloud})
	_, a := sample(t, "waf-sqli-blacklist")
	in := st.Input(NewDelivery(wafPlaybook(), "203.0.113.7", a))
	want := &workflows.CloudDirectory{
		DefaultAccount: "prod",
		AccountIDs:     map[string]string{"1234567890123456": "prod"},
		Regions:        map[string]string{"prod": "cn-hangzhou", "staging": "cn-shanghai"},
	}
	if diff := cmp.Diff(want, in.Cloud); diff != "" {
		t.Errorf("Cloud (-want +got):\n%s", diff)
	}
	if got := NewTemporalStarter(newFakeTemporal(t), TemporalOptions{}).Input(NewDelivery(wafPlaybook(), "203.0.113.7", a)).Cloud; got != nil {
		t.Errorf("Cloud without accounts = %+v, want nil", got)
	}
}

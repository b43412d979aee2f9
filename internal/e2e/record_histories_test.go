//go:build record

// Recording runs representative incidents on the embedded Temporal server
// (internal/devstack) with stub actions and writes their histories to
// workflows/testdata/histories/, which workflows' replay test replays on
// every run. It links the Temporal server, hence the build tag:
//
//	go test -tags record -run TestRecordHistories -count=1 ./internal/e2e/
package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/devstack"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// historiesDir is where the replay test reads the histories.
const historiesDir = "../../workflows/testdata/histories"

// scenario is one recorded incident: its input, what the test does while
// it runs, and whether the run ends in an error.
type scenario struct {
	name    string
	input   workflows.IncidentInput
	drive   func(ctx context.Context, t *testing.T, c client.Client, id string)
	wantErr bool
	// want are the final step statuses (and, for reverts, "revert:<key>"
	// → revert status) when the run succeeds.
	want map[string]string
	// start begins the incident with UpdateWithStart, as ingest does.
	updateWithStart bool
}

// holdRegistry is the real hold registry (natspub on the stack's JetStream)
// with a bucket of its own per scenario, so that holds left by one
// scenario (a kept isolation, a block without revert_after) never change
// another's outcome.
type holdRegistry struct {
	js      jetstream.JetStream
	current atomic.Pointer[natspub.Activities]
}

func (r *holdRegistry) use(scenario string) {
	bucket := "REC_HOLDS_" + strings.ToUpper(strings.ReplaceAll(scenario, "-", "_"))
	r.current.Store(natspub.New(natspub.Options{JetStream: r.js, HoldBucket: bucket}))
}

func (r *holdRegistry) acquire(ctx context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	return r.current.Load().AcquireHold(ctx, req)
}

func (r *holdRegistry) release(ctx context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	return r.current.Load().ReleaseHold(ctx, req)
}

func TestRecordHistories(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Options{InMemory: true, TemporalAddr: "127.0.0.1:0", UIAddr: "", NATSAddr: "-"})
	if err != nil {
		t.Fatalf("devstack.Start: %v", err)
	}
	defer func() {
		if err := stack.Stop(context.Background()); err != nil {
			t.Errorf("stop devstack: %v", err)
		}
	}()
	c, err := client.Dial(client.Options{HostPort: stack.TemporalAddr(), Namespace: stack.Namespace(),
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	defer c.Close()

	w := worker.New(c, workflows.TaskQueue, worker.Options{DisableRegistrationAliasing: true})
	workflows.RegisterWorkflow(w)
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		t.Fatalf("expr.NewEnv: %v", err)
	}
	w.RegisterActivityWithOptions(expr.NewEvaluator(env).Eval, activity.RegisterOptions{Name: activities.ExprEval})
	for _, name := range activities.Names() {
		w.RegisterActivityWithOptions(stubAction(name), activity.RegisterOptions{Name: name})
	}
	w.RegisterActivityWithOptions(func(context.Context, activities.IncidentEvent) error { return nil },
		activity.RegisterOptions{Name: activities.PublishEvent})
	w.RegisterActivityWithOptions(func(_ context.Context, req activities.BudgetRequest) (activities.BudgetResult, error) {
		return activities.BudgetResult{Allowed: true, Used: 1, Max: req.Max, WindowEnds: req.Now.Add(req.Window)}, nil
	}, activity.RegisterOptions{Name: activities.BudgetTake})
	nc, err := nats.Connect(stack.NATSURL(), nats.InProcessServer(stack.NATSServer()))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	holds := &holdRegistry{js: js}
	holds.use("init")
	w.RegisterActivityWithOptions(holds.acquire, activity.RegisterOptions{Name: activities.HoldAcquire})
	w.RegisterActivityWithOptions(holds.release, activity.RegisterOptions{Name: activities.HoldRelease})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer w.Stop()

	if err := os.MkdirAll(historiesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			holds.use(sc.name)
			id := sc.input.IncidentID
			run, err := start(ctx, c, sc)
			if err != nil {
				t.Fatalf("start %s: %v", id, err)
			}
			// Get follows continue-as-new and moves GetRunID to the last
			// run: note the first one now.
			first := run.GetRunID()
			if sc.drive != nil {
				sc.drive(ctx, t, c, id)
			}
			var res workflows.Result
			err = run.Get(ctx, &res)
			if (err != nil) != sc.wantErr {
				t.Fatalf("incident %s: error %v, want error = %v", id, err, sc.wantErr)
			}
			checkResult(t, id, res, sc.want)
			if err := writeHistory(ctx, c, id, first, filepath.Join(historiesDir, sc.name+".json")); err != nil {
				t.Fatal(err)
			}
			// A continued incident: record the run that resumed, too.
			desc, err := c.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				t.Fatalf("describe %s: %v", id, err)
			}
			if last := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); last != first {
				if err := writeHistory(ctx, c, id, last, filepath.Join(historiesDir, sc.name+"_resumed.json")); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// checkResult compares the final step statuses (and "revert:<key>" →
// revert status) with want, when set.
func checkResult(t *testing.T, id string, res workflows.Result, want map[string]string) {
	t.Helper()
	if want == nil {
		return
	}
	got := map[string]string{}
	for _, st := range res.Steps {
		got[st.ID] = st.Status
	}
	for _, r := range res.Reverts {
		got["revert:"+r.Key] = r.Status
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("incident %s: %s = %q, want %q (all: %v)", id, k, got[k], v, got)
		}
	}
}

// start starts the incident, with UpdateWithStart (first alert as the
// "alert" Update) or a plain start.
func start(ctx context.Context, c client.Client, sc scenario) (client.WorkflowRun, error) {
	opts := client.StartWorkflowOptions{ID: sc.input.IncidentID, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}
	if !sc.updateWithStart {
		return c.ExecuteWorkflow(ctx, opts, workflows.IncidentWorkflow, sc.input)
	}
	op := c.NewWithStartWorkflowOperation(opts, workflows.IncidentWorkflow, sc.input)
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateID: sc.input.Alert.ID, UpdateName: workflows.UpdateAlert,
			Args: []any{workflows.AlertUpdate{Alert: sc.input.Alert}}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err != nil {
		return nil, err
	}
	var ack workflows.AlertAck
	if err := h.Get(ctx, &ack); err != nil {
		return nil, fmt.Errorf("first alert: %w", err)
	}
	if !ack.Duplicate || ack.AlertCount != 1 {
		return nil, fmt.Errorf("first alert: ack %+v, want the input's alert counted once", ack)
	}
	return c.GetWorkflow(ctx, sc.input.IncidentID, h.RunID()), nil
}

// writeHistory saves the run's full history as JSON, the format
// `temporal workflow show --output json` writes and the replayer reads.
func writeHistory(ctx context.Context, c client.Client, id, runID, path string) error {
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return fmt.Errorf("read history of %s: %w", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		return fmt.Errorf("encode history of %s: %w", id, err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write history of %s: %w", id, err)
	}
	return nil
}

// update sends an Update and waits for its outcome.
func update(ctx context.Context, t *testing.T, c client.Client, id, name string, arg any) error {
	t.Helper()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

// waitFor polls the status query until cond holds.
func waitFor(ctx context.Context, t *testing.T, c client.Client, id string, cond func(workflows.Status) bool) {
	t.Helper()
	for ctx.Err() == nil {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		if err == nil {
			var st workflows.Status
			if err := v.Get(&st); err == nil && cond(st) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("incident %s: condition never held", id)
}

func pending(step string) func(workflows.Status) bool {
	return func(st workflows.Status) bool {
		for _, g := range st.Pending {
			if g.Step == step {
				return true
			}
		}
		return false
	}
}

// stubAction answers an action like a successful idempotent action: its
// parameters back plus an outcome, with a canonical CIDR for block_ip
// outputs and a remote failure for the run_command template "fail". The
// incidents of playbooks named "…-found" find their target already in
// place (changed: false).
func stubAction(name string) func(context.Context, map[string]any) (map[string]any, error) {
	return func(_ context.Context, in map[string]any) (map[string]any, error) {
		out := map[string]any{"changed": true}
		if meta, ok := in["meta"].(map[string]any); ok && strings.HasSuffix(fmt.Sprint(meta["playbook"]), "-found") {
			out["changed"] = false
		}
		for k, v := range in {
			if k != "meta" {
				out[k] = v
			}
		}
		if ip, ok := in["ip"].(string); ok && strings.HasSuffix(name, ".block_ip") && !strings.Contains(ip, "/") {
			out["ip"] = ip + "/32"
		}
		if name == activities.ECSIsolateInstance {
			out["original_groups"] = []any{map[string]any{"network_interface_id": "eni-1", "primary": true, "security_group_ids": []any{"sg-1"}}}
			out["quarantine_group_id"] = "sg-quarantine"
		}
		if name == activities.ECSRunCommand && in["template"] == "fail" {
			return nil, temporal.NewNonRetryableApplicationError("exit code 1", activities.ErrTypeRemoteFailed, errors.New("exit 1"))
		}
		return out, nil
	}
}

func recordAlert(id string) alert.Alert {
	a := alert.Alert{
		ID: id, Source: alert.SourceSAS, Type: "webshell", Severity: 4, Title: "webshell in index.php",
		Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Account: "prod", Region: "cn-hangzhou", SourceIP: "203.0.113.7",
		Resource: alert.Resource{InstanceID: "i-web1", SecurityGroupIDs: []string{"sg-1"}, Tags: map[string]string{"env": "prod"}},
		Process:  alert.Process{PID: 4242, Name: "php"},
		IOCs:     alert.IOCs{IPs: []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}},
	}
	a.Normalize(a.Time)
	return a
}

func input(name string, steps ...playbook.Step) workflows.IncidentInput {
	return workflows.IncidentInput{
		IncidentID: workflows.IncidentID("record-"+name, "i-web1"),
		Playbook:   playbook.Playbook{Name: "record-" + name, Title: "Recorded " + name, Mode: playbook.ModeEnforce, Enabled: true, Steps: steps},
		Approvers:  map[string][]string{"secops": {"alice", "bob"}},
		Alert:      recordAlert("alert-" + name),
		DedupKey:   "i-web1",
	}
}

func act(id, action string, with map[string]any) playbook.Step {
	return playbook.Step{ID: id, Kind: playbook.KindAction, Action: action, With: with}
}

func scenarios() []scenario {
	seq := input("sequence",
		act("evidence", activities.ECSSnapshotInstance, map[string]any{"instance_id": "${{ vars.instance }}", "reason": "evidence for ${{ incident.id }}"}),
		playbook.Step{ID: "no_iocs", Kind: playbook.KindAction, Action: activities.NotifyWebhook, If: "size(alert.iocs.ips) == 0",
			With: map[string]any{"channel": "secops", "text": "no iocs"}},
		playbook.Step{ID: "pause", Kind: playbook.KindWait, Wait: time.Second},
		act("page", activities.NotifyWebhook, map[string]any{"channel": "secops", "text": "done: ${{ steps.evidence.status }}"}),
	)
	seq.Playbook.Vars = []playbook.Var{{Name: "instance", Value: "${{ alert.resource.instance_id }}"}}
	seq.Playbook.Severity = "alert.severity + 1"

	par := input("parallel_foreach",
		playbook.Step{Kind: playbook.KindParallel, Parallel: []playbook.Step{
			{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, Foreach: "${{ alert.iocs.ips }}", MaxParallel: 2,
				With: map[string]any{"ip": "${{ item }}", "direction": "out"}},
			act("waf", activities.WAFBlockIP, map[string]any{"ip": "${{ alert.source_ip }}"}),
		}},
		act("page", activities.NotifyWebhook, map[string]any{"channel": "secops", "text": "${{ size(steps.block_c2.items) }} blocked"}),
	)

	appr := input("approval",
		playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance,
			With:     map[string]any{"instance_id": "${{ alert.resource.instance_id }}"},
			Approval: &playbook.Approval{Approvers: []string{"secops"}, Quorum: 2, Timeout: time.Hour, OnTimeout: playbook.OnTimeoutReject, Message: "Isolate ${{ alert.resource.instance_id }}?"}},
		playbook.Step{ID: "gate", Kind: playbook.KindApproval, Approval: &playbook.Approval{Approvers: []string{"alice"}, Quorum: 1, Timeout: time.Hour, OnTimeout: playbook.OnTimeoutReject}},
		act("stop", activities.ECSStopInstance, map[string]any{"instance_id": "i-web1"}),
	)
	appr.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Second}
	appr.Policy.ProtectedInstances = []string{"i-web1"}
	appr.DefaultApprovers = []string{"secops"}

	rev := input("revert",
		playbook.Step{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, RevertAfter: 2 * time.Second, ExtendOnAlert: true,
			With: map[string]any{"ip": "${{ alert.iocs.ips[0] }}", "direction": "out"}},
		playbook.Step{ID: "waf", Kind: playbook.KindAction, Action: activities.WAFBlockIP, RevertAfter: time.Hour,
			With: map[string]any{"ip": "${{ alert.source_ip }}"}},
		playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, RevertAfter: time.Hour,
			With: map[string]any{"instance_id": "i-web1"}},
		playbook.Step{ID: "ecs", Kind: playbook.KindAction, Action: activities.ECSBlockIP, RevertAfter: time.Hour,
			With: map[string]any{"security_group_id": "sg-1", "ip": "203.0.113.8"}},
	)
	rev.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Second}

	fail := input("failure_rollback",
		act("waf", activities.WAFBlockIP, map[string]any{"ip": "${{ alert.source_ip }}"}),
		playbook.Step{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, RevertAfter: time.Hour,
			With: map[string]any{"ip": "${{ alert.iocs.ips[0] }}", "direction": "out"}},
		act("kill", activities.ECSRunCommand, map[string]any{"instance_id": "i-web1", "template": "fail"}),
		act("never", activities.NotifyWebhook, map[string]any{"channel": "secops", "text": "not reached"}),
	)
	fail.Playbook.OnFailure = []playbook.Step{act("tell_humans", activities.NotifyWebhook,
		map[string]any{"channel": "secops", "text": "failed: ${{ incident.error }}"})}
	fail.Playbook.RollbackOnFailure = true

	dry := input("dry_run",
		playbook.Step{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, Foreach: "${{ alert.iocs.ips }}", RevertAfter: time.Hour,
			With: map[string]any{"ip": "${{ item }}", "direction": "out"}},
		playbook.Step{ID: "isolate", Kind: playbook.KindAction, Action: activities.ECSIsolateInstance, With: map[string]any{"instance_id": "i-web1"},
			Approval: &playbook.Approval{Approvers: []string{"secops"}, Timeout: time.Hour}},
	)
	dry.Playbook.Mode = playbook.ModeDryRun

	can := input("continue_as_new",
		playbook.Step{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, RevertAfter: time.Hour,
			With: map[string]any{"ip": "${{ alert.iocs.ips[0] }}", "direction": "out"}},
		playbook.Step{ID: "gate", Kind: playbook.KindApproval, Approval: &playbook.Approval{Approvers: []string{"secops"}, Timeout: time.Hour}},
	)
	can.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Second}
	can.Limits.MaxUpdates = 3

	// Two incidents rely on one C&C block with different due times: the
	// first to come due only releases its hold; the last holder (which
	// found the block in place) undoes it.
	shared := input("shared_hold",
		playbook.Step{ID: "block_c2", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, RevertAfter: 5 * time.Second,
			With: map[string]any{"ip": "${{ alert.iocs.ips[0] }}", "direction": "out"}})
	last := input("shared_hold-found",
		playbook.Step{ID: "block_pool", Kind: playbook.KindAction, Action: activities.CloudFWBlockIP, RevertAfter: 8 * time.Second,
			With: map[string]any{"ip": "${{ alert.iocs.ips[0] }}", "direction": "out"}})

	return []scenario{
		{name: "sequence", input: seq, want: map[string]string{"evidence": "succeeded", "no_iocs": "skipped", "pause": "succeeded", "page": "succeeded"}},
		{name: "parallel_foreach", input: par, want: map[string]string{"block_c2": "succeeded", "waf": "succeeded", "page": "succeeded"}},
		{name: "approval", input: appr, updateWithStart: true, want: map[string]string{"isolate": "succeeded", "gate": "rejected", "stop": "succeeded"}, drive: func(ctx context.Context, t *testing.T, c client.Client, id string) {
			waitFor(ctx, t, c, id, pending("isolate"))
			if err := update(ctx, t, c, id, workflows.UpdateApprove, workflows.ApproveRequest{Step: "isolate", Decision: "approve", By: "mallory"}); err == nil {
				t.Error("mallory's approval accepted, want refused")
			}
			for _, by := range []string{"alice", "bob"} {
				if err := update(ctx, t, c, id, workflows.UpdateApprove, workflows.ApproveRequest{Step: "isolate", Decision: "approve", By: by}); err != nil {
					t.Fatalf("approve as %s: %v", by, err)
				}
			}
			waitFor(ctx, t, c, id, pending("gate"))
			if err := update(ctx, t, c, id, workflows.UpdateApprove, workflows.ApproveRequest{Step: "gate", Decision: "reject", By: "alice", Comment: "enough"}); err != nil {
				t.Fatalf("reject gate: %v", err)
			}
			waitFor(ctx, t, c, id, pending("stop"))
			if err := update(ctx, t, c, id, workflows.UpdateApprove, workflows.ApproveRequest{Step: "stop", Decision: "approve", By: "bob"}); err != nil {
				t.Fatalf("approve the protected instance: %v", err)
			}
		}},
		{name: "revert", input: rev, want: map[string]string{"revert:block_c2": "reverted", "revert:waf": "reverted", "revert:isolate": "kept", "revert:ecs": "reverted"}, drive: func(ctx context.Context, t *testing.T, c client.Client, id string) {
			waitFor(ctx, t, c, id, func(st workflows.Status) bool { return len(st.Reverts) == 4 })
			if err := update(ctx, t, c, id, workflows.UpdateAlert, workflows.AlertUpdate{Alert: recordAlert("alert-revert-2")}); err != nil {
				t.Fatalf("repeat alert: %v", err)
			}
			for _, u := range []struct {
				name string
				arg  any
			}{
				{workflows.UpdateExtend, workflows.ExtendRequest{Step: "waf", By: "1h", User: "alice"}},
				{workflows.UpdateRevert, workflows.StepRequest{Step: "waf", By: "alice"}},
				{workflows.UpdateKeep, workflows.StepRequest{Step: "isolate", By: "alice"}},
				{workflows.UpdateRevert, workflows.StepRequest{Step: "ecs", By: "alice"}},
			} {
				if err := update(ctx, t, c, id, u.name, u.arg); err != nil {
					t.Fatalf("%s: %v", u.name, err)
				}
			}
		}},
		{name: "failure_rollback", input: fail, wantErr: true},
		{name: "shared_hold", input: shared, want: map[string]string{"block_c2": "succeeded", "revert:block_c2": "released"}, drive: func(ctx context.Context, t *testing.T, c client.Client, _ string) {
			run, err := start(ctx, c, scenario{input: last})
			if err != nil {
				t.Fatalf("start %s: %v", last.IncidentID, err)
			}
			var res workflows.Result
			if err := run.Get(ctx, &res); err != nil {
				t.Fatalf("incident %s: %v", last.IncidentID, err)
			}
			checkResult(t, last.IncidentID, res, map[string]string{"block_pool": "reverted", "revert:block_pool": "reverted"})
			if err := writeHistory(ctx, c, last.IncidentID, run.GetRunID(), filepath.Join(historiesDir, "shared_hold_last.json")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "dry_run", input: dry, want: map[string]string{"block_c2": "planned", "isolate": "planned", "revert:block_c2#0": "planned"}},
		{name: "continue_as_new", input: can, want: map[string]string{"block_c2": "reverted", "gate": "succeeded"}, drive: func(ctx context.Context, t *testing.T, c client.Client, id string) {
			waitFor(ctx, t, c, id, pending("gate"))
			for i := 2; i <= 4; i++ {
				if err := update(ctx, t, c, id, workflows.UpdateAlert, workflows.AlertUpdate{Alert: recordAlert(fmt.Sprintf("alert-can-%d", i))}); err != nil {
					t.Fatalf("alert %d: %v", i, err)
				}
			}
			// The run continued as new at the gate; approve in the new run
			// and let it close once the block's revert ran.
			waitFor(ctx, t, c, id, func(st workflows.Status) bool { return st.AlertCount == 4 && len(st.Pending) == 1 })
			if err := update(ctx, t, c, id, workflows.UpdateApprove, workflows.ApproveRequest{Step: "gate", Decision: "approve", By: "alice"}); err != nil {
				t.Fatalf("approve after continue-as-new: %v", err)
			}
			if err := update(ctx, t, c, id, workflows.UpdateRevert, workflows.StepRequest{Step: "block_c2", By: "alice"}); err != nil {
				t.Fatalf("revert after continue-as-new: %v", err)
			}
		}},
	}
}

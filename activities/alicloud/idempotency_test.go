package alicloud

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// actionCall is one action and its input.
type actionCall struct {
	Action string
	Input  map[string]any
}

// runResult is what one workflow run of runsOfOneID reports.
type runResult struct {
	RunID  string
	Output map[string]any
}

// runsOfOneID executes each call in a workflow run of its own, one after
// another, every run with the same workflow ID: as ingest does when a later
// incident on the same host reuses the dedup key after the earlier run
// closed. The runs are child workflows of a test workflow (the test
// environment gives each child its own run ID).
func (c *testCloud) runsOfOneID(t *testing.T, workflowID string, calls ...actionCall) []runResult {
	t.Helper()
	env := testSuite().NewTestWorkflowEnvironment()
	c.acts.Register(env)
	incident := func(ctx workflow.Context, call actionCall) (map[string]any, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		var out map[string]any
		err := workflow.ExecuteActivity(ctx, call.Action, call.Input).Get(ctx, &out)
		return out, err
	}
	parent := func(ctx workflow.Context, calls []actionCall) ([]runResult, error) {
		var res []runResult
		for _, call := range calls {
			f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: workflowID}), "incident", call)
			var we workflow.Execution
			if err := f.GetChildWorkflowExecution().Get(ctx, &we); err != nil {
				return res, err
			}
			var out map[string]any
			if err := f.Get(ctx, &out); err != nil {
				return res, err
			}
			res = append(res, runResult{RunID: we.RunID, Output: out})
		}
		return res, nil
	}
	env.RegisterWorkflowWithOptions(incident, workflow.RegisterOptions{Name: "incident"})
	env.RegisterWorkflowWithOptions(parent, workflow.RegisterOptions{Name: "parent"})
	env.ExecuteWorkflow("parent", calls)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("runs of %s: %v", workflowID, err)
	}
	var res []runResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res) != len(calls) {
		t.Fatalf("runs = %d, want %d", len(res), len(calls))
	}
	for i := 1; i < len(res); i++ {
		if res[i].RunID == res[i-1].RunID || res[i].RunID == "" {
			t.Fatalf("runs %d and %d share the run ID %q", i-1, i, res[i].RunID)
		}
	}
	return res
}

// TestIdempotencyKeysPerRun: a later incident reusing the workflow ID (and
// so the incident ID and step IDs) takes its own evidence snapshots, runs
// its command again and blocks again after the earlier block was undone,
// instead of being answered from the earlier run's ClientTokens and
// snapshot names.
func TestIdempotencyKeysPerRun(t *testing.T) {
	const incident = "alert-host-web-01"
	m := toMap(t, activities.Meta{Incident: incident, Playbook: "compromised-host", Step: "evidence"})

	t.Run("snapshots", func(t *testing.T) {
		c := newTestCloud(t)
		in := map[string]any{"meta": m, "instance_id": webID}
		res := c.runsOfOneID(t, incident, actionCall{activities.ECSSnapshotInstance, in}, actionCall{activities.ECSSnapshotInstance, in})
		var ids [][]string
		for i, r := range res {
			var out activities.ECSSnapshotInstanceOutput
			decode(t, r.Output, &out)
			if !out.Changed || len(out.SnapshotIDs) != 2 {
				t.Errorf("run %d: %+v, want two new snapshots", i, out)
			}
			ids = append(ids, out.SnapshotIDs)
		}
		if slices.ContainsFunc(ids[1], func(id string) bool { return slices.Contains(ids[0], id) }) {
			t.Errorf("the second incident got the first one's snapshots: %v and %v", ids[0], ids[1])
		}
		st := c.state()
		if len(st.ECS.Snapshots) != 4 {
			t.Errorf("snapshots in the sandbox = %d, want 4 (two per incident)", len(st.ECS.Snapshots))
		}
		for _, id := range slices.Concat(ids...) {
			if sn, ok := st.ECS.Snapshot(id); !ok || sn.Status != "accomplished" {
				t.Errorf("snapshot %s = %+v, want accomplished in the sandbox", id, sn)
			}
		}
	})

	t.Run("run_command", func(t *testing.T) {
		c := newTestCloud(t)
		km := toMap(t, activities.Meta{Incident: incident, Playbook: "compromised-host", Step: "kill"})
		in := map[string]any{"meta": km, "instance_id": webID, "template": "kill_process", "params": map[string]any{"pid": "4242"}}
		res := c.runsOfOneID(t, incident, actionCall{activities.ECSRunCommand, in}, actionCall{activities.ECSRunCommand, in})
		var first, second activities.ECSRunCommandOutput
		decode(t, res[0].Output, &first)
		decode(t, res[1].Output, &second)
		if !first.Changed || !second.Changed || first.InvokeID == second.InvokeID {
			t.Errorf("invocations %s (changed %v) and %s (changed %v), want two new runs", first.InvokeID, first.Changed, second.InvokeID, second.Changed)
		}
		if got := len(c.state().ECS.Invocations); got != 2 {
			t.Errorf("invocations in the sandbox = %d, want 2", got)
		}
	})

	t.Run("block unblock block across incidents", func(t *testing.T) {
		c := newTestCloud(t)
		bm := toMap(t, activities.Meta{Incident: incident, Playbook: "compromised-host", Step: "block"})
		block := actionCall{activities.ECSBlockIP, map[string]any{"meta": bm, "security_group_id": sgWeb, "ip": attacker}}
		unblock := actionCall{activities.ECSUnblockIP, map[string]any{"meta": bm, "security_group_id": sgWeb, "ip": attacker}}
		res := c.runsOfOneID(t, incident, block, unblock, block)
		var last activities.ECSBlockIPOutput
		decode(t, res[2].Output, &last)
		if !last.Changed || last.RuleID == "" {
			t.Errorf("second block = %+v, want a new rule", last)
		}
		if got := dropRules(t, c, sgWeb, attacker); len(got) != 1 || got[0].ID != last.RuleID {
			t.Errorf("drop rules for %s = %+v, want exactly the rule %s", attacker, got, last.RuleID)
		}
	})
}

// TestECSBlockAfterUnblockInOneStep: block, unblock and block again with
// the same step in the same run (the same ClientToken): the cloud answers
// the second block from its memory of the first, the read-back finds no
// rule, and the action sends it again under a fresh token.
func TestECSBlockAfterUnblockInOneStep(t *testing.T) {
	c := newTestCloud(t)
	block := activities.ECSBlockIPInput{Meta: meta("block"), SecurityGroupID: sgWeb, IP: attacker}
	var first, second activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, block, &first)
	var un activities.ECSUnblockIPOutput
	c.mustRun(activities.ECSUnblockIP, activities.ECSUnblockIPInput{Meta: meta("block"), SecurityGroupID: sgWeb, IP: attacker, RuleID: first.RuleID}, &un)
	if !un.Changed || len(dropRules(t, c, sgWeb, attacker)) != 0 {
		t.Fatalf("unblock = %+v, want the rule revoked", un)
	}
	n := c.callCount()
	c.mustRun(activities.ECSBlockIP, block, &second)
	if !second.Changed || second.RuleID == "" || second.RuleID == first.RuleID {
		t.Errorf("second block = %+v, want a new rule (the first was %s)", second, first.RuleID)
	}
	if got := dropRules(t, c, sgWeb, attacker); len(got) != 1 || got[0].ID != second.RuleID {
		t.Errorf("drop rules = %+v, want exactly %s", got, second.RuleID)
	}
	calls := c.calls(n, "AuthorizeSecurityGroup")
	if len(calls) != 2 || !calls[0].Replayed || calls[1].Replayed {
		t.Errorf("AuthorizeSecurityGroup calls = %+v, want a replayed one, then a fresh one", calls)
	}
}

// dropRules returns the drop rules of a group for ip.
func dropRules(t *testing.T, c *testCloud, group, ip string) []sandbox.Rule {
	t.Helper()
	g, ok := c.state().ECS.SecurityGroup(group)
	if !ok {
		t.Fatalf("security group %s is not in the sandbox", group)
	}
	var out []sandbox.Rule
	for _, r := range g.Rules {
		if r.Policy == "Drop" && (sameAddress(r.SourceCidrIP, ip) || sameAddress(r.DestCidrIP, ip)) {
			out = append(out, r)
		}
	}
	return out
}

// decode turns a decoded output map into an output struct.
func decode(t *testing.T, m map[string]any, out any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

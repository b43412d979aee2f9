package alicloud

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/sandbox"
)

func TestECSSnapshotInstance(t *testing.T) {
	c := newTestCloud(t)
	s0 := c.state()
	in := activities.ECSSnapshotInstanceInput{Meta: meta("evidence"), InstanceID: webID, Reason: "webshell in index.php"}

	n := c.callCount()
	var dry activities.ECSSnapshotInstanceOutput
	c.mustRun(activities.ECSSnapshotInstance, activities.ECSSnapshotInstanceInput{Meta: dryRun(in.Meta), InstanceID: webID}, &dry)
	if !dry.DryRun || dry.Changed || len(dry.Plan) != 2 {
		t.Errorf("dry-run = %+v, want a two-disk plan and no change", dry.Outcome)
	}
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Fatalf("dry-run changed the state:\n%s", diff)
	}
	if m := c.mutatingCalls(n); len(m) > 0 {
		t.Fatalf("dry-run made mutating calls %v", m)
	}

	var out activities.ECSSnapshotInstanceOutput
	c.mustRun(activities.ECSSnapshotInstance, in, &out)
	if !out.Changed || len(out.SnapshotIDs) != 2 {
		t.Fatalf("output = %+v, want two new snapshots", out)
	}
	st := c.state()
	for i, d := range []struct{ disk, typ string }{{"d-bp1sandboxweb01s", "system"}, {"d-bp1sandboxweb01d", "data"}} {
		sn, ok := st.ECS.Snapshot(out.SnapshotIDs[i])
		if !ok {
			t.Fatalf("snapshot %s is not in the sandbox", out.SnapshotIDs[i])
		}
		if sn.DiskID != d.disk || sn.Status != "accomplished" || sn.Tags["soar:incident"] != "test-incident" ||
			!strings.Contains(sn.Description, "webshell in index.php") || !strings.HasPrefix(sn.Name, "soar-evidence-") {
			t.Errorf("snapshot %d = %+v, want an accomplished, tagged evidence snapshot of %s", i, sn, d.disk)
		}
		if got := out.Disks[i]; got.DiskID != d.disk || got.DiskType != d.typ || got.Status != "accomplished" || got.SnapshotID != sn.ID {
			t.Errorf("disks[%d] = %+v, want %s (%s) accomplished", i, got, d.disk, d.typ)
		}
	}

	// A repeat finds the snapshots by name and creates none.
	s1 := c.state()
	n = c.callCount()
	var again activities.ECSSnapshotInstanceOutput
	c.mustRun(activities.ECSSnapshotInstance, in, &again)
	if again.Changed || !slices.Equal(again.SnapshotIDs, out.SnapshotIDs) {
		t.Errorf("repeat = %+v, want the same snapshots unchanged", again)
	}
	if m := c.mutatingCalls(n); len(m) > 0 {
		t.Errorf("repeat made mutating calls %v", m)
	}
	if diff := stateDiff(s1, c.state()); diff != "" {
		t.Errorf("repeat changed the state:\n%s", diff)
	}

	// A retried attempt resumes from the heartbeat details.
	step := meta("evidence-2")
	c.env.SetHeartbeatDetails(snapshotDetails{InstanceID: webID, Snapshots: map[string]string{
		"d-bp1sandboxweb01s": out.SnapshotIDs[0], "d-bp1sandboxweb01d": out.SnapshotIDs[1]}})
	n = c.callCount()
	var resumed activities.ECSSnapshotInstanceOutput
	c.mustRun(activities.ECSSnapshotInstance, activities.ECSSnapshotInstanceInput{Meta: step, InstanceID: webID}, &resumed)
	if !slices.Equal(resumed.SnapshotIDs, out.SnapshotIDs) || !resumed.Changed {
		t.Errorf("resumed = %+v, want the heartbeat's snapshots, changed", resumed)
	}
	if got := c.calls(n, "CreateSnapshot"); len(got) != 0 {
		t.Errorf("resumed attempt created %d snapshots, want 0", len(got))
	}
}

func TestECSSnapshotWaitsForProgress(t *testing.T) {
	c := newTestCloud(t, func(_ *Options, so *sandbox.Options, _ *guard.Policy) { so.AsyncPolls = 4 })
	var beats int
	c.env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats++ })
	var out activities.ECSSnapshotInstanceOutput
	c.mustRun(activities.ECSSnapshotInstance, activities.ECSSnapshotInstanceInput{Meta: meta("evidence"), InstanceID: webID}, &out)
	for _, d := range out.Disks {
		if d.Status != "accomplished" {
			t.Errorf("disk %s snapshot status %s, want accomplished", d.DiskID, d.Status)
		}
	}
	// Heartbeats are throttled by the SDK; the polls are not.
	if beats < 1 {
		t.Errorf("heartbeats = %d, want at least 1", beats)
	}
	if polls := len(c.calls(0, "DescribeSnapshots")); polls < 4 {
		t.Errorf("DescribeSnapshots polls = %d, want at least 4 (AsyncPolls 4)", polls)
	}
}

func TestECSRunCommand(t *testing.T) {
	c := newTestCloud(t)
	in := activities.ECSRunCommandInput{Meta: meta("kill"), InstanceID: webID, Template: "kill_and_quarantine",
		Params: map[string]any{"pid": 31337, "path": "/var/www/html/index.php"}}

	n := c.callCount()
	var dry activities.ECSRunCommandOutput
	c.mustRun(activities.ECSRunCommand, activities.ECSRunCommandInput{Meta: dryRun(in.Meta), InstanceID: webID, Template: in.Template, Params: in.Params}, &dry)
	if !dry.DryRun || dry.Changed || len(dry.Plan) != 1 || !strings.Contains(dry.Plan[0], "set -- '31337' '/var/www/html/index.php'") {
		t.Errorf("dry-run = %+v, want the rendered, quoted script as the plan", dry.Outcome)
	}
	if m := c.mutatingCalls(n); len(m) > 0 {
		t.Fatalf("dry-run made mutating calls %v", m)
	}

	var out activities.ECSRunCommandOutput
	c.mustRun(activities.ECSRunCommand, in, &out)
	if !out.Changed || out.Status != "Success" || out.ExitCode != 0 || out.InvokeID == "" {
		t.Fatalf("output = %+v, want a successful run", out)
	}
	if !strings.Contains(out.Output, "set -- '31337' '/var/www/html/index.php'") {
		t.Errorf("output %q does not show the quoted parameters", out.Output)
	}
	st := c.state()
	if len(st.ECS.Invocations) != 1 {
		t.Fatalf("invocations = %d, want 1", len(st.ECS.Invocations))
	}
	inv := st.ECS.Invocations[0]
	wantParams := map[string]string{"pid": "'31337'", "path": "'/var/www/html/index.php'"}
	if diff := cmp.Diff(wantParams, inv.Parameters); diff != "" {
		t.Errorf("Cloud Assistant parameters mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(inv.Content, "set -- {{pid}} {{path}}") || strings.Contains(inv.Content, "31337") {
		t.Errorf("the script sent carries the value instead of the placeholder:\n%s", inv.Content)
	}

	// A repeat is answered from the ClientToken: the same invocation, no
	// second run.
	var again activities.ECSRunCommandOutput
	c.mustRun(activities.ECSRunCommand, in, &again)
	if again.InvokeID != out.InvokeID || again.CommandID != out.CommandID {
		t.Errorf("repeat invocation %s/%s, want %s/%s", again.InvokeID, again.CommandID, out.InvokeID, out.CommandID)
	}
	if got := len(c.state().ECS.Invocations); got != 1 {
		t.Errorf("invocations after a repeat = %d, want 1", got)
	}
}

func TestECSRunCommandRepeatLaterIsUnchanged(t *testing.T) {
	c := newTestCloud(t)
	in := activities.ECSRunCommandInput{Meta: meta("kill"), InstanceID: webID, Template: "kill_process", Params: map[string]any{"pid": "42"}}
	var out activities.ECSRunCommandOutput
	c.mustRun(activities.ECSRunCommand, in, &out)
	// The first run happened a minute ago.
	c.srv.Mutate(func(st *sandbox.State) {
		for i := range st.ECS.Invocations[0].Results {
			st.ECS.Invocations[0].Results[i].StartTime = st.ECS.Invocations[0].Results[i].StartTime.Add(-time.Minute)
		}
	})
	var again activities.ECSRunCommandOutput
	c.mustRun(activities.ECSRunCommand, in, &again)
	if again.Changed || again.InvokeID != out.InvokeID {
		t.Errorf("repeat = %+v (invoke %s), want unchanged, invoke %s", again.Outcome, again.InvokeID, out.InvokeID)
	}
}

func TestECSRunCommandFailures(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(st *sandbox.State)
		in       activities.ECSRunCommandInput
		errType  string
		contains []string
		noRun    bool
	}{
		{
			name: "non-zero exit code",
			mutate: func(st *sandbox.State) {
				st.ECS.Instances[0].Command = &sandbox.CommandResult{ExitCode: 3, Output: "line 1\nkill: permission denied\n"}
			},
			in:      activities.ECSRunCommandInput{InstanceID: webID, Template: "kill_process", Params: map[string]any{"pid": 7}},
			errType: activities.ErrTypeRemoteFailed, contains: []string{"exit code 3", "kill: permission denied", "ExitCodeNonzero"},
		},
		{
			name:    "agent offline",
			mutate:  func(st *sandbox.State) { st.ECS.Instances[0].CloudAssistant = "offline" },
			in:      activities.ECSRunCommandInput{InstanceID: webID, Template: "kill_process", Params: map[string]any{"pid": 7}},
			errType: activities.ErrTypeRemoteFailed, contains: []string{"ClientNotRunning"},
		},
		{
			name:    "injection refused",
			in:      activities.ECSRunCommandInput{InstanceID: webID, Template: "kill_process", Params: map[string]any{"pid": "7; curl x|sh"}},
			errType: activities.ErrTypeInvalidInput, contains: []string{"does not match the pattern"}, noRun: true,
		},
		{
			name:    "unknown template",
			in:      activities.ECSRunCommandInput{InstanceID: webID, Template: "rm_rf"},
			errType: activities.ErrTypeInvalidInput, contains: []string{`"rm_rf" is not in soar.yaml`, "kill_process"}, noRun: true,
		},
		{
			name:    "protected instance without approval",
			in:      activities.ECSRunCommandInput{InstanceID: dbID, Template: "collect_forensics"},
			errType: activities.ErrTypeGuardDenied, contains: []string{"protected_instances", dbID}, noRun: true,
		},
		{
			name:    "unknown instance",
			in:      activities.ECSRunCommandInput{InstanceID: "i-nope", Template: "collect_forensics"},
			errType: activities.ErrTypeCloudNotFound, contains: []string{"i-nope"}, noRun: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			if tt.mutate != nil {
				c.srv.Mutate(tt.mutate)
			}
			tt.in.Meta = meta("cmd")
			n := c.callCount()
			err := c.run(activities.ECSRunCommand, tt.in, nil)
			wantAppError(t, err, tt.errType, tt.contains...)
			if runs := c.calls(n, "RunCommand"); tt.noRun && len(runs) > 0 {
				t.Errorf("RunCommand was called %d times, want none", len(runs))
			}
		})
	}
}

func TestECSGuardrails(t *testing.T) {
	tests := []struct {
		name     string
		action   string
		in       any
		contains []string
	}{
		{"block a private address", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: sgWeb, IP: "10.1.2.3"}, []string{"protected_cidrs", "10.1.2.3"}},
		{"block the metadata address", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: sgWeb, IP: "100.100.100.200"}, []string{"protected_cidrs"}},
		{"block the internet", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: sgWeb, IP: "0.0.0.0/0"}, []string{"min_prefix"}},
		{"block garbage", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: sgWeb, IP: "evil.example"}, []string{"invalid_target"}},
		{"isolate a protected instance", activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{InstanceID: dbID}, []string{"protected_instances", dbID, "approval"}},
		{"stop a protected instance", activities.ECSStopInstance, activities.ECSStopInstanceInput{InstanceID: dbID}, []string{"protected_instances"}},
		{"stop a protected instance (dry-run)", activities.ECSStopInstance, activities.ECSStopInstanceInput{Meta: dryRun(meta("s")), InstanceID: dbID}, []string{"protected_instances"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			s0 := c.state()
			n := c.callCount()
			err := c.run(tt.action, tt.in, nil)
			wantAppError(t, err, activities.ErrTypeGuardDenied, tt.contains...)
			if m := c.mutatingCalls(n); len(m) > 0 {
				t.Errorf("refused action made mutating calls %v", m)
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Errorf("refused action changed the state:\n%s", diff)
			}
		})
	}
}

func TestECSInvalidParameters(t *testing.T) {
	tests := []struct {
		name     string
		action   string
		in       any
		apiCall  string // the API call that refused it, once; "" when refused before any call
		errType  string
		contains []string
	}{
		{"unknown security group", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: "sg-doesnotexist", IP: attacker},
			"DescribeSecurityGroupAttribute", activities.ErrTypeCloudNotFound, []string{"InvalidSecurityGroupId.NotFound", "request"}},
		{"bad port range", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: sgWeb, IP: attacker, Protocol: "tcp", PortRange: "0/70000"},
			"", activities.ErrTypeInvalidInput, []string{"port_range"}},
		{"ports on all protocols", activities.ECSBlockIP, activities.ECSBlockIPInput{SecurityGroupID: sgWeb, IP: attacker, PortRange: "22/22"},
			"", activities.ErrTypeInvalidInput, []string{"has no ports"}},
		{"unknown quarantine group", activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{InstanceID: webID, QuarantineGroupID: "sg-nope"},
			"DescribeSecurityGroups", activities.ErrTypeCloudNotFound, []string{"sg-nope"}},
		{"unknown instance", activities.ECSStopInstance, activities.ECSStopInstanceInput{InstanceID: "i-nope"},
			"DescribeInstances", activities.ErrTypeCloudNotFound, []string{"i-nope"}},
		{"restore without a record", activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{InstanceID: webID},
			"", activities.ErrTypeInvalidInput, []string{"no isolation record", "nothing to restore"}},
		{"bad region", activities.ECSStartInstance, activities.ECSStartInstanceInput{InstanceID: webID, Cloud: activities.Cloud{Region: "Hangzhou!"}},
			"", activities.ErrTypeInvalidInput, []string{"region"}},
		{"unknown account", activities.ECSStartInstance, activities.ECSStartInstanceInput{InstanceID: webID, Cloud: activities.Cloud{Account: "prod"}},
			"", activities.ErrTypeNotConfigured, []string{`"prod"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			n := c.callCount()
			err := c.run(tt.action, tt.in, nil)
			wantAppError(t, err, tt.errType, tt.contains...)
			if tt.apiCall != "" {
				if got := len(c.calls(n, tt.apiCall)); got != 1 {
					t.Errorf("%s called %d times, want once", tt.apiCall, got)
				}
			}
			if m := c.mutatingCalls(n); len(m) > 0 {
				t.Errorf("made mutating calls %v", m)
			}
		})
	}
}

// TestThrottlingRetriedByTemporal runs block_ip inside a workflow under a
// Temporal retry policy while the sandbox throttles AuthorizeSecurityGroup
// twice: the activity fails twice with a retryable error and succeeds on
// the third attempt.
func TestThrottlingRetriedByTemporal(t *testing.T) {
	c := newTestCloud(t)
	c.srv.InjectFault(sandbox.Fault{Action: "AuthorizeSecurityGroup", Code: "Throttling.User", Message: "Request was denied due to user flow control.", Count: 2})

	env := testSuite().NewTestWorkflowEnvironment()
	c.acts.Register(env)
	attempts := 0
	env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) { attempts++ })
	wf := func(ctx workflow.Context, in activities.ECSBlockIPInput) (activities.ECSBlockIPOutput, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 5,
				NonRetryableErrorTypes: activities.NonRetryableErrorTypes()},
		})
		var out activities.ECSBlockIPOutput
		err := workflow.ExecuteActivity(ctx, activities.ECSBlockIP, in).Get(ctx, &out)
		return out, err
	}
	env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "block"})
	env.ExecuteWorkflow("block", activities.ECSBlockIPInput{Meta: meta("block"), SecurityGroupID: sgWeb, IP: attacker})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var out activities.ECSBlockIPOutput
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Errorf("activity attempts = %d, want 3", attempts)
	}
	calls := c.calls(0, "AuthorizeSecurityGroup")
	var codes []string
	for _, call := range calls {
		codes = append(codes, call.Error)
	}
	if want := []string{"Throttling.User", "Throttling.User", ""}; !slices.Equal(codes, want) {
		t.Errorf("AuthorizeSecurityGroup answers = %q, want %q", codes, want)
	}
	g, _ := c.state().ECS.SecurityGroup(sgWeb)
	if n := len(slices.DeleteFunc(slices.Clone(g.Rules), func(r sandbox.Rule) bool { return r.SourceCidrIP != attacker+"/32" })); n != 1 || out.RuleID == "" {
		t.Errorf("drop rules for the attacker = %d (rule %q), want exactly 1", n, out.RuleID)
	}
}

// TestECSConcurrentInvocations runs block_ip for 8 addresses, a snapshot
// and an isolation at once, each in its own activity environment, under
// -race: every invocation builds its own clients on the shared transport.
func TestECSConcurrentInvocations(t *testing.T) {
	c := newTestCloud(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			env := c.newEnv()
			in := activities.ECSBlockIPInput{Meta: meta(fmt.Sprintf("block#%d", i)), SecurityGroupID: sgWeb, IP: fmt.Sprintf("203.0.113.%d", 10+i)}
			if err := runIn(env, activities.ECSBlockIP, in, nil); err != nil {
				errs <- fmt.Errorf("block %d: %w", i, err)
			}
		})
	}
	wg.Go(func() {
		if err := runIn(c.newEnv(), activities.ECSSnapshotInstance, activities.ECSSnapshotInstanceInput{Meta: meta("snap"), InstanceID: webID}, nil); err != nil {
			errs <- err
		}
	})
	wg.Go(func() {
		in := activities.ECSIsolateInstanceInput{Meta: meta("iso"), InstanceID: dbID}
		in.Meta.Approved = true
		if err := runIn(c.newEnv(), activities.ECSIsolateInstance, in, nil); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	g, _ := c.state().ECS.SecurityGroup(sgWeb)
	drops := 0
	for _, r := range g.Rules {
		if r.Policy == "Drop" {
			drops++
		}
	}
	if drops != 8 {
		t.Errorf("drop rules = %d, want 8", drops)
	}
}

// TestAssumeRoleAgainstSandbox runs an action on an account with a role:
// the activities assume it over plain HTTP and sign with the temporary
// credentials, assuming it once for several invocations.
func TestAssumeRoleAgainstSandbox(t *testing.T) {
	c := newTestCloud(t, func(o *Options, _ *sandbox.Options, _ *guard.Policy) {
		a := o.Accounts["default"]
		a.RoleARN = "acs:ram::1234567890123456:role/soar-responder"
		a.RoleSessionName = "soar-test"
		o.Accounts["default"] = a
	})
	for range 2 {
		var out activities.ECSStartInstanceOutput
		c.mustRun(activities.ECSStartInstance, activities.ECSStartInstanceInput{Meta: meta("start"), InstanceID: webID}, &out)
		if out.Changed || out.Status != "Running" {
			t.Errorf("start of a running instance = %+v, want unchanged Running", out)
		}
	}
	if got := len(c.calls(0, "AssumeRole")); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
	for _, call := range c.calls(0, "DescribeInstances") {
		if call.PrincipalType != "assumed-role" || !strings.HasPrefix(call.AccessKeyID, "STS.") {
			t.Errorf("DescribeInstances signed by %s (%s), want the assumed role's STS key", call.Principal, call.PrincipalType)
		}
	}
}

// TestECSIsolationRecord: a second isolation (another step) reports the
// groups from the instance's tags, restore works from the tags alone, and
// a retried attempt takes the originals from its heartbeat.
func TestECSIsolationRecord(t *testing.T) {
	c := newTestCloud(t)
	completeDefaultQuarantine(c)
	s0 := c.state()
	var first, second activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("iso-1"), InstanceID: webID}, &first)
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("iso-2"), InstanceID: webID}, &second)
	if second.Changed || !cmp.Equal(first.OriginalGroups, second.OriginalGroups) {
		t.Errorf("second isolation = %+v, want unchanged with the first's original groups %+v", second, first.OriginalGroups)
	}
	var restored activities.ECSRestoreInstanceOutput
	c.mustRun(activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{Meta: meta("restore"), InstanceID: webID}, &restored)
	if !restored.Changed || !cmp.Equal(restored.RestoredGroups, first.OriginalGroups) {
		t.Errorf("restore from tags = %+v, want %+v", restored, first.OriginalGroups)
	}
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("restore from tags left differences (-before +after):\n%s", diff)
	}

	// An attempt whose predecessor swapped the groups but died before
	// tagging: the heartbeat has the originals.
	c.srv.Mutate(func(st *sandbox.State) { st.ECS.Instances[0].NetworkInterfaces[0].SecurityGroupIDs = []string{sgQ} })
	c.env.SetHeartbeatDetails(isolationDetails{InstanceID: webID, Quarantine: sgQ, Original: first.OriginalGroups})
	var resumed activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("iso-3"), InstanceID: webID}, &resumed)
	if !resumed.Changed || !cmp.Equal(resumed.OriginalGroups, first.OriginalGroups) {
		t.Errorf("resumed isolation = %+v, want changed with %+v", resumed, first.OriginalGroups)
	}
	if inst, _ := c.state().ECS.Instance(webID); inst.Tags[isolatedTagPrefix+"eni-bp1sandboxweb01"] != sgWeb || inst.Tags[quarantineTag] != sgQ {
		t.Errorf("tags after the resumed isolation = %v, want the isolation record", inst.Tags)
	}
}

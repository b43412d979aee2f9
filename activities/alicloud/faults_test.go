package alicloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// faultCase is one alicloud.* action run on the default sandbox world
// while the sandbox misbehaves on one of its API calls.
type faultCase struct {
	action string
	// setup brings the world into the state the action acts on (a block
	// before its unblock); it runs before any fault is injected.
	setup func(c *testCloud)
	// in is a valid input for a step.
	in func(m activities.Meta) any
	// api is the API call to fault: the action's first write that does
	// the work (its only call for a read-only action).
	api string
	// check asserts the state (and output) the action promises.
	check func(t *testing.T, st sandbox.State, out map[string]any)
	// reject is the client error the sandbox answers api with in
	// TestFaultClientErrorFailsOnce, and errType the error type it maps to.
	reject, errType string
	// bestEffort are writes whose failure the action logs and ignores.
	bestEffort []string
	// knownBugs are writes whose throttling the action does not survive
	// yet (TestFaultThrottlingOnEveryWrite skips them), with the reason.
	knownBugs map[string]string
}

// faultCases covers every alicloud.* action of the catalog
// (TestFaultCasesCoverTheCatalog).
func faultCases() []faultCase {
	return []faultCase{
		{
			action: activities.WAFBlockIP,
			in:     func(m activities.Meta) any { return activities.WAFBlockIPInput{Meta: m, IP: attacker} },
			api:    "CreateDefenseTemplate",
			check:  wantWAFBlocked(true),
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.WAFUnblockIP,
			setup: func(c *testCloud) {
				c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("setup"), IP: attacker}, nil)
			},
			in:     func(m activities.Meta) any { return activities.WAFUnblockIPInput{Meta: m, IP: attacker} },
			api:    "DeleteDefenseRule",
			check:  wantWAFBlocked(false),
			reject: "InvalidParameter.RuleIds", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.ECSBlockIP,
			in: func(m activities.Meta) any {
				return activities.ECSBlockIPInput{Meta: m, SecurityGroupID: sgWeb, IP: attacker}
			},
			api:    "AuthorizeSecurityGroup",
			check:  wantDropRules(1),
			reject: "InvalidSecurityGroupId.NotFound", errType: activities.ErrTypeCloudNotFound,
		},
		{
			action: activities.ECSUnblockIP,
			setup: func(c *testCloud) {
				c.mustRun(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: meta("setup"), SecurityGroupID: sgWeb, IP: attacker}, nil)
			},
			in: func(m activities.Meta) any {
				return activities.ECSUnblockIPInput{Meta: m, SecurityGroupID: sgWeb, IP: attacker}
			},
			api:    "RevokeSecurityGroup",
			check:  wantDropRules(0),
			reject: "InvalidSecurityGroupId.NotFound", errType: activities.ErrTypeCloudNotFound,
		},
		{
			action: activities.ECSIsolateInstance,
			in:     func(m activities.Meta) any { return activities.ECSIsolateInstanceInput{Meta: m, InstanceID: webID} },
			// TagResources comes first, but only records the isolation.
			api: "ModifyInstanceAttribute",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				wantWebGroups(t, st, sgQ)
				inst, _ := st.ECS.Instance(webID)
				if inst.Tags[isolatedTagPrefix+"eni-bp1sandboxweb01"] != sgWeb || inst.Tags[quarantineTag] != sgQ {
					t.Errorf("web-01 tags = %v, want the isolation record", inst.Tags)
				}
			},
			reject: "InvalidInstanceId.NotFound", errType: activities.ErrTypeCloudNotFound,
			bestEffort: []string{"TagResources"},
		},
		{
			action: activities.ECSRestoreInstance,
			setup: func(c *testCloud) {
				c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("setup"), InstanceID: webID}, nil)
			},
			// The original groups come from the isolation record in the tags.
			in:  func(m activities.Meta) any { return activities.ECSRestoreInstanceInput{Meta: m, InstanceID: webID} },
			api: "ModifyInstanceAttribute",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				wantWebGroups(t, st, sgWeb)
				inst, _ := st.ECS.Instance(webID)
				for k := range inst.Tags {
					if strings.HasPrefix(k, "soar:") {
						t.Errorf("web-01 still has the tag %s", k)
					}
				}
			},
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.ECSSnapshotInstance,
			in:     func(m activities.Meta) any { return activities.ECSSnapshotInstanceInput{Meta: m, InstanceID: webID} },
			api:    "CreateSnapshot",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				for _, disk := range []string{"d-bp1sandboxweb01s", "d-bp1sandboxweb01d"} {
					sn := st.ECS.SnapshotsOf(disk)
					if len(sn) != 1 || sn[0].Status != "accomplished" {
						t.Errorf("snapshots of %s = %+v, want one accomplished", disk, sn)
					}
				}
				if ids, _ := out["snapshot_ids"].([]any); len(ids) != 2 {
					t.Errorf("snapshot_ids = %v, want 2", out["snapshot_ids"])
				}
			},
			reject: "QuotaExceed.Snapshot", errType: activities.ErrTypeCloudQuota,
		},
		{
			action: activities.ECSStopInstance,
			in:     func(m activities.Meta) any { return activities.ECSStopInstanceInput{Meta: m, InstanceID: webID} },
			api:    "StopInstance",
			check:  wantWebStatus("Running", "Stopped"),
			reject: "InvalidInstanceId.NotFound", errType: activities.ErrTypeCloudNotFound,
		},
		{
			action: activities.ECSStartInstance,
			setup: func(c *testCloud) {
				c.mustRun(activities.ECSStopInstance, activities.ECSStopInstanceInput{Meta: meta("setup"), InstanceID: webID}, nil)
			},
			in:     func(m activities.Meta) any { return activities.ECSStartInstanceInput{Meta: m, InstanceID: webID} },
			api:    "StartInstance",
			check:  wantWebStatus("Stopped", "Running"),
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.ECSRunCommand,
			in: func(m activities.Meta) any {
				return activities.ECSRunCommandInput{Meta: m, InstanceID: webID, Template: "kill_process", Params: map[string]any{"pid": 31337}}
			},
			api: "RunCommand",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				if len(st.ECS.Invocations) != 1 || st.ECS.Invocations[0].InvokeID != out["invoke_id"] {
					t.Errorf("invocations = %d, want exactly the one reported (%v)", len(st.ECS.Invocations), out["invoke_id"])
				}
				if out["status"] != "Success" {
					t.Errorf("status = %v, want Success", out["status"])
				}
			},
			reject: "InvalidCmdType.NotFound", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.CloudFWBlockIP,
			in:     func(m activities.Meta) any { return activities.CloudFWBlockIPInput{Meta: m, IP: attacker} },
			api:    "AddAddressBook",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				wantBlocklist(t, st, "soar-blocklist-in", "in", []string{attacker + "/32"}, out)
			},
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.CloudFWUnblockIP,
			setup: func(c *testCloud) {
				c.mustRun(activities.CloudFWBlockIP, activities.CloudFWBlockIPInput{Meta: meta("setup"), IP: attacker}, nil)
			},
			in:  func(m activities.Meta) any { return activities.CloudFWUnblockIPInput{Meta: m, IP: attacker} },
			api: "DeleteControlPolicy",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				if b, ok := st.CloudFW.AddressBookNamed("soar-blocklist-in"); ok {
					t.Errorf("address book soar-blocklist-in is still there: %+v", b)
				}
				for _, p := range st.CloudFW.Policies {
					if p.Source == "soar-blocklist-in" {
						t.Errorf("policy %s still references soar-blocklist-in", p.UUID)
					}
				}
			},
			reject: "InvalidParameter.AclUuid", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.RAMDisableAccessKey,
			in:     func(m activities.Meta) any { return activities.RAMAccessKeyInput{Meta: m, AccessKeyID: aliceKey} },
			api:    "UpdateAccessKey",
			check:  wantAliceKey("Active", "Inactive"),
			reject: "EntityNotExist.User.AccessKey", errType: activities.ErrTypeCloudNotFound,
		},
		{
			action: activities.RAMEnableAccessKey,
			setup: func(c *testCloud) {
				c.mustRun(activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{Meta: meta("setup"), AccessKeyID: aliceKey}, nil)
			},
			in: func(m activities.Meta) any {
				return activities.RAMAccessKeyInput{Meta: m, AccessKeyID: aliceKey, UserName: "alice"}
			},
			api:    "UpdateAccessKey",
			check:  wantAliceKey("Inactive", "Active"),
			reject: "InvalidParameter.Status", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.SASHandleEvent,
			in: func(m activities.Meta) any {
				return activities.SASHandleEventInput{Meta: m, EventIDs: []string{webshellEvent}, Operation: "offline_handled"}
			},
			api: "HandleSecurityEvents",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				if ev, _ := st.SAS.Event(8123451); ev.Status != 32 {
					t.Errorf("event %s status = %d, want 32 (handled)", webshellEvent, ev.Status)
				}
				if len(st.SAS.Tasks) != 1 || out["task_id"] != strconv.FormatInt(st.SAS.Tasks[0].ID, 10) {
					t.Errorf("tasks = %+v, want exactly the one reported (%v)", st.SAS.Tasks, out["task_id"])
				}
			},
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.DDoSBlacklistIP,
			in: func(m activities.Meta) any {
				return activities.DDoSBlacklistInput{Meta: m, Domain: ddosDomain, IPs: []string{attacker}}
			},
			api:    "ConfigWebIpSet",
			check:  wantDDoSBlacklist(attacker),
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.DDoSUnblacklistIP,
			setup: func(c *testCloud) {
				c.srv.Mutate(func(st *sandbox.State) { st.DDoS.Domains[0].BlackList = []string{attacker} })
			},
			in: func(m activities.Meta) any {
				return activities.DDoSBlacklistInput{Meta: m, Domain: ddosDomain, IPs: []string{attacker}}
			},
			api:    "ConfigWebIpSet",
			check:  wantDDoSBlacklist(),
			reject: "InvalidParameter.Domain", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.DDoSSetCCMode,
			in: func(m activities.Meta) any {
				return activities.DDoSCCModeInput{Meta: m, Domain: ddosDomain, Mode: "gf_under_attack"}
			},
			api:    "ConfigWebCCTemplate",
			check:  wantCCMode("default", "gf_under_attack"),
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
		{
			action: activities.DDoSRestoreCCMode,
			setup: func(c *testCloud) {
				c.srv.Mutate(func(st *sandbox.State) { st.DDoS.Domains[0].CCTemplate = "gf_sos_verify" })
			},
			in: func(m activities.Meta) any {
				return activities.DDoSCCModeInput{Meta: m, Domain: ddosDomain, Mode: "default"}
			},
			api:    "ConfigWebCCTemplate",
			check:  wantCCMode("gf_sos_verify", "default"),
			reject: "InvalidDomain.NotFound", errType: activities.ErrTypeCloudNotFound,
		},
		{
			action: activities.ActionTrailLookupEvents,
			in: func(m activities.Meta) any {
				return activities.ActionTrailLookupEventsInput{Meta: m, AccessKeyID: aliceKey}
			},
			api: "LookupEvents",
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				if n, _ := out["count"].(float64); n != 6 {
					t.Errorf("count = %v, want alice's 6 events", out["count"])
				}
			},
			reject: "InvalidParameter", errType: activities.ErrTypeInvalidInput,
		},
	}
}

func wantWAFBlocked(blocked bool) func(t *testing.T, st sandbox.State, out map[string]any) {
	return func(t *testing.T, st sandbox.State, out map[string]any) {
		t.Helper()
		var templates []sandbox.WAFTemplate
		for _, tmpl := range st.WAF.Templates {
			if tmpl.Name == wafTemplateName {
				templates = append(templates, tmpl)
			}
		}
		if len(templates) != 1 || !slices.Equal(templates[0].Resources, []string{"www.example.com-waf"}) {
			t.Fatalf("soar templates = %+v, want one bound to www.example.com-waf", templates)
		}
		rules := st.WAF.RulesWithAddress(attacker)
		switch {
		case blocked && (len(rules) != 1 || rules[0].TemplateID != templates[0].ID || strconv.FormatInt(rules[0].ID, 10) != out["rule_id"]):
			t.Errorf("rules blocking %s = %+v, want the one reported (%v) in template %d", attacker, rules, out["rule_id"], templates[0].ID)
		case !blocked && len(rules) != 0:
			t.Errorf("rules blocking %s = %+v, want none", attacker, rules)
		}
	}
}

func wantDropRules(n int) func(t *testing.T, st sandbox.State, out map[string]any) {
	return func(t *testing.T, st sandbox.State, out map[string]any) {
		t.Helper()
		g, _ := st.ECS.SecurityGroup(sgWeb)
		var drops []sandbox.Rule
		for _, r := range g.Rules {
			if r.Policy == "Drop" && r.SourceCidrIP == attacker+"/32" {
				drops = append(drops, r)
			}
		}
		if len(drops) != n {
			t.Fatalf("drop rules for %s = %+v, want %d", attacker, drops, n)
		}
		if n == 1 && drops[0].ID != out["rule_id"] {
			t.Errorf("rule %s, output rule_id %v", drops[0].ID, out["rule_id"])
		}
	}
}

func wantWebGroups(t *testing.T, st sandbox.State, group string) {
	t.Helper()
	inst, _ := st.ECS.Instance(webID)
	for _, n := range inst.NetworkInterfaces {
		if !slices.Equal(n.SecurityGroupIDs, []string{group}) {
			t.Errorf("interface %s groups = %v, want [%s]", n.ID, n.SecurityGroupIDs, group)
		}
	}
}

func wantWebStatus(previous, status string) func(t *testing.T, st sandbox.State, out map[string]any) {
	return func(t *testing.T, st sandbox.State, out map[string]any) {
		t.Helper()
		if inst, _ := st.ECS.Instance(webID); inst.Status != status {
			t.Errorf("web-01 = %s, want %s", inst.Status, status)
		}
		if out["previous_status"] != previous || out["status"] != status {
			t.Errorf("output %v → %v, want %s → %s", out["previous_status"], out["status"], previous, status)
		}
	}
}

func wantAliceKey(previous, status string) func(t *testing.T, st sandbox.State, out map[string]any) {
	return func(t *testing.T, st sandbox.State, out map[string]any) {
		t.Helper()
		if k, _, _ := st.RAM.AccessKey(aliceKey); k.Status != status {
			t.Errorf("alice's key = %s, want %s", k.Status, status)
		}
		if out["previous_status"] != previous || out["status"] != status {
			t.Errorf("output %v → %v, want %s → %s", out["previous_status"], out["status"], previous, status)
		}
	}
}

func wantDDoSBlacklist(ips ...string) func(t *testing.T, st sandbox.State, out map[string]any) {
	return func(t *testing.T, st sandbox.State, out map[string]any) {
		t.Helper()
		if d, _ := st.DDoS.Domain(ddosDomain); !slices.Equal(d.BlackList, ips) {
			t.Errorf("blacklist of %s = %v, want %v", ddosDomain, d.BlackList, ips)
		}
		if got, _ := out["changed_ips"].([]any); len(got) != 1 || got[0] != attacker {
			t.Errorf("changed_ips = %v, want [%s]", out["changed_ips"], attacker)
		}
	}
}

func wantCCMode(previous, mode string) func(t *testing.T, st sandbox.State, out map[string]any) {
	return func(t *testing.T, st sandbox.State, out map[string]any) {
		t.Helper()
		if d, _ := st.DDoS.Domain(ddosDomain); d.CCTemplate != mode {
			t.Errorf("cc template = %s, want %s", d.CCTemplate, mode)
		}
		if out["previous_mode"] != previous {
			t.Errorf("previous_mode = %v, want %s", out["previous_mode"], previous)
		}
	}
}

// runRetried runs one action inside a workflow under a Temporal retry
// policy with short intervals, as the Incident workflow does, and returns
// its output, the number of attempts and the workflow error.
func runRetried(t *testing.T, c *testCloud, action string, in any) (map[string]any, int, error) {
	t.Helper()
	env := testSuite().NewTestWorkflowEnvironment()
	c.acts.Register(env)
	attempts := 0
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == action {
			attempts++
		}
	})
	wf := func(ctx workflow.Context, in map[string]any) (map[string]any, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, BackoffCoefficient: 2,
				MaximumInterval: 100 * time.Millisecond, MaximumAttempts: 5, NonRetryableErrorTypes: activities.NonRetryableErrorTypes()},
		})
		var out map[string]any
		err := workflow.ExecuteActivity(ctx, action, in).Get(ctx, &out)
		return out, err
	}
	env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "fault-test"})
	env.ExecuteWorkflow("fault-test", toMap(t, in))
	if !env.IsWorkflowCompleted() {
		t.Fatalf("%s: the workflow did not complete", action)
	}
	if err := env.GetWorkflowError(); err != nil {
		return nil, attempts, err
	}
	var out map[string]any
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatalf("%s: decode the result: %v", action, err)
	}
	return out, attempts, nil
}

// answers returns the error codes the sandbox answered api with after the
// first n calls ("" for success).
func (c *testCloud) answers(n int, api string) []string {
	var codes []string
	for _, call := range c.calls(n, api) {
		codes = append(codes, call.Error)
	}
	return codes
}

func TestFaultCasesCoverTheCatalog(t *testing.T) {
	var want, got []string
	for _, s := range activities.Catalog() {
		if s.Cloud {
			want = append(want, s.Name)
		}
	}
	for _, tc := range faultCases() {
		got = append(got, tc.action)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("fault cases = %v,\nwant one per alicloud action %v", got, want)
	}
}

// TestFaultThrottlingRetried throttles each action's write twice
// (Throttling.User, HTTP 400): the attempt fails with a retryable error,
// Temporal retries it, and the third attempt brings the promised state
// with changed true, the throttled call having reached the sandbox three
// times.
func TestFaultThrottlingRetried(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			c := newTestCloud(t)
			if tc.setup != nil {
				tc.setup(c)
			}
			n := c.callCount()
			c.srv.InjectFault(sandbox.Fault{Action: tc.api, Code: "Throttling.User", Message: "Request was denied due to user flow control.", Count: 2})
			out, attempts, err := runRetried(t, c, tc.action, tc.in(meta("step")))
			if err != nil {
				t.Fatalf("%s failed under throttling: %v", tc.action, err)
			}
			if attempts != 3 {
				t.Errorf("attempts = %d, want 3", attempts)
			}
			if got, want := c.answers(n, tc.api), []string{"Throttling.User", "Throttling.User"}; len(got) < 3 || !slices.Equal(got[:2], want) || slices.Contains(got[2:], "Throttling.User") {
				t.Errorf("%s answers = %q, want two throttled then success", tc.api, got)
			}
			tc.check(t, c.state(), out)
			spec, _ := activities.Lookup(tc.action)
			if o := outcomeOf(t, out); o.Changed != spec.Mutating || o.DryRun {
				t.Errorf("outcome = %+v, want changed %v (the retried attempt made the change)", o, spec.Mutating)
			}
		})
	}
}

// TestFaultThrottlingOnEveryWrite throttles, in turn, every write an
// action makes (found by an unfaulted run): whichever call of a
// multi-call action is refused, the retries converge on the same state,
// without duplicates.
func TestFaultThrottlingOnEveryWrite(t *testing.T) {
	for _, tc := range faultCases() {
		spec, _ := activities.Lookup(tc.action)
		if !spec.Mutating {
			continue
		}
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			ref := newTestCloud(t)
			if tc.setup != nil {
				tc.setup(ref)
			}
			n := ref.callCount()
			ref.mustRun(tc.action, tc.in(meta("step")), nil)
			var writes []string
			for _, api := range ref.mutatingCalls(n) {
				if !slices.Contains(writes, api) && !slices.Contains(tc.bestEffort, api) {
					writes = append(writes, api)
				}
			}
			if !slices.Contains(writes, tc.api) {
				t.Fatalf("writes = %v, want them to include %s", writes, tc.api)
			}
			for _, api := range writes {
				t.Run(api, func(t *testing.T) {
					if why, ok := tc.knownBugs[api]; ok {
						t.Skip("known bug: " + why)
					}
					c := newTestCloud(t)
					if tc.setup != nil {
						tc.setup(c)
					}
					c.srv.InjectFault(sandbox.Fault{Action: api, Code: "Throttling.User", Count: 2})
					out, attempts, err := runRetried(t, c, tc.action, tc.in(meta("step")))
					if err != nil {
						t.Fatalf("%s failed with %s throttled: %v", tc.action, api, err)
					}
					if attempts != 3 {
						t.Errorf("attempts = %d, want 3", attempts)
					}
					tc.check(t, c.state(), out)
				})
			}
		})
	}
}

// TestFaultClientErrorFailsOnce answers each action's write with a client
// error (an invalid parameter, a missing resource, a quota): the action
// fails on its first attempt with a non-retryable application error of
// the matching type whose message carries the API's code and request ID,
// the call reached the sandbox exactly once, and an action that had
// changed nothing before the refused call leaves the state as it was.
func TestFaultClientErrorFailsOnce(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			c := newTestCloud(t)
			if tc.setup != nil {
				tc.setup(c)
			}
			s0, n := c.state(), c.callCount()
			c.srv.InjectFault(sandbox.Fault{Action: tc.api, Code: tc.reject, Message: "The specified parameter is not valid (fault injected)."})
			_, attempts, err := runRetried(t, c, tc.action, tc.in(meta("step")))
			if err == nil {
				t.Fatalf("%s succeeded, want it to fail on %s", tc.action, tc.reject)
			}
			if attempts != 1 {
				t.Errorf("attempts = %d, want 1", attempts)
			}
			calls := c.calls(n, tc.api)
			if len(calls) != 1 || calls[0].Error != tc.reject {
				t.Fatalf("%s answers = %q, want exactly one, %s", tc.api, c.answers(n, tc.api), tc.reject)
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v (%T), want an application error", err, err)
			}
			if !ae.NonRetryable() || ae.Type() != tc.errType {
				t.Errorf("error type %s, non-retryable %v, want non-retryable %s", ae.Type(), ae.NonRetryable(), tc.errType)
			}
			for _, s := range []string{tc.reject, calls[0].RequestID} {
				if !strings.Contains(ae.Error(), s) {
					t.Errorf("error %q does not contain %q", ae.Error(), s)
				}
			}
			all := c.srv.Calls()[n:]
			i := slices.IndexFunc(all, func(call sandbox.Call) bool { return call.Seq == calls[0].Seq })
			if rest := all[i+1:]; len(rest) > 0 {
				t.Errorf("calls after the refusal: %v", callNames(rest))
			}
			if !slices.ContainsFunc(all[:i], func(call sandbox.Call) bool { return call.Changed }) {
				if diff := stateDiff(s0, c.state()); diff != "" {
					t.Errorf("a refused %s changed the state (-before +after):\n%s", tc.action, diff)
				}
			}
		})
	}
}

func callNames(calls []sandbox.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = fmt.Sprintf("%s(%s)", c.Action, c.Error)
	}
	return out
}

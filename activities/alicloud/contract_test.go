package alicloud

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// revertCase is one revertible action checked against its contract.
type revertCase struct {
	name   string
	action string
	// in builds the action's input with the given Meta.
	in func(m activities.Meta) any
	// check asserts that the state after the action is what it promised.
	check func(t *testing.T, st sandbox.State, out map[string]any)
	// varyOnRepeat are output fields a repeat legitimately reports
	// differently (what "this call" changed).
	varyOnRepeat []string
	// setup prepares the sandbox before the initial state is taken.
	setup func(c *testCloud)
	// repeatIsRetry is set when a repeat with the same Meta finds the
	// step's own change and reports it again (changed true, no call that
	// mutates), as a retry after a lost answer must.
	repeatIsRetry bool
}

// TestRevertibleActions drives every revertible action through its
// contract on the sandbox cloud: dry-run changes nothing and calls nothing
// that mutates; the action brings the promised state; a repeat changes
// nothing and reports the same IDs; the catalog inverse, built from the
// recorded input and output, restores the exact earlier state (its own
// dry-run changes nothing); a repeated inverse changes nothing.
func TestRevertibleActions(t *testing.T) {
	for _, tc := range revertCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCloud(t)
			if tc.setup != nil {
				tc.setup(c)
			}
			s0 := c.state()

			// Dry-run.
			n := c.callCount()
			var dry map[string]any
			c.mustRun(tc.action, tc.in(dryRun(meta("step"))), &dry)
			if o := outcomeOf(t, dry); !o.DryRun || o.Changed || len(o.Plan) == 0 {
				t.Errorf("dry-run outcome = %+v, want dry_run, not changed, with a plan", o)
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Fatalf("dry-run changed the state (-before +after):\n%s", diff)
			}
			if m := c.mutatingCalls(n); len(m) > 0 {
				t.Fatalf("dry-run made mutating calls %v", m)
			}

			// Apply.
			in := tc.in(meta("step"))
			var out map[string]any
			c.mustRun(tc.action, in, &out)
			if o := outcomeOf(t, out); !o.Changed || o.DryRun {
				t.Errorf("outcome = %+v, want changed", o)
			}
			s1 := c.state()
			tc.check(t, s1, out)

			// Repeat.
			var again map[string]any
			c.mustRun(tc.action, in, &again)
			if o := outcomeOf(t, again); o.Changed != tc.repeatIsRetry {
				t.Errorf("repeat outcome = %+v, want changed %v", o, tc.repeatIsRetry)
			}
			if diff := cmp.Diff(withoutOutcome(out, tc.varyOnRepeat...), withoutOutcome(again, tc.varyOnRepeat...)); diff != "" {
				t.Errorf("repeat output differs (-first +repeat):\n%s", diff)
			}
			if diff := stateDiff(s1, c.state()); diff != "" {
				t.Fatalf("repeat changed the state (-before +after):\n%s", diff)
			}

			// Inverse, from the catalog's InverseArgs.
			inverse, invIn := inverseInput(t, tc.action, in, out)
			invDry := toMap(t, invIn)
			invDry["meta"].(map[string]any)["dry_run"] = true
			n = c.callCount()
			var invDryOut map[string]any
			c.mustRun(inverse, invDry, &invDryOut)
			if o := outcomeOf(t, invDryOut); !o.DryRun || o.Changed || len(o.Plan) == 0 {
				t.Errorf("inverse dry-run outcome = %+v, want dry_run, not changed, with a plan", o)
			}
			if diff := stateDiff(s1, c.state()); diff != "" {
				t.Fatalf("inverse dry-run changed the state (-before +after):\n%s", diff)
			}
			if m := c.mutatingCalls(n); len(m) > 0 {
				t.Fatalf("inverse dry-run made mutating calls %v", m)
			}
			var invOut map[string]any
			c.mustRun(inverse, invIn, &invOut)
			if o := outcomeOf(t, invOut); !o.Changed {
				t.Errorf("inverse outcome = %+v, want changed", o)
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Fatalf("%s did not restore the state before %s (-before +after):\n%s", inverse, tc.action, diff)
			}
			var invAgain map[string]any
			c.mustRun(inverse, invIn, &invAgain)
			if o := outcomeOf(t, invAgain); o.Changed {
				t.Errorf("repeated inverse outcome = %+v, want not changed", o)
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Fatalf("repeated inverse changed the state (-want +got):\n%s", diff)
			}
		})
	}
}

func revertCases() []revertCase {
	return slices.Concat(ecsRevertCases(), wafRevertCases(), cloudfwRevertCases(), ramRevertCases(), ddosRevertCases())
}

func ecsRevertCases() []revertCase {
	return []revertCase{
		{
			name: "ecs block ip ingress", action: activities.ECSBlockIP,
			in: func(m activities.Meta) any {
				return activities.ECSBlockIPInput{Meta: m, SecurityGroupID: sgWeb, IP: attacker, Protocol: "tcp", PortRange: "22/22"}
			},
			repeatIsRetry: true,
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				g, _ := st.ECS.SecurityGroup(sgWeb)
				want := sandbox.Rule{ID: out["rule_id"].(string), Direction: "ingress", Policy: "Drop", Priority: 1, IPProtocol: "TCP",
					PortRange: "22/22", SourceCidrIP: attacker + "/32", NicType: "intranet"}
				wantRule(t, g, want)
			},
		},
		{
			name: "ecs block ip egress", action: activities.ECSBlockIP,
			in: func(m activities.Meta) any {
				return activities.ECSBlockIPInput{Meta: m, SecurityGroupID: sgWeb, IP: "198.51.100.23", Direction: "out"}
			},
			repeatIsRetry: true,
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				g, _ := st.ECS.SecurityGroup(sgWeb)
				want := sandbox.Rule{ID: out["rule_id"].(string), Direction: "egress", Policy: "Drop", Priority: 1, IPProtocol: "ALL",
					PortRange: "-1/-1", DestCidrIP: "198.51.100.23/32", NicType: "intranet"}
				wantRule(t, g, want)
			},
		},
		{
			name: "ecs isolate instance", action: activities.ECSIsolateInstance,
			// soar's quarantine group starts complete: isolation would
			// complete it for good, and restore does not undo that.
			setup: completeDefaultQuarantine,
			in: func(m activities.Meta) any {
				return activities.ECSIsolateInstanceInput{Meta: m, InstanceID: webID}
			},
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				inst, _ := st.ECS.Instance(webID)
				for _, n := range inst.NetworkInterfaces {
					if !slices.Equal(n.SecurityGroupIDs, []string{sgQ}) {
						t.Errorf("interface %s groups = %v, want [%s]", n.ID, n.SecurityGroupIDs, sgQ)
					}
				}
				if out["quarantine_group_id"] != sgQ {
					t.Errorf("quarantine_group_id = %v, want %s", out["quarantine_group_id"], sgQ)
				}
				want := []any{map[string]any{"network_interface_id": "eni-bp1sandboxweb01", "primary": true, "security_group_ids": []any{sgWeb}}}
				if diff := cmp.Diff(want, out["original_groups"]); diff != "" {
					t.Errorf("original_groups mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "ecs isolate protected instance with two interfaces, approved", action: activities.ECSIsolateInstance,
			// soar's quarantine group starts complete: isolation would
			// complete it for good, and restore does not undo that.
			setup: completeDefaultQuarantine,
			in: func(m activities.Meta) any {
				m.Approved = true
				return activities.ECSIsolateInstanceInput{Meta: m, InstanceID: dbID}
			},
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				inst, _ := st.ECS.Instance(dbID)
				if len(inst.NetworkInterfaces) != 2 {
					t.Fatalf("db-01 has %d interfaces, want 2", len(inst.NetworkInterfaces))
				}
				for _, n := range inst.NetworkInterfaces {
					if !slices.Equal(n.SecurityGroupIDs, []string{sgQ}) {
						t.Errorf("interface %s groups = %v, want [%s]", n.ID, n.SecurityGroupIDs, sgQ)
					}
					if got := inst.Tags[isolatedTagPrefix+n.ID]; got != "sg-bp1sandboxdb0" {
						t.Errorf("isolation record of %s = %q, want sg-bp1sandboxdb0", n.ID, got)
					}
				}
				if got := len(out["original_groups"].([]any)); got != 2 {
					t.Errorf("original_groups has %d entries, want 2", got)
				}
			},
		},
		{
			name: "ecs stop instance", action: activities.ECSStopInstance,
			in: func(m activities.Meta) any {
				return activities.ECSStopInstanceInput{Meta: m, InstanceID: webID}
			},
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				inst, _ := st.ECS.Instance(webID)
				if inst.Status != "Stopped" || inst.ForceStopped || inst.StoppedMode != "KeepCharging" {
					t.Errorf("web-01 = %s (force %v, mode %s), want Stopped, not forced, KeepCharging", inst.Status, inst.ForceStopped, inst.StoppedMode)
				}
				if out["previous_status"] != "Running" || out["status"] != "Stopped" {
					t.Errorf("output status %v → %v, want Running → Stopped", out["previous_status"], out["status"])
				}
			},
			varyOnRepeat: []string{"previous_status"},
		},
	}
}

// wantRule checks that g has exactly one rule like want (ID included)
// with a soar description.
func wantRule(t *testing.T, g sandbox.SecurityGroup, want sandbox.Rule) {
	t.Helper()
	var found []sandbox.Rule
	for _, r := range g.Rules {
		if r.ID == want.ID {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("group %s has %d rules %s, want 1 (rules: %+v)", g.ID, len(found), want.ID, g.Rules)
	}
	got := found[0]
	if !strings.HasPrefix(got.Description, "soar:test-incident") {
		t.Errorf("rule description = %q, want soar:test-incident…", got.Description)
	}
	got.Description, got.CreateTime = "", want.CreateTime
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule mismatch (-want +got):\n%s", diff)
	}
}

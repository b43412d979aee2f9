package alicloud

import (
	"slices"
	"strings"
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

const sgDB = "sg-bp1sandboxdb0"

// TestECSBlockIPByInstance: with instance_id and no security_group_id,
// block_ip puts the drop rule into each of the instance's groups and
// records the groups and rules; a repeat changes nothing; the catalog
// inverse built from the output revokes exactly soar's rules and leaves
// an operator's identical rule (which block_ip reported) in place, so the
// earlier state comes back.
func TestECSBlockIPByInstance(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) {
		st.ECS.Instances[0].NetworkInterfaces[0].SecurityGroupIDs = []string{sgWeb, sgDB}
		for i := range st.ECS.SecurityGroups {
			if st.ECS.SecurityGroups[i].ID == sgDB {
				st.ECS.SecurityGroups[i].Rules = append(st.ECS.SecurityGroups[i].Rules, sandbox.Rule{ID: "sgr-operator", Direction: "ingress",
					Policy: "Drop", Priority: 1, IPProtocol: "TCP", PortRange: "22/22", SourceCidrIP: attacker + "/32", Description: "blocked by hand"})
			}
		}
	})
	s0 := c.state()
	in := activities.ECSBlockIPInput{Meta: meta("block"), InstanceID: webID, IP: attacker, Protocol: "tcp", PortRange: "22/22"}

	n := c.callCount()
	var dry activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: dryRun(in.Meta), InstanceID: webID, IP: attacker, Protocol: "tcp", PortRange: "22/22"}, &dry)
	if m := c.mutatingCalls(n); len(m) > 0 || !dry.DryRun || len(dry.Plan) != 3 {
		t.Errorf("dry-run = %+v (mutating calls %v), want a plan naming the groups and one line per group, no change", dry.Outcome, m)
	}

	var out activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, in, &out)
	if !out.Changed || out.InstanceID != webID || !slices.Equal(out.SecurityGroupIDs, []string{sgWeb, sgDB}) || len(out.RuleIDs) != 2 {
		t.Fatalf("output = %+v, want changed, both groups and a rule in each", out)
	}
	if out.RuleIDs[1] != "sgr-operator" || out.SecurityGroupID != sgWeb || out.RuleID != out.RuleIDs[0] {
		t.Errorf("output = %+v, want the operator's rule reported for %s and the first group's rule as rule_id", out, sgDB)
	}
	if !slices.Equal(out.ChangedSecurityGroupIDs, []string{sgWeb}) {
		t.Errorf("changed_security_group_ids = %v, want [%s] (the rule in %s was the operator's)", out.ChangedSecurityGroupIDs, sgWeb, sgDB)
	}
	for i, g := range out.SecurityGroupIDs {
		rules := dropRules(t, c, g, attacker)
		if len(rules) != 1 || rules[0].ID != out.RuleIDs[i] || rules[0].PortRange != "22/22" || rules[0].IPProtocol != "TCP" {
			t.Errorf("drop rules for %s in %s = %+v, want exactly %s (tcp 22/22)", attacker, g, rules, out.RuleIDs[i])
		}
	}
	if r := dropRules(t, c, sgWeb, attacker); len(r) == 1 && !strings.HasPrefix(r[0].Description, "soar:test-incident/block") {
		t.Errorf("soar's rule description = %q, want soar:<incident>/<step>", r[0].Description)
	}

	// The same step again (a retry whose first answer was lost) finds its
	// own rule: still its change. Another step finds it in place.
	var again activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, in, &again)
	if !again.Changed || !slices.Equal(again.RuleIDs, out.RuleIDs) || !slices.Equal(again.ChangedSecurityGroupIDs, []string{sgWeb}) {
		t.Errorf("repeat of the step = %+v, want changed in %s only, with rules %v", again, sgWeb, out.RuleIDs)
	}
	other := in
	other.Meta = meta("block_again")
	var found activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, other, &found)
	if found.Changed || len(found.ChangedSecurityGroupIDs) > 0 || !slices.Equal(found.RuleIDs, out.RuleIDs) {
		t.Errorf("another step's block = %+v, want unchanged with rules %v", found, out.RuleIDs)
	}

	name, inv := inverseInput(t, activities.ECSBlockIP, in, out)
	var un activities.ECSUnblockIPOutput
	c.mustRun(name, inv, &un)
	if !un.Changed || !slices.Equal(un.RuleIDs, out.RuleIDs[:1]) || !slices.Equal(un.SecurityGroupIDs, out.SecurityGroupIDs) {
		t.Errorf("inverse = %+v, want soar's rule %s revoked and the operator's left", un, out.RuleIDs[0])
	}
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("the inverse did not restore the earlier state (-before +after):\n%s", diff)
	}
	var unAgain activities.ECSUnblockIPOutput
	c.mustRun(name, inv, &unAgain)
	if unAgain.Changed {
		t.Errorf("repeated inverse = %+v, want unchanged", unAgain)
	}
}

func TestECSBlockIPByInstanceRefusals(t *testing.T) {
	tests := []struct {
		name     string
		in       activities.ECSBlockIPInput
		errType  string
		contains []string
	}{
		{"protected network", activities.ECSBlockIPInput{InstanceID: webID, IP: "10.1.2.3"}, activities.ErrTypeGuardDenied, []string{"protected_cidrs"}},
		{"broad network", activities.ECSBlockIPInput{InstanceID: webID, IP: "0.0.0.0/0"}, activities.ErrTypeGuardDenied, []string{"min_prefix"}},
		{"no group nor instance", activities.ECSBlockIPInput{IP: attacker}, activities.ErrTypeInvalidInput, []string{"security_group_id or instance_id"}},
		{"bad instance ID", activities.ECSBlockIPInput{InstanceID: "i-1; rm", IP: attacker}, activities.ErrTypeInvalidInput, []string{"instance_id"}},
		{"unknown instance", activities.ECSBlockIPInput{InstanceID: "i-nope", IP: attacker}, activities.ErrTypeCloudNotFound, []string{"i-nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			s0 := c.state()
			n := c.callCount()
			tt.in.Meta = meta("block")
			err := c.run(activities.ECSBlockIP, tt.in, nil)
			wantAppError(t, err, tt.errType, tt.contains...)
			if m := c.mutatingCalls(n); len(m) > 0 {
				t.Errorf("refused block made mutating calls %v", m)
			}
			if tt.errType != activities.ErrTypeCloudNotFound && c.callCount() != n {
				t.Errorf("refused block made %d calls, want none", c.callCount()-n)
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Errorf("refused block changed the state:\n%s", diff)
			}
		})
	}
}

// TestECSUnblockIPRuleIDsMismatch: rule_ids must pair with
// security_group_ids.
func TestECSUnblockIPRuleIDsMismatch(t *testing.T) {
	c := newTestCloud(t)
	err := c.run(activities.ECSUnblockIP, activities.ECSUnblockIPInput{Meta: meta("u"), IP: attacker,
		SecurityGroupIDs: []string{sgWeb, sgDB}, RuleIDs: []string{"sgr-1"}}, nil)
	wantAppError(t, err, activities.ErrTypeInvalidInput, "rule_ids")
}

// TestECSBlockIPByInstanceWhileIsolated: an instance soar isolated is in
// the quarantine group only; a block by instance goes to the groups it
// will be restored to, so the block holds once the instance is back, and
// nothing is added to the quarantine group.
func TestECSBlockIPByInstanceWhileIsolated(t *testing.T) {
	c := newTestCloud(t)
	var iso activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID}, &iso)
	quarantineRules := len(mustGroup(t, c, iso.QuarantineGroupID).Rules)

	var out activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: meta("block"), InstanceID: webID, IP: attacker, Direction: "out"}, &out)
	if !out.Changed || !slices.Equal(out.SecurityGroupIDs, []string{sgWeb}) {
		t.Fatalf("block while isolated = %+v, want a rule in %s (the group the instance returns to)", out, sgWeb)
	}
	if n := len(mustGroup(t, c, iso.QuarantineGroupID).Rules); n != quarantineRules {
		t.Errorf("the quarantine group has %d rules after the block, want %d (unchanged)", n, quarantineRules)
	}

	c.mustRun(activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{Meta: meta("restore"), InstanceID: webID}, nil)
	inst, _ := c.state().ECS.Instance(webID)
	if got := inst.NetworkInterfaces[0].SecurityGroupIDs; !slices.Equal(got, []string{sgWeb}) {
		t.Fatalf("restored groups = %v, want [%s]", got, sgWeb)
	}
	if rules := dropRules(t, c, sgWeb, attacker); len(rules) != 1 || rules[0].ID != out.RuleIDs[0] {
		t.Errorf("after the restore the drop rules for %s in %s = %+v, want soar's %s", attacker, sgWeb, rules, out.RuleIDs[0])
	}
}

func mustGroup(t *testing.T, c *testCloud, id string) sandbox.SecurityGroup {
	t.Helper()
	g, ok := c.state().ECS.SecurityGroup(id)
	if !ok {
		t.Fatalf("security group %s is not in the sandbox", id)
	}
	return g
}

// TestECSBlockIPByInstanceEveryInterface: the groups of a secondary
// network interface get the rule too, each group once, the primary
// interface's first.
func TestECSBlockIPByInstanceEveryInterface(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) {
		inst := &st.ECS.Instances[0]
		inst.NetworkInterfaces = append(inst.NetworkInterfaces, sandbox.NetworkInterface{ID: "eni-bp1sandboxweb02", Type: "Secondary",
			PrimaryIP: "172.16.2.10", SecurityGroupIDs: []string{sgDB, sgWeb}})
	})
	var out activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: meta("block"), InstanceID: webID, IP: attacker}, &out)
	want := []string{sgWeb, sgDB}
	if !out.Changed || !slices.Equal(out.SecurityGroupIDs, want) || !slices.Equal(out.ChangedSecurityGroupIDs, want) {
		t.Fatalf("output = %+v, want a new rule in each of %v", out, want)
	}
	for i, g := range want {
		if rules := dropRules(t, c, g, attacker); len(rules) != 1 || rules[0].ID != out.RuleIDs[i] {
			t.Errorf("drop rules for %s in %s = %+v, want exactly %s", attacker, g, rules, out.RuleIDs[i])
		}
	}
}

// TestECSBlockIPByInstancePartialFailure: when the second group refuses
// the rule for good (a quota), the rule already added to the first group
// is revoked, so no soar rule is left behind without an output to revert
// it by, and the error says so.
func TestECSBlockIPByInstancePartialFailure(t *testing.T) {
	for _, tc := range []struct{ direction, api string }{{"in", "AuthorizeSecurityGroup"}, {"out", "AuthorizeSecurityGroupEgress"}} {
		t.Run(tc.direction, func(t *testing.T) {
			c := newTestCloud(t)
			c.srv.Mutate(func(st *sandbox.State) {
				st.ECS.Instances[0].NetworkInterfaces[0].SecurityGroupIDs = []string{sgWeb, sgDB}
			})
			s0 := c.state()
			c.srv.InjectFault(sandbox.Fault{Action: tc.api, Resource: sgDB, Status: 403, Code: "AuthorizationLimitExceed",
				Message: "the number of rules exceeds the limit (fault injected)"})
			err := c.run(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: meta("block"), InstanceID: webID, IP: attacker, Direction: tc.direction}, nil)
			wantAppError(t, err, activities.ErrTypeCloudQuota, "AuthorizationLimitExceed", "stopped at "+sgDB, "revoked the rules it had added", sgWeb)
			if n := len(c.calls(0, tc.api)); n != 2 {
				t.Errorf("%s calls = %d, want 2 (%s, then the refused %s)", tc.api, n, sgWeb, sgDB)
			}
			for _, g := range []string{sgWeb, sgDB} {
				for _, r := range mustGroup(t, c, g).Rules {
					if strings.HasPrefix(r.Description, "soar") {
						t.Errorf("soar rule %+v left in %s", r, g)
					}
				}
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Errorf("the failed block left changes (-before +after):\n%s", diff)
			}
		})
	}
}

// TestECSBlockIPRetryFindsItsOwnRule: a block by group repeated by the
// same step (as a retry after a lost answer would) reports the rule as its
// change, so the revert is not skipped; the same rule found by another
// step is not that step's change.
func TestECSBlockIPRetryFindsItsOwnRule(t *testing.T) {
	c := newTestCloud(t)
	in := activities.ECSBlockIPInput{Meta: meta("block"), SecurityGroupID: sgWeb, IP: attacker}
	var first, retry, other activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, in, &first)
	n := c.callCount()
	c.mustRun(activities.ECSBlockIP, in, &retry)
	if !retry.Changed || retry.RuleID != first.RuleID {
		t.Errorf("retry = %+v, want changed with rule %s", retry, first.RuleID)
	}
	if m := c.mutatingCalls(n); len(m) > 0 {
		t.Errorf("retry made mutating calls %v, want none", m)
	}
	in.Meta = meta("block_later")
	c.mustRun(activities.ECSBlockIP, in, &other)
	if other.Changed || other.RuleID != first.RuleID {
		t.Errorf("another step = %+v, want unchanged with rule %s", other, first.RuleID)
	}
	if rules := dropRules(t, c, sgWeb, attacker); len(rules) != 1 {
		t.Errorf("drop rules = %+v, want one", rules)
	}
}

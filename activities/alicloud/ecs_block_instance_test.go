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
	for i, g := range out.SecurityGroupIDs {
		rules := dropRules(t, c, g, attacker)
		if len(rules) != 1 || rules[0].ID != out.RuleIDs[i] || rules[0].PortRange != "22/22" || rules[0].IPProtocol != "TCP" {
			t.Errorf("drop rules for %s in %s = %+v, want exactly %s (tcp 22/22)", attacker, g, rules, out.RuleIDs[i])
		}
	}
	if r := dropRules(t, c, sgWeb, attacker); len(r) == 1 && !strings.HasPrefix(r[0].Description, "soar:test-incident/block") {
		t.Errorf("soar's rule description = %q, want soar:<incident>/<step>", r[0].Description)
	}

	var again activities.ECSBlockIPOutput
	c.mustRun(activities.ECSBlockIP, in, &again)
	if again.Changed || !slices.Equal(again.RuleIDs, out.RuleIDs) {
		t.Errorf("repeat = %+v, want unchanged with rules %v", again, out.RuleIDs)
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

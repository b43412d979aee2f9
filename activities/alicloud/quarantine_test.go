package alicloud

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// TestQuarantineGroupLetsCloudAssistantOut: the quarantine group soar
// creates drops every outbound packet but HTTP and HTTPS to Alibaba Cloud's
// internal services (100.100.0.0/16) and DNS to the VPC resolvers, so that
// the Cloud Assistant agent of the isolated instance still takes the kill
// command after isolation.
func TestQuarantineGroupLetsCloudAssistantOut(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) {
		st.ECS.SecurityGroups = slices.DeleteFunc(st.ECS.SecurityGroups, func(g sandbox.SecurityGroup) bool { return g.ID == sgQ })
	})
	var out activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID}, &out)
	st := c.state()
	g, ok := st.ECS.SecurityGroup(out.QuarantineGroupID)
	if !ok || g.Name != quarantineGroupName {
		t.Fatalf("quarantine group %q = %+v, want a new %s group", out.QuarantineGroupID, g, quarantineGroupName)
	}
	type rule struct{ dir, policy, proto, ports, dest string }
	var got []rule
	prio := map[rule]int{}
	for _, r := range g.Rules {
		if r.Direction != "egress" {
			continue
		}
		k := rule{r.Direction, strings.ToLower(r.Policy), r.IPProtocol, r.PortRange, r.DestCidrIP + r.Ipv6DestCidrIP}
		got = append(got, k)
		prio[k] = r.Priority
	}
	want := []rule{
		{"egress", "drop", "ALL", "-1/-1", "0.0.0.0/0"},
		{"egress", "drop", "ALL", "-1/-1", "::/0"},
		{"egress", "accept", "TCP", "80/80", "100.100.0.0/16"},
		{"egress", "accept", "TCP", "443/443", "100.100.0.0/16"},
		{"egress", "accept", "UDP", "53/53", "100.100.2.136/32"},
		{"egress", "accept", "UDP", "53/53", "100.100.2.138/32"},
		{"egress", "accept", "TCP", "53/53", "100.100.2.136/32"},
		{"egress", "accept", "TCP", "53/53", "100.100.2.138/32"},
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("egress rules %+v lack %+v", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("egress rules = %+v, want exactly %+v", got, want)
	}
	if a, d := prio[want[2]], prio[want[0]]; a == 0 || a >= d {
		t.Errorf("accept priority %d, drop-all priority %d: the accept rules must win (a lower number)", a, d)
	}
	if a, d := prio[want[2]], prio[want[1]]; a == 0 || a >= d {
		t.Errorf("accept priority %d, drop-all priority %d: the accept rules must win (a lower number)", a, d)
	}
	if inst, _ := st.ECS.Instance(webID); !slices.Equal(inst.NetworkInterfaces[0].SecurityGroupIDs, []string{g.ID}) {
		t.Errorf("web-01 groups = %v, want [%s]", inst.NetworkInterfaces[0].SecurityGroupIDs, g.ID)
	}
	for _, p := range out.Plan {
		if strings.Contains(p, "warning") {
			t.Errorf("plan warns about soar's own group: %q", p)
		}
	}

}

// TestQuarantineGroupWithoutServiceEgressWarns: a quarantine group the
// operator names (quarantine_group_id) is used as it is, even soar's own,
// and the plan says that it locks the Cloud Assistant agent out.
func TestQuarantineGroupWithoutServiceEgressWarns(t *testing.T) {
	c := newTestCloud(t)
	before, _ := c.state().ECS.SecurityGroup(sgQ)
	var out activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID, QuarantineGroupID: sgQ}, &out)
	if !slices.ContainsFunc(out.Plan, func(p string) bool {
		return strings.Contains(p, "warning") && strings.Contains(p, sgQ) && strings.Contains(p, "100.100.0.0/16") && strings.Contains(p, "Cloud Assistant")
	}) {
		t.Errorf("plan %q does not warn that %s blocks the Cloud Assistant agent", out.Plan, sgQ)
	}
	if !slices.ContainsFunc(out.Plan, func(p string) bool {
		return strings.Contains(p, "warning") && strings.Contains(p, sgQ) && strings.Contains(p, "IPv6 (::/0)")
	}) {
		t.Errorf("plan %q does not warn that %s lets IPv6 out", out.Plan, sgQ)
	}
	after, _ := c.state().ECS.SecurityGroup(sgQ)
	if len(after.Rules) != len(before.Rules) {
		t.Errorf("rules of %s changed from %d to %d: a configured group is not edited", sgQ, len(before.Rules), len(after.Rules))
	}
	wantWebGroups(t, c.state(), sgQ)
}

// quarantineRule is a security group rule as the quarantine tests compare
// it.
type quarantineRule struct{ dir, policy, proto, ports, cidr string }

// wantSealedQuarantine asserts that group is soar's complete quarantine
// group: InnerAccessPolicy Drop, one drop-all egress rule, the accept
// rules of serviceEgresses at a higher precedence, and SSH in from the
// test account's forensics network.
func wantSealedQuarantine(t *testing.T, g sandbox.SecurityGroup) {
	t.Helper()
	if g.InnerAccessPolicy != "Drop" {
		t.Errorf("InnerAccessPolicy of %s = %q, want Drop", g.ID, g.InnerAccessPolicy)
	}
	count := map[quarantineRule]int{}
	prio := map[quarantineRule]int{}
	for _, r := range g.Rules {
		cidr := r.DestCidrIP + r.Ipv6DestCidrIP
		if r.Direction == "ingress" {
			cidr = r.SourceCidrIP + r.Ipv6SourceCidrIP
		}
		k := quarantineRule{r.Direction, strings.ToLower(r.Policy), strings.ToUpper(r.IPProtocol), r.PortRange, cidr}
		count[k]++
		prio[k] = r.Priority
	}
	denyAll := quarantineRule{"egress", "drop", "ALL", "-1/-1", "0.0.0.0/0"}
	if count[denyAll] != 1 {
		t.Errorf("drop-all egress rules in %s = %d, want 1 (rules %+v)", g.ID, count[denyAll], g.Rules)
	}
	if denyAll6 := (quarantineRule{"egress", "drop", "ALL", "-1/-1", "::/0"}); count[denyAll6] != 1 {
		t.Errorf("drop-all IPv6 egress rules in %s = %d, want 1 (rules %+v)", g.ID, count[denyAll6], g.Rules)
	}
	for _, e := range serviceEgresses() {
		k := quarantineRule{"egress", "accept", e.protocol, e.ports, e.cidr}
		if count[k] != 1 {
			t.Errorf("rules accepting outbound %s in %s = %d, want 1", e, g.ID, count[k])
		} else if prio[k] >= prio[denyAll] {
			t.Errorf("accept %s has priority %d, drop-all %d: the accept rule must win (a lower number)", e, prio[k], prio[denyAll])
		}
	}
	if ssh := (quarantineRule{"ingress", "accept", "TCP", "22/22", "10.0.0.0/8"}); count[ssh] != 1 {
		t.Errorf("forensics SSH rules in %s = %d, want 1", g.ID, count[ssh])
	}
}

// TestQuarantineGroupCompletedAfterFailedSetup: the first attempt creates
// soar-quarantine and is throttled on its first rule; the retry finds the
// half-built group by name and completes it (drop-all egress, the Cloud
// Assistant and DNS accept rules, InnerAccessPolicy Drop, forensics SSH)
// before web-01 goes in. Without that, web-01 would sit in a normal group
// without egress rules, which lets everything out.
func TestQuarantineGroupCompletedAfterFailedSetup(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) {
		st.ECS.SecurityGroups = slices.DeleteFunc(st.ECS.SecurityGroups, func(g sandbox.SecurityGroup) bool { return g.ID == sgQ })
	})
	n := c.callCount()
	c.srv.InjectFault(sandbox.Fault{Action: "AuthorizeSecurityGroupEgress", Code: "Throttling.User", Message: "Request was denied due to user flow control.", Count: 1})
	out, attempts, err := runRetried(t, c, activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID})
	if err != nil {
		t.Fatalf("isolate under one throttled AuthorizeSecurityGroupEgress: %v", err)
	}
	if got := c.answers(n, "AuthorizeSecurityGroupEgress"); len(got) == 0 || got[0] != "Throttling.User" || attempts != 2 {
		t.Fatalf("AuthorizeSecurityGroupEgress answers = %q, attempts %d, want the first throttled and a second attempt", got, attempts)
	}
	if creates := c.calls(n, "CreateSecurityGroup"); len(creates) != 1 {
		t.Errorf("CreateSecurityGroup calls = %d, want 1 (the retry reuses the group)", len(creates))
	}
	st := c.state()
	qg, _ := out["quarantine_group_id"].(string)
	g, ok := st.ECS.SecurityGroup(qg)
	if !ok || g.Name != quarantineGroupName || g.Tags[quarantineTag] != "true" {
		t.Fatalf("quarantine group %q = %+v, want soar's new, tagged %s", qg, g, quarantineGroupName)
	}
	wantSealedQuarantine(t, g)
	wantWebGroups(t, st, qg)
	if o := outcomeOf(t, out); !o.Changed {
		t.Errorf("outcome = %+v, want changed", o)
	}
}

// TestQuarantineGroupOfSoarCompleted: soar's own group found in the VPC
// (named soar-quarantine, tagged soar:quarantine; here the default world's,
// with its drop-all rule removed, inner traffic allowed and no Cloud
// Assistant rules) is completed before an instance goes in; a dry-run
// names what is missing and changes nothing; a repeat writes nothing to the
// group; a group of that name without the tag is not used.
func TestQuarantineGroupOfSoarCompleted(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) {
		for i := range st.ECS.SecurityGroups {
			if g := &st.ECS.SecurityGroups[i]; g.ID == sgQ {
				g.InnerAccessPolicy = "Accept"
				g.Rules = slices.DeleteFunc(g.Rules, func(r sandbox.Rule) bool { return r.Direction == "egress" })
			}
		}
	})
	s0, n := c.state(), c.callCount()
	var dry activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: dryRun(meta("isolate")), InstanceID: webID}, &dry)
	if !slices.ContainsFunc(dry.Plan, func(p string) bool {
		return strings.Contains(p, "complete soar's quarantine group "+sgQ) && strings.Contains(p, "drop-all") && strings.Contains(p, "InnerAccessPolicy Drop")
	}) {
		t.Errorf("dry-run plan %q does not name the missing setup of %s", dry.Plan, sgQ)
	}
	if diff := stateDiff(s0, c.state()); diff != "" || len(c.mutatingCalls(n)) > 0 {
		t.Fatalf("dry-run made calls %v and changed the state:\n%s", c.mutatingCalls(n), diff)
	}

	var out activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID}, &out)
	if out.QuarantineGroupID != sgQ || !out.Changed {
		t.Fatalf("isolate = %+v, want changed into %s", out, sgQ)
	}
	wantSealedQuarantine(t, mustGroup(t, c, sgQ))
	wantWebGroups(t, c.state(), sgQ)
	// The group is complete before the instance moves.
	calls := c.srv.Calls()[n:]
	move := slices.IndexFunc(calls, func(call sandbox.Call) bool { return call.Action == "ModifyInstanceAttribute" })
	if last := slices.IndexFunc(calls, func(call sandbox.Call) bool { return call.Action == "ModifySecurityGroupPolicy" }); move < 0 || last < 0 || last > move {
		t.Errorf("calls %v: want ModifySecurityGroupPolicy before ModifyInstanceAttribute", callNames(calls))
	}

	n = c.callCount()
	var again activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate-2"), InstanceID: webID}, &again)
	if m := c.mutatingCalls(n); again.Changed || len(m) > 0 {
		t.Errorf("repeat = %+v with writes %v, want unchanged and none", again.Outcome, m)
	}
}

// TestQuarantineGroupNameWithoutTagNotUsed: a group named soar-quarantine
// without the soar:quarantine tag is not soar's: isolation neither edits
// nor uses it, but creates (and sets up) its own.
func TestQuarantineGroupNameWithoutTagNotUsed(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) {
		for i := range st.ECS.SecurityGroups {
			if g := &st.ECS.SecurityGroups[i]; g.ID == sgQ {
				g.Tags = nil
			}
		}
	})
	before := mustGroup(t, c, sgQ)
	var out activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID}, &out)
	if out.QuarantineGroupID == sgQ || out.QuarantineGroupID == "" {
		t.Fatalf("quarantine group = %q, want a new one, not the untagged %s", out.QuarantineGroupID, sgQ)
	}
	wantSealedQuarantine(t, mustGroup(t, c, out.QuarantineGroupID))
	if after := mustGroup(t, c, sgQ); len(after.Rules) != len(before.Rules) || after.InnerAccessPolicy != before.InnerAccessPolicy {
		t.Errorf("the untagged %s was edited: %+v, was %+v", sgQ, after, before)
	}
}

// completeDefaultQuarantine gives the default world's quarantine group
// (soar's: named soar-quarantine, tagged) the accept rules of
// serviceEgresses and the IPv6 drop-all rule it lacks, as isolation
// would, so that a test comparing
// states around an isolation sees only the instance change.
func completeDefaultQuarantine(c *testCloud) {
	c.srv.Mutate(func(st *sandbox.State) {
		for i := range st.ECS.SecurityGroups {
			g := &st.ECS.SecurityGroups[i]
			if g.ID != sgQ {
				continue
			}
			for j, e := range serviceEgresses() {
				g.Rules = append(g.Rules, sandbox.Rule{ID: fmt.Sprintf("sgr-bp1quarantine%02d", 10+j), Direction: "egress", Policy: "Accept", Priority: 1,
					IPProtocol: e.protocol, PortRange: e.ports, DestCidrIP: e.cidr, NicType: "intranet", Description: e.why})
			}
			g.Rules = append(g.Rules, sandbox.Rule{ID: "sgr-bp1quarantine09", Direction: "egress", Policy: "Drop", Priority: 100,
				IPProtocol: "ALL", PortRange: "-1/-1", Ipv6DestCidrIP: "::/0", NicType: "intranet", Description: "soar: deny all outbound IPv6"})
		}
	})
}

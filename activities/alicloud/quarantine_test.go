package alicloud

import (
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
		k := rule{r.Direction, strings.ToLower(r.Policy), r.IPProtocol, r.PortRange, r.DestCidrIP}
		got = append(got, k)
		prio[k] = r.Priority
	}
	want := []rule{
		{"egress", "drop", "ALL", "-1/-1", "0.0.0.0/0"},
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
	if inst, _ := st.ECS.Instance(webID); !slices.Equal(inst.NetworkInterfaces[0].SecurityGroupIDs, []string{g.ID}) {
		t.Errorf("web-01 groups = %v, want [%s]", inst.NetworkInterfaces[0].SecurityGroupIDs, g.ID)
	}
	for _, p := range out.Plan {
		if strings.Contains(p, "warning") {
			t.Errorf("plan warns about soar's own group: %q", p)
		}
	}

}

// TestQuarantineGroupWithoutServiceEgressWarns: a quarantine group soar
// did not create now (configured, or made by an older soar) is left as it
// is, and the plan says that it locks the Cloud Assistant agent out.
func TestQuarantineGroupWithoutServiceEgressWarns(t *testing.T) {
	c := newTestCloud(t)
	before, _ := c.state().ECS.SecurityGroup(sgQ)
	var out activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("isolate"), InstanceID: webID}, &out)
	if !slices.ContainsFunc(out.Plan, func(p string) bool {
		return strings.Contains(p, "warning") && strings.Contains(p, sgQ) && strings.Contains(p, "100.100.0.0/16") && strings.Contains(p, "Cloud Assistant")
	}) {
		t.Errorf("plan %q does not warn that %s blocks the Cloud Assistant agent", out.Plan, sgQ)
	}
	after, _ := c.state().ECS.SecurityGroup(sgQ)
	if len(after.Rules) != len(before.Rules) {
		t.Errorf("rules of %s changed from %d to %d: a group soar did not create is not edited", sgQ, len(before.Rules), len(after.Rules))
	}
}

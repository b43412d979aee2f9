package alicloud

import (
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// groupsOf is the security groups of an instance's interfaces, by ID.
func groupsOf(st sandbox.State, id string) map[string][]string {
	inst, _ := st.ECS.Instance(id)
	out := map[string][]string{}
	for _, n := range inst.NetworkInterfaces {
		out[n.ID] = n.SecurityGroupIDs
	}
	return out
}

// TestRestoreOnlyUndoesSoarsIsolation: restore_instance as an ordinary step
// cannot put arbitrary groups on an instance. Without soar's isolation
// record it changes nothing; a quarantine_group_id other than the recorded
// one is refused; original_groups other than the recorded ones need the
// instance guard (db-01 is protected: refused unless approved); the
// recorded output restores, as the inverse of isolate_instance does.
func TestRestoreOnlyUndoesSoarsIsolation(t *testing.T) {
	c := newTestCloud(t)
	completeDefaultQuarantine(c)
	s0 := c.state()
	webIface := func(groups ...string) []activities.InterfaceGroups {
		inst, _ := s0.ECS.Instance(webID)
		return []activities.InterfaceGroups{{NetworkInterfaceID: inst.NetworkInterfaces[0].ID, SecurityGroupIDs: groups}}
	}
	dbIface := func(groups ...string) []activities.InterfaceGroups {
		inst, _ := s0.ECS.Instance(dbID)
		return []activities.InterfaceGroups{{NetworkInterfaceID: inst.NetworkInterfaces[0].ID, SecurityGroupIDs: groups}}
	}

	// No record: nothing changes, whatever the input says.
	err := c.run(activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{Meta: meta("r0"), InstanceID: webID,
		QuarantineGroupID: sgWeb, OriginalGroups: webIface(sgQ)}, nil)
	wantAppError(t, err, activities.ErrTypeInvalidInput, "no isolation record")
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("restore without a record changed the cloud (-before +after):\n%s", diff)
	}

	// db-01 isolated with approval (it is protected).
	approved := meta("iso-db")
	approved.Approved = true
	var iso activities.ECSIsolateInstanceOutput
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: approved, InstanceID: dbID}, &iso)
	isolated := c.state()

	for name, in := range map[string]activities.ECSRestoreInstanceInput{
		"another quarantine group": {Meta: meta("r1"), InstanceID: dbID, QuarantineGroupID: sgWeb, OriginalGroups: iso.OriginalGroups},
		"other original groups":    {Meta: meta("r2"), InstanceID: dbID, QuarantineGroupID: iso.QuarantineGroupID, OriginalGroups: dbIface(sgWeb)},
	} {
		err := c.run(activities.ECSRestoreInstance, in, nil)
		want := activities.ErrTypeInvalidInput
		if name == "other original groups" {
			want = activities.ErrTypeGuardDenied
		}
		wantAppError(t, err, want)
		if diff := stateDiff(isolated, c.state()); diff != "" {
			t.Errorf("%s: restore changed the cloud (-before +after):\n%s", name, diff)
		}
	}

	// The recorded output restores db-01 without an approval.
	var out activities.ECSRestoreInstanceOutput
	c.mustRun(activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{Meta: meta("r3"), InstanceID: dbID,
		QuarantineGroupID: iso.QuarantineGroupID, OriginalGroups: iso.OriginalGroups}, &out)
	if !out.Changed {
		t.Errorf("restore with the recorded output = %+v, want changed", out)
	}
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("restore with the recorded output left differences (-before +after):\n%s", diff)
	}
	// Run again (a retried or repeated inverse): nothing to do, no error.
	c.mustRun(activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{Meta: meta("r3"), InstanceID: dbID,
		QuarantineGroupID: iso.QuarantineGroupID, OriginalGroups: iso.OriginalGroups}, &out)
	if out.Changed || len(out.RestoredGroups) != len(iso.OriginalGroups) {
		t.Errorf("repeated restore = %+v, want unchanged with the restored groups", out)
	}

	// web-01 (unprotected) isolated; other original groups pass the guard.
	c.mustRun(activities.ECSIsolateInstance, activities.ECSIsolateInstanceInput{Meta: meta("iso-web"), InstanceID: webID}, nil)
	c.mustRun(activities.ECSRestoreInstance, activities.ECSRestoreInstanceInput{Meta: meta("r4"), InstanceID: webID, OriginalGroups: webIface(sgWeb, "sg-bp1sandboxdb0")}, nil)
	if got := groupsOf(c.state(), webID)[webIface()[0].NetworkInterfaceID]; len(got) != 2 {
		t.Errorf("web-01 groups after restore = %v, want the two given", got)
	}
}

package sandbox_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/sandbox"
)

func TestECS_DescribeInstancesFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)
	tests := []struct {
		name string
		set  func(*ecs.DescribeInstancesRequest)
		want []string
	}{
		{"all", func(*ecs.DescribeInstancesRequest) {}, []string{webID, dbID}},
		{"instance ids", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = `["` + dbID + `","i-nope"]` }, []string{dbID}},
		{"private ip of a secondary interface", func(r *ecs.DescribeInstancesRequest) { r.PrivateIpAddresses = `["172.16.2.20"]` }, []string{dbID}},
		{"public ip", func(r *ecs.DescribeInstancesRequest) { r.PublicIpAddresses = `["47.96.10.20"]` }, []string{webID}},
		{"vpc", func(r *ecs.DescribeInstancesRequest) { r.VpcId = vpcID }, []string{webID, dbID}},
		{"other vpc", func(r *ecs.DescribeInstancesRequest) { r.VpcId = "vpc-other" }, nil},
		{"security group", func(r *ecs.DescribeInstancesRequest) { r.SecurityGroupId = sgDB }, []string{dbID}},
		{"name wildcard", func(r *ecs.DescribeInstancesRequest) { r.InstanceName = "web-*" }, []string{webID}},
		{"tag", func(r *ecs.DescribeInstancesRequest) {
			r.Tag = &[]ecs.DescribeInstancesTag{{Key: "role", Value: "db"}}
		}, []string{dbID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ecs.CreateDescribeInstancesRequest()
			tt.set(req)
			resp, err := c.DescribeInstances(req)
			mustNoErr(t, "DescribeInstances", err)
			var got []string
			for _, in := range resp.Instances.Instance {
				got = append(got, in.InstanceId)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DescribeInstances ids (-want +got):\n%s", diff)
			}
			if resp.TotalCount != len(tt.want) {
				t.Errorf("TotalCount = %d, want %d", resp.TotalCount, len(tt.want))
			}
		})
	}

	t.Run("shape", func(t *testing.T) {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = `["` + dbID + `"]`
		resp, err := c.DescribeInstances(req)
		mustNoErr(t, "DescribeInstances", err)
		in := resp.Instances.Instance[0]
		if in.Status != "Running" || in.VpcAttributes.VpcId != vpcID ||
			!slices.Equal(in.VpcAttributes.PrivateIpAddress.IpAddress, []string{"172.16.1.20"}) ||
			!slices.Equal(in.SecurityGroupIds.SecurityGroupId, []string{sgDB}) ||
			len(in.NetworkInterfaces.NetworkInterface) != 2 ||
			in.NetworkInterfaces.NetworkInterface[0].Type != "Primary" || len(in.Tags.Tag) != 2 {
			t.Errorf("instance = %+v, want db-01 with wrapped lists filled", in)
		}
	})
	t.Run("malformed json filter", func(t *testing.T) {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = webID
		_, err := c.DescribeInstances(req)
		wantServerError(t, err, "InvalidInstanceIds.Malformed", 400)
	})
	t.Run("paging", func(t *testing.T) {
		req := ecs.CreateDescribeInstancesRequest()
		req.PageSize = "1"
		req.PageNumber = "2"
		resp, err := c.DescribeInstances(req)
		mustNoErr(t, "DescribeInstances", err)
		if resp.TotalCount != 2 || len(resp.Instances.Instance) != 1 || resp.Instances.Instance[0].InstanceId != dbID {
			t.Errorf("page 2 of size 1 = %d items (total %d), want db-01 of 2", len(resp.Instances.Instance), resp.TotalCount)
		}
		req = ecs.CreateDescribeInstancesRequest()
		req.MaxResults = "1"
		resp, err = c.DescribeInstances(req)
		mustNoErr(t, "DescribeInstances", err)
		if resp.NextToken == "" || len(resp.Instances.Instance) != 1 {
			t.Fatalf("MaxResults=1: NextToken %q, %d items; want a token and 1 item", resp.NextToken, len(resp.Instances.Instance))
		}
		req = ecs.CreateDescribeInstancesRequest()
		req.MaxResults = "1"
		req.NextToken = resp.NextToken
		resp, err = c.DescribeInstances(req)
		mustNoErr(t, "DescribeInstances", err)
		if resp.NextToken != "" || resp.Instances.Instance[0].InstanceId != dbID {
			t.Errorf("second page: NextToken %q, first %s; want end and db-01", resp.NextToken, resp.Instances.Instance[0].InstanceId)
		}
	})
}

func TestECS_SecurityGroupRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{RulesPerGroup: 6})
	c := e.ecs(t)
	authorize := func(perms ...ecs.AuthorizeSecurityGroupPermissions) error {
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.SecurityGroupId = sgWeb
		req.Permissions = &perms
		_, err := c.AuthorizeSecurityGroup(req)
		return err
	}
	drop := ecs.AuthorizeSecurityGroupPermissions{Policy: "drop", Priority: "1", IpProtocol: "ALL", PortRange: "-1/-1",
		SourceCidrIp: "203.0.113.7/32", Description: "soar:inc-1"}
	mustNoErr(t, "authorize drop", authorize(drop))
	mustNoErr(t, "authorize the identical rule", authorize(drop))

	resp, err := c.DescribeSecurityGroupAttribute(describeAttr(sgWeb))
	mustNoErr(t, "DescribeSecurityGroupAttribute", err)
	var added []ecs.Permission
	for _, p := range resp.Permissions.Permission {
		if p.SourceCidrIp == "203.0.113.7/32" {
			added = append(added, p)
		}
	}
	if len(added) != 1 {
		t.Fatalf("found %d rules for 203.0.113.7/32, want 1 (identical rule not added twice)", len(added))
	}
	if p := added[0]; p.Policy != "Drop" || p.IpProtocol != "ALL" || p.Priority != "1" || p.Direction != "ingress" ||
		p.SecurityGroupRuleId == "" || p.Description != "soar:inc-1" {
		t.Errorf("rule = %+v, want Drop ALL priority 1 ingress with an ID", p)
	}

	t.Run("legacy flat fields", func(t *testing.T) {
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.SecurityGroupId = sgWeb
		req.IpProtocol, req.PortRange, req.SourceCidrIp, req.Policy = "tcp", "22/22", "198.51.100.9", "drop"
		_, err := c.AuthorizeSecurityGroup(req)
		mustNoErr(t, "AuthorizeSecurityGroup flat", err)
		g, _ := e.srv.State().ECS.SecurityGroup(sgWeb)
		if !slices.ContainsFunc(g.Rules, func(r sandbox.Rule) bool {
			return r.SourceCidrIP == "198.51.100.9" && r.IPProtocol == "TCP" && r.Policy == "Drop" && r.PortRange == "22/22"
		}) {
			t.Errorf("rules = %+v, want the flat-field rule", g.Rules)
		}
	})

	t.Run("validation", func(t *testing.T) {
		tests := []struct {
			name string
			perm ecs.AuthorizeSecurityGroupPermissions
			code string
		}{
			{"policy", ecs.AuthorizeSecurityGroupPermissions{Policy: "reject", IpProtocol: "ALL", SourceCidrIp: "1.2.3.4"}, "InvalidPolicy.Malformed"},
			{"protocol", ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "SCTP", SourceCidrIp: "1.2.3.4"}, "InvalidIpProtocol.Malformed"},
			{"tcp without ports", ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "-1/-1", SourceCidrIp: "1.2.3.4"}, "InvalidPortRange.Malformed"},
			{"ports on all", ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL", PortRange: "1/65535", SourceCidrIp: "1.2.3.4"}, "InvalidPortRange.Malformed"},
			{"priority", ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL", Priority: "101", SourceCidrIp: "1.2.3.4"}, "InvalidPriority.Malformed"},
			{"cidr", ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL", SourceCidrIp: "1.2.3.400/32"}, "InvalidSourceCidrIp.Malformed"},
			{"no source", ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL"}, "MissingParameter.Source"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantServerError(t, authorize(tt.perm), tt.code, 400)
			})
		}
	})

	t.Run("quota", func(t *testing.T) {
		// 3 seeded + 2 added = 5 of 6: two more exceed the quota, atomically.
		err := authorize(
			ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL", SourceCidrIp: "192.0.2.1", Policy: "drop"},
			ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "ALL", SourceCidrIp: "192.0.2.2", Policy: "drop"})
		wantServerError(t, err, "AuthorizationLimitExceed", 403)
		g, _ := e.srv.State().ECS.SecurityGroup(sgWeb)
		if len(g.Rules) != 5 {
			t.Errorf("sg-web has %d rules after the refused call, want 5", len(g.Rules))
		}
	})

	t.Run("revoke by id, twice", func(t *testing.T) {
		for range 2 {
			req := ecs.CreateRevokeSecurityGroupRequest()
			req.SecurityGroupId = sgWeb
			req.SecurityGroupRuleId = &[]string{added[0].SecurityGroupRuleId}
			_, err := c.RevokeSecurityGroup(req)
			mustNoErr(t, "RevokeSecurityGroup", err)
		}
		g, _ := e.srv.State().ECS.SecurityGroup(sgWeb)
		if slices.ContainsFunc(g.Rules, func(r sandbox.Rule) bool { return r.ID == added[0].SecurityGroupRuleId }) {
			t.Errorf("rule %s still present", added[0].SecurityGroupRuleId)
		}
	})

	t.Run("revoke by content", func(t *testing.T) {
		req := ecs.CreateRevokeSecurityGroupRequest()
		req.SecurityGroupId = sgWeb
		req.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{Policy: "drop", IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "198.51.100.9/32"}}
		_, err := c.RevokeSecurityGroup(req)
		mustNoErr(t, "RevokeSecurityGroup", err)
		g, _ := e.srv.State().ECS.SecurityGroup(sgWeb)
		if len(g.Rules) != 3 {
			t.Errorf("sg-web has %d rules, want the 3 seeded ones", len(g.Rules))
		}
	})
}

func TestECS_RevokeMissingCodeAndEgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{RevokeMissingCode: "SecurityGroupRule.NotFound", DuplicateRuleCode: "InvalidPermission.Duplicate"})
	c := e.ecs(t)
	req := ecs.CreateRevokeSecurityGroupRequest()
	req.SecurityGroupId = sgWeb
	req.SecurityGroupRuleId = &[]string{"sgr-nope"}
	_, err := c.RevokeSecurityGroup(req)
	wantServerError(t, err, "SecurityGroupRule.NotFound", 404)

	egress := func() error {
		r := ecs.CreateAuthorizeSecurityGroupEgressRequest()
		r.SecurityGroupId = sgWeb
		r.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{{Policy: "drop", IpProtocol: "ALL", DestCidrIp: "198.51.100.23/32", Priority: "1"}}
		_, err := c.AuthorizeSecurityGroupEgress(r)
		return err
	}
	mustNoErr(t, "AuthorizeSecurityGroupEgress", egress())
	wantServerError(t, egress(), "InvalidPermission.Duplicate", 400)

	attr := describeAttr(sgWeb)
	attr.Direction = "egress"
	resp, err := c.DescribeSecurityGroupAttribute(attr)
	mustNoErr(t, "DescribeSecurityGroupAttribute", err)
	if len(resp.Permissions.Permission) != 1 || resp.Permissions.Permission[0].DestCidrIp != "198.51.100.23/32" {
		t.Fatalf("egress rules = %+v, want the one drop rule", resp.Permissions.Permission)
	}
	rv := ecs.CreateRevokeSecurityGroupEgressRequest()
	rv.SecurityGroupId = sgWeb
	rv.SecurityGroupRuleId = &[]string{resp.Permissions.Permission[0].SecurityGroupRuleId}
	_, err = c.RevokeSecurityGroupEgress(rv)
	mustNoErr(t, "RevokeSecurityGroupEgress", err)
	g, _ := e.srv.State().ECS.SecurityGroup(sgWeb)
	if len(g.RulesFor("egress")) != 0 {
		t.Errorf("egress rules = %+v, want none", g.RulesFor("egress"))
	}
}

func TestECS_ClientTokenIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)
	create := func(name string) (string, error) {
		req := ecs.CreateCreateSecurityGroupRequest()
		req.VpcId, req.SecurityGroupName, req.ClientToken = vpcID, name, "inc-1-quarantine"
		resp, err := c.CreateSecurityGroup(req)
		if err != nil {
			return "", err
		}
		return resp.SecurityGroupId, nil
	}
	first, err := create("soar-q")
	mustNoErr(t, "CreateSecurityGroup", err)
	second, err := create("soar-q")
	mustNoErr(t, "CreateSecurityGroup replay", err)
	if first != second {
		t.Errorf("replayed CreateSecurityGroup = %s, want the first answer %s", second, first)
	}
	_, err = create("soar-other")
	wantServerError(t, err, "IdempotentParameterMismatch", 400)

	n := 0
	for _, g := range e.srv.State().ECS.SecurityGroups {
		if g.Name == "soar-q" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d groups named soar-q, want 1", n)
	}
	calls := e.srv.Calls()
	var replayed []bool
	for _, call := range calls {
		if call.Action == "CreateSecurityGroup" {
			replayed = append(replayed, call.Replayed)
		}
	}
	if diff := cmp.Diff([]bool{false, true, false}, replayed); diff != "" {
		t.Errorf("Replayed flags (-want +got):\n%s", diff)
	}
}

func TestECS_IsolationCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)

	sgs := ecs.CreateDescribeSecurityGroupsRequest()
	sgs.VpcId, sgs.SecurityGroupName = vpcID, "soar-quarantine"
	sgResp, err := c.DescribeSecurityGroups(sgs)
	mustNoErr(t, "DescribeSecurityGroups", err)
	if len(sgResp.SecurityGroups.SecurityGroup) != 1 || sgResp.SecurityGroups.SecurityGroup[0].SecurityGroupId != sgQ ||
		len(sgResp.SecurityGroups.SecurityGroup[0].Tags.Tag) != 1 {
		t.Fatalf("quarantine lookup = %+v, want sg-bp1quarantine with its tag", sgResp.SecurityGroups.SecurityGroup)
	}

	nis := ecs.CreateDescribeNetworkInterfacesRequest()
	nis.InstanceId = dbID
	niResp, err := c.DescribeNetworkInterfaces(nis)
	mustNoErr(t, "DescribeNetworkInterfaces", err)
	got := map[string][]string{}
	for _, n := range niResp.NetworkInterfaceSets.NetworkInterfaceSet {
		got[n.NetworkInterfaceId+"/"+n.Type] = n.SecurityGroupIds.SecurityGroupId
	}
	want := map[string][]string{"eni-bp1sandboxdb001/Primary": {sgDB}, "eni-bp1sandboxdb002/Secondary": {sgDB}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("interfaces (-want +got):\n%s", diff)
	}

	mia := ecs.CreateModifyInstanceAttributeRequest()
	mia.InstanceId = dbID
	mia.SecurityGroupIds = &[]string{sgQ}
	_, err = c.ModifyInstanceAttribute(mia)
	mustNoErr(t, "ModifyInstanceAttribute", err)
	mni := ecs.CreateModifyNetworkInterfaceAttributeRequest()
	mni.NetworkInterfaceId = "eni-bp1sandboxdb002"
	mni.SecurityGroupId = &[]string{sgQ}
	_, err = c.ModifyNetworkInterfaceAttribute(mni)
	mustNoErr(t, "ModifyNetworkInterfaceAttribute", err)

	inst, _ := e.srv.State().ECS.Instance(dbID)
	for _, n := range inst.NetworkInterfaces {
		if !slices.Equal(n.SecurityGroupIDs, []string{sgQ}) {
			t.Errorf("interface %s groups = %v, want [%s]", n.ID, n.SecurityGroupIDs, sgQ)
		}
	}

	t.Run("too many groups", func(t *testing.T) {
		mia := ecs.CreateModifyInstanceAttributeRequest()
		mia.InstanceId = webID
		mia.SecurityGroupIds = &[]string{sgWeb, sgDB, sgQ, "sg-4", "sg-5", "sg-6"}
		_, err := c.ModifyInstanceAttribute(mia)
		wantServerError(t, err, "InstanceSecurityGroupLimitExceeded", 400)
	})
	t.Run("unknown group", func(t *testing.T) {
		mia := ecs.CreateModifyInstanceAttributeRequest()
		mia.InstanceId = webID
		mia.SecurityGroupIds = &[]string{"sg-nope"}
		_, err := c.ModifyInstanceAttribute(mia)
		wantServerError(t, err, "InvalidSecurityGroupId.NotFound", 404)
	})
	t.Run("join and leave", func(t *testing.T) {
		join := ecs.CreateJoinSecurityGroupRequest()
		join.InstanceId, join.SecurityGroupId = webID, sgQ
		_, err := c.JoinSecurityGroup(join)
		mustNoErr(t, "JoinSecurityGroup", err)
		_, err = c.JoinSecurityGroup(join)
		wantServerError(t, err, "InvalidInstanceId.AlreadyExists", 403)

		leave := ecs.CreateLeaveSecurityGroupRequest()
		leave.InstanceId, leave.SecurityGroupId = webID, sgWeb
		_, err = c.LeaveSecurityGroup(leave)
		mustNoErr(t, "LeaveSecurityGroup", err)
		_, err = c.LeaveSecurityGroup(leave)
		wantServerError(t, err, "InstanceNotInSecurityGroup", 403)
		leave.SecurityGroupId = sgQ
		_, err = c.LeaveSecurityGroup(leave)
		wantServerError(t, err, "InstanceLastSecurityGroup", 403)

		inst, _ := e.srv.State().ECS.Instance(webID)
		if !slices.Equal(inst.SecurityGroupIDs(), []string{sgQ}) {
			t.Errorf("web-01 groups = %v, want [%s]", inst.SecurityGroupIDs(), sgQ)
		}
	})
	t.Run("create group and policy", func(t *testing.T) {
		req := ecs.CreateCreateSecurityGroupRequest()
		req.VpcId, req.SecurityGroupName = vpcID, "soar-quarantine-2"
		req.Tag = &[]ecs.CreateSecurityGroupTag{{Key: "soar:quarantine", Value: "true"}}
		resp, err := c.CreateSecurityGroup(req)
		mustNoErr(t, "CreateSecurityGroup", err)
		pol := ecs.CreateModifySecurityGroupPolicyRequest()
		pol.SecurityGroupId, pol.InnerAccessPolicy = resp.SecurityGroupId, "drop"
		_, err = c.ModifySecurityGroupPolicy(pol)
		mustNoErr(t, "ModifySecurityGroupPolicy", err)
		g, ok := e.srv.State().ECS.SecurityGroup(resp.SecurityGroupId)
		if !ok || g.InnerAccessPolicy != "Drop" || g.Tags["soar:quarantine"] != "true" || g.VpcID != vpcID {
			t.Errorf("new group = %+v, want Drop with the tag in %s", g, vpcID)
		}
		req.VpcId = "vpc-nope"
		_, err = c.CreateSecurityGroup(req)
		wantServerError(t, err, "InvalidVpcId.NotFound", 404)
	})
}

func TestECS_SnapshotsProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{AsyncPolls: 2})
	c := e.ecs(t)
	dreq := ecs.CreateDescribeDisksRequest()
	dreq.InstanceId = webID
	disks, err := c.DescribeDisks(dreq)
	mustNoErr(t, "DescribeDisks", err)
	var types []string
	for _, d := range disks.Disks.Disk {
		types = append(types, d.Type)
	}
	if diff := cmp.Diff([]string{"system", "data"}, types); diff != "" {
		t.Fatalf("disk types (-want +got):\n%s", diff)
	}

	snap := ecs.CreateCreateSnapshotRequest()
	snap.DiskId = disks.Disks.Disk[0].DiskId
	snap.SnapshotName = "soar-inc-1-system"
	snap.Description = "evidence for inc-1"
	snap.Tag = &[]ecs.CreateSnapshotTag{{Key: "soar-case", Value: "inc-1"}}
	snap.ClientToken = "inc-1-evidence-" + snap.DiskId
	created, err := c.CreateSnapshot(snap)
	mustNoErr(t, "CreateSnapshot", err)

	again := ecs.CreateCreateSnapshotRequest()
	again.DiskId = snap.DiskId
	_, err = c.CreateSnapshot(again)
	wantServerError(t, err, "IncorrectDiskStatus.CreatingSnapshot", 403)

	var statuses []string
	for range 3 {
		req := ecs.CreateDescribeSnapshotsRequest()
		req.SnapshotIds = `["` + created.SnapshotId + `"]`
		resp, err := c.DescribeSnapshots(req)
		mustNoErr(t, "DescribeSnapshots", err)
		s := resp.Snapshots.Snapshot[0]
		statuses = append(statuses, s.Status+" "+s.Progress)
		if s.SourceDiskSize != "40" || s.SourceDiskType != "System" || len(s.Tags.Tag) != 1 {
			t.Errorf("snapshot = %+v, want size \"40\", type System, one tag", s)
		}
	}
	if diff := cmp.Diff([]string{"progressing 50%", "accomplished 100%", "accomplished 100%"}, statuses); diff != "" {
		t.Errorf("snapshot statuses (-want +got):\n%s", diff)
	}
	if got := e.srv.State().ECS.SnapshotsOf(snap.DiskId); len(got) != 1 || got[0].Tags["soar-case"] != "inc-1" {
		t.Errorf("SnapshotsOf = %+v, want the tagged snapshot", got)
	}
	missing := ecs.CreateCreateSnapshotRequest()
	missing.DiskId = "d-nope"
	_, err = c.CreateSnapshot(missing)
	wantServerError(t, err, "InvalidDiskId.NotFound", 404)
}

func TestECS_StopStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)
	status := func() string {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = `["` + webID + `"]`
		resp, err := c.DescribeInstances(req)
		mustNoErr(t, "DescribeInstances", err)
		return resp.Instances.Instance[0].Status
	}
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId, stop.ForceStop, stop.StoppedMode = webID, "true", "KeepCharging"
	_, err := c.StopInstance(stop)
	mustNoErr(t, "StopInstance", err)
	_, err = c.StopInstance(stop)
	wantServerError(t, err, "IncorrectInstanceStatus", 403)
	got := []string{status(), status()}
	start := ecs.CreateStartInstanceRequest()
	start.InstanceId = webID
	_, err = c.StartInstance(start)
	mustNoErr(t, "StartInstance", err)
	got = append(got, status(), status())
	_, err = c.StartInstance(start)
	wantServerError(t, err, "IncorrectInstanceStatus", 403)
	if diff := cmp.Diff([]string{"Stopping", "Stopped", "Starting", "Running"}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	stop.InstanceId = "i-nope"
	_, err = c.StopInstance(stop)
	wantServerError(t, err, "InvalidInstanceId.NotFound", 404)
}

func TestECS_StopImmediate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{AsyncPolls: -1})
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = dbID
	_, err := e.ecs(t).StopInstance(stop)
	mustNoErr(t, "StopInstance", err)
	if inst, _ := e.srv.State().ECS.Instance(dbID); inst.Status != "Stopped" || inst.StoppedMode != "KeepCharging" {
		t.Errorf("db-01 = %s (%s), want Stopped (KeepCharging) at once", inst.Status, inst.StoppedMode)
	}
}

func TestECS_RunCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)
	e.srv.Mutate(func(st *sandbox.State) {
		for i := range st.ECS.Instances {
			if st.ECS.Instances[i].ID == dbID {
				st.ECS.Instances[i].CloudAssistant = "offline"
			}
		}
	})
	run := func(id string) string {
		req := ecs.CreateRunCommandRequest()
		req.InstanceId = &[]string{id}
		req.Type = "RunShellScript"
		req.CommandContent = "kill -9 {{pid}} && echo killed {{pid}}"
		req.EnableParameter = "true"
		req.Parameters = map[string]interface{}{"pid": "31337"}
		req.Timeout = "60"
		req.ClientToken = "inc-1-kill-" + id
		resp, err := c.RunCommand(req)
		mustNoErr(t, "RunCommand", err)
		if resp.CommandId == "" || resp.InvokeId == "" {
			t.Fatalf("RunCommand = %+v, want CommandId and InvokeId", resp)
		}
		return resp.InvokeId
	}
	results := func(invokeID string) ecs.InvocationResult {
		req := ecs.CreateDescribeInvocationResultsRequest()
		req.InvokeId = invokeID
		resp, err := c.DescribeInvocationResults(req)
		mustNoErr(t, "DescribeInvocationResults", err)
		if len(resp.Invocation.InvocationResults.InvocationResult) != 1 {
			t.Fatalf("results = %+v, want one", resp.Invocation.InvocationResults.InvocationResult)
		}
		return resp.Invocation.InvocationResults.InvocationResult[0]
	}

	web := run(webID)
	if again := run(webID); again != web {
		t.Errorf("RunCommand replay InvokeId = %s, want %s", again, web)
	}
	first, second := results(web), results(web)
	if first.InvocationStatus != "Running" || second.InvocationStatus != "Success" || second.ExitCode != 0 ||
		second.InvokeRecordStatus != "Finished" {
		t.Errorf("statuses = %s then %s/%s exit %d, want Running then Success/Finished exit 0",
			first.InvocationStatus, second.InvocationStatus, second.InvokeRecordStatus, second.ExitCode)
	}
	out, err := base64.StdEncoding.DecodeString(second.Output)
	mustNoErr(t, "decode Output", err)
	if !strings.Contains(string(out), "kill -9 31337 && echo killed 31337") {
		t.Errorf("Output = %q, want the rendered script", out)
	}

	db := results(run(dbID))
	if db.InvocationStatus != "Failed" || db.ErrorCode != "ClientNotRunning" {
		t.Errorf("offline agent result = %s/%s, want Failed/ClientNotRunning", db.InvocationStatus, db.ErrorCode)
	}

	e.srv.Mutate(func(st *sandbox.State) {
		st.ECS.Instances[0].Command = &sandbox.CommandResult{ExitCode: 3, Output: "no such process\n"}
	})
	req := ecs.CreateRunCommandRequest()
	req.InstanceId = &[]string{webID}
	req.Type, req.CommandContent = "RunShellScript", "kill 1"
	resp, err := c.RunCommand(req)
	mustNoErr(t, "RunCommand", err)
	results(resp.InvokeId)
	scripted := results(resp.InvokeId)
	if scripted.InvocationStatus != "Failed" || scripted.ExitCode != 3 || scripted.ErrorCode != "ExitCodeNonzero" {
		t.Errorf("scripted result = %+v, want Failed exit 3 ExitCodeNonzero", scripted)
	}
	inv, ok := e.srv.State().ECS.Invocation(web)
	if !ok || inv.Parameters["pid"] != "31337" || inv.Results[0].Status != "Success" {
		t.Errorf("state invocation = %+v, want pid 31337 and Success", inv)
	}
	bad := ecs.CreateRunCommandRequest()
	bad.InstanceId = &[]string{webID}
	bad.Type, bad.CommandContent = "RunBatScript", "dir"
	_, err = c.RunCommand(bad)
	wantServerError(t, err, "InvalidInstance.NotMatch", 403)
}

func TestECS_Tags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)
	tag := ecs.CreateTagResourcesRequest()
	tag.ResourceType = "disk"
	tag.ResourceId = &[]string{"d-bp1sandboxweb01s"}
	tag.Tag = &[]ecs.TagResourcesTag{{Key: "soar-case", Value: "inc-1"}}
	_, err := c.TagResources(tag)
	mustNoErr(t, "TagResources", err)
	list := ecs.CreateListTagResourcesRequest()
	list.ResourceType = "disk"
	list.ResourceId = &[]string{"d-bp1sandboxweb01s"}
	resp, err := c.ListTagResources(list)
	mustNoErr(t, "ListTagResources", err)
	if len(resp.TagResources.TagResource) != 1 || resp.TagResources.TagResource[0].TagValue != "inc-1" {
		t.Errorf("ListTagResources = %+v, want soar-case=inc-1", resp.TagResources.TagResource)
	}
}

func TestECS_DeleteSnapshotAndUntag(t *testing.T) {
	t.Parallel()
	w, err := sandbox.LoadWorld("testdata/world.yaml")
	mustNoErr(t, "LoadWorld", err)
	e := newEnvWorld(t, w, sandbox.Options{})
	c := e.ecs(t)
	tag := ecs.CreateTagResourcesRequest()
	tag.ResourceType, tag.ResourceId = "instance", &[]string{"i-uf6demoapp0001"}
	tag.Tag = &[]ecs.TagResourcesTag{{Key: "soar:isolated", Value: "inc-9"}}
	_, err = c.TagResources(tag)
	mustNoErr(t, "TagResources", err)
	untag := ecs.CreateUntagResourcesRequest()
	untag.ResourceType, untag.ResourceId, untag.TagKey = "instance", &[]string{"i-uf6demoapp0001"}, &[]string{"env"}
	_, err = c.UntagResources(untag)
	mustNoErr(t, "UntagResources", err)
	if inst, _ := e.srv.State().ECS.Instance("i-uf6demoapp0001"); !cmp.Equal(inst.Tags, map[string]string{"soar:isolated": "inc-9"}) {
		t.Errorf("tags = %v, want only soar:isolated", inst.Tags)
	}

	del := ecs.CreateDeleteSnapshotRequest()
	del.SnapshotId = "s-uf6demoold00001"
	_, err = c.DeleteSnapshot(del)
	mustNoErr(t, "DeleteSnapshot", err)
	_, err = c.DeleteSnapshot(del)
	wantServerError(t, err, "InvalidSnapshotId.NotFound", 404)

	bad := ecs.CreateListTagResourcesRequest()
	bad.ResourceType = "image"
	_, err = c.ListTagResources(bad)
	wantServerError(t, err, "InvalidResourceType.NotSupported", 400)
}

func TestECS_RunCommandOnStoppedInstance(t *testing.T) {
	t.Parallel()
	w, err := sandbox.LoadWorld("testdata/world.yaml")
	mustNoErr(t, "LoadWorld", err)
	e := newEnvWorld(t, w, sandbox.Options{})
	req := ecs.CreateRunCommandRequest()
	req.InstanceId = &[]string{"i-uf6demobatch001", "i-uf6demoapp0001"}
	req.Type, req.CommandContent, req.ContentEncoding = "RunShellScript", base64.StdEncoding.EncodeToString([]byte("id")), "Base64"
	resp, err := e.ecs(t).RunCommand(req)
	mustNoErr(t, "RunCommand", err)
	inv, _ := e.srv.State().ECS.Invocation(resp.InvokeId)
	if inv.Content != "id" || inv.Results[0].ErrorCode != "InstanceNotRunning" || inv.Results[1].Status != "Running" {
		t.Errorf("invocation = %+v, want decoded content, batch-01 InstanceNotRunning, app-01 Running", inv)
	}
	dr := ecs.CreateDescribeInvocationResultsRequest()
	dr.InvokeId, dr.InstanceId, dr.ContentEncoding = resp.InvokeId, "i-uf6demoapp0001", "PlainText"
	for range 2 {
		out, err := e.ecs(t).DescribeInvocationResults(dr)
		mustNoErr(t, "DescribeInvocationResults", err)
		if r := out.Invocation.InvocationResults.InvocationResult[0]; r.InvocationStatus == "Success" &&
			!strings.Contains(r.Output, "killed 31337") {
			t.Errorf("scripted output = %q", r.Output)
		}
	}
	if inv, _ := e.srv.State().ECS.Invocation(resp.InvokeId); inv.Results[1].Status != "Success" {
		t.Errorf("app-01 result = %+v, want Success after two reads", inv.Results[1])
	}
}

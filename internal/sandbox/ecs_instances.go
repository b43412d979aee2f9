package sandbox

import (
	"fmt"
	"path"
	"slices"
	"sort"
)

// instance returns the live instance with the given ID.
func (s *Server) instance(id string) (*Instance, error) {
	if id == "" {
		return nil, errMissing("InstanceId")
	}
	inst := findPtr(s.st.ECS.Instances, func(i *Instance) bool { return i.ID == id })
	if inst == nil {
		return nil, errNotFound("InvalidInstanceId.NotFound", fmt.Sprintf("The specified InstanceId %q does not exist.", id))
	}
	return inst, nil
}

// pollInstance counts a read of inst and finishes its Stop or Start.
func (s *Server) pollInstance(inst *Instance, rc *reqCtx) {
	switch inst.Status {
	case "Stopping":
		if s.poll(&inst.Pending, rc.now) {
			inst.Status = "Stopped"
			rc.changed = true
		}
	case "Starting":
		if s.poll(&inst.Pending, rc.now) {
			inst.Status = "Running"
			rc.changed = true
		}
	}
}

func (s *Server) describeInstances(rc *reqCtx) (obj, error) {
	p := rc.p
	filters := map[string][]string{}
	for _, k := range []string{"InstanceIds", "PrivateIpAddresses", "PublicIpAddresses", "EipAddresses", "InnerIpAddresses"} {
		v, err := p.jsonStrings(k)
		if err != nil {
			return nil, err
		}
		if len(v) > 100 {
			return nil, errBadRequest("InvalidParameter."+k, "At most 100 values may be given in "+k+".")
		}
		if p.get(k) != "" {
			filters[k] = v
		}
	}
	tags := p.tags("Tag")
	pg, err := pageOf(p, 10, 100)
	if err != nil {
		return nil, err
	}
	var match []*Instance
	for i := range s.st.ECS.Instances {
		inst := &s.st.ECS.Instances[i]
		primary := inst.PrimaryInterface()
		var privates []string
		for _, n := range inst.NetworkInterfaces {
			privates = append(privates, n.PrimaryIP)
		}
		ok := filterIn(filters, "InstanceIds", inst.ID) &&
			filterAny(filters, "PrivateIpAddresses", privates) &&
			filterIn(filters, "PublicIpAddresses", inst.PublicIP) &&
			filterIn(filters, "EipAddresses", inst.EIP) &&
			filterIn(filters, "InnerIpAddresses", "") &&
			eqOrEmpty(p.get("VpcId"), inst.VpcID) &&
			eqOrEmpty(p.get("VSwitchId"), inst.VSwitchID) &&
			eqOrEmpty(p.get("ZoneId"), inst.ZoneID) &&
			eqOrEmpty(p.get("Status"), inst.Status) &&
			eqOrEmpty(p.get("InstanceType"), inst.InstanceType) &&
			(p.get("SecurityGroupId") == "" || slices.Contains(primary.SecurityGroupIDs, p.get("SecurityGroupId"))) &&
			(p.get("InstanceName") == "" || wildcard(p.get("InstanceName"), inst.Name)) &&
			tagsMatch(tags, inst.Tags)
		if ok {
			match = append(match, inst)
		}
	}
	var items []obj
	for _, inst := range pageSlice(pg, match) {
		s.pollInstance(inst, rc)
		items = append(items, s.instanceJSON(*inst))
	}
	out := pg.meta(len(match))
	out["Instances"] = obj{"Instance": orEmpty(items)}
	return out, nil
}

// instanceJSON renders an instance as DescribeInstances does. Per-interface
// security groups are not in it (DescribeNetworkInterfaces has them); the
// instance's SecurityGroupIds are the primary interface's.
func (s *Server) instanceJSON(inst Instance) obj {
	primary := inst.PrimaryInterface()
	public := []string{}
	if inst.PublicIP != "" {
		public = append(public, inst.PublicIP)
	}
	var enis []obj
	for _, n := range inst.NetworkInterfaces {
		enis = append(enis, obj{
			"NetworkInterfaceId": n.ID,
			"Type":               n.Type,
			"PrimaryIpAddress":   n.PrimaryIP,
			"MacAddress":         n.MAC,
			"PrivateIpSets":      obj{"PrivateIpSet": []obj{{"PrivateIpAddress": n.PrimaryIP, "Primary": true}}},
		})
	}
	eip := obj{"IpAddress": inst.EIP, "AllocationId": "", "Bandwidth": 0, "InternetChargeType": "", "IsSupportUnassociate": false}
	if inst.EIP != "" {
		eip["AllocationId"] = "eip-" + inst.ID
		eip["Bandwidth"] = 5
		eip["InternetChargeType"] = "PayByTraffic"
		eip["IsSupportUnassociate"] = true
	}
	return obj{
		"InstanceId":          inst.ID,
		"InstanceName":        inst.Name,
		"HostName":            inst.Hostname,
		"Description":         inst.Description,
		"Status":              inst.Status,
		"StoppedMode":         inst.StoppedMode,
		"RegionId":            s.st.Region,
		"ZoneId":              inst.ZoneID,
		"InstanceType":        inst.InstanceType,
		"InstanceNetworkType": "vpc",
		"InstanceChargeType":  "PostPaid",
		"InternetChargeType":  "PayByTraffic",
		"OSType":              inst.OSType,
		"OSName":              inst.OSName,
		"Cpu":                 2,
		"Memory":              4096,
		"IoOptimized":         true,
		"CreationTime":        ecsTime(inst.CreationTime),
		"StartTime":           ecsTime(inst.CreationTime),
		"VpcAttributes": obj{
			"VpcId":            inst.VpcID,
			"VSwitchId":        inst.VSwitchID,
			"NatIpAddress":     "",
			"PrivateIpAddress": obj{"IpAddress": []string{primary.PrimaryIP}},
		},
		"PublicIpAddress":   obj{"IpAddress": public},
		"InnerIpAddress":    obj{"IpAddress": []string{}},
		"EipAddress":        eip,
		"SecurityGroupIds":  obj{"SecurityGroupId": orEmpty(primary.SecurityGroupIDs)},
		"NetworkInterfaces": obj{"NetworkInterface": orEmpty(enis)},
		"Tags":              obj{"Tag": tagList(inst.Tags)},
		"OperationLocks":    obj{"LockReason": []obj{}},
	}
}

func (s *Server) stopInstance(rc *reqCtx) (obj, error) {
	inst, err := s.instance(rc.p.get("InstanceId"))
	if err != nil {
		return nil, err
	}
	if inst.Status != "Running" {
		return nil, errIncorrectInstanceStatus(inst)
	}
	if rc.p.boolean("DryRun") {
		return nil, errDryRun()
	}
	inst.StoppedMode = firstNonEmpty(rc.p.get("StoppedMode"), "KeepCharging")
	inst.ForceStopped = rc.p.boolean("ForceStop")
	if inst.Pending = s.startPending(rc.now); inst.Pending == nil {
		inst.Status = "Stopped"
	} else {
		inst.Status = "Stopping"
	}
	rc.changed = true
	return obj{}, nil
}

func (s *Server) startInstance(rc *reqCtx) (obj, error) {
	inst, err := s.instance(rc.p.get("InstanceId"))
	if err != nil {
		return nil, err
	}
	if inst.Status != "Stopped" {
		return nil, errIncorrectInstanceStatus(inst)
	}
	if rc.p.boolean("DryRun") {
		return nil, errDryRun()
	}
	inst.StoppedMode, inst.ForceStopped = "", false
	if inst.Pending = s.startPending(rc.now); inst.Pending == nil {
		inst.Status = "Running"
	} else {
		inst.Status = "Starting"
	}
	rc.changed = true
	return obj{}, nil
}

func errIncorrectInstanceStatus(inst *Instance) error {
	return errForbidden("IncorrectInstanceStatus",
		fmt.Sprintf("The current status of the resource does not support this operation (instance %s is %s).", inst.ID, inst.Status))
}

func errDryRun() error {
	return errBadRequest("DryRunOperation", "Request validation has been passed with DryRun flag set.")
}

func (s *Server) modifyInstanceAttribute(rc *reqCtx) (obj, error) {
	inst, err := s.instance(rc.p.get("InstanceId"))
	if err != nil {
		return nil, err
	}
	if groups := rc.p.repeated("SecurityGroupIds"); len(groups) > 0 {
		groups, err = s.checkGroupSet(inst.VpcID, groups)
		if err != nil {
			return nil, err
		}
		primary := findPtr(inst.NetworkInterfaces, func(n *NetworkInterface) bool { return n.Type == "Primary" })
		if primary == nil {
			return nil, errForbidden("InvalidInstance.NoPrimaryInterface", "The instance has no primary network interface.")
		}
		if !slices.Equal(primary.SecurityGroupIDs, groups) {
			primary.SecurityGroupIDs = groups
			rc.changed = true
		}
	}
	for k, field := range map[string]*string{"InstanceName": &inst.Name, "Description": &inst.Description, "HostName": &inst.Hostname} {
		if v := rc.p.get(k); v != "" && v != *field {
			*field = v
			rc.changed = true
		}
	}
	return obj{}, nil
}

// checkGroupSet validates a replacement security-group set for an
// interface in vpcID and returns it without duplicates.
func (s *Server) checkGroupSet(vpcID string, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > s.opts.GroupsPerInterface {
		return nil, errBadRequest("InstanceSecurityGroupLimitExceeded",
			fmt.Sprintf("A network interface can join at most %d security groups.", s.opts.GroupsPerInterface))
	}
	groupType := ""
	for _, id := range out {
		g, err := s.securityGroup(id)
		if err != nil {
			return nil, err
		}
		if g.VpcID != vpcID {
			return nil, errBadRequest("InvalidSecurityGroup.VpcMismatch",
				fmt.Sprintf("The security group %s is in %s, not in the instance's VPC %s.", id, g.VpcID, vpcID))
		}
		if groupType != "" && g.Type != groupType {
			return nil, errBadRequest("InvalidSecurityGroup.TypeMismatch",
				"Basic (normal) and advanced (enterprise) security groups cannot be mixed.")
		}
		groupType = g.Type
	}
	return out, nil
}

// networkInterface returns the live interface with the given ID and its
// instance.
func (s *Server) networkInterface(id string) (*NetworkInterface, *Instance, error) {
	if id == "" {
		return nil, nil, errMissing("NetworkInterfaceId")
	}
	for i := range s.st.ECS.Instances {
		inst := &s.st.ECS.Instances[i]
		if n := findPtr(inst.NetworkInterfaces, func(n *NetworkInterface) bool { return n.ID == id }); n != nil {
			return n, inst, nil
		}
	}
	return nil, nil, errNotFound("InvalidEniId.NotFound", fmt.Sprintf("The specified NetworkInterfaceId %q does not exist.", id))
}

func (s *Server) describeNetworkInterfaces(rc *reqCtx) (obj, error) {
	p := rc.p
	ids := p.repeated("NetworkInterfaceId")
	ips := p.repeated("PrivateIpAddress")
	pg, err := pageOf(p, 10, 500)
	if err != nil {
		return nil, err
	}
	var items []obj
	for _, inst := range s.st.ECS.Instances {
		for i, n := range inst.NetworkInterfaces {
			ok := (len(ids) == 0 || slices.Contains(ids, n.ID)) &&
				(len(ips) == 0 || slices.Contains(ips, n.PrimaryIP)) &&
				eqOrEmpty(p.get("InstanceId"), inst.ID) &&
				eqOrEmpty(p.get("VpcId"), inst.VpcID) &&
				eqOrEmpty(p.get("VSwitchId"), inst.VSwitchID) &&
				eqOrEmpty(p.get("Type"), n.Type) &&
				eqOrEmpty(p.get("PrimaryIpAddress"), n.PrimaryIP) &&
				eqOrEmpty(p.get("NetworkInterfaceName"), n.Name) &&
				(p.get("Status") == "" || p.get("Status") == "InUse") &&
				(p.get("SecurityGroupId") == "" || slices.Contains(n.SecurityGroupIDs, p.get("SecurityGroupId")))
			if !ok {
				continue
			}
			items = append(items, obj{
				"NetworkInterfaceId":   n.ID,
				"NetworkInterfaceName": n.Name,
				"Status":               "InUse",
				"Type":                 n.Type,
				"VpcId":                inst.VpcID,
				"VSwitchId":            inst.VSwitchID,
				"ZoneId":               inst.ZoneID,
				"InstanceId":           inst.ID,
				"PrivateIpAddress":     n.PrimaryIP,
				"MacAddress":           n.MAC,
				"OwnerId":              s.st.AccountID,
				"CreationTime":         isoTime(inst.CreationTime),
				"SecurityGroupIds":     obj{"SecurityGroupId": orEmpty(n.SecurityGroupIDs)},
				"PrivateIpSets":        obj{"PrivateIpSet": []obj{{"PrivateIpAddress": n.PrimaryIP, "Primary": true}}},
				"Attachment":           obj{"InstanceId": inst.ID, "DeviceIndex": i},
				"Tags":                 obj{"Tag": []obj{}},
			})
		}
	}
	out := pg.meta(len(items))
	out["NetworkInterfaceSets"] = obj{"NetworkInterfaceSet": orEmpty(pageSlice(pg, items))}
	return out, nil
}

func (s *Server) modifyNetworkInterfaceAttribute(rc *reqCtx) (obj, error) {
	n, inst, err := s.networkInterface(rc.p.get("NetworkInterfaceId"))
	if err != nil {
		return nil, err
	}
	if groups := rc.p.repeated("SecurityGroupId"); len(groups) > 0 {
		groups, err = s.checkGroupSet(inst.VpcID, groups)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(n.SecurityGroupIDs, groups) {
			n.SecurityGroupIDs = groups
			rc.changed = true
		}
	}
	if v := rc.p.get("NetworkInterfaceName"); v != "" && v != n.Name {
		n.Name = v
		rc.changed = true
	}
	return obj{}, nil
}

// membershipTarget is the interface Join/LeaveSecurityGroup act on: the
// instance's primary one, or the named one.
func (s *Server) membershipTarget(p params) (*NetworkInterface, *Instance, error) {
	if id := p.get("NetworkInterfaceId"); id != "" {
		return s.networkInterface(id)
	}
	if p.get("InstanceId") == "" {
		return nil, nil, errMissing("InstanceId")
	}
	inst, err := s.instance(p.get("InstanceId"))
	if err != nil {
		return nil, nil, err
	}
	n := findPtr(inst.NetworkInterfaces, func(n *NetworkInterface) bool { return n.Type == "Primary" })
	if n == nil {
		return nil, nil, errForbidden("InvalidInstance.NoPrimaryInterface", "The instance has no primary network interface.")
	}
	return n, inst, nil
}

func (s *Server) joinSecurityGroup(rc *reqCtx) (obj, error) {
	g, err := s.securityGroup(rc.p.get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	n, inst, err := s.membershipTarget(rc.p)
	if err != nil {
		return nil, err
	}
	switch {
	case inst.Status == "Stopping" || inst.Status == "Starting":
		return nil, errIncorrectInstanceStatus(inst)
	case g.VpcID != inst.VpcID:
		return nil, errBadRequest("InvalidInstanceId.Mismatch",
			fmt.Sprintf("The instance %s and the security group %s are not in the same VPC.", inst.ID, g.ID))
	case slices.Contains(n.SecurityGroupIDs, g.ID):
		return nil, errForbidden("InvalidInstanceId.AlreadyExists", "The instance already exists in the specified security group.")
	case len(n.SecurityGroupIDs) >= s.opts.GroupsPerInterface:
		return nil, errBadRequest("InstanceSecurityGroupLimitExceeded",
			fmt.Sprintf("A network interface can join at most %d security groups.", s.opts.GroupsPerInterface))
	}
	if len(n.SecurityGroupIDs) > 0 {
		if first, _ := s.st.ECS.SecurityGroup(n.SecurityGroupIDs[0]); first.Type != g.Type {
			return nil, errBadRequest("InvalidSecurityGroup.TypeMismatch",
				"Basic (normal) and advanced (enterprise) security groups cannot be mixed.")
		}
	}
	n.SecurityGroupIDs = append(n.SecurityGroupIDs, g.ID)
	rc.changed = true
	return obj{}, nil
}

func (s *Server) leaveSecurityGroup(rc *reqCtx) (obj, error) {
	g, err := s.securityGroup(rc.p.get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	n, inst, err := s.membershipTarget(rc.p)
	if err != nil {
		return nil, err
	}
	switch {
	case inst.Status == "Stopping" || inst.Status == "Starting":
		return nil, errIncorrectInstanceStatus(inst)
	case !slices.Contains(n.SecurityGroupIDs, g.ID):
		return nil, errForbidden("InstanceNotInSecurityGroup", "The instance is not in the specified security group.")
	case len(n.SecurityGroupIDs) == 1:
		return nil, errForbidden("InstanceLastSecurityGroup", "The security group is the last one of the instance and cannot be left.")
	}
	n.SecurityGroupIDs = slices.DeleteFunc(n.SecurityGroupIDs, func(id string) bool { return id == g.ID })
	rc.changed = true
	return obj{}, nil
}

// tagsOf returns the tag map of a resource for the tag APIs.
func (s *Server) tagsOf(resourceType, id string) (*map[string]string, error) {
	e := &s.st.ECS
	var tags *map[string]string
	switch resourceType {
	case "instance":
		if x := findPtr(e.Instances, func(v *Instance) bool { return v.ID == id }); x != nil {
			tags = &x.Tags
		}
	case "disk":
		if x := findPtr(e.Disks, func(v *Disk) bool { return v.ID == id }); x != nil {
			tags = &x.Tags
		}
	case "snapshot":
		if x := findPtr(e.Snapshots, func(v *Snapshot) bool { return v.ID == id }); x != nil {
			tags = &x.Tags
		}
	case "securitygroup":
		if x := findPtr(e.SecurityGroups, func(v *SecurityGroup) bool { return v.ID == id }); x != nil {
			tags = &x.Tags
		}
	default:
		return nil, checkTagType(resourceType)
	}
	if tags == nil {
		return nil, errNotFound("InvalidResourceId.NotFound", fmt.Sprintf("The specified resource %q does not exist.", id))
	}
	return tags, nil
}

func (s *Server) tagResources(rc *reqCtx) (obj, error) {
	rt, err := rc.p.required("ResourceType")
	if err != nil {
		return nil, err
	}
	ids := rc.p.repeated("ResourceId")
	if len(ids) == 0 {
		return nil, errMissing("ResourceId.1")
	}
	tags := rc.p.tags("Tag")
	if len(tags) == 0 {
		return nil, errMissing("Tag.1.Key")
	}
	if len(tags) > 20 {
		return nil, errBadRequest("InvalidTagCount", "At most 20 tags may be given.")
	}
	var targets []*map[string]string
	for _, id := range ids {
		t, err := s.tagsOf(rt, id)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if *t == nil {
			*t = map[string]string{}
		}
		for k, v := range tags {
			(*t)[k] = v
		}
	}
	rc.changed = true
	return obj{}, nil
}

func (s *Server) untagResources(rc *reqCtx) (obj, error) {
	rt, err := rc.p.required("ResourceType")
	if err != nil {
		return nil, err
	}
	ids := rc.p.repeated("ResourceId")
	if len(ids) == 0 {
		return nil, errMissing("ResourceId.1")
	}
	keys := rc.p.repeated("TagKey")
	for _, id := range ids {
		t, err := s.tagsOf(rt, id)
		if err != nil {
			return nil, err
		}
		for k := range *t {
			if rc.p.boolean("All") || slices.Contains(keys, k) {
				delete(*t, k)
				rc.changed = true
			}
		}
	}
	return obj{}, nil
}

func (s *Server) listTagResources(rc *reqCtx) (obj, error) {
	rt, err := rc.p.required("ResourceType")
	if err != nil {
		return nil, err
	}
	ids := rc.p.repeated("ResourceId")
	want := rc.p.tags("Tag")
	if len(ids) == 0 {
		if err := checkTagType(rt); err != nil {
			return nil, err
		}
		ids = s.resourceIDs(rt)
	}
	var items []obj
	for _, id := range ids {
		t, err := s.tagsOf(rt, id)
		if err != nil {
			return nil, err
		}
		if !tagsMatch(want, *t) {
			continue
		}
		for _, k := range sortedKeys(*t) {
			items = append(items, obj{"ResourceId": id, "ResourceType": rt, "TagKey": k, "TagValue": (*t)[k]})
		}
	}
	return obj{"NextToken": "", "TagResources": obj{"TagResource": orEmpty(items)}}, nil
}

// checkTagType refuses resource types the tag APIs do not support here.
func checkTagType(resourceType string) error {
	switch resourceType {
	case "instance", "disk", "snapshot", "securitygroup":
		return nil
	}
	return errBadRequest("InvalidResourceType.NotSupported",
		fmt.Sprintf("The resource type %q is not supported by the sandbox (instance, disk, snapshot, securitygroup).", resourceType))
}

// resourceIDs lists the IDs of one taggable resource type.
func (s *Server) resourceIDs(resourceType string) []string {
	var ids []string
	e := s.st.ECS
	switch resourceType {
	case "instance":
		for _, x := range e.Instances {
			ids = append(ids, x.ID)
		}
	case "disk":
		for _, x := range e.Disks {
			ids = append(ids, x.ID)
		}
	case "snapshot":
		for _, x := range e.Snapshots {
			ids = append(ids, x.ID)
		}
	case "securitygroup":
		for _, x := range e.SecurityGroups {
			ids = append(ids, x.ID)
		}
	}
	return ids
}

// filterIn reports whether the JSON-array filter k is absent or lists v.
func filterIn(filters map[string][]string, k, v string) bool {
	want, ok := filters[k]
	return !ok || (v != "" && slices.Contains(want, v))
}

// filterAny reports whether the filter k is absent or lists one of vs.
func filterAny(filters map[string][]string, k string, vs []string) bool {
	want, ok := filters[k]
	if !ok {
		return true
	}
	for _, v := range vs {
		if slices.Contains(want, v) {
			return true
		}
	}
	return false
}

func eqOrEmpty(want, got string) bool { return want == "" || want == got }

// wildcard matches ECS name filters, where * matches any run.
func wildcard(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// tagsMatch reports whether have carries every tag of want (an empty value
// in want matches any value).
func tagsMatch(want, have map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}

// tagList renders tags as ECS does, sorted by key.
func tagList(tags map[string]string) []obj {
	out := []obj{}
	for _, k := range sortedKeys(tags) {
		out = append(out, obj{"TagKey": k, "TagValue": tags[k]})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// orEmpty turns a nil slice into an empty one, so JSON has [] not null.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

package sandbox

import "slices"

// find returns the first element of xs for which match is true.
func find[T any](xs []T, match func(T) bool) (T, bool) {
	for _, x := range xs {
		if match(x) {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// findPtr returns a pointer to the first element of xs for which match is
// true, or nil.
func findPtr[T any](xs []T, match func(*T) bool) *T {
	for i := range xs {
		if match(&xs[i]) {
			return &xs[i]
		}
	}
	return nil
}

// Instance returns the instance with the given ID.
func (e ECSState) Instance(id string) (Instance, bool) {
	return find(e.Instances, func(i Instance) bool { return i.ID == id })
}

// SecurityGroup returns the security group with the given ID.
func (e ECSState) SecurityGroup(id string) (SecurityGroup, bool) {
	return find(e.SecurityGroups, func(g SecurityGroup) bool { return g.ID == id })
}

// SecurityGroupNamed returns the first security group called name in vpcID
// (any VPC when vpcID is empty).
func (e ECSState) SecurityGroupNamed(vpcID, name string) (SecurityGroup, bool) {
	return find(e.SecurityGroups, func(g SecurityGroup) bool {
		return g.Name == name && (vpcID == "" || g.VpcID == vpcID)
	})
}

// Disk returns the disk with the given ID.
func (e ECSState) Disk(id string) (Disk, bool) {
	return find(e.Disks, func(d Disk) bool { return d.ID == id })
}

// DisksOf returns the disks attached to an instance, system disk first.
func (e ECSState) DisksOf(instanceID string) []Disk {
	var out []Disk
	for _, d := range e.Disks {
		if d.InstanceID == instanceID {
			out = append(out, d)
		}
	}
	rank := func(d Disk) int {
		if d.Type == "system" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(out, func(a, b Disk) int { return rank(a) - rank(b) })
	return out
}

// Snapshot returns the snapshot with the given ID.
func (e ECSState) Snapshot(id string) (Snapshot, bool) {
	return find(e.Snapshots, func(s Snapshot) bool { return s.ID == id })
}

// SnapshotsOf returns the snapshots of a disk, oldest first.
func (e ECSState) SnapshotsOf(diskID string) []Snapshot {
	var out []Snapshot
	for _, s := range e.Snapshots {
		if s.DiskID == diskID {
			out = append(out, s)
		}
	}
	return out
}

// Invocation returns the RunCommand invocation with the given InvokeId.
func (e ECSState) Invocation(invokeID string) (Invocation, bool) {
	return find(e.Invocations, func(v Invocation) bool { return v.InvokeID == invokeID })
}

// PrimaryInterface returns the instance's primary network interface (the
// zero value if it has none).
func (i Instance) PrimaryInterface() NetworkInterface {
	for _, n := range i.NetworkInterfaces {
		if n.Type == "Primary" {
			return n
		}
	}
	if len(i.NetworkInterfaces) > 0 {
		return i.NetworkInterfaces[0]
	}
	return NetworkInterface{}
}

// SecurityGroupIDs returns the security groups of the primary interface,
// which is what DescribeInstances reports as the instance's groups.
func (i Instance) SecurityGroupIDs() []string {
	return i.PrimaryInterface().SecurityGroupIDs
}

// PrivateIP returns the primary interface's primary private address.
func (i Instance) PrivateIP() string { return i.PrimaryInterface().PrimaryIP }

// RulesFor returns the group's rules in one direction (ingress or egress).
func (g SecurityGroup) RulesFor(direction string) []Rule {
	var out []Rule
	for _, r := range g.Rules {
		if r.Direction == direction {
			out = append(out, r)
		}
	}
	return out
}

// Template returns the template with the given ID.
func (w WAFState) Template(id int64) (WAFTemplate, bool) {
	return find(w.Templates, func(t WAFTemplate) bool { return t.ID == id })
}

// Rule returns the rule with the given ID.
func (w WAFState) Rule(id int64) (WAFRule, bool) {
	return find(w.Rules, func(r WAFRule) bool { return r.ID == id })
}

// RulesWithAddress returns the rules whose RemoteAddr lists addr.
func (w WAFState) RulesWithAddress(addr string) []WAFRule {
	var out []WAFRule
	for _, r := range w.Rules {
		if slices.Contains(r.RemoteAddr, addr) {
			out = append(out, r)
		}
	}
	return out
}

// AddressBookNamed returns the address book called name.
func (c CloudFWState) AddressBookNamed(name string) (AddressBook, bool) {
	return find(c.AddressBooks, func(b AddressBook) bool { return b.Name == name })
}

// PoliciesFor returns the policies of one direction (in or out) by order.
func (c CloudFWState) PoliciesFor(direction string) []ControlPolicy {
	var out []ControlPolicy
	for _, p := range c.Policies {
		if p.Direction == direction {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b ControlPolicy) int { return a.Order - b.Order })
	return out
}

// User returns the RAM user called name.
func (r RAMState) User(name string) (RAMUser, bool) {
	return find(r.Users, func(u RAMUser) bool { return u.Name == name })
}

// AccessKey returns the access key with the given ID and its owner's name.
func (r RAMState) AccessKey(id string) (AccessKey, string, bool) {
	for _, u := range r.Users {
		for _, k := range u.AccessKeys {
			if k.ID == id {
				return k, u.Name, true
			}
		}
	}
	return AccessKey{}, "", false
}

// Event returns the event with the given ID.
func (s SASState) Event(id int64) (SASEvent, bool) {
	return find(s.Events, func(e SASEvent) bool { return e.ID == id })
}

// Task returns the handling task with the given ID.
func (s SASState) Task(id int64) (SASTask, bool) {
	return find(s.Tasks, func(t SASTask) bool { return t.ID == id })
}

// Domain returns the protected website called name.
func (d DDoSState) Domain(name string) (DDoSDomain, bool) {
	return find(d.Domains, func(x DDoSDomain) bool { return x.Domain == name })
}

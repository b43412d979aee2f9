package alicloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/activities"
)

const (
	// quarantineGroupName is the group isolate_instance creates per VPC
	// when soar.yaml names none.
	quarantineGroupName = "soar-quarantine"
	// isolatedTagPrefix + ENI ID is the instance tag recording that
	// interface's groups before isolation ("sg-a,sg-b"), so that a repeated
	// isolation still reports (and restore still finds) the original sets.
	isolatedTagPrefix = "soar:isolated:"
	// quarantineTag records the quarantine group on the isolated instance.
	quarantineTag = "soar:quarantine"
	// tagValueMax is the longest ECS tag value.
	tagValueMax = 128
	// serviceCIDR is Alibaba Cloud's internal service network. The Cloud
	// Assistant agent on an instance reads the metadata server
	// (100.100.100.200, HTTP) and polls its service (<region>.axt.aliyun.com,
	// HTTPS) there: the quarantine group lets that through so that a
	// run_command after isolation (kill, quarantine, forensics) still runs.
	// That also leaves the host the instance RAM role's credentials and
	// the cloud APIs (see serviceEgresses).
	serviceCIDR = "100.100.0.0/16"
)

// serviceEgress is an outbound path the quarantine group keeps open.
type serviceEgress struct {
	protocol, ports, cidr, why string
}

// String is how the plan names the path ("TCP 80/80 to 100.100.0.0/16").
func (e serviceEgress) String() string { return e.protocol + " " + e.ports + " to " + e.cidr }

// serviceEgresses are what the Cloud Assistant agent of an isolated
// instance needs: HTTP and HTTPS to serviceCIDR (the metadata server, its
// service), and DNS to the VPC's resolvers (100.100.2.136 and .138) to find
// its service's name.
//
// They open more than Cloud Assistant. serviceCIDR also holds the
// metadata service, which hands out the temporary credentials of the
// instance's RAM role, and typically the VPC endpoints of Alibaba Cloud's
// APIs: an attacker on an isolated host whose instance has a RAM role can
// still take the role's credentials and call cloud APIs with them. The
// resolvers recurse, so a DNS tunnel stays possible too. A team that
// cannot accept that gives exposed hosts no instance RAM role, or names
// its own quarantine group (quarantine_group_id) without these rules and
// gives up run_command after isolation.
func serviceEgresses() []serviceEgress {
	const cloud = "soar: Cloud Assistant and metadata (Alibaba Cloud internal services)"
	const dns = "soar: DNS to the VPC resolver, for the Cloud Assistant agent"
	return []serviceEgress{
		{"TCP", "80/80", serviceCIDR, cloud},
		{"TCP", "443/443", serviceCIDR, cloud},
		{"UDP", "53/53", "100.100.2.136/32", dns},
		{"UDP", "53/53", "100.100.2.138/32", dns},
		{"TCP", "53/53", "100.100.2.136/32", dns},
		{"TCP", "53/53", "100.100.2.138/32", dns},
	}
}

// isolationDetails is what isolate_instance heartbeats before it changes
// anything, so that a retried attempt knows the original groups even if
// the first attempt swapped them and died.
type isolationDetails struct {
	InstanceID string                       `json:"instance_id"`
	Quarantine string                       `json:"quarantine"`
	Original   []activities.InterfaceGroups `json:"original"`
}

// interfaces reads the security groups of every network interface of an
// instance, primary first.
func (s *session) interfaces(c *ecs.Client, instanceID string) ([]activities.InterfaceGroups, error) {
	var out []activities.InterfaceGroups
	token := ""
	for page := 0; page < 20; page++ {
		req := ecs.CreateDescribeNetworkInterfacesRequest()
		req.InstanceId = instanceID
		req.MaxResults = requests.NewInteger(100)
		req.NextToken = token
		resp, err := c.DescribeNetworkInterfaces(req)
		if err != nil {
			return nil, classify("ecs.DescribeNetworkInterfaces "+instanceID, err)
		}
		for _, n := range resp.NetworkInterfaceSets.NetworkInterfaceSet {
			if n.InstanceId != "" && n.InstanceId != instanceID {
				continue
			}
			out = append(out, activities.InterfaceGroups{
				NetworkInterfaceID: n.NetworkInterfaceId,
				Primary:            strings.EqualFold(n.Type, "Primary"),
				SecurityGroupIDs:   slices.Clone(n.SecurityGroupIds.SecurityGroupId),
			})
		}
		if resp.NextToken == "" {
			break
		}
		token = resp.NextToken
	}
	slices.SortStableFunc(out, func(a, b activities.InterfaceGroups) int {
		switch {
		case a.Primary == b.Primary:
			return 0
		case a.Primary:
			return -1
		}
		return 1
	})
	if len(out) == 0 {
		return nil, notFound("ecs instance %s has no network interfaces", instanceID)
	}
	return out, nil
}

// groupInfo is a security group as DescribeSecurityGroups shows it.
type groupInfo struct {
	ID    string
	Name  string
	VpcID string
}

// describeGroup reads one group by ID; a missing one is CloudNotFound.
func (s *session) describeGroup(c *ecs.Client, id string) (groupInfo, error) {
	req := ecs.CreateDescribeSecurityGroupsRequest()
	req.SecurityGroupIds = jsonList(id)
	resp, err := c.DescribeSecurityGroups(req)
	if err != nil {
		return groupInfo{}, classify("ecs.DescribeSecurityGroups "+id, err)
	}
	for _, g := range resp.SecurityGroups.SecurityGroup {
		if g.SecurityGroupId == id {
			return groupInfo{ID: id, Name: g.SecurityGroupName, VpcID: g.VpcId}, nil
		}
	}
	return groupInfo{}, notFound("security group %s does not exist in %s", id, s.region)
}

// findQuarantineGroup looks for soar's own quarantine group in a VPC: the
// one named soar-quarantine that carries the soar:quarantine tag
// (createQuarantineGroup sets both in the one CreateSecurityGroup call). A
// group of that name without the tag is not soar's and is not used.
func (s *session) findQuarantineGroup(c *ecs.Client, vpcID string) (string, error) {
	req := ecs.CreateDescribeSecurityGroupsRequest()
	req.VpcId = vpcID
	req.SecurityGroupName = quarantineGroupName
	resp, err := c.DescribeSecurityGroups(req)
	if err != nil {
		return "", classify("ecs.DescribeSecurityGroups "+quarantineGroupName, err)
	}
	for _, g := range resp.SecurityGroups.SecurityGroup {
		if g.SecurityGroupName != quarantineGroupName || g.VpcId != vpcID {
			continue
		}
		if slices.ContainsFunc(g.Tags.Tag, func(t ecs.Tag) bool { return t.TagKey == quarantineTag || t.Key == quarantineTag }) {
			return g.SecurityGroupId, nil
		}
		s.log.Warn("a group named like soar's quarantine group lacks its tag: not used", "security_group_id", g.SecurityGroupId, "tag", quarantineTag)
	}
	return "", nil
}

// createQuarantineGroup creates soar-quarantine, with the soar:quarantine
// tag, in a VPC; completeQuarantineGroup then gives it its rules. The
// ClientToken depends only on the VPC, so concurrent or repeated
// isolations create one group.
func (s *session) createQuarantineGroup(c *ecs.Client, vpcID string) (string, error) {
	req := ecs.CreateCreateSecurityGroupRequest()
	req.VpcId = vpcID
	req.SecurityGroupName = quarantineGroupName
	req.Description = "isolation group for compromised hosts (managed by soar)"
	req.SecurityGroupType = "normal"
	req.Tag = &[]ecs.CreateSecurityGroupTag{{Key: quarantineTag, Value: "true"}}
	req.ClientToken = clientToken("", activities.Meta{}, "ecs.quarantine.create", vpcID)
	resp, err := c.CreateSecurityGroup(req)
	if err != nil {
		return "", classify("ecs.CreateSecurityGroup "+quarantineGroupName, err)
	}
	s.log.Info("quarantine group created", "vpc_id", vpcID, "security_group_id", resp.SecurityGroupId)
	return resp.SecurityGroupId, nil
}

// quarantineGaps is what soar's quarantine group lacks of its setup: no
// inbound but SSH from the forensics network (if configured), no outbound
// but serviceEgresses (a drop-all rule below their accept rules), no
// traffic between members (InnerAccessPolicy Drop). A normal group
// without egress rules lets everything out, so a group missing any of
// these must not take an instance.
type quarantineGaps struct {
	denyAll   bool
	denyAll6  bool
	services  []serviceEgress
	inner     bool
	forensics string
}

func (g quarantineGaps) complete() bool {
	return !g.denyAll && !g.denyAll6 && len(g.services) == 0 && !g.inner && g.forensics == ""
}

// String lists the missing pieces for the plan.
func (g quarantineGaps) String() string {
	var parts []string
	if g.denyAll {
		parts = append(parts, "the drop-all outbound rule")
	}
	if g.denyAll6 {
		parts = append(parts, "the drop-all outbound IPv6 rule")
	}
	for _, e := range g.services {
		parts = append(parts, "accept outbound "+e.String())
	}
	if g.inner {
		parts = append(parts, "InnerAccessPolicy Drop")
	}
	if g.forensics != "" {
		parts = append(parts, "accept inbound TCP 22 from "+g.forensics)
	}
	return strings.Join(parts, ", ")
}

// quarantineGaps reads what soar's quarantine group lacks.
func (s *session) quarantineGaps(c *ecs.Client, group string) (quarantineGaps, error) {
	var gaps quarantineGaps
	attr := ecs.CreateDescribeSecurityGroupAttributeRequest()
	attr.SecurityGroupId = group
	attr.Direction = "egress"
	resp, err := c.DescribeSecurityGroupAttribute(attr)
	if err != nil {
		return gaps, classify("ecs.DescribeSecurityGroupAttribute "+group, err)
	}
	gaps.inner = !strings.EqualFold(resp.InnerAccessPolicy, "Drop")
	out, err := s.listRules(c, ruleSpec{group: group, direction: "out"})
	if err != nil {
		return gaps, err
	}
	gaps.denyAll = !dropsAllOutbound(out, false)
	gaps.denyAll6 = !dropsAllOutbound(out, true)
	gaps.services = missingServiceEgress(out)
	if cidr := s.acct.ForensicsCIDR; cidr != "" {
		in, err := s.listRules(c, ruleSpec{group: group, direction: "in"})
		if err != nil {
			return gaps, err
		}
		if !slices.ContainsFunc(in, func(r sgRule) bool {
			return strings.EqualFold(r.Policy, "accept") && (strings.EqualFold(r.Protocol, "tcp") || strings.EqualFold(r.Protocol, "all")) &&
				portsCover(r.PortRange, "22/22") && cidrCovers(r.CIDR, cidr)
		}) {
			gaps.forensics = cidr
		}
	}
	return gaps, nil
}

// dropsAllOutbound reports whether rules (an egress listing) hold a drop
// rule for all protocols and ports to 0.0.0.0/0, or to ::/0 with v6.
func dropsAllOutbound(rules []sgRule, v6 bool) bool {
	return slices.ContainsFunc(rules, func(r sgRule) bool {
		if !strings.EqualFold(r.Policy, "drop") || !strings.EqualFold(r.Protocol, "all") || !portsCover(r.PortRange, "-1/-1") {
			return false
		}
		if v6 {
			return cidrCovers(r.CIDR6, "::/0")
		}
		return cidrCovers(r.CIDR, "0.0.0.0/0")
	})
}

// completeQuarantineGroup adds what soar's quarantine group lacks (see
// quarantineGaps) and reads it back: an attempt that created the group
// and died half-way (a throttled rule, a timeout) leaves a group that
// would let an isolated instance talk to anything, and the retry finds
// that group by name. The rule writes carry no ClientToken: a rule is
// idempotent by content (a duplicate is refused and ignored), while a
// ClientToken's remembered answer would report "done" for a rule removed
// since.
func (s *session) completeQuarantineGroup(c *ecs.Client, group string, gaps quarantineGaps) error {
	if gaps.complete() {
		return nil
	}
	if gaps.denyAll {
		req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
		req.SecurityGroupId = group
		req.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{{
			Policy: "drop", Priority: "100", IpProtocol: "ALL", PortRange: "-1/-1", DestCidrIp: "0.0.0.0/0",
			NicType: "intranet", Description: "soar: deny all outbound"}}
		if _, err := c.AuthorizeSecurityGroupEgress(req); err != nil && !alreadyExists(err) {
			return classify("ecs.AuthorizeSecurityGroupEgress "+group, err)
		}
	}
	if gaps.denyAll6 {
		req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
		req.SecurityGroupId = group
		req.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{{
			Policy: "drop", Priority: "100", IpProtocol: "ALL", PortRange: "-1/-1", Ipv6DestCidrIp: "::/0",
			NicType: "intranet", Description: "soar: deny all outbound IPv6"}}
		if _, err := c.AuthorizeSecurityGroupEgress(req); err != nil && !alreadyExists(err) {
			return classify("ecs.AuthorizeSecurityGroupEgress "+group, err)
		}
	}
	if gaps.inner {
		req := ecs.CreateModifySecurityGroupPolicyRequest()
		req.SecurityGroupId = group
		req.InnerAccessPolicy = "Drop"
		if _, err := c.ModifySecurityGroupPolicy(req); err != nil {
			return classify("ecs.ModifySecurityGroupPolicy "+group, err)
		}
	}
	if len(gaps.services) > 0 {
		if err := s.authorizeServiceEgress(c, group, gaps.services); err != nil {
			return err
		}
	}
	if cidr := gaps.forensics; cidr != "" {
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.SecurityGroupId = group
		req.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{
			Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: cidr,
			NicType: "intranet", Description: "soar: forensics access"}}
		if _, err := c.AuthorizeSecurityGroup(req); err != nil && !alreadyExists(err) {
			return classify("ecs.AuthorizeSecurityGroup "+group, err)
		}
	}
	after, err := s.quarantineGaps(c, group)
	if err != nil {
		return err
	}
	if !after.complete() {
		return fmt.Errorf("quarantine group %s still lacks %s after its completion", group, after)
	}
	s.log.Info("quarantine group completed", "security_group_id", group, "added", gaps.String())
	return nil
}

// authorizeServiceEgress adds accept rules (priority 1, above the drop
// all) for the given serviceEgresses.
func (s *session) authorizeServiceEgress(c *ecs.Client, group string, missing []serviceEgress) error {
	perms := make([]ecs.AuthorizeSecurityGroupEgressPermissions, 0, len(missing))
	for _, e := range missing {
		perms = append(perms, ecs.AuthorizeSecurityGroupEgressPermissions{
			Policy: "accept", Priority: "1", IpProtocol: e.protocol, PortRange: e.ports, DestCidrIp: e.cidr,
			NicType: "intranet", Description: e.why})
	}
	req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	req.SecurityGroupId = group
	req.Permissions = &perms
	if _, err := c.AuthorizeSecurityGroupEgress(req); err != nil && !alreadyExists(err) {
		return classify("ecs.AuthorizeSecurityGroupEgress "+group, err)
	}
	return nil
}

// missingServiceEgress returns the serviceEgresses that a group's egress
// rules do not accept.
func missingServiceEgress(rules []sgRule) []serviceEgress {
	var missing []serviceEgress
	for _, e := range serviceEgresses() {
		if !slices.ContainsFunc(rules, func(r sgRule) bool {
			return strings.EqualFold(r.Policy, "accept") && (strings.EqualFold(r.Protocol, e.protocol) || strings.EqualFold(r.Protocol, "all")) &&
				portsCover(r.PortRange, e.ports) && cidrCovers(r.CIDR, e.cidr)
		}) {
			missing = append(missing, e)
		}
	}
	return missing
}

// portsCover reports whether the port range have ("a/b", -1/-1 for all)
// includes want.
func portsCover(have, want string) bool {
	if have == "-1/-1" {
		return true
	}
	hlo, hhi, ok1 := strings.Cut(have, "/")
	wlo, whi, ok2 := strings.Cut(want, "/")
	a, err1 := strconv.Atoi(hlo)
	b, err2 := strconv.Atoi(hhi)
	x, err3 := strconv.Atoi(wlo)
	y, err4 := strconv.Atoi(whi)
	return ok1 && ok2 && err1 == nil && err2 == nil && err3 == nil && err4 == nil && a <= x && y <= b
}

// cidrCovers reports whether the CIDR have contains the whole of want.
func cidrCovers(have, want string) bool {
	h, err1 := netip.ParsePrefix(have)
	w, err2 := netip.ParsePrefix(want)
	return err1 == nil && err2 == nil && h.Bits() <= w.Bits() && h.Contains(w.Addr())
}

// isolatedRecord reads the original groups soar recorded in the
// instance's tags, by interface.
func isolatedRecord(tags map[string]string) map[string][]string {
	rec := map[string][]string{}
	for k, v := range tags {
		if eni, ok := strings.CutPrefix(k, isolatedTagPrefix); ok && v != "" {
			rec[eni] = strings.Split(v, ",")
		}
	}
	return rec
}

func isolated(groups []string, quarantine string) bool {
	return len(groups) == 1 && groups[0] == quarantine
}

// ECSIsolateInstance replaces the security groups of every network
// interface of an instance with the quarantine group, after recording the
// original sets (heartbeat details and instance tags). Protected instances
// need an approved step. An instance already isolated is success with
// changed false and the recorded original sets. soar's own quarantine
// group (found in the VPC, or created) has its setup completed before an
// interface moves in (see completeQuarantineGroup); a group the operator
// names (quarantine_group_id) is used as it is.
func (a *Activities) ECSIsolateInstance(ctx context.Context, in activities.ECSIsolateInstanceInput) (activities.ECSIsolateInstanceOutput, error) {
	out := activities.ECSIsolateInstanceOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	s, c, inst, err := a.guardedInstance(ctx, in.Meta, in.Cloud, in.InstanceID)
	if err != nil {
		return out, err
	}
	current, err := s.interfaces(c, inst.ID)
	if err != nil {
		return out, err
	}
	var plan []string
	qg := in.QuarantineGroupID
	if qg == "" {
		qg = s.acct.QuarantineGroupID
	}
	// own: the group is soar's own (found, not configured), so soar
	// completes its setup; a configured group is used as it is.
	own := false
	if qg == "" {
		if qg, err = s.findQuarantineGroup(c, inst.VpcID); err != nil {
			return out, err
		}
		own = qg != ""
	}
	var gaps quarantineGaps
	if qg != "" {
		if err := checkID("quarantine_group_id", qg); err != nil {
			return out, err
		}
		g, err := s.describeGroup(c, qg)
		if err != nil {
			return out, err
		}
		if g.VpcID != inst.VpcID {
			return out, invalidInput("quarantine group %s is in %s, instance %s in %s", qg, g.VpcID, inst.ID, inst.VpcID)
		}
		if own {
			if gaps, err = s.quarantineGaps(c, qg); err != nil {
				return out, err
			}
			if !gaps.complete() {
				plan = append(plan, planf("complete soar's quarantine group %s, which lacks %s", qg, gaps))
			}
		} else {
			// A group the operator named is not changed, but a missing
			// way out for the Cloud Assistant agent is said in the plan.
			rules, err := s.listRules(c, ruleSpec{group: qg, direction: "out"})
			if err != nil {
				return out, err
			}
			if missing := missingServiceEgress(rules); len(missing) > 0 {
				paths := make([]string, len(missing))
				for i, e := range missing {
					paths[i] = e.String()
				}
				plan = append(plan, planf("warning: the quarantine group %s does not accept outbound %s: the Cloud Assistant agent cannot reach its service, so run_command on %s will fail while it is isolated",
					qg, strings.Join(paths, ", "), inst.ID))
				s.log.Warn("quarantine group blocks Cloud Assistant", "security_group_id", qg, "instance_id", inst.ID)
			}
			if !dropsAllOutbound(rules, true) {
				plan = append(plan, planf("warning: the quarantine group %s has no drop rule for outbound IPv6 (::/0): if %s has an IPv6 address it can still reach anything over IPv6",
					qg, inst.ID))
				s.log.Warn("quarantine group lets IPv6 out", "security_group_id", qg, "instance_id", inst.ID)
			}
		}
	}

	// The original sets: an earlier attempt's record, else the tags of an
	// earlier isolation, else the current sets.
	var prev isolationDetails
	havePrev := previousDetails(ctx, &prev) && prev.InstanceID == inst.ID && len(prev.Original) > 0
	record := isolatedRecord(inst.Tags)
	original := make([]activities.InterfaceGroups, 0, len(current))
	unknown := false
	for _, n := range current {
		o := activities.InterfaceGroups{NetworkInterfaceID: n.NetworkInterfaceID, Primary: n.Primary, SecurityGroupIDs: n.SecurityGroupIDs}
		if i := slices.IndexFunc(prev.Original, func(p activities.InterfaceGroups) bool { return p.NetworkInterfaceID == n.NetworkInterfaceID }); havePrev && i >= 0 {
			o.SecurityGroupIDs = prev.Original[i].SecurityGroupIDs
		} else if groups, ok := record[n.NetworkInterfaceID]; ok {
			o.SecurityGroupIDs = groups
		} else if qg != "" && isolated(n.SecurityGroupIDs, qg) {
			unknown = true
		}
		original = append(original, o)
	}
	out.OriginalGroups = original

	pending := slices.ContainsFunc(current, func(n activities.InterfaceGroups) bool { return qg == "" || !isolated(n.SecurityGroupIDs, qg) })
	if !pending {
		out.QuarantineGroupID = qg
		plan = append(plan, planf("instance %s is already isolated in %s", inst.ID, qg))
		if unknown {
			plan = append(plan, "the groups before that isolation were not recorded by soar: original_groups shows the quarantine group")
		}
		if !in.Meta.DryRun {
			// An instance left in a half-built group of soar's (by an
			// older soar) is sealed off now.
			if err := s.completeQuarantineGroup(c, qg, gaps); err != nil {
				return out, err
			}
			// A retried attempt whose predecessor did the swap still
			// reports the change, and completes its record.
			if havePrev {
				s.recordIsolation(c, inst, qg, original, record)
			}
		}
		out.Outcome = outcome(in.Meta, havePrev, plan)
		return out, nil
	}
	if qg == "" {
		plan = append(plan, planf("create the quarantine group %s in %s (deny all but SSH from %q)", quarantineGroupName, inst.VpcID, s.acct.ForensicsCIDR))
	}
	for _, n := range current {
		if qg == "" || !isolated(n.SecurityGroupIDs, qg) {
			plan = append(plan, planf("replace the groups [%s] of %s (%s) with the quarantine group", strings.Join(n.SecurityGroupIDs, ", "), n.NetworkInterfaceID, ifaceKind(n)))
		}
	}
	if in.Meta.DryRun {
		out.QuarantineGroupID = qg
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	if qg == "" {
		if qg, err = s.createQuarantineGroup(c, inst.VpcID); err != nil {
			return out, err
		}
		own = true
		if gaps, err = s.quarantineGaps(c, qg); err != nil {
			return out, err
		}
	}
	// Before any interface moves: the group of an attempt that died
	// between creating it and setting it up is completed here.
	if own {
		if err := s.completeQuarantineGroup(c, qg, gaps); err != nil {
			return out, err
		}
	}
	out.QuarantineGroupID = qg
	heartbeat(ctx, isolationDetails{InstanceID: inst.ID, Quarantine: qg, Original: original})
	s.recordIsolation(c, inst, qg, original, record)

	for _, n := range current {
		if isolated(n.SecurityGroupIDs, qg) {
			continue
		}
		if err := s.setGroups(c, inst.ID, n, []string{qg}); err != nil {
			return out, err
		}
	}
	after, err := s.interfaces(c, inst.ID)
	if err != nil {
		return out, err
	}
	for _, n := range after {
		if !isolated(n.SecurityGroupIDs, qg) {
			return out, fmt.Errorf("isolate %s: interface %s is still in [%s]", inst.ID, n.NetworkInterfaceID, strings.Join(n.SecurityGroupIDs, ", "))
		}
	}
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("instance isolated", "instance_id", inst.ID, "quarantine_group_id", qg)
	return out, nil
}

func ifaceKind(n activities.InterfaceGroups) string {
	if n.Primary {
		return "primary"
	}
	return "secondary"
}

// recordIsolation tags the instance with the original sets and the
// quarantine group. It is best effort: isolation must not wait for a tag
// quota, and the heartbeat already covers retries.
func (s *session) recordIsolation(c *ecs.Client, inst instanceInfo, qg string, original []activities.InterfaceGroups, record map[string][]string) {
	var tags []ecs.TagResourcesTag
	if inst.Tags[quarantineTag] != qg {
		tags = append(tags, ecs.TagResourcesTag{Key: quarantineTag, Value: qg})
	}
	for _, o := range original {
		v := strings.Join(o.SecurityGroupIDs, ",")
		if _, ok := record[o.NetworkInterfaceID]; ok || isolated(o.SecurityGroupIDs, qg) {
			continue
		}
		if len(v) > tagValueMax {
			s.log.Warn("original groups too long for a tag", "instance_id", inst.ID, "network_interface_id", o.NetworkInterfaceID)
			continue
		}
		tags = append(tags, ecs.TagResourcesTag{Key: isolatedTagPrefix + o.NetworkInterfaceID, Value: v})
	}
	if len(tags) == 0 {
		return
	}
	req := ecs.CreateTagResourcesRequest()
	req.ResourceType = "instance"
	req.ResourceId = &[]string{inst.ID}
	req.Tag = &tags
	if _, err := c.TagResources(req); err != nil {
		s.log.Warn("record isolation in instance tags", "instance_id", inst.ID, "error", classify("ecs.TagResources", err))
	}
}

// setGroups replaces one interface's security groups.
func (s *session) setGroups(c *ecs.Client, instanceID string, n activities.InterfaceGroups, groups []string) error {
	groups = slices.Clone(groups)
	if n.Primary {
		req := ecs.CreateModifyInstanceAttributeRequest()
		req.InstanceId = instanceID
		req.SecurityGroupIds = &groups
		if _, err := c.ModifyInstanceAttribute(req); err != nil {
			return classify("ecs.ModifyInstanceAttribute "+instanceID, err)
		}
		return nil
	}
	req := ecs.CreateModifyNetworkInterfaceAttributeRequest()
	req.NetworkInterfaceId = n.NetworkInterfaceID
	req.SecurityGroupId = &groups
	if _, err := c.ModifyNetworkInterfaceAttribute(req); err != nil {
		return classify("ecs.ModifyNetworkInterfaceAttribute "+n.NetworkInterfaceID, err)
	}
	return nil
}

// ECSRestoreInstance puts back the security groups an isolation replaced:
// original_groups from the isolate output, else the record soar left in
// the instance's tags. Only an instance carrying soar's isolation record is
// changed, and only its interfaces still in the recorded quarantine group
// (those changed by someone else since are left alone); a
// quarantine_group_id other than the recorded one is refused, and
// original_groups other than the recorded ones pass the instance guard
// (a protected instance needs the step approved).
func (a *Activities) ECSRestoreInstance(ctx context.Context, in activities.ECSRestoreInstanceInput) (activities.ECSRestoreInstanceOutput, error) {
	out := activities.ECSRestoreInstanceOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	for _, o := range in.OriginalGroups {
		if o.NetworkInterfaceID == "" || len(o.SecurityGroupIDs) == 0 {
			return out, invalidInput("original_groups: every entry needs network_interface_id and security_group_ids")
		}
	}
	s, c, inst, err := a.ecsInstance(ctx, in.Cloud, in.InstanceID)
	if err != nil {
		return out, err
	}
	current, err := s.interfaces(c, inst.ID)
	if err != nil {
		return out, err
	}
	// Only an isolation soar recorded is undone: the quarantine group is
	// the one in the instance's tags, and groups other than the recorded
	// ones need the instance guard, as isolating it did. Otherwise any
	// step could put any group on any instance.
	qg := inst.Tags[quarantineTag]
	record := isolatedRecord(inst.Tags)
	if in.QuarantineGroupID != "" && qg != "" && in.QuarantineGroupID != qg {
		return out, invalidInput("quarantine_group_id %s: instance %s was isolated in %s", in.QuarantineGroupID, inst.ID, qg)
	}
	original := in.OriginalGroups
	if qg == "" {
		// No record (never isolated by soar, or restored already): nothing
		// is changed, and original_groups the instance already has are
		// reported as restored.
		if len(original) == 0 {
			return out, invalidInput("instance %s carries no isolation record of soar: nothing to restore", inst.ID)
		}
		for _, o := range original {
			i := slices.IndexFunc(current, func(n activities.InterfaceGroups) bool { return n.NetworkInterfaceID == o.NetworkInterfaceID })
			if i >= 0 && !slices.Equal(current[i].SecurityGroupIDs, o.SecurityGroupIDs) {
				return out, invalidInput("instance %s carries no isolation record of soar: interface %s is in [%s], not restored to [%s]",
					inst.ID, o.NetworkInterfaceID, strings.Join(current[i].SecurityGroupIDs, ", "), strings.Join(o.SecurityGroupIDs, ", "))
			}
			if i >= 0 {
				o.Primary = current[i].Primary
				out.RestoredGroups = append(out.RestoredGroups, o)
			}
		}
		out.Outcome = outcome(in.Meta, false, []string{planf("instance %s carries no isolation record of soar and already has the given groups", inst.ID)})
		return out, nil
	}
	if len(original) == 0 {
		for _, n := range current {
			if groups, ok := record[n.NetworkInterfaceID]; ok {
				original = append(original, activities.InterfaceGroups{NetworkInterfaceID: n.NetworkInterfaceID, Primary: n.Primary, SecurityGroupIDs: groups})
			}
		}
	} else if slices.ContainsFunc(original, func(o activities.InterfaceGroups) bool {
		groups, ok := record[o.NetworkInterfaceID]
		return !ok || !slices.Equal(groups, o.SecurityGroupIDs)
	}) {
		if err := a.checkProtected(in.Meta, inst); err != nil {
			return out, err
		}
	}
	type change struct {
		iface  activities.InterfaceGroups
		groups []string
	}
	var changes []change
	var plan []string
	for _, o := range original {
		i := slices.IndexFunc(current, func(n activities.InterfaceGroups) bool { return n.NetworkInterfaceID == o.NetworkInterfaceID })
		switch {
		case i < 0:
			plan = append(plan, planf("interface %s is no longer attached to %s: skipped", o.NetworkInterfaceID, inst.ID))
		case slices.Equal(current[i].SecurityGroupIDs, o.SecurityGroupIDs):
			out.RestoredGroups = append(out.RestoredGroups, o)
		case !slices.Contains(current[i].SecurityGroupIDs, qg):
			plan = append(plan, planf("interface %s is in [%s], no longer in the quarantine group %s: left alone",
				o.NetworkInterfaceID, strings.Join(current[i].SecurityGroupIDs, ", "), qg))
		default:
			n := current[i]
			changes = append(changes, change{iface: n, groups: o.SecurityGroupIDs})
			plan = append(plan, planf("put %s (%s) back into [%s]", n.NetworkInterfaceID, ifaceKind(n), strings.Join(o.SecurityGroupIDs, ", ")))
			o.Primary = n.Primary
			out.RestoredGroups = append(out.RestoredGroups, o)
		}
	}
	var untag []string
	for k := range inst.Tags {
		if strings.HasPrefix(k, isolatedTagPrefix) || k == quarantineTag {
			untag = append(untag, k)
		}
	}
	slices.Sort(untag)
	if len(untag) > 0 {
		plan = append(plan, planf("remove soar's isolation record from the tags of %s", inst.ID))
	}
	if len(changes) == 0 && len(untag) == 0 {
		if len(plan) == 0 {
			plan = append(plan, planf("instance %s already has its original groups", inst.ID))
		}
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	for _, ch := range changes {
		if err := s.setGroups(c, inst.ID, ch.iface, ch.groups); err != nil {
			return out, err
		}
	}
	after, err := s.interfaces(c, inst.ID)
	if err != nil {
		return out, err
	}
	for _, ch := range changes {
		i := slices.IndexFunc(after, func(n activities.InterfaceGroups) bool { return n.NetworkInterfaceID == ch.iface.NetworkInterfaceID })
		if i >= 0 && !slices.Equal(after[i].SecurityGroupIDs, ch.groups) {
			return out, fmt.Errorf("restore %s: interface %s is in [%s], want [%s]", inst.ID, ch.iface.NetworkInterfaceID,
				strings.Join(after[i].SecurityGroupIDs, ", "), strings.Join(ch.groups, ", "))
		}
	}
	if len(untag) > 0 {
		req := ecs.CreateUntagResourcesRequest()
		req.ResourceType = "instance"
		req.ResourceId = &[]string{inst.ID}
		req.TagKey = &untag
		if _, err := c.UntagResources(req); err != nil {
			return out, classify("ecs.UntagResources "+inst.ID, err)
		}
	}
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("instance restored", "instance_id", inst.ID)
	return out, nil
}

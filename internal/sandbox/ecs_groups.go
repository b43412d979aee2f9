package sandbox

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// securityGroup returns the live security group with the given ID.
func (s *Server) securityGroup(id string) (*SecurityGroup, error) {
	if id == "" {
		return nil, errMissing("SecurityGroupId")
	}
	g := findPtr(s.st.ECS.SecurityGroups, func(g *SecurityGroup) bool { return g.ID == id })
	if g == nil {
		return nil, errNotFound("InvalidSecurityGroupId.NotFound", fmt.Sprintf("The specified SecurityGroupId %q does not exist.", id))
	}
	return g, nil
}

func (s *Server) describeSecurityGroups(rc *reqCtx) (obj, error) {
	p := rc.p
	ids, err := p.jsonStrings("SecurityGroupIds")
	if err != nil {
		return nil, err
	}
	tags := p.tags("Tag")
	pg, err := pageOf(p, 10, 100)
	if err != nil {
		return nil, err
	}
	name := p.get("SecurityGroupName")
	var items []obj
	for _, g := range s.st.ECS.SecurityGroups {
		nameOK := name == "" || g.Name == name || (p.boolean("FuzzyQuery") && strings.Contains(g.Name, name))
		ok := nameOK &&
			(p.get("SecurityGroupIds") == "" || slices.Contains(ids, g.ID)) &&
			eqOrEmpty(p.get("SecurityGroupId"), g.ID) &&
			eqOrEmpty(p.get("VpcId"), g.VpcID) &&
			eqOrEmpty(p.get("SecurityGroupType"), g.Type) &&
			tagsMatch(tags, g.Tags)
		if !ok {
			continue
		}
		items = append(items, obj{
			"SecurityGroupId":         g.ID,
			"SecurityGroupName":       g.Name,
			"Description":             g.Description,
			"SecurityGroupType":       g.Type,
			"VpcId":                   g.VpcID,
			"CreationTime":            isoTime(g.CreationTime),
			"EcsCount":                s.memberCount(g.ID),
			"AvailableInstanceAmount": 2000,
			"RuleCount":               len(g.Rules),
			"ServiceManaged":          false,
			"ResourceGroupId":         "",
			"Tags":                    obj{"Tag": tagList(g.Tags)},
		})
	}
	out := pg.meta(len(items))
	out["RegionId"] = s.st.Region
	out["SecurityGroups"] = obj{"SecurityGroup": orEmpty(pageSlice(pg, items))}
	return out, nil
}

// memberCount counts the instances with an interface in the group.
func (s *Server) memberCount(groupID string) int {
	n := 0
	for _, inst := range s.st.ECS.Instances {
		if slices.ContainsFunc(inst.NetworkInterfaces, func(ni NetworkInterface) bool {
			return slices.Contains(ni.SecurityGroupIDs, groupID)
		}) {
			n++
		}
	}
	return n
}

func (s *Server) describeSecurityGroupAttribute(rc *reqCtx) (obj, error) {
	g, err := s.securityGroup(rc.p.get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	dir := firstNonEmpty(rc.p.get("Direction"), "all")
	if dir != "all" && dir != "ingress" && dir != "egress" {
		return nil, errBadRequest("InvalidDirection.Malformed", "The Direction must be all, ingress or egress.")
	}
	var perms []obj
	for _, r := range g.Rules {
		if (dir != "all" && r.Direction != dir) || !eqOrEmpty(rc.p.get("NicType"), r.NicType) {
			continue
		}
		perms = append(perms, s.permissionJSON(r))
	}
	out := obj{
		"RegionId":          s.st.Region,
		"SecurityGroupId":   g.ID,
		"SecurityGroupName": g.Name,
		"Description":       g.Description,
		"VpcId":             g.VpcID,
		"InnerAccessPolicy": g.InnerAccessPolicy,
		"NextToken":         "",
	}
	if rc.p.get("MaxResults") != "" || rc.p.get("NextToken") != "" {
		pg, err := pageOf(rc.p, 100, 1000)
		if err != nil {
			return nil, err
		}
		out["NextToken"] = pg.next(len(perms))
		perms = pageSlice(pg, perms)
	}
	out["Permissions"] = obj{"Permission": orEmpty(perms)}
	return out, nil
}

// permissionJSON renders a rule as DescribeSecurityGroupAttribute does;
// Priority is a string there.
func (s *Server) permissionJSON(r Rule) obj {
	groupName := func(id string) string {
		g, _ := s.st.ECS.SecurityGroup(id)
		return g.Name
	}
	return obj{
		"SecurityGroupRuleId":     r.ID,
		"Direction":               r.Direction,
		"Policy":                  r.Policy,
		"Priority":                strconv.Itoa(r.Priority),
		"IpProtocol":              r.IPProtocol,
		"PortRange":               r.PortRange,
		"SourcePortRange":         r.SourcePortRange,
		"SourceCidrIp":            r.SourceCidrIP,
		"DestCidrIp":              r.DestCidrIP,
		"Ipv6SourceCidrIp":        r.Ipv6SourceCidrIP,
		"Ipv6DestCidrIp":          r.Ipv6DestCidrIP,
		"SourceGroupId":           r.SourceGroupID,
		"SourceGroupName":         groupName(r.SourceGroupID),
		"DestGroupId":             r.DestGroupID,
		"DestGroupName":           groupName(r.DestGroupID),
		"SourcePrefixListId":      "",
		"DestPrefixListId":        "",
		"NicType":                 r.NicType,
		"Description":             r.Description,
		"CreateTime":              isoTime(r.CreateTime),
		"SourceGroupOwnerAccount": "",
		"DestGroupOwnerAccount":   "",
	}
}

// permissionsOf returns the rules a request describes: Permissions.N if
// present, else the legacy flat fields.
func permissionsOf(p params) []map[string]string {
	if ps := p.structs("Permissions"); len(ps) > 0 {
		return ps
	}
	flat := map[string]string{}
	for _, k := range []string{"Policy", "Priority", "IpProtocol", "PortRange", "SourcePortRange", "SourceCidrIp", "DestCidrIp",
		"Ipv6SourceCidrIp", "Ipv6DestCidrIp", "SourceGroupId", "DestGroupId", "SourcePrefixListId", "DestPrefixListId", "NicType", "Description"} {
		if v := p.get(k); v != "" {
			flat[k] = v
		}
	}
	if len(flat) == 0 {
		return nil
	}
	return []map[string]string{flat}
}

// ruleOf turns request fields into a checked rule.
func ruleOf(m map[string]string, direction string) (Rule, error) {
	if m["SourcePrefixListId"] != "" || m["DestPrefixListId"] != "" {
		return Rule{}, errBadRequest("InvalidPrefixListId.NotFound", "Prefix lists are not supported by the sandbox.")
	}
	r := Rule{
		Direction:        direction,
		Policy:           m["Policy"],
		IPProtocol:       m["IpProtocol"],
		PortRange:        m["PortRange"],
		SourcePortRange:  m["SourcePortRange"],
		SourceCidrIP:     m["SourceCidrIp"],
		DestCidrIP:       m["DestCidrIp"],
		Ipv6SourceCidrIP: m["Ipv6SourceCidrIp"],
		Ipv6DestCidrIP:   m["Ipv6DestCidrIp"],
		SourceGroupID:    m["SourceGroupId"],
		DestGroupID:      m["DestGroupId"],
		NicType:          m["NicType"],
		Description:      m["Description"],
	}
	if v := m["Priority"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Rule{}, errBadRequest("InvalidPriority.Malformed", fmt.Sprintf("The specified Priority %q is not an integer from 1 to 100.", v))
		}
		r.Priority = n
	}
	return checkRule(r)
}

// checkRule validates a rule and normalizes it: Policy Accept/Drop,
// IPProtocol upper case, default priority 1, port range -1/-1 for
// protocols without ports, NicType intranet.
func checkRule(r Rule) (Rule, error) {
	switch strings.ToLower(r.Policy) {
	case "", "accept":
		r.Policy = "Accept"
	case "drop":
		r.Policy = "Drop"
	default:
		return r, errBadRequest("InvalidPolicy.Malformed", fmt.Sprintf("The specified Policy %q is not accept or drop.", r.Policy))
	}
	if r.Priority == 0 {
		r.Priority = 1
	}
	if r.Priority < 1 || r.Priority > 100 {
		return r, errBadRequest("InvalidPriority.Malformed", fmt.Sprintf("The specified Priority %d is not from 1 to 100.", r.Priority))
	}
	if r.IPProtocol == "" {
		return r, errMissing("IpProtocol")
	}
	r.IPProtocol = strings.ToUpper(r.IPProtocol)
	switch r.IPProtocol {
	case "TCP", "UDP":
		if !validPortRange(r.PortRange) {
			return r, errBadRequest("InvalidPortRange.Malformed",
				fmt.Sprintf("The specified PortRange %q is not valid for %s: use a/b with 1 <= a <= b <= 65535.", r.PortRange, r.IPProtocol))
		}
	case "ICMP", "ICMPV6", "GRE", "ALL":
		if r.PortRange == "" {
			r.PortRange = "-1/-1"
		}
		if r.PortRange != "-1/-1" {
			return r, errBadRequest("InvalidPortRange.Malformed",
				fmt.Sprintf("The specified PortRange %q is not valid for %s: use -1/-1.", r.PortRange, r.IPProtocol))
		}
	default:
		return r, errBadRequest("InvalidIpProtocol.Malformed",
			fmt.Sprintf("The specified IpProtocol %q is not TCP, UDP, ICMP, ICMPv6, GRE or ALL.", r.IPProtocol))
	}
	if r.SourcePortRange != "" && r.SourcePortRange != "-1/-1" && !validPortRange(r.SourcePortRange) {
		return r, errBadRequest("InvalidSourcePortRange.Malformed", fmt.Sprintf("The specified SourcePortRange %q is not valid.", r.SourcePortRange))
	}
	for _, c := range []struct{ name, value string }{
		{"SourceCidrIp", r.SourceCidrIP}, {"DestCidrIp", r.DestCidrIP},
		{"Ipv6SourceCidrIp", r.Ipv6SourceCidrIP}, {"Ipv6DestCidrIp", r.Ipv6DestCidrIP},
	} {
		if c.value == "" {
			continue
		}
		pfx, ok := parseCIDR(c.value)
		if !ok || pfx.Addr().Is6() != strings.HasPrefix(c.name, "Ipv6") {
			return r, errBadRequest("Invalid"+c.name+".Malformed", fmt.Sprintf("The specified %s %q is not a valid address or CIDR block.", c.name, c.value))
		}
	}
	if r.Direction == "ingress" && r.SourceCidrIP == "" && r.Ipv6SourceCidrIP == "" && r.SourceGroupID == "" {
		return r, errBadRequest("MissingParameter.Source", "One of SourceCidrIp, Ipv6SourceCidrIp and SourceGroupId is required.")
	}
	if r.Direction == "egress" && r.DestCidrIP == "" && r.Ipv6DestCidrIP == "" && r.DestGroupID == "" {
		return r, errBadRequest("MissingParameter.Destination", "One of DestCidrIp, Ipv6DestCidrIp and DestGroupId is required.")
	}
	switch strings.ToLower(r.NicType) {
	case "", "intranet":
		r.NicType = "intranet"
	case "internet":
		r.NicType = "internet"
	default:
		return r, errBadRequest("InvalidNicType.ValueNotSupported", fmt.Sprintf("The specified NicType %q is not intranet or internet.", r.NicType))
	}
	if utf8.RuneCountInString(r.Description) > 512 || strings.HasPrefix(r.Description, "http://") || strings.HasPrefix(r.Description, "https://") {
		return r, errBadRequest("InvalidSecurityGroupDiscription.Malformed",
			"The description must be at most 512 characters and not start with http:// or https://.")
	}
	return r, nil
}

func validPortRange(s string) bool {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return err1 == nil && err2 == nil && lo >= 1 && lo <= hi && hi <= 65535
}

// parseCIDR accepts an address (taken as a host route) or a CIDR block.
func parseCIDR(s string) (netip.Prefix, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// sameCIDR compares two addresses or blocks: 203.0.113.7 is 203.0.113.7/32.
func sameCIDR(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	pa, okA := parseCIDR(a)
	pb, okB := parseCIDR(b)
	return okA && okB && pa == pb
}

// sameRule reports whether two rules are identical for AuthorizeSecurityGroup
// (everything but ID, Description and CreateTime). With anyPriority the
// priority is ignored (revoke by content without a Priority).
func sameRule(a, b Rule, anyPriority bool) bool {
	return a.Direction == b.Direction && a.Policy == b.Policy &&
		(anyPriority || a.Priority == b.Priority) &&
		a.IPProtocol == b.IPProtocol && a.PortRange == b.PortRange &&
		firstNonEmpty(a.SourcePortRange, "-1/-1") == firstNonEmpty(b.SourcePortRange, "-1/-1") &&
		sameCIDR(a.SourceCidrIP, b.SourceCidrIP) && sameCIDR(a.DestCidrIP, b.DestCidrIP) &&
		sameCIDR(a.Ipv6SourceCidrIP, b.Ipv6SourceCidrIP) && sameCIDR(a.Ipv6DestCidrIP, b.Ipv6DestCidrIP) &&
		a.SourceGroupID == b.SourceGroupID && a.DestGroupID == b.DestGroupID && a.NicType == b.NicType
}

func (s *Server) authorizeSecurityGroup(rc *reqCtx) (obj, error) {
	return s.authorize(rc, "ingress")
}

func (s *Server) authorizeSecurityGroupEgress(rc *reqCtx) (obj, error) {
	return s.authorize(rc, "egress")
}

// authorize adds the request's rules to a group. Rules identical to
// existing ones are skipped (or refused with Options.DuplicateRuleCode);
// the response carries no rule IDs, as the real API's does not.
func (s *Server) authorize(rc *reqCtx, direction string) (obj, error) {
	g, err := s.securityGroup(rc.p.get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	perms := permissionsOf(rc.p)
	if len(perms) == 0 {
		return nil, errMissing("Permissions.1.IpProtocol")
	}
	if len(perms) > 100 {
		return nil, errBadRequest("InvalidPermissions.ExceedLimit", "At most 100 permissions may be given in one call.")
	}
	var add []Rule
	for _, m := range perms {
		r, err := ruleOf(m, direction)
		if err != nil {
			return nil, err
		}
		for _, ref := range []string{r.SourceGroupID, r.DestGroupID} {
			if ref != "" {
				if _, err := s.securityGroup(ref); err != nil {
					return nil, errNotFound("InvalidSecurityGroupId.NotFound", fmt.Sprintf("The referenced security group %q does not exist.", ref))
				}
			}
		}
		dup := slices.ContainsFunc(g.Rules, func(x Rule) bool { return sameRule(x, r, false) }) ||
			slices.ContainsFunc(add, func(x Rule) bool { return sameRule(x, r, false) })
		if dup {
			if s.opts.DuplicateRuleCode != "" {
				return nil, errBadRequest(s.opts.DuplicateRuleCode, "The specified rule already exists in the security group.")
			}
			continue
		}
		add = append(add, r)
	}
	if len(g.Rules)+len(add) > s.opts.RulesPerGroup {
		return nil, errForbidden("AuthorizationLimitExceed",
			fmt.Sprintf("The maximum number of rules in the security group (%d) is exceeded.", s.opts.RulesPerGroup))
	}
	for _, r := range add {
		r.ID = s.nextID("sgr")
		r.CreateTime = rc.now
		g.Rules = append(g.Rules, r)
		rc.changed = true
	}
	return obj{}, nil
}

func (s *Server) revokeSecurityGroup(rc *reqCtx) (obj, error) {
	return s.revoke(rc, "ingress")
}

func (s *Server) revokeSecurityGroupEgress(rc *reqCtx) (obj, error) {
	return s.revoke(rc, "egress")
}

// revoke removes rules by SecurityGroupRuleId.N or by content. Missing
// rules are a success unless Options.RevokeMissingCode is set.
func (s *Server) revoke(rc *reqCtx, direction string) (obj, error) {
	g, err := s.securityGroup(rc.p.get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	ids := rc.p.repeated("SecurityGroupRuleId")
	var remove []string
	if len(ids) > 0 {
		for _, id := range ids {
			if slices.ContainsFunc(g.Rules, func(r Rule) bool { return r.ID == id && r.Direction == direction }) {
				remove = append(remove, id)
			} else if s.opts.RevokeMissingCode != "" {
				return nil, errNotFound(s.opts.RevokeMissingCode, fmt.Sprintf("The specified security group rule %q does not exist.", id))
			}
		}
	} else {
		perms := permissionsOf(rc.p)
		if len(perms) == 0 {
			return nil, errMissing("SecurityGroupRuleId.1")
		}
		for _, m := range perms {
			r, err := ruleOf(m, direction)
			if err != nil {
				return nil, err
			}
			found := false
			for _, x := range g.Rules {
				if sameRule(x, r, m["Priority"] == "") {
					remove = append(remove, x.ID)
					found = true
				}
			}
			if !found && s.opts.RevokeMissingCode != "" {
				return nil, errNotFound(s.opts.RevokeMissingCode, "The specified security group rule does not exist.")
			}
		}
	}
	before := len(g.Rules)
	g.Rules = slices.DeleteFunc(g.Rules, func(r Rule) bool { return slices.Contains(remove, r.ID) })
	rc.changed = len(g.Rules) != before
	return obj{}, nil
}

func (s *Server) createSecurityGroup(rc *reqCtx) (obj, error) {
	p := rc.p
	vpcID := p.get("VpcId")
	if vpcID == "" {
		return nil, errMissing("VpcId")
	}
	if !slices.ContainsFunc(s.st.ECS.VPCs, func(v VPC) bool { return v.ID == vpcID }) {
		return nil, errNotFound("InvalidVpcId.NotFound", fmt.Sprintf("The specified VpcId %q does not exist.", vpcID))
	}
	name := p.get("SecurityGroupName")
	if name != "" && (utf8.RuneCountInString(name) < 2 || utf8.RuneCountInString(name) > 128 ||
		strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")) {
		return nil, errBadRequest("InvalidSecurityGroupName.Malformed",
			"The security group name must be 2 to 128 characters and not start with http:// or https://.")
	}
	desc := p.get("Description")
	if utf8.RuneCountInString(desc) > 256 || strings.HasPrefix(desc, "http://") || strings.HasPrefix(desc, "https://") {
		return nil, errBadRequest("InvalidDescription.Malformed", "The description must be at most 256 characters and not start with http:// or https://.")
	}
	typ := firstNonEmpty(p.get("SecurityGroupType"), "normal")
	if typ != "normal" && typ != "enterprise" {
		return nil, errBadRequest("InvalidSecurityGroupType.Malformed", fmt.Sprintf("The specified SecurityGroupType %q is not normal or enterprise.", typ))
	}
	policy := "Accept"
	if typ == "enterprise" {
		policy = "Drop"
	}
	g := SecurityGroup{
		ID:                s.nextID("sg"),
		Name:              name,
		Description:       desc,
		VpcID:             vpcID,
		Type:              typ,
		InnerAccessPolicy: policy,
		Tags:              p.tags("Tag"),
		Rules:             []Rule{},
		CreationTime:      rc.now,
	}
	s.st.ECS.SecurityGroups = append(s.st.ECS.SecurityGroups, g)
	rc.changed = true
	return obj{"SecurityGroupId": g.ID}, nil
}

func (s *Server) modifySecurityGroupPolicy(rc *reqCtx) (obj, error) {
	g, err := s.securityGroup(rc.p.get("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	v, err := rc.p.required("InnerAccessPolicy")
	if err != nil {
		return nil, err
	}
	policy := canonicalPolicy(v)
	if policy != "Accept" && policy != "Drop" {
		return nil, errBadRequest("InvalidInnerAccessPolicy.Malformed", fmt.Sprintf("The specified InnerAccessPolicy %q is not Accept or Drop.", v))
	}
	if g.InnerAccessPolicy != policy {
		g.InnerAccessPolicy = policy
		rc.changed = true
	}
	return obj{}, nil
}

// canonicalPolicy spells accept/drop as the API returns them.
func canonicalPolicy(v string) string {
	switch strings.ToLower(v) {
	case "", "accept":
		return "Accept"
	case "drop":
		return "Drop"
	}
	return v
}

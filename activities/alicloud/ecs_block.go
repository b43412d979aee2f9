package alicloud

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
)

// ruleSpec is a normalized security-group drop rule.
type ruleSpec struct {
	group     string
	cidr      string // canonical CIDR
	v6        bool
	protocol  string // all, tcp, udp, icmp (the playbook's spelling)
	apiProto  string // ALL, TCP, UDP, ICMP, ICMPv6 (the API's)
	portRange string
	direction string // in, out
}

// apiDirection is the API's name of the rule direction.
func (r ruleSpec) apiDirection() string {
	if r.direction == "out" {
		return "egress"
	}
	return "ingress"
}

func (r ruleSpec) String() string {
	dir := "from"
	if r.direction == "out" {
		dir = "to"
	}
	return fmt.Sprintf("%s drop rule %s %s %s %s in %s", r.apiDirection(), r.apiProto, r.portRange, dir, r.cidr, r.group)
}

// newRuleSpec validates and normalizes the parameters of ecs.block_ip and
// ecs.unblock_ip but the group (the callers check it). canonical turns the
// IP into a CIDR (and, when blocking, applies the guardrails first).
func newRuleSpec(group, ip, protocol, portRange, direction string, canonical func(string) (string, error)) (ruleSpec, error) {
	if strings.TrimSpace(ip) == "" {
		return ruleSpec{}, invalidInput("ip is required")
	}
	cidr, err := canonical(ip)
	if err != nil {
		return ruleSpec{}, err
	}
	r := ruleSpec{group: group, cidr: cidr, protocol: strings.ToLower(protocol), portRange: portRange, direction: strings.ToLower(direction)}
	if pfx, err := netip.ParsePrefix(cidr); err == nil {
		r.v6 = pfx.Addr().Is6()
	}
	if r.protocol == "" {
		r.protocol = "all"
	}
	if r.direction == "" {
		r.direction = "in"
	}
	if r.direction != "in" && r.direction != "out" {
		return ruleSpec{}, invalidInput("direction %q: want in or out", direction)
	}
	switch r.protocol {
	case "all", "icmp":
		r.apiProto = strings.ToUpper(r.protocol)
		if r.protocol == "icmp" && r.v6 {
			r.apiProto = "ICMPv6"
		}
		if r.portRange == "" {
			r.portRange = "-1/-1"
		}
		if r.portRange != "-1/-1" {
			return ruleSpec{}, invalidInput("port_range %q: protocol %s has no ports (use -1/-1)", portRange, r.protocol)
		}
	case "tcp", "udp":
		r.apiProto = strings.ToUpper(r.protocol)
		if r.portRange == "" || r.portRange == "-1/-1" {
			r.portRange = "1/65535"
		}
		if !validPorts(r.portRange) {
			return ruleSpec{}, invalidInput("port_range %q: want a/b with 1 <= a <= b <= 65535", portRange)
		}
	default:
		return ruleSpec{}, invalidInput("protocol %q: want all, tcp, udp or icmp", protocol)
	}
	return r, nil
}

func validPorts(s string) bool {
	a, b, ok := strings.Cut(s, "/")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return ok && err1 == nil && err2 == nil && lo >= 1 && lo <= hi && hi <= 65535
}

// sgRule is a security-group rule as DescribeSecurityGroupAttribute shows it.
type sgRule struct {
	ID        string
	Policy    string
	Protocol  string
	PortRange string
	CIDR      string
	// CIDR6 is the rule's IPv6 source (in) or destination (out) whatever
	// the spec's family, for checks over both families in one listing.
	CIDR6       string
	Description string
}

// soar reports whether soar created the rule (its description).
func (r sgRule) soar() bool { return strings.HasPrefix(r.Description, "soar") }

// matches reports whether the rule is a drop rule for exactly spec.
func (r sgRule) matches(spec ruleSpec) bool {
	return strings.EqualFold(r.Policy, "drop") && strings.EqualFold(r.Protocol, spec.apiProto) &&
		r.PortRange == spec.portRange && sameAddress(r.CIDR, spec.cidr)
}

// listRules reads every rule of one direction of a group.
func (s *session) listRules(c *ecs.Client, spec ruleSpec) ([]sgRule, error) {
	var out []sgRule
	token := ""
	for page := 0; page < 100; page++ {
		req := ecs.CreateDescribeSecurityGroupAttributeRequest()
		req.SecurityGroupId = spec.group
		req.Direction = spec.apiDirection()
		req.MaxResults = requests.NewInteger(1000)
		req.NextToken = token
		resp, err := c.DescribeSecurityGroupAttribute(req)
		if err != nil {
			return nil, classify("ecs.DescribeSecurityGroupAttribute "+spec.group, err)
		}
		for _, p := range resp.Permissions.Permission {
			if p.Direction != "" && p.Direction != spec.apiDirection() {
				continue
			}
			r := sgRule{ID: p.SecurityGroupRuleId, Policy: p.Policy, Protocol: p.IpProtocol, PortRange: p.PortRange, Description: p.Description,
				CIDR6: p.Ipv6DestCidrIp}
			if spec.direction == "in" {
				r.CIDR6 = p.Ipv6SourceCidrIp
			}
			switch {
			case spec.direction == "in" && spec.v6:
				r.CIDR = p.Ipv6SourceCidrIp
			case spec.direction == "in":
				r.CIDR = p.SourceCidrIp
			case spec.v6:
				r.CIDR = p.Ipv6DestCidrIp
			default:
				r.CIDR = p.DestCidrIp
			}
			if r.PortRange == "" {
				r.PortRange = "-1/-1"
			}
			out = append(out, r)
		}
		if resp.NextToken == "" {
			return out, nil
		}
		token = resp.NextToken
	}
	return out, nil
}

// findRule returns the rule for spec, preferring soar's own.
func findRule(rules []sgRule, spec ruleSpec) (sgRule, bool) {
	var found sgRule
	ok := false
	for _, r := range rules {
		if !r.matches(spec) {
			continue
		}
		if r.soar() {
			return r, true
		}
		if !ok {
			found, ok = r, true
		}
	}
	return found, ok
}

// ECSBlockIP adds a security-group drop rule (priority 1) for the IP, in
// or out, to security_group_id, or, with instance_id alone, to each
// security group of each network interface of the instance; the output
// then lists the groups, their rules and the groups this call added a
// rule to, for the inverse and the per-group holds. An identical drop rule
// already there is success with changed false and that rule's ID, unless
// this step created it (its description): then it is this step's change,
// found again by a retry. A block by instance that fails for good in a
// later group revokes the rules it added in the earlier ones. The IP is
// checked against the guardrails first. A drop rule for an attacker does
// not disrupt the instance, so protected instances need no approval.
func (a *Activities) ECSBlockIP(ctx context.Context, in activities.ECSBlockIPInput) (activities.ECSBlockIPOutput, error) {
	byInstance := in.SecurityGroupID == "" && in.InstanceID != ""
	what, id := "security_group_id", in.SecurityGroupID
	if byInstance {
		what, id = "instance_id", in.InstanceID
	}
	if in.SecurityGroupID == "" && in.InstanceID == "" {
		return activities.ECSBlockIPOutput{}, invalidInput("security_group_id or instance_id is required")
	}
	if err := checkID(what, id); err != nil {
		return activities.ECSBlockIPOutput{}, err
	}
	spec, err := newRuleSpec(in.SecurityGroupID, in.IP, in.Protocol, in.PortRange, in.Direction, a.canonicalBlock)
	if err != nil {
		return activities.ECSBlockIPOutput{}, err
	}
	out := activities.ECSBlockIPOutput{SecurityGroupID: spec.group, IP: spec.cidr, Protocol: spec.protocol, PortRange: spec.portRange, Direction: spec.direction}
	s, c, err := a.ecsSession(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	groups := []string{spec.group}
	var plan []string
	if byInstance {
		inst, err := s.describeInstance(c, in.InstanceID)
		if err != nil {
			return out, err
		}
		if inst.Groups, err = s.instanceGroups(c, inst); err != nil {
			return out, err
		}
		if len(inst.Groups) == 0 {
			return out, notFound("ecs instance %s is in no security group", inst.ID)
		}
		var restoredTo bool
		groups, restoredTo = blockGroups(inst)
		out.InstanceID, out.SecurityGroupIDs, out.RuleIDs = inst.ID, slices.Clone(groups), make([]string, len(groups))
		out.SecurityGroupID = groups[0]
		if restoredTo {
			plan = append(plan, planf("instance %s is isolated by soar: block in the groups it will be restored to, %s", inst.ID, strings.Join(groups, ", ")))
		} else {
			plan = append(plan, planf("instance %s is in the security groups %s", inst.ID, strings.Join(groups, ", ")))
		}
	}
	changed := false
	var added []ruleSpec // the rules this attempt added (or found of this step's), with their IDs in addedIDs
	var addedIDs []string
	for i, g := range groups {
		spec.group = g
		ruleID, ok, line, err := s.blockOne(ctx, c, spec, in.Meta)
		if err != nil {
			return out, s.undoPartialBlock(ctx, c, err, spec, added, addedIDs, in.Meta)
		}
		plan = append(plan, line)
		changed = changed || ok
		if i == 0 {
			out.RuleID = ruleID
		}
		if byInstance {
			out.RuleIDs[i] = ruleID
		}
		if ok {
			added, addedIDs = append(added, spec), append(addedIDs, ruleID)
			if byInstance {
				out.ChangedSecurityGroupIDs = append(out.ChangedSecurityGroupIDs, g)
			}
		}
	}
	out.Outcome = outcome(in.Meta, changed, plan)
	return out, nil
}

// undoPartialBlock is called when a block by instance failed in the group
// of failed after adding the rules added (IDs in ids) in earlier groups.
// A retryable failure is returned as it is: the next attempt finds those
// rules by this step's description and reports them. A final one would
// leave them behind with no output to revert them by, so they are revoked
// (best effort) and the error says so, keeping its type.
func (s *session) undoPartialBlock(ctx context.Context, c *ecs.Client, cause error, failed ruleSpec, added []ruleSpec, ids []string, meta activities.Meta) error {
	var ae *temporal.ApplicationError
	if len(added) == 0 || meta.DryRun || !errors.As(cause, &ae) || !ae.NonRetryable() {
		return cause
	}
	var revoked, kept []string
	for i, spec := range added {
		if _, _, err := s.unblockOne(ctx, c, spec, ids[i], meta); err != nil {
			s.log.Warn("revoking a partial block failed", "security_group_id", spec.group, "rule_id", ids[i], "error", err)
			kept = append(kept, fmt.Sprintf("%s in %s (%v)", ids[i], spec.group, err))
			continue
		}
		revoked = append(revoked, ids[i]+" in "+spec.group)
	}
	msg := fmt.Sprintf("%s; the block stopped at %s", cause.Error(), failed.group)
	if len(revoked) > 0 {
		msg += "; revoked the rules it had added: " + strings.Join(revoked, ", ")
	}
	if len(kept) > 0 {
		msg += "; could not revoke, remove by hand: " + strings.Join(kept, ", ")
	}
	return temporal.NewNonRetryableApplicationError(msg, ae.Type(), nil)
}

// blockOne makes sure the drop rule of spec exists in its group and
// returns its ID (empty on dry-run when it does not exist yet), whether
// this step added it, and what it did in words. A rule with this step's
// description counts as added by it: an earlier attempt of the step
// created it and its answer was lost (or the rule was not visible yet).
func (s *session) blockOne(ctx context.Context, c *ecs.Client, spec ruleSpec, meta activities.Meta) (string, bool, string, error) {
	rules, err := s.listRules(c, spec)
	if err != nil {
		return "", false, "", err
	}
	own := description(meta, 512)
	if !meta.DryRun {
		for _, r := range rules {
			if r.matches(spec) && r.Description == own {
				return r.ID, true, planf("added %s (rule %s, by an earlier attempt of this step)", spec, r.ID), nil
			}
		}
	}
	if r, ok := findRule(rules, spec); ok {
		return r.ID, false, planf("%s already exists (rule %s)", spec, r.ID), nil
	}
	if meta.DryRun {
		return "", false, planf("add %s", spec), nil
	}
	token := clientToken(runID(ctx), meta, "ecs.block_ip", spec.group, spec.cidr, spec.apiProto, spec.portRange, spec.direction)
	if err := s.authorize(c, spec, meta, token); err != nil {
		return "", false, "", err
	}
	// AuthorizeSecurityGroup answers no rule ID: read it back.
	if rules, err = s.listRules(c, spec); err != nil {
		return "", false, "", err
	}
	r, ok := findRule(rules, spec)
	if !ok {
		// The token was answered from the cloud's memory of an earlier
		// call whose rule is gone since (block, unblock, block in one
		// step): send it again under a fresh token.
		if err := s.authorize(c, spec, meta, freshToken(token)); err != nil {
			return "", false, "", err
		}
		if rules, err = s.listRules(c, spec); err != nil {
			return "", false, "", err
		}
		if r, ok = findRule(rules, spec); !ok {
			return "", false, "", fmt.Errorf("ecs.AuthorizeSecurityGroup %s: the new rule is not visible yet", spec.group)
		}
	}
	s.log.Info("security group rule added", "security_group_id", spec.group, "ip", spec.cidr, "rule_id", r.ID)
	return r.ID, true, planf("added %s (rule %s)", spec, r.ID), nil
}

// authorize sends the drop rule of spec with the given ClientToken. A rule
// that exists already is not an error.
func (s *session) authorize(c *ecs.Client, spec ruleSpec, meta activities.Meta, token string) error {
	perm := struct{ policy, priority, proto, ports, nic, desc string }{"drop", "1", spec.apiProto, spec.portRange, "intranet", description(meta, 512)}
	var err error
	if spec.direction == "in" {
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.SecurityGroupId = spec.group
		req.ClientToken = token
		p := ecs.AuthorizeSecurityGroupPermissions{Policy: perm.policy, Priority: perm.priority, IpProtocol: perm.proto,
			PortRange: perm.ports, NicType: perm.nic, Description: perm.desc}
		if spec.v6 {
			p.Ipv6SourceCidrIp = spec.cidr
		} else {
			p.SourceCidrIp = spec.cidr
		}
		req.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{p}
		_, err = c.AuthorizeSecurityGroup(req)
	} else {
		req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
		req.SecurityGroupId = spec.group
		req.ClientToken = token
		p := ecs.AuthorizeSecurityGroupEgressPermissions{Policy: perm.policy, Priority: perm.priority, IpProtocol: perm.proto,
			PortRange: perm.ports, NicType: perm.nic, Description: perm.desc}
		if spec.v6 {
			p.Ipv6DestCidrIp = spec.cidr
		} else {
			p.DestCidrIp = spec.cidr
		}
		req.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{p}
		_, err = c.AuthorizeSecurityGroupEgress(req)
	}
	if err != nil && !alreadyExists(err) {
		return classify("ecs.AuthorizeSecurityGroup "+spec.group, err)
	}
	return nil
}

// freshToken derives a ClientToken the cloud has not seen from token, for
// resending a call whose earlier answer no longer holds.
func freshToken(token string) string {
	return clientToken(token, activities.Meta{}, strconv.FormatInt(time.Now().UnixNano(), 36))
}

// ECSUnblockIP revokes soar's drop rule for the IP: the rule named by
// rule_id, else soar's rules with the same content, in security_group_id,
// or in each of security_group_ids (with the rule_ids of a block by
// instance). Rules soar did not create are left alone; a rule already
// gone is success with changed false.
func (a *Activities) ECSUnblockIP(ctx context.Context, in activities.ECSUnblockIPInput) (activities.ECSUnblockIPOutput, error) {
	groups, ruleIDs := []string{in.SecurityGroupID}, []string{in.RuleID}
	several := len(in.SecurityGroupIDs) > 0
	if several {
		if len(in.RuleIDs) > 0 && len(in.RuleIDs) != len(in.SecurityGroupIDs) {
			return activities.ECSUnblockIPOutput{}, invalidInput("rule_ids has %d entries for %d security_group_ids: want one per group", len(in.RuleIDs), len(in.SecurityGroupIDs))
		}
		groups, ruleIDs = in.SecurityGroupIDs, make([]string, len(in.SecurityGroupIDs))
		copy(ruleIDs, in.RuleIDs)
	}
	for _, g := range groups {
		if err := checkID("security_group_id", g); err != nil {
			return activities.ECSUnblockIPOutput{}, err
		}
	}
	spec, err := newRuleSpec(groups[0], in.IP, in.Protocol, in.PortRange, in.Direction, canonicalTarget)
	if err != nil {
		return activities.ECSUnblockIPOutput{}, err
	}
	out := activities.ECSUnblockIPOutput{SecurityGroupID: spec.group, IP: spec.cidr}
	s, c, err := a.ecsSession(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	var plan []string
	changed := false
	for i, g := range groups {
		spec.group = g
		revoked, lines, err := s.unblockOne(ctx, c, spec, ruleIDs[i], in.Meta)
		if err != nil {
			return out, err
		}
		plan = append(plan, lines...)
		if len(revoked) > 0 {
			changed = !in.Meta.DryRun
			if out.RuleID == "" {
				out.RuleID = revoked[0]
			}
			if several {
				out.RuleIDs = append(out.RuleIDs, revoked...)
			}
		}
	}
	if several {
		out.SecurityGroupIDs = slices.Clone(groups)
	}
	out.Outcome = outcome(in.Meta, changed, plan)
	return out, nil
}

// unblockOne revokes soar's drop rules of spec in its group (the rule
// ruleID when given) and returns the rules it revoked (or, on dry-run,
// would) and what it did in words.
func (s *session) unblockOne(ctx context.Context, c *ecs.Client, spec ruleSpec, ruleID string, meta activities.Meta) ([]string, []string, error) {
	rules, err := s.listRules(c, spec)
	if err != nil {
		return nil, nil, err
	}
	var revoke []string
	var plan []string
	for _, r := range rules {
		switch {
		case ruleID != "" && r.ID != ruleID:
		case ruleID == "" && !(r.matches(spec) && r.soar()):
		case !r.soar():
			plan = append(plan, planf("rule %s in %s was not created by soar (%q): left in place", r.ID, spec.group, r.Description))
		default:
			revoke = append(revoke, r.ID)
		}
	}
	if len(revoke) == 0 {
		if len(plan) == 0 {
			plan = append(plan, planf("no soar %s: nothing to revoke", spec))
		}
		return nil, plan, nil
	}
	plan = append(plan, planf("revoke %s (rules %s)", spec, strings.Join(revoke, ", ")))
	if meta.DryRun {
		return revoke, plan, nil
	}
	token := clientToken(runID(ctx), meta, "ecs.unblock_ip", spec.group, strings.Join(revoke, ","))
	if spec.direction == "in" {
		req := ecs.CreateRevokeSecurityGroupRequest()
		req.SecurityGroupId, req.ClientToken, req.SecurityGroupRuleId = spec.group, token, &revoke
		_, err = c.RevokeSecurityGroup(req)
	} else {
		req := ecs.CreateRevokeSecurityGroupEgressRequest()
		req.SecurityGroupId, req.ClientToken, req.SecurityGroupRuleId = spec.group, token, &revoke
		_, err = c.RevokeSecurityGroupEgress(req)
	}
	if err != nil && !ruleGone(err) {
		return nil, nil, classify("ecs.RevokeSecurityGroup "+spec.group, err)
	}
	s.log.Info("security group rule revoked", "security_group_id", spec.group, "ip", spec.cidr, "rule_id", revoke[0])
	return revoke, plan, nil
}

// ruleGone reports whether a revoke failed because the rule no longer
// exists (SecurityGroupRule.NotFound and kin): the wanted state.
func ruleGone(err error) bool {
	c := errCode(err)
	return strings.Contains(c, "Rule") && strings.HasSuffix(c, "NotFound")
}

// blockGroups are the groups a block by instance goes to: the instance's
// own groups or, while soar has it isolated, the groups recorded for its
// restore (restoredTo true). A rule in the quarantine group would do
// nothing now (it already drops everything) and would be left behind when
// the instance is restored.
func blockGroups(inst instanceInfo) (groups []string, restoredTo bool) {
	qg := inst.Tags[quarantineTag]
	rec := isolatedRecord(inst.Tags)
	if qg == "" || len(rec) == 0 || !slices.Contains(inst.Groups, qg) {
		return inst.Groups, false
	}
	for _, eni := range slices.Sorted(maps.Keys(rec)) {
		for _, g := range rec[eni] {
			if g != qg && !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) == 0 {
		return inst.Groups, false
	}
	return groups, true
}

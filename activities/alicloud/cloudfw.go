package alicloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cloudfw"

	"github.com/opensoar/soar/activities"
)

// cfwBook is one direction's blocklist: soar-blocklist-in (traffic from
// the addresses) or soar-blocklist-out (traffic to them), with a -v6
// sibling for IPv6, which Cloud Firewall keeps in books of their own type.
type cfwBook struct {
	name      string
	direction string // in, out
	v6        bool
}

func newCFWBook(direction string, v6 bool) cfwBook {
	b := cfwBook{name: "soar-blocklist-" + direction, direction: direction, v6: v6}
	if v6 {
		b.name += "-v6"
	}
	return b
}

func (b cfwBook) groupType() string {
	if b.v6 {
		return "ipv6"
	}
	return "ip"
}

func (b cfwBook) anyNet() string {
	if b.v6 {
		return "::/0"
	}
	return "0.0.0.0/0"
}

func (b cfwBook) description() string {
	if b.direction == "out" {
		return "addresses soar blocks traffic to (managed by soar)"
	}
	return "addresses soar blocks traffic from (managed by soar)"
}

// cfwState is what Cloud Firewall holds for one blocklist.
type cfwState struct {
	bookID    string
	addresses []string
	policyID  string
}

// cfwDirection validates the direction parameter.
func cfwDirection(d string) (string, error) {
	switch strings.ToLower(d) {
	case "", "in":
		return "in", nil
	case "out":
		return "out", nil
	}
	return "", invalidInput("direction %q: want in or out", d)
}

// lockCFW opens the session and Cloud Firewall client of an invocation
// and takes the lock of soar's address book b, which serialises soar's
// changes to the book and its drop policy inside this worker. unlock
// releases it.
func (a *Activities) lockCFW(ctx context.Context, cloud activities.Cloud, b cfwBook) (s *session, c *cloudfw.Client, unlock func(), err error) {
	if s, err = a.session(ctx, cloud); err != nil {
		return nil, nil, nil, err
	}
	if c, err = s.cloudfw(); err != nil {
		return nil, nil, nil, err
	}
	if unlock, err = a.locks.lock(ctx, "cloudfw/"+s.account+"/"+b.name); err != nil {
		return nil, nil, nil, err
	}
	return s, c, unlock, nil
}

// read finds the book and its drop policy.
func (s *session) cfwRead(c *cloudfw.Client, b cfwBook) (cfwState, error) {
	var st cfwState
	for page := 1; page <= 50; page++ {
		req := cloudfw.CreateDescribeAddressBookRequest()
		req.Query = b.name
		req.GroupType = b.groupType()
		req.CurrentPage = strconv.Itoa(page)
		req.PageSize = "100"
		resp, err := c.DescribeAddressBook(req)
		if err != nil {
			return st, classify("cloudfw.DescribeAddressBook "+b.name, err)
		}
		for _, acl := range resp.Acls {
			if acl.GroupName == b.name {
				st.bookID, st.addresses = acl.GroupUuid, acl.AddressList
			}
		}
		total, _ := strconv.Atoi(resp.TotalCount)
		if st.bookID != "" || page*100 >= total {
			break
		}
	}
	for page := 1; page <= 50; page++ {
		req := cloudfw.CreateDescribeControlPolicyRequest()
		req.Direction = b.direction
		req.Description = b.name
		req.CurrentPage = strconv.Itoa(page)
		req.PageSize = "100"
		resp, err := c.DescribeControlPolicy(req)
		if err != nil {
			return st, classify("cloudfw.DescribeControlPolicy "+b.name, err)
		}
		for _, p := range resp.Policys {
			ref, refType := p.Source, p.SourceType
			if b.direction == "out" {
				ref, refType = p.Destination, p.DestinationType
			}
			if ref == b.name && refType == "group" && strings.EqualFold(p.AclAction, "drop") {
				st.policyID = p.AclUuid
			}
		}
		total, _ := strconv.Atoi(resp.TotalCount)
		if st.policyID != "" || page*100 >= total {
			break
		}
	}
	return st, nil
}

// modifyBook appends or deletes addresses server-side (ModifyMode, which
// the classic SDK's ModifyAddressBookRequest lacks, so CommonRequest):
// concurrent writers cannot overwrite each other's additions.
func (s *session) cfwModifyBook(b cfwBook, bookID, mode string, addrs []string) error {
	c, err := s.cfwCore()
	if err != nil {
		return err
	}
	req := requests.NewCommonRequest()
	req.Method = "POST"
	req.Product, req.Version, req.ApiName = "Cloudfw", "2017-12-07", "ModifyAddressBook"
	if s.acct.Endpoint == "" {
		req.Domain = cloudfwDomain(s.cloudfwRegion())
	}
	req.QueryParams["GroupUuid"] = bookID
	req.QueryParams["GroupName"] = b.name
	req.QueryParams["Description"] = b.description()
	req.QueryParams["AddressList"] = strings.Join(addrs, ",")
	req.QueryParams["ModifyMode"] = mode
	req.SetReadTimeout(s.a.callTimeout(s.ctx))
	if _, err := c.ProcessCommonRequest(req); err != nil {
		return classify("cloudfw.ModifyAddressBook "+b.name, err)
	}
	return nil
}

func cloudfwDomain(region string) string {
	if region == "ap-southeast-1" {
		return "cloudfw.ap-southeast-1.aliyuncs.com"
	}
	return "cloudfw.aliyuncs.com"
}

// CloudFWBlockIP adds the IP to soar's address book of the direction and
// makes sure one drop control policy (at the top) references the book,
// creating both when missing. An IP already in the book with the policy in
// place is success with changed false.
func (a *Activities) CloudFWBlockIP(ctx context.Context, in activities.CloudFWBlockIPInput) (activities.CloudFWBlockIPOutput, error) {
	out := activities.CloudFWBlockIPOutput{IP: in.IP}
	dir, err := cfwDirection(in.Direction)
	if err != nil {
		return out, err
	}
	cidr, err := a.canonicalBlock(in.IP)
	if err != nil {
		return out, err
	}
	b := newCFWBook(dir, netip.MustParsePrefix(cidr).Addr().Is6())
	out.IP, out.Direction, out.AddressBook = cidr, dir, b.name
	s, c, unlock, err := a.lockCFW(ctx, in.Cloud, b)
	if err != nil {
		return out, err
	}
	defer unlock()
	st, err := s.cfwRead(c, b)
	if err != nil {
		return out, err
	}
	out.AddressBookID, out.PolicyID = st.bookID, st.policyID
	listed := containsAddress(st.addresses, cidr)
	if listed && st.policyID != "" {
		out.Outcome = outcome(in.Meta, false, []string{planf("%s is already in the Cloud Firewall address book %s, dropped by policy %s", cidr, b.name, st.policyID)})
		return out, nil
	}
	var plan []string
	switch {
	case st.bookID == "":
		plan = append(plan, planf("create the Cloud Firewall address book %s with %s", b.name, cidr))
	case !listed:
		plan = append(plan, planf("add %s to the Cloud Firewall address book %s", cidr, b.name))
	}
	if st.policyID == "" {
		plan = append(plan, planf("add a drop control policy (%s, first) for the address book %s", dir, b.name))
	}
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	switch {
	case st.bookID == "":
		req := cloudfw.CreateAddAddressBookRequest()
		req.GroupName = b.name
		req.GroupType = b.groupType()
		req.Description = b.description()
		req.AddressList = cidr
		resp, err := c.AddAddressBook(req)
		switch {
		case err == nil:
			st.bookID = resp.GroupUuid
		case alreadyExists(err):
			// Another worker created it meanwhile: append to theirs.
			again, rerr := s.cfwRead(c, b)
			if rerr != nil {
				return out, rerr
			}
			st.bookID = again.bookID
			if err := s.cfwModifyBook(b, st.bookID, "Append", []string{cidr}); err != nil {
				return out, err
			}
		default:
			return out, classify("cloudfw.AddAddressBook "+b.name, err)
		}
	case !listed:
		if err := s.cfwModifyBook(b, st.bookID, "Append", []string{cidr}); err != nil {
			return out, err
		}
	}
	if st.policyID == "" {
		req := cloudfw.CreateAddControlPolicyRequest()
		req.Direction = dir
		req.AclAction = "drop"
		req.Proto = "ANY"
		req.ApplicationName = "ANY"
		req.NewOrder = "1"
		req.Description = b.name
		req.Release = "true"
		req.IpVersion = "4"
		if b.v6 {
			req.IpVersion = "6"
		}
		if dir == "in" {
			req.Source, req.SourceType, req.Destination, req.DestinationType = b.name, "group", b.anyNet(), "net"
		} else {
			req.Source, req.SourceType, req.Destination, req.DestinationType = b.anyNet(), "net", b.name, "group"
		}
		if _, err := c.AddControlPolicy(req); err != nil {
			return out, classify("cloudfw.AddControlPolicy "+b.name, err)
		}
	}
	after, err := s.cfwRead(c, b)
	if err != nil {
		return out, err
	}
	if !containsAddress(after.addresses, cidr) || after.policyID == "" {
		return out, fmt.Errorf("cloudfw block %s: not in place after the update (book %q, policy %q)", cidr, after.bookID, after.policyID)
	}
	out.AddressBookID, out.PolicyID = after.bookID, after.policyID
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("cloud firewall ip blocked", "ip", cidr, "direction", dir, "policy_id", after.policyID)
	return out, nil
}

// CloudFWUnblockIP removes the IP from soar's address book of the
// direction. When it was the last address, the drop policy and the book go
// too, leaving Cloud Firewall as it was before soar blocked anything. An IP
// not in the book is success with changed false.
func (a *Activities) CloudFWUnblockIP(ctx context.Context, in activities.CloudFWUnblockIPInput) (activities.CloudFWUnblockIPOutput, error) {
	out := activities.CloudFWUnblockIPOutput{IP: in.IP}
	dir, err := cfwDirection(in.Direction)
	if err != nil {
		return out, err
	}
	cidr, err := canonicalTarget(in.IP)
	if err != nil {
		return out, err
	}
	b := newCFWBook(dir, netip.MustParsePrefix(cidr).Addr().Is6())
	out.IP, out.Direction = cidr, dir
	s, c, unlock, err := a.lockCFW(ctx, in.Cloud, b)
	if err != nil {
		return out, err
	}
	defer unlock()
	st, err := s.cfwRead(c, b)
	if err != nil {
		return out, err
	}
	if !containsAddress(st.addresses, cidr) {
		out.Outcome = outcome(in.Meta, false, []string{planf("%s is not in the Cloud Firewall address book %s", cidr, b.name)})
		return out, nil
	}
	var listed []string
	for _, x := range st.addresses {
		if sameAddress(x, cidr) {
			listed = append(listed, x)
		}
	}
	rest := slices.DeleteFunc(slices.Clone(st.addresses), func(x string) bool { return sameAddress(x, cidr) })
	plan := []string{planf("remove %s from the Cloud Firewall address book %s", cidr, b.name)}
	if len(rest) == 0 {
		if st.policyID != "" {
			plan = append(plan, planf("delete the drop policy %s: the book is empty", st.policyID))
		}
		plan = append(plan, planf("delete the empty address book %s", b.name))
	}
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	if len(rest) > 0 {
		if err := s.cfwModifyBook(b, st.bookID, "Delete", listed); err != nil {
			return out, err
		}
	} else {
		if st.policyID != "" {
			req := cloudfw.CreateDeleteControlPolicyRequest()
			req.AclUuid, req.Direction = st.policyID, dir
			if _, err := c.DeleteControlPolicy(req); err != nil && !isNotFound(err) {
				return out, classify("cloudfw.DeleteControlPolicy "+st.policyID, err)
			}
		}
		req := cloudfw.CreateDeleteAddressBookRequest()
		req.GroupUuid = st.bookID
		if _, err := c.DeleteAddressBook(req); err != nil && !isNotFound(err) {
			return out, classify("cloudfw.DeleteAddressBook "+b.name, err)
		}
	}
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("cloud firewall ip unblocked", "ip", cidr, "direction", dir)
	return out, nil
}

// cfwCore is a core client for the Cloud Firewall calls the SDK package
// cannot express.
func (s *session) cfwCore() (*sdk.Client, error) {
	return s.core(s.cloudfwRegion())
}

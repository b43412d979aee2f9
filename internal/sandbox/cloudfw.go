package sandbox

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// cloudfwProduct is Cloud Firewall, version 2017-12-07.
func cloudfwProduct() *product {
	return &product{
		name: "Cloudfw", version: "2017-12-07", host: "cloudfw.aliyuncs.com",
		actions: map[string]handler{
			"DescribeAddressBook":   (*Server).cfwDescribeAddressBook,
			"AddAddressBook":        (*Server).cfwAddAddressBook,
			"ModifyAddressBook":     (*Server).cfwModifyAddressBook,
			"DeleteAddressBook":     (*Server).cfwDeleteAddressBook,
			"DescribeControlPolicy": (*Server).cfwDescribeControlPolicy,
			"AddControlPolicy":      (*Server).cfwAddControlPolicy,
			"DeleteControlPolicy":   (*Server).cfwDeleteControlPolicy,
		},
	}
}

// cfwPage reads Cloud Firewall's CurrentPage/PageSize (strings on the wire).
func cfwPage(p params, required bool) (number, size int, err error) {
	if required {
		for _, k := range []string{"CurrentPage", "PageSize"} {
			if p.get(k) == "" {
				return 0, 0, errMissing(k)
			}
		}
	}
	if number, err = p.integerIn("CurrentPage", 1, 1, 1<<30); err != nil {
		return 0, 0, err
	}
	if size, err = p.integerIn("PageSize", 10, 1, 100); err != nil {
		return 0, 0, err
	}
	return number, size, nil
}

func cfwSlice[T any](items []T, number, size int) []T {
	lo := min((number-1)*size, len(items))
	return orEmpty(items[lo:min(lo+size, len(items))])
}

// referenceCount counts the policies that use an address book.
func (s *Server) referenceCount(name string) int {
	n := 0
	for _, p := range s.st.CloudFW.Policies {
		if (p.SourceType == "group" && p.Source == name) || (p.DestinationType == "group" && p.Destination == name) {
			n++
		}
	}
	return n
}

func (s *Server) cfwDescribeAddressBook(rc *reqCtx) (obj, error) {
	number, size, err := cfwPage(rc.p, false)
	if err != nil {
		return nil, err
	}
	q := rc.p.get("Query")
	var items []obj
	for _, b := range s.st.CloudFW.AddressBooks {
		if !eqOrEmpty(rc.p.get("GroupType"), b.Type) {
			continue
		}
		if q != "" && !strings.Contains(b.Name, q) && !slices.ContainsFunc(b.Addresses, func(a string) bool { return strings.Contains(a, q) }) {
			continue
		}
		items = append(items, obj{
			"GroupUuid":        b.UUID,
			"GroupName":        b.Name,
			"GroupType":        b.Type,
			"Description":      b.Description,
			"AddressList":      orEmpty(b.Addresses),
			"AddressListCount": len(b.Addresses),
			"ReferenceCount":   s.referenceCount(b.Name),
			"AutoAddTagEcs":    0,
			"TagRelation":      "and",
			"TagList":          []obj{},
			"Global":           0,
			"AddressType":      addressType(b.Type),
		})
	}
	return obj{
		"TotalCount": strconv.Itoa(len(items)),
		"PageNo":     strconv.Itoa(number),
		"PageSize":   strconv.Itoa(size),
		"Acls":       cfwSlice(items, number, size),
	}, nil
}

func addressType(groupType string) string {
	if groupType == "ipv6" {
		return "ipv6"
	}
	return "ipv4"
}

// checkAddresses validates an address list for a book type.
func checkAddresses(groupType string, addrs []string) error {
	for _, a := range addrs {
		ok := true
		switch groupType {
		case "ip", "ipv6":
			pfx, valid := parseCIDR(a)
			ok = valid && pfx.Addr().Is6() == (groupType == "ipv6")
		case "port":
			_, err := strconv.Atoi(a)
			ok = err == nil || validPortRange(a)
		}
		if !ok {
			return errBadRequest("InvalidParameter.AddressList", fmt.Sprintf("%q is not a valid %s address.", a, groupType))
		}
	}
	return nil
}

func (s *Server) cfwAddAddressBook(rc *reqCtx) (obj, error) {
	p := rc.p
	var vals [3]string
	var err error
	for i, k := range []string{"GroupName", "GroupType", "Description"} {
		if vals[i], err = p.required(k); err != nil {
			return nil, err
		}
	}
	name, typ, desc := vals[0], vals[1], vals[2]
	if !slices.Contains([]string{"ip", "ipv6", "domain", "port", "tag"}, typ) {
		return nil, errBadRequest("InvalidParameter.GroupType", fmt.Sprintf("The GroupType %q is not ip, ipv6, domain, port or tag.", typ))
	}
	if _, exists := s.st.CloudFW.AddressBookNamed(name); exists {
		return nil, errBadRequest(s.opts.AddressBookExistsCode, fmt.Sprintf("The address book name %q already exists.", name))
	}
	addrs := dedupe(p.csv("AddressList"))
	if err := checkAddresses(typ, addrs); err != nil {
		return nil, err
	}
	b := AddressBook{UUID: newUUID(), Name: name, Type: typ, Description: desc, Addresses: orEmpty(addrs)}
	s.st.CloudFW.AddressBooks = append(s.st.CloudFW.AddressBooks, b)
	rc.changed = true
	return obj{"GroupUuid": b.UUID}, nil
}

// addressBook returns the live book named by GroupUuid.
func (s *Server) addressBook(p params) (*AddressBook, error) {
	id, err := p.required("GroupUuid")
	if err != nil {
		return nil, err
	}
	b := findPtr(s.st.CloudFW.AddressBooks, func(b *AddressBook) bool { return b.UUID == id })
	if b == nil {
		return nil, errNotFound("InvalidGroupUuid.NotFound", fmt.Sprintf("The address book %q does not exist.", id))
	}
	return b, nil
}

func (s *Server) cfwModifyAddressBook(rc *reqCtx) (obj, error) {
	p := rc.p
	b, err := s.addressBook(p)
	if err != nil {
		return nil, err
	}
	name, err := p.required("GroupName")
	if err != nil {
		return nil, err
	}
	desc, err := p.required("Description")
	if err != nil {
		return nil, err
	}
	if other, exists := s.st.CloudFW.AddressBookNamed(name); exists && other.UUID != b.UUID {
		return nil, errBadRequest(s.opts.AddressBookExistsCode, fmt.Sprintf("The address book name %q already exists.", name))
	}
	addrs := dedupe(p.csv("AddressList"))
	if err := checkAddresses(b.Type, addrs); err != nil {
		return nil, err
	}
	next := slices.Clone(b.Addresses)
	switch mode := firstNonEmpty(p.get("ModifyMode"), "Cover"); strings.ToLower(mode) {
	case "cover":
		if p.has("AddressList") {
			next = addrs
		}
	case "append":
		next = dedupe(append(next, addrs...))
	case "delete":
		next = slices.DeleteFunc(next, func(a string) bool {
			return slices.ContainsFunc(addrs, func(x string) bool { return x == a || sameCIDR(x, a) })
		})
	default:
		return nil, errBadRequest("InvalidParameter.ModifyMode", fmt.Sprintf("The ModifyMode %q is not Cover, Append or Delete.", mode))
	}
	if name != b.Name {
		for i := range s.st.CloudFW.Policies {
			pol := &s.st.CloudFW.Policies[i]
			if pol.SourceType == "group" && pol.Source == b.Name {
				pol.Source = name
			}
			if pol.DestinationType == "group" && pol.Destination == b.Name {
				pol.Destination = name
			}
		}
	}
	changed := name != b.Name || desc != b.Description || !slices.Equal(next, b.Addresses)
	b.Name, b.Description, b.Addresses = name, desc, orEmpty(next)
	rc.changed = changed
	return obj{}, nil
}

func (s *Server) cfwDeleteAddressBook(rc *reqCtx) (obj, error) {
	b, err := s.addressBook(rc.p)
	if err != nil {
		return nil, err
	}
	if n := s.referenceCount(b.Name); n > 0 {
		return nil, errBadRequest("ErrorAddressBookInUse", fmt.Sprintf("The address book %q is used by %d policies; delete them first.", b.Name, n))
	}
	id := b.UUID
	s.st.CloudFW.AddressBooks = slices.DeleteFunc(s.st.CloudFW.AddressBooks, func(x AddressBook) bool { return x.UUID == id })
	rc.changed = true
	return obj{}, nil
}

func (s *Server) cfwDescribeControlPolicy(rc *reqCtx) (obj, error) {
	p := rc.p
	number, size, err := cfwPage(p, true)
	if err != nil {
		return nil, err
	}
	var match []ControlPolicy
	for _, dir := range []string{"in", "out"} {
		for _, pol := range s.st.CloudFW.PoliciesFor(dir) {
			ok := eqOrEmpty(p.get("Direction"), pol.Direction) &&
				eqOrEmpty(p.get("AclUuid"), pol.UUID) &&
				(p.get("AclAction") == "" || strings.EqualFold(p.get("AclAction"), pol.Action)) &&
				(p.get("Proto") == "" || strings.EqualFold(p.get("Proto"), pol.Proto)) &&
				(p.get("Description") == "" || strings.Contains(pol.Description, p.get("Description"))) &&
				(p.get("Source") == "" || strings.Contains(pol.Source, p.get("Source"))) &&
				(p.get("Destination") == "" || strings.Contains(pol.Destination, p.get("Destination"))) &&
				(p.get("Release") == "" || p.get("Release") == strconv.FormatBool(pol.Release))
			if ok {
				match = append(match, pol)
			}
		}
	}
	var items []obj
	for _, pol := range cfwSlice(match, number, size) {
		items = append(items, s.policyJSON(pol))
	}
	return obj{
		"TotalCount": strconv.Itoa(len(match)),
		"PageNo":     strconv.Itoa(number),
		"PageSize":   strconv.Itoa(size),
		"Policys":    orEmpty(items),
	}, nil
}

// policyJSON renders a policy as DescribeControlPolicy does, resolving
// address books into their CIDRs.
func (s *Server) policyJSON(pol ControlPolicy) obj {
	groupCidrs := func(kind, name string) (string, []string) {
		if kind != "group" {
			return "", []string{}
		}
		b, _ := s.st.CloudFW.AddressBookNamed(name)
		return b.Type, orEmpty(b.Addresses)
	}
	srcType, srcCidrs := groupCidrs(pol.SourceType, pol.Source)
	dstType, dstCidrs := groupCidrs(pol.DestinationType, pol.Destination)
	ipVersion := pol.IPVersion
	if ipVersion == 0 {
		ipVersion = 4
	}
	return obj{
		"AclUuid":               pol.UUID,
		"Direction":             pol.Direction,
		"Order":                 pol.Order,
		"AclAction":             pol.Action,
		"Source":                pol.Source,
		"SourceType":            pol.SourceType,
		"SourceGroupType":       srcType,
		"SourceGroupCidrs":      srcCidrs,
		"Destination":           pol.Destination,
		"DestinationType":       pol.DestinationType,
		"DestinationGroupType":  dstType,
		"DestinationGroupCidrs": dstCidrs,
		"Proto":                 pol.Proto,
		"ApplicationName":       firstNonEmpty(pol.ApplicationName, "ANY"),
		"ApplicationNameList":   []string{firstNonEmpty(pol.ApplicationName, "ANY")},
		"DestPortType":          pol.DestPortType,
		"DestPort":              pol.DestPort,
		"DestPortGroup":         pol.DestPortGroup,
		"DestPortGroupPorts":    []string{},
		"Description":           pol.Description,
		"Release":               strconv.FormatBool(pol.Release),
		"IpVersion":             ipVersion,
		"HitTimes":              pol.HitTimes,
		"HitLastTime":           0,
		"CreateTime":            pol.CreateTime.Unix(),
		"ModifyTime":            pol.CreateTime.Unix(),
		"SpreadCnt":             0,
	}
}

func (s *Server) cfwAddControlPolicy(rc *reqCtx) (obj, error) {
	p := rc.p
	req := map[string]string{}
	for _, k := range []string{"Direction", "AclAction", "Source", "SourceType", "Destination", "DestinationType", "Proto", "NewOrder", "Description"} {
		v, err := p.required(k)
		if err != nil {
			return nil, err
		}
		req[k] = v
	}
	enum := func(k string, allowed ...string) error {
		if !slices.Contains(allowed, strings.ToLower(req[k])) {
			return errBadRequest("InvalidParameter."+k, fmt.Sprintf("The %s %q is not one of %s.", k, req[k], strings.Join(allowed, ", ")))
		}
		req[k] = strings.ToLower(req[k])
		return nil
	}
	for _, err := range []error{
		enum("Direction", "in", "out"),
		enum("AclAction", "accept", "drop", "log"),
		enum("SourceType", "net", "group", "location"),
		enum("DestinationType", "net", "group", "domain", "location"),
		enum("Proto", "any", "tcp", "udp", "icmp"),
	} {
		if err != nil {
			return nil, err
		}
	}
	proto := strings.ToUpper(req["Proto"])
	for _, ref := range []struct{ kind, value, field string }{
		{req["SourceType"], req["Source"], "Source"}, {req["DestinationType"], req["Destination"], "Destination"},
	} {
		switch ref.kind {
		case "group":
			if _, ok := s.st.CloudFW.AddressBookNamed(ref.value); !ok {
				return nil, errNotFound("InvalidAddressBook.NotFound", fmt.Sprintf("The %s address book %q does not exist.", ref.field, ref.value))
			}
		case "net":
			if _, err := netip.ParsePrefix(ref.value); err != nil {
				return nil, errBadRequest("InvalidParameter."+ref.field, fmt.Sprintf("The %s %q is not a CIDR block.", ref.field, ref.value))
			}
		}
	}
	destPortType, destPort := p.get("DestPortType"), p.get("DestPort")
	if proto == "TCP" || proto == "UDP" {
		destPortType = firstNonEmpty(destPortType, "port")
		if destPortType == "port" && destPort != "" && !validPortRange(destPort) {
			if _, err := strconv.Atoi(destPort); err != nil {
				return nil, errBadRequest("InvalidParameter.DestPort", fmt.Sprintf("The DestPort %q is not a port or a range a/b.", destPort))
			}
		}
	}
	ipVersion, err := p.integerIn("IpVersion", 4, 4, 6)
	if err != nil {
		return nil, err
	}
	order, err := strconv.Atoi(req["NewOrder"])
	existing := s.st.CloudFW.PoliciesFor(req["Direction"])
	if err != nil || order == 0 || order < -1 || order > len(existing)+1 {
		return nil, errBadRequest("InvalidParameter.NewOrder",
			fmt.Sprintf("The NewOrder %q must be -1 (last) or from 1 to %d.", req["NewOrder"], len(existing)+1))
	}
	if order == -1 {
		order = len(existing) + 1
	}
	for i := range s.st.CloudFW.Policies {
		if pol := &s.st.CloudFW.Policies[i]; pol.Direction == req["Direction"] && pol.Order >= order {
			pol.Order++
		}
	}
	appName := p.get("ApplicationName")
	if apps := p.repeated("ApplicationNameList"); appName == "" && len(apps) > 0 {
		appName = apps[0]
	}
	pol := ControlPolicy{
		UUID:            newUUID(),
		Direction:       req["Direction"],
		Order:           order,
		Action:          req["AclAction"],
		Source:          req["Source"],
		SourceType:      req["SourceType"],
		Destination:     req["Destination"],
		DestinationType: req["DestinationType"],
		Proto:           proto,
		ApplicationName: firstNonEmpty(appName, "ANY"),
		DestPortType:    destPortType,
		DestPort:        destPort,
		DestPortGroup:   p.get("DestPortGroup"),
		Description:     req["Description"],
		Release:         p.get("Release") != "false",
		IPVersion:       ipVersion,
		CreateTime:      rc.now,
	}
	s.st.CloudFW.Policies = append(s.st.CloudFW.Policies, pol)
	rc.changed = true
	return obj{"AclUuid": pol.UUID}, nil
}

func (s *Server) cfwDeleteControlPolicy(rc *reqCtx) (obj, error) {
	id, err := rc.p.required("AclUuid")
	if err != nil {
		return nil, err
	}
	pol, ok := find(s.st.CloudFW.Policies, func(x ControlPolicy) bool {
		return x.UUID == id && eqOrEmpty(rc.p.get("Direction"), x.Direction)
	})
	if !ok {
		return nil, errNotFound("InvalidAclUuid.NotFound", fmt.Sprintf("The control policy %q does not exist.", id))
	}
	s.st.CloudFW.Policies = slices.DeleteFunc(s.st.CloudFW.Policies, func(x ControlPolicy) bool { return x.UUID == id })
	for i := range s.st.CloudFW.Policies {
		if x := &s.st.CloudFW.Policies[i]; x.Direction == pol.Direction && x.Order > pol.Order {
			x.Order--
		}
	}
	rc.changed = true
	return obj{}, nil
}

// dedupe removes repeated values, keeping the first of each.
func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

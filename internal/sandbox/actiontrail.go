package sandbox

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// actiontrailProduct is ActionTrail, version 2020-07-06.
func actiontrailProduct() *product {
	return &product{
		name: "Actiontrail", version: "2020-07-06", host: "actiontrail.cn-hangzhou.aliyuncs.com",
		actions: map[string]handler{
			"LookupEvents": (*Server).trailLookupEvents,
		},
	}
}

// trailMatcher maps a LookupAttribute key onto how it matches an event. The
// keys are the real API's; AccessKeyId is accepted as an alias of
// EventAccessKeyId.
func trailMatcher(key, value string) (func(TrailEvent) bool, bool) {
	switch key {
	case "EventName":
		return func(e TrailEvent) bool { return e.Name == value }, true
	case "EventId":
		return func(e TrailEvent) bool { return e.ID == value }, true
	case "EventRW":
		return func(e TrailEvent) bool { return strings.EqualFold(e.ReadWrite, value) }, true
	case "EventAccessKeyId", "AccessKeyId":
		return func(e TrailEvent) bool { return e.AccessKeyID == value }, true
	case "ServiceName":
		return func(e TrailEvent) bool { return strings.EqualFold(e.Service, value) }, true
	case "User":
		return func(e TrailEvent) bool { return e.UserName == value }, true
	case "ResourceType":
		return func(e TrailEvent) bool { _, ok := e.Resources[value]; return ok }, true
	case "ResourceName":
		return func(e TrailEvent) bool {
			for _, names := range e.Resources {
				if slices.Contains(names, value) {
					return true
				}
			}
			return false
		}, true
	}
	return nil, false
}

// parseTrailTime accepts the API's ISO 8601 form.
func parseTrailTime(k, v string) (time.Time, error) {
	for _, layout := range []string{timestampLayout, time.RFC3339, "2006-01-02T15:04Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errBadRequest("InvalidParameter."+k, fmt.Sprintf("The %s %q is not an ISO 8601 time such as 2006-01-02T15:04:05Z.", k, v))
}

func (s *Server) trailLookupEvents(rc *reqCtx) (obj, error) {
	p := rc.p
	end, start := rc.now, rc.now.AddDate(0, 0, -7)
	var err error
	if v := p.get("EndTime"); v != "" {
		if end, err = parseTrailTime("EndTime", v); err != nil {
			return nil, err
		}
	}
	if v := p.get("StartTime"); v != "" {
		if start, err = parseTrailTime("StartTime", v); err != nil {
			return nil, err
		}
	}
	if start.After(end) {
		return nil, errBadRequest("InvalidParameter.StartTime", "The StartTime is after the EndTime.")
	}
	attrs := p.structs("LookupAttribute")
	if len(attrs) > 1 {
		return nil, errBadRequest("InvalidParameter.LookupAttribute", "Only one LookupAttribute may be given per query.")
	}
	match := func(TrailEvent) bool { return true }
	if len(attrs) == 1 {
		m, ok := trailMatcher(attrs[0]["Key"], attrs[0]["Value"])
		if !ok {
			return nil, errBadRequest("InvalidParameter.LookupAttribute",
				fmt.Sprintf("The LookupAttribute key %q is not one of EventName, EventId, EventRW, EventAccessKeyId, ServiceName, User, ResourceType, ResourceName.", attrs[0]["Key"]))
		}
		match = m
	}
	maxResults, err := p.integerIn("MaxResults", 20, 1, 50)
	if err != nil {
		return nil, err
	}
	offset := 0
	if t := p.get("NextToken"); t != "" {
		if _, err := fmt.Sscanf(t, "sbx-%d", &offset); err != nil || offset < 0 {
			return nil, errBadRequest("InvalidParameter.NextToken", "The NextToken is not valid.")
		}
	}

	events := append(slices.Clone(s.st.ActionTrail.Events), s.callEvents()...)
	var found []TrailEvent
	for _, e := range events {
		if !e.Time.Before(start) && !e.Time.After(end) && match(e) {
			found = append(found, e)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Time.After(found[j].Time) })
	lo := min(offset, len(found))
	hi := min(lo+maxResults, len(found))
	var items []obj
	for _, e := range found[lo:hi] {
		items = append(items, s.trailEventJSON(e))
	}
	next := ""
	if hi < len(found) {
		next = fmt.Sprintf("sbx-%d", hi)
	}
	return obj{
		"StartTime": isoTime(start),
		"EndTime":   isoTime(end),
		"NextToken": next,
		"Events":    orEmpty(items),
	}, nil
}

// trailEventJSON renders an event as LookupEvents does (ActionTrail's own
// camelCase keys).
func (s *Server) trailEventJSON(e TrailEvent) obj {
	identity := obj{"type": firstNonEmpty(e.UserType, "ram-user"), "accountId": s.st.AccountID}
	if e.AccessKeyID != "" {
		identity["accessKeyId"] = e.AccessKeyID
	}
	if e.UserName != "" {
		identity["userName"] = e.UserName
		if u, ok := s.st.RAM.User(e.UserName); ok {
			identity["principalId"] = u.ID
		}
	}
	out := obj{
		"eventId":         e.ID,
		"eventVersion":    "1",
		"eventTime":       isoTime(e.Time),
		"eventName":       e.Name,
		"eventSource":     firstNonEmpty(e.Source, hostOfService(e.Service, s.st.Region)),
		"serviceName":     e.Service,
		"eventType":       firstNonEmpty(e.Type, "ApiCall"),
		"eventRW":         firstNonEmpty(e.ReadWrite, readWriteOf(e.Name)),
		"acsRegion":       s.st.Region,
		"sourceIpAddress": e.SourceIP,
		"userAgent":       e.UserAgent,
		"requestId":       e.ID,
		"isGlobal":        e.Service == "Ram" || e.Service == "Sts",
		"userIdentity":    identity,
	}
	if len(e.Request) > 0 {
		out["requestParameters"] = e.Request
	}
	if len(e.Resources) > 0 {
		out["referencedResources"] = e.Resources
	}
	if e.ErrorCode != "" {
		out["errorCode"] = e.ErrorCode
		out["errorMessage"] = e.ErrorMessage
	}
	return out
}

// callEvents turns the call log into ActionTrail events: every call made
// with a key the sandbox knows (accepted, refused for a business reason, or
// refused because the key is disabled), so a leaked key's trail shows what
// was done with it through the sandbox.
func (s *Server) callEvents() []TrailEvent {
	var out []TrailEvent
	for _, c := range s.calls {
		if c.Product == "" || c.AccessKeyID == "" {
			continue
		}
		userType, userName := c.PrincipalType, c.Principal
		if userName == "" {
			// Only calls refused for a disabled key are recorded unsigned-in.
			if c.Error != "InvalidAccessKeyId.Inactive" {
				continue
			}
			_, owner, ok := s.st.RAM.AccessKey(c.AccessKeyID)
			if !ok {
				continue
			}
			userType, userName = "ram-user", owner
		}
		req := map[string]any{}
		for k, v := range c.Params {
			switch k {
			case "Signature", "SignatureNonce", "SignatureMethod", "SignatureVersion", "SignatureType",
				"Timestamp", "Format", "AccessKeyId", "SecurityToken", "Action", "Version":
				continue
			}
			req[k] = v
		}
		out = append(out, TrailEvent{
			ID:           c.RequestID,
			Time:         c.Time,
			Name:         c.Action,
			Service:      c.Product,
			Source:       hostOfService(c.Product, s.st.Region),
			ReadWrite:    readWriteOf(c.Action),
			Type:         "ApiCall",
			SourceIP:     c.SourceIP,
			UserAgent:    c.UserAgent,
			UserType:     userType,
			UserName:     userName,
			AccessKeyID:  c.AccessKeyID,
			Resources:    referencedResources(c.Product, c.Params),
			Request:      req,
			ErrorCode:    c.Error,
			ErrorMessage: c.ErrorMessage,
		})
	}
	return out
}

// referencedResources derives ActionTrail's referencedResources from a
// call's parameters.
func referencedResources(product string, params map[string]string) map[string][]string {
	out := map[string][]string{}
	add := func(typ, name string) {
		if name != "" && !slices.Contains(out[typ], name) {
			out[typ] = append(out[typ], name)
		}
	}
	for k, v := range params {
		base, _, _ := strings.Cut(k, ".")
		switch {
		case product == "waf-openapi" && base == "InstanceId":
			add("ACS::WAF::Instance", v)
		case base == "InstanceId" || base == "InstanceIds":
			for _, id := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune("[]\", ", r) }) {
				add("ACS::ECS::Instance", id)
			}
		case base == "SecurityGroupId":
			add("ACS::ECS::SecurityGroup", v)
		case base == "DiskId":
			add("ACS::ECS::Disk", v)
		case base == "SnapshotId":
			add("ACS::ECS::Snapshot", v)
		case base == "NetworkInterfaceId":
			add("ACS::ECS::NetworkInterface", v)
		case base == "UserName":
			add("ACS::RAM::User", v)
		case base == "UserAccessKeyId":
			add("ACS::RAM::AccessKey", v)
		case base == "Domain" && product == "ddoscoo":
			add("ACS::DDoSCoo::Domain", v)
		case base == "GroupUuid" || base == "AclUuid":
			add("ACS::CloudFirewall::"+strings.TrimSuffix(base, "Uuid"), v)
		case base == "SecurityEventIds" || base == "SecurityEventId":
			add("ACS::SAS::SecurityEvent", v)
		}
	}
	for _, names := range out {
		sort.Strings(names)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

package alicloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"

	"github.com/opensoar/soar/activities"
)

const (
	// trailMaxEvents is how many events lookup_events keeps.
	trailMaxEvents = 500
	// trailPageSize is LookupEvents' largest page.
	trailPageSize = 50
	// trailMaxPages bounds the pages read for an IP, which ActionTrail
	// cannot filter on: the window is scanned and filtered here.
	trailMaxPages = 200
	// trailRetention is how far back ActionTrail's event history goes.
	trailRetention = 90 * 24 * time.Hour
	// trailDefaultSince is the default look-back.
	trailDefaultSince = 24 * time.Hour
)

// ActionTrailLookupEvents collects the audit trail of an access key
// (EventAccessKeyId), an instance (ResourceName) or a source IP (the
// window scanned and filtered, since LookupEvents has no IP attribute),
// newest first, reduced to what an analyst reads, with the distinct source
// IPs and API names. It keeps at most 500 events and says when more
// matched. It only reads, so dry-run runs it too.
func (a *Activities) ActionTrailLookupEvents(ctx context.Context, in activities.ActionTrailLookupEventsInput) (activities.ActionTrailLookupEventsOutput, error) {
	out := activities.ActionTrailLookupEventsOutput{Events: []activities.TrailEvent{}, SourceIPs: []string{}, EventNames: []string{}}
	set := 0
	for _, v := range []string{in.AccessKeyID, in.InstanceID, in.IP} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return out, invalidInput("give exactly one of access_key_id, instance_id and ip (got %d)", set)
	}
	since := trailDefaultSince
	if in.Since != "" {
		d, err := time.ParseDuration(in.Since)
		if err != nil || d <= 0 {
			return out, invalidInput("since %q is not a positive duration such as 24h", in.Since)
		}
		if d > trailRetention {
			return out, invalidInput("since %s goes past ActionTrail's 90 days of event history", in.Since)
		}
		since = d
	}
	var attr *actiontrail.LookupEventsLookupAttribute
	var ip netip.Addr
	switch {
	case in.AccessKeyID != "":
		if err := checkID("access_key_id", in.AccessKeyID); err != nil {
			return out, err
		}
		attr = &actiontrail.LookupEventsLookupAttribute{Key: "EventAccessKeyId", Value: in.AccessKeyID}
	case in.InstanceID != "":
		if err := checkID("instance_id", in.InstanceID); err != nil {
			return out, err
		}
		attr = &actiontrail.LookupEventsLookupAttribute{Key: "ResourceName", Value: in.InstanceID}
	default:
		var err error
		if ip, err = netip.ParseAddr(in.IP); err != nil {
			return out, invalidInput("ip %q is not an IP address", in.IP)
		}
	}
	s, err := a.session(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	c, err := s.actiontrail()
	if err != nil {
		return out, err
	}
	end := time.Now().UTC()
	start := end.Add(-since)
	sourceIPs, names := map[string]bool{}, map[string]bool{}
	token := ""
	for page := 0; ; page++ {
		if page == trailMaxPages {
			out.Truncated = true
			break
		}
		req := actiontrail.CreateLookupEventsRequest()
		req.StartTime = start.Format(time.RFC3339)
		req.EndTime = end.Format(time.RFC3339)
		req.MaxResults = fmt.Sprint(trailPageSize)
		req.NextToken = token
		if attr != nil {
			req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{*attr}
		}
		resp, err := c.LookupEvents(req)
		if err != nil {
			return out, classify("actiontrail.LookupEvents", err)
		}
		for _, raw := range resp.Events {
			ev := trailEvent(raw)
			if ip.IsValid() && !sameAddress(ev.SourceIP, ip.String()) {
				continue
			}
			if len(out.Events) == trailMaxEvents {
				out.Truncated = true
				break
			}
			out.Events = append(out.Events, ev)
			if ev.SourceIP != "" {
				sourceIPs[ev.SourceIP] = true
			}
			if ev.Name != "" {
				names[ev.Name] = true
			}
		}
		if out.Truncated || resp.NextToken == "" {
			break
		}
		token = resp.NextToken
	}
	out.Count = len(out.Events)
	out.SourceIPs = sortedSet(sourceIPs)
	out.EventNames = sortedSet(names)
	what := map[bool]string{true: "", false: " (truncated)"}[!out.Truncated]
	plan := []string{planf("%d ActionTrail events of %s in the last %s%s", out.Count, in.AccessKeyID+in.InstanceID+in.IP, since, what)}
	out.Outcome = activities.Outcome{DryRun: in.Meta.DryRun, Plan: plan}
	return out, nil
}

// trailEvent reduces one LookupEvents event (ActionTrail's camelCase JSON).
func trailEvent(raw map[string]any) activities.TrailEvent {
	str := func(m map[string]any, k string) string {
		if v, ok := m[k].(string); ok {
			return v
		}
		return ""
	}
	ev := activities.TrailEvent{
		EventID:   str(raw, "eventId"),
		Time:      str(raw, "eventTime"),
		Name:      str(raw, "eventName"),
		Source:    str(raw, "eventSource"),
		SourceIP:  str(raw, "sourceIpAddress"),
		ReadWrite: str(raw, "eventRW"),
		ErrorCode: str(raw, "errorCode"),
	}
	if ev.Source == "" {
		ev.Source = str(raw, "serviceName")
	}
	if id, ok := raw["userIdentity"].(map[string]any); ok {
		ev.UserName = str(id, "userName")
		ev.AccessKeyID = str(id, "accessKeyId")
	}
	return ev
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

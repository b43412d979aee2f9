package alert

import (
	"strconv"
	"strings"
)

// decodeDDoS normalizes an Anti-DDoS event (reference alibaba-openapi.md
// §13.5): the EventBridge CloudEvent (type ddos:CloudMonitor:Ddos{bgp,coo,
// dip}Event<Kind>) or its bare data ({product, resourceId, level, content}).
//
// Blackhole, traffic scrubbing (Clean) and Defense events are type ddos; CC
// events (Cc4Add, Cc7Add) are cc_attack. Start events take their severity
// from level (CRITICAL 5, WARN 3, INFO 1), else blackhole 5, the rest 4;
// end events (…End) are severity 1 with label ddos.phase=end, so playbooks
// that require a severity do not fire when an attack stops. The victim
// (content.ip) is resource.internet_ip; there is no single source_ip.
func decodeDDoS(dc *decodeContext, o object) ([]Alert, error) {
	var r reader
	content, hasContent := r.obj(o, "content")
	if !hasContent {
		content = object{m: map[string]any{}, path: o.at("content")}
	}
	event := ""
	if dc.ce != nil {
		event = dc.ce.Type
		if i := strings.LastIndexByte(event, ':'); i >= 0 {
			event = event[i+1:]
		}
	}
	if event == "" {
		event = r.first(content, "eventType", "event_type")
	}
	if event == "" {
		event = r.first(o, "eventType", "event_type", "eventName")
	}
	a := Alert{Source: SourceDDoS, Labels: map[string]string{}}
	a.Resource.InternetIP = r.firstIP(content, "ip", "Ip", "vip")
	if a.Resource.InternetIP == "" {
		a.Resource.InternetIP = r.firstIP(o, "ip")
	}
	a.HTTP.Host = r.first(content, "domain", "Domain")
	level := r.first(o, "level")
	if level == "" {
		level = r.first(content, "level")
	}
	product := r.str(o, "product")
	instance := r.first(o, "resourceId", "instanceId")
	bps, _ := r.int(content, "bps")
	pps, _ := r.int(content, "pps")
	var ok bool
	if a.Time, ok = r.time(content, "startTime"); !ok {
		a.Time, _ = r.time(o, "time")
	}
	endTime := r.str(content, "endTime")
	a.Account = r.first(o, "userId", "aliUid", "aliuid")
	a.Region = r.first(o, "regionId", "region")
	if r.err != nil {
		return nil, r.err
	}
	if a.Resource.InternetIP == "" && a.HTTP.Host == "" {
		return nil, decodeErr(ReasonMissingField, "%s (the attacked IP) or %s is required", content.at("ip"), content.at("domain"))
	}
	kind, name, end := ddosKind(event)
	a.Type = dc.orSubjectType(kind, TypeDDoS)
	switch s, known := severityFromLevel(level); {
	case end:
		a.Severity = SeverityInfo
	case known:
		a.Severity = s
	case name == "blackhole":
		a.Severity = SeverityCritical
	default:
		a.Severity = SeverityHigh
	}
	phase := "start"
	if end {
		phase = "end"
	}
	for k, v := range map[string]string{
		"ddos.event": name, "ddos.phase": phase, "ddos.product": product, "ddos.instance_id": instance,
		"ddos.level": level, "ddos.end_time": endTime,
	} {
		setLabel(a.Labels, k, v)
	}
	if bps > 0 {
		a.Labels["ddos.bps"] = strconv.FormatInt(bps, 10)
	}
	if pps > 0 {
		a.Labels["ddos.pps"] = strconv.FormatInt(pps, 10)
	}

	a.Title = "Anti-DDoS " + name + " on " + firstNonEmpty(a.HTTP.Host, a.Resource.InternetIP)
	if bps > 0 || pps > 0 {
		a.Title += " (" + strconv.FormatFloat(float64(bps)/1e9, 'f', 1, 64) + " Gbps, " + strconv.FormatFloat(float64(pps)/1e6, 'f', 1, 64) + " Mpps)"
	}
	if end {
		a.Title += " ended"
	}
	dc.fillFromCloudEvent(&a, "ddos")
	if a.ID == "" {
		a.ID = hashID("ddos", dc.payload)
	}
	a.Raw = dc.raw(dc.payload)
	return []Alert{a}, nil
}

// ddosKind maps an event name (DdosbgpEventBlackhole, DdoscooEventCc7Add,
// blackhole, …) to a kind, a short name and whether it marks the end.
func ddosKind(event string) (kind, name string, end bool) {
	e := strings.ToLower(event)
	for _, p := range []string{"ddosbgpevent", "ddoscooevent", "ddosdipevent", "ddosevent"} {
		e = strings.TrimPrefix(e, p)
	}
	if s, ok := strings.CutSuffix(e, "end"); ok {
		e, end = s, true
	} else {
		e = strings.TrimSuffix(e, "add")
	}
	switch {
	case strings.Contains(e, "blackhole"):
		return TypeDDoS, "blackhole", end
	case strings.Contains(e, "clean"), strings.Contains(e, "scrub"):
		return TypeDDoS, "clean", end
	case strings.Contains(e, "defense"):
		return TypeDDoS, "defense", end
	case strings.HasPrefix(e, "cc"):
		return TypeCCAttack, e, end
	case e == "":
		return TypeDDoS, "attack", end
	}
	return TypeDDoS, e, end
}

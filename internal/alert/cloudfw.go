package alert

import (
	"net/netip"
	"strings"
)

// decodeCloudFW normalizes a Cloud Firewall IPS or threat-intelligence hit.
//
// DESIGNED FORMAT: the reference documents no Cloud Firewall alert schema
// (alibaba-openapi.md §13 has none), so soar defines one in the style of the
// Cloud Firewall SLS traffic log (src_ip, dst_ip, direction, rule_result,
// aliuid) plus the IPS/intel fields a forwarder adds. A forwarder maps the
// real log or EventBridge event onto it:
//
//	{"event_id": "…", "time": "2026-11-28T10:25:31+08:00", "aliuid": "…", "region_id": "cn-hangzhou",
//	 "log_type": "threat_intel" | "ips", "direction": "out" | "in",
//	 "src_ip": "172.16.1.10", "src_port": 53122, "dst_ip": "198.51.100.23", "dst_port": 443, "proto": "tcp",
//	 "domain": "update.c2.example.net", "app_name": "HTTPS",
//	 "rule_result": "alert" | "drop" | "pass", "rule_id": "…", "rule_name": "Cobalt Strike beacon",
//	 "attack_type": "c2" | "mining" | "brute_force" | "exploit" | "scan" | "malware" | "webshell",
//	 "threat_level": "critical" | "high" | "medium" | "low" | "info",
//	 "intel_tags": ["c2", "cobaltstrike"], "src_instance_id": "i-…", "dst_instance_id": "", "hit_count": 12}
//
// The remote end (dst for direction out, src for in; without a direction
// the public address) is source_ip and iocs.ips, the domain iocs.domains;
// the local end is the resource. src_ip and dst_ip are required.
func decodeCloudFW(dc *decodeContext, o object) ([]Alert, error) {
	var r reader
	src := r.ip(o, "src_ip")
	dst := r.ip(o, "dst_ip")
	direction := strings.ToLower(r.str(o, "direction"))
	srcInstance := r.str(o, "src_instance_id")
	dstInstance := r.str(o, "dst_instance_id")
	attack := strings.ToLower(r.str(o, "attack_type"))
	logType := strings.ToLower(r.str(o, "log_type"))
	level := r.str(o, "threat_level")
	ruleName := r.str(o, "rule_name")
	ruleResult := r.str(o, "rule_result")
	domain := strings.ToLower(r.str(o, "domain"))
	tags := r.strings(o, "intel_tags")
	a := Alert{Source: SourceCloudFW, Labels: map[string]string{}}
	a.Account = r.first(o, "aliuid", "user_id")
	a.Region = r.first(o, "region_id", "region")
	a.Time, _ = r.time(o, "time")
	if n, ok := r.int(o, "hit_count"); ok {
		if n < 0 || n > 1<<31 {
			r.fail(invalid(o.at("hit_count"), "%d is out of range", n))
		}
		a.Count = int(n)
	}
	for k, v := range map[string]string{
		"cloudfw.direction": direction, "cloudfw.log_type": logType, "cloudfw.attack_type": attack,
		"cloudfw.rule_result": ruleResult, "cloudfw.rule_id": r.str(o, "rule_id"), "cloudfw.rule_name": ruleName,
		"cloudfw.proto": r.str(o, "proto"), "cloudfw.src_port": r.str(o, "src_port"), "cloudfw.dst_port": r.str(o, "dst_port"),
		"cloudfw.app": r.str(o, "app_name"), "cloudfw.intel_tags": strings.Join(tags, ","),
	} {
		setLabel(a.Labels, k, v)
	}
	eventID := r.str(o, "event_id")
	if r.err != nil {
		return nil, r.err
	}
	if src == "" {
		return nil, missing(o.at("src_ip"))
	}
	if dst == "" {
		return nil, missing(o.at("dst_ip"))
	}
	outbound := direction == "out"
	if direction != "in" && direction != "out" {
		outbound = isLocal(src) && !isLocal(dst)
	}
	local, remote, localInstance := dst, src, dstInstance
	if outbound {
		local, remote, localInstance = src, dst, srcInstance
	}
	a.SourceIP = remote
	a.IOCs.IPs = []string{remote}
	if domain != "" {
		a.IOCs.Domains = []string{domain}
	}
	a.Resource.InstanceID = localInstance
	if isLocal(local) {
		a.Resource.IntranetIP = local
	} else {
		a.Resource.InternetIP = local
	}

	kind := cloudFWKind(attack, tags)
	if kind == "" {
		kind = classifyHost(ruleName)
	}
	if kind == "" {
		kind = dc.orSubjectType(TypeIntrusion, TypeIntrusion)
	}
	a.Type = kind
	if s, ok := severityFromLevel(level); ok {
		a.Severity = s
	} else {
		a.Severity = defaultSeverity(kind)
	}
	a.Title = "Cloud Firewall"
	if ruleResult != "" {
		a.Title += " " + ruleResult
	}
	a.Title += " " + firstNonEmpty(ruleName, kind) + ": "
	if outbound {
		a.Title += firstNonEmpty(localInstance, local) + " → " + remote
	} else {
		a.Title += remote + " → " + firstNonEmpty(localInstance, local)
	}
	if domain != "" {
		a.Title += " (" + domain + ")"
	}
	a.ID = vendorID("cloudfw", eventID)
	dc.fillFromCloudEvent(&a, "cloudfw")
	if a.ID == "" {
		a.ID = hashID("cloudfw", dc.payload)
	}
	a.Raw = dc.raw(dc.payload)
	return []Alert{a}, nil
}

func cloudFWKind(attack string, tags []string) string {
	for _, t := range append([]string{attack}, tags...) {
		switch strings.ToLower(strings.ReplaceAll(t, "-", "_")) {
		case "c2", "cnc", "c&c", "command_and_control", "botnet", "c2_connection":
			return TypeC2Connection
		case "mining", "miner", "coin_mining", "mining_pool", "cryptomining":
			return TypeMiner
		case "brute_force", "bruteforce", "weak_password", "password_guessing":
			return TypeBruteForce
		case "exploit", "vulnerability_exploit", "exploit_attempt", "rce":
			return TypeExploit
		case "scan", "scanner", "port_scan":
			return TypeScanner
		case "malware", "trojan", "malware_download", "virus":
			return TypeTrojan
		case "webshell":
			return TypeWebshell
		case "reverse_shell":
			return TypeReverseShell
		}
	}
	return ""
}

// isLocal reports whether ip is a private, CGNAT, loopback or link-local
// address (the side of a flow that is ours).
func isLocal(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
}

package alert

import (
	"strings"
)

// decodeWAF normalizes a WAF 3.0 or 2.0 attack log line (SLS, reference
// alibaba-openapi.md §13.4). The kind comes from final_rule_type (sqli, xss,
// webshell, …; "xss/webshell" takes the first it knows), else from
// final_plugin (cc → cc_attack, antiscan → scanner, acl → acl_block, bot →
// bot), else cc_rule_type; a log with none of these is an access log, not an
// alert (missing_field). WAF logs carry no severity: it follows the kind
// (sqli and rce high, xss and cc medium, scanners low).
//
// An aggregated alert built from WAF logs (an SLS alert query) may add
// "count", the number of requests it folds.
func decodeWAF(dc *decodeContext, o object) ([]Alert, error) {
	var r reader
	ruleType := strings.ToLower(r.str(o, "final_rule_type"))
	plugin := strings.ToLower(r.str(o, "final_plugin"))
	ccRule := r.str(o, "cc_rule_type")
	aclRule := r.str(o, "acl_rule_type")
	blockAction := r.str(o, "block_action")
	a := Alert{Source: SourceWAF, Labels: map[string]string{}}
	a.HTTP.Host = r.first(o, "host", "matched_host")
	a.HTTP.Method = strings.ToUpper(r.str(o, "request_method"))
	a.HTTP.Path = r.str(o, "request_path")
	if a.HTTP.Path == "" {
		a.HTTP.Path, _, _ = strings.Cut(r.str(o, "request_uri"), "?")
	}
	a.HTTP.UserAgent = r.first(o, "http_user_agent", "user_agent")
	if st, ok := r.int(o, "status"); ok {
		if st < 0 || st > 999 {
			r.fail(invalid(o.at("status"), "%d is not an HTTP status", st))
		}
		a.HTTP.Status = int(st)
	}
	a.HTTP.Rule = r.str(o, "final_rule_id")
	a.SourceIP = r.firstIP(o, "real_client_ip", "remote_addr", "http_x_forwarded_for")
	a.Account = r.str(o, "user_id")
	a.Region = r.str(o, "region")
	var ok bool
	if a.Time, ok = r.time(o, "time"); !ok {
		a.Time, _ = r.time(o, "__time__")
	}
	if n, ok := r.int(o, "count"); ok {
		if n < 0 || n > 1<<31 {
			r.fail(invalid(o.at("count"), "%d is out of range", n))
		}
		a.Count = int(n)
	}
	traceID := r.str(o, "request_traceid")
	action := r.str(o, "final_action")
	for k, v := range map[string]string{
		"waf.final_action": action, "waf.final_plugin": plugin, "waf.final_rule_type": ruleType,
		"waf.final_rule_id": a.HTTP.Rule, "waf.matched_host": r.str(o, "matched_host"),
		"waf.request_traceid": traceID, "waf.querystring": r.str(o, "querystring"),
		"waf.block_action": blockAction, "waf.cc_rule_type": ccRule, "waf.acl_rule_type": aclRule,
		"waf.dst_port": r.str(o, "dst_port"),
	} {
		setLabel(a.Labels, k, v)
	}
	if r.err != nil {
		return nil, r.err
	}
	if a.HTTP.Host == "" {
		return nil, missing(o.at("host"))
	}
	kind := wafKind(ruleType, plugin, ccRule, aclRule, blockAction)
	if kind == "" {
		return nil, decodeErr(ReasonMissingField, "%s or %s is required (a WAF log without them is not an attack)", o.at("final_rule_type"), o.at("final_plugin"))
	}
	a.Type = dc.orSubjectType(kind, TypeWebAttack)
	a.Severity = defaultSeverity(a.Type)

	a.Title = "WAF"
	if action != "" {
		a.Title += " " + action
	}
	a.Title += " " + a.Type
	if a.SourceIP != "" {
		a.Title += " from " + a.SourceIP
	}
	a.Title += " on " + a.HTTP.Host + a.HTTP.Path
	a.ID = vendorID("waf", traceID)
	dc.fillFromCloudEvent(&a, "waf")
	if a.ID == "" {
		a.ID = hashID("waf", dc.payload)
	}
	a.Raw = dc.raw(dc.payload)
	return []Alert{a}, nil
}

// wafKind classifies a WAF log; "" means it is not an attack log.
func wafKind(ruleType, plugin, ccRule, aclRule, blockAction string) string {
	for _, t := range strings.FieldsFunc(ruleType, func(r rune) bool { return r == '/' || r == ',' || r == '|' || r == ' ' }) {
		switch t {
		case "sqli", "sql", "sql_injection", "sqlinjection":
			return TypeSQLi
		case "xss":
			return TypeXSS
		case "webshell", "trojan":
			return TypeWebshell
		case "rce", "code_exec", "code_execution", "command_injection", "cmd_injection", "java_deserialization", "deserialization", "ssti", "expression_injection":
			return TypeRCE
		case "lfi", "rfi", "path_traversal", "directory_traversal", "file_inclusion", "arbitrary_file_read", "file_read":
			return TypePathTraversal
		case "scanner", "scan", "antiscan":
			return TypeScanner
		case "cc":
			return TypeCCAttack
		case "bot":
			return TypeBot
		}
	}
	switch plugin {
	case "cc", "cc_custom", "cc_system", "ratelimit", "rate_limit", "antidos":
		return TypeCCAttack
	case "antiscan", "scanner", "dir_scan", "high_freq_scan":
		return TypeScanner
	case "acl", "custom_acl", "blacklist", "ip_blacklist", "region_block", "area_ban":
		return TypeACLBlock
	case "bot", "antibot", "bot_management", "anti_crawler", "intelligence":
		return TypeBot
	}
	switch {
	case ccRule != "" && ccRule != "-":
		return TypeCCAttack
	case aclRule != "" && aclRule != "-":
		return TypeACLBlock
	case ruleType != "" && ruleType != "-", plugin != "" && plugin != "-":
		return TypeWebAttack
	}
	switch strings.ToLower(blockAction) {
	case "", "-":
		return ""
	case "tmd", "antifraud":
		return TypeCCAttack
	case "acl":
		return TypeACLBlock
	}
	return TypeWebAttack
}

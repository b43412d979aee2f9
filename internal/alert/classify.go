package alert

import (
	"strings"
	"unicode"
)

// Normalized kinds of [Alert.Type] the decoders produce. Custom
// sources may use others.
const (
	TypeWebshell          = "webshell"
	TypeTrojan            = "trojan"
	TypeMiner             = "miner"
	TypeReverseShell      = "reverse_shell"
	TypeSQLi              = "sqli"
	TypeXSS               = "xss"
	TypeRCE               = "rce"
	TypePathTraversal     = "path_traversal"
	TypeScanner           = "scanner"
	TypeBot               = "bot"
	TypeWebAttack         = "web_attack"
	TypeACLBlock          = "acl_block"
	TypeCCAttack          = "cc_attack"
	TypeBruteForce        = "brute_force"
	TypeAbnormalLogin     = "abnormal_login"
	TypeC2Connection      = "c2_connection"
	TypeExploit           = "exploit_attempt"
	TypeIntrusion         = "intrusion"
	TypeDDoS              = "ddos"
	TypeTrafficAnomaly    = "traffic_anomaly"
	TypeLeakedAccessKey   = "leaked_access_key"
	TypeSuspiciousAPICall = "suspicious_api_call"
	TypeVulnerability     = "vulnerability"
	TypeConfigDrift       = "config_drift"
	TypeSuspicious        = "suspicious_activity"
)

// KnownTypes returns the normalized kinds above. A subject's type token
// (alerts.<source>.<type>) is used as the alert type when the payload itself
// only yields a generic kind and the token is one of these.
func KnownTypes() []string {
	return []string{
		TypeWebshell, TypeTrojan, TypeMiner, TypeReverseShell, TypeSQLi, TypeXSS, TypeRCE,
		TypePathTraversal, TypeScanner, TypeBot, TypeWebAttack, TypeACLBlock, TypeCCAttack,
		TypeBruteForce, TypeAbnormalLogin, TypeC2Connection, TypeExploit, TypeIntrusion, TypeDDoS,
		TypeTrafficAnomaly, TypeLeakedAccessKey, TypeSuspiciousAPICall, TypeVulnerability,
		TypeConfigDrift, TypeSuspicious,
	}
}

func isKnownType(s string) bool {
	for _, t := range KnownTypes() {
		if t == s {
			return true
		}
	}
	return false
}

// orSubjectType returns kind unless it is the generic fallback and the
// subject names a known kind.
func (dc *decodeContext) orSubjectType(kind, generic string) string {
	if kind == generic && dc.typeToken != generic && isKnownType(dc.typeToken) {
		return dc.typeToken
	}
	return kind
}

// severityFromLevel maps vendor severity names onto 1–5: Security Center
// (serious, suspicious, remind), CloudMonitor (CRITICAL, WARN, INFO), threat
// levels (critical, high, medium, low, info), Chinese console labels, and the
// digits themselves.
func severityFromLevel(level string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "5", "critical", "serious", "urgent", "fatal", "emergency", "严重", "紧急":
		return SeverityCritical, true
	case "4", "high", "error", "major", "高危", "高":
		return SeverityHigh, true
	case "3", "medium", "warn", "warning", "suspicious", "moderate", "中危", "中", "可疑":
		return SeverityMedium, true
	case "2", "low", "remind", "notice", "minor", "低危", "低", "提醒":
		return SeverityLow, true
	case "1", "info", "informational", "normal", "信息", "提示":
		return SeverityInfo, true
	}
	return 0, false
}

// defaultSeverity is the severity of a kind when the vendor gives none.
func defaultSeverity(kind string) int {
	switch kind {
	case TypeReverseShell, TypeWebshell, TypeLeakedAccessKey:
		return SeverityCritical
	case TypeTrojan, TypeMiner, TypeC2Connection, TypeSQLi, TypeRCE, TypeDDoS, TypeExploit:
		return SeverityHigh
	case TypeXSS, TypePathTraversal, TypeCCAttack, TypeBruteForce, TypeAbnormalLogin, TypeIntrusion,
		TypeWebAttack, TypeTrafficAnomaly, TypeSuspiciousAPICall, TypeVulnerability, TypeSuspicious:
		return SeverityMedium
	case TypeScanner, TypeBot, TypeACLBlock, TypeConfigDrift:
		return SeverityLow
	}
	return SeverityMedium
}

// hostKinds are keywords of host-detector alert names (Security Center),
// English and Chinese, in priority order: "一句话木马" is a webshell, not a
// trojan, and "网站后门" is a webshell, not a backdoor.
var hostKinds = []struct {
	kind  string
	words []string
}{
	{TypeReverseShell, []string{"reverse shell", "reverse_shell", "reverseshell", "反弹shell", "反弹 shell", "反弹"}},
	{TypeWebshell, []string{"webshell", "web shell", "网站后门", "一句话木马", "web后门"}},
	{TypeMiner, []string{"mining", "miner", "coinminer", "xmrig", "cryptojack", "挖矿", "矿池", "矿机"}},
	{TypeLeakedAccessKey, []string{"accesskey leak", "access key leak", "ak leak", "ak泄露", "accesskey泄露", "凭证泄露"}},
	{TypeBruteForce, []string{"brute", "暴力破解", "爆破"}},
	{TypeAbnormalLogin, []string{"abnormal login", "abnormal logon", "unusual login", "unusual logon", "suspicious login", "suspicious logon", "异常登录", "异地登录"}},
	{TypeC2Connection, []string{"c&c", "c2", "command and control", "malicious domain", "malicious ip", "botnet", "恶意域名", "恶意ip", "外连", "回连", "僵尸网络"}},
	{TypeTrojan, []string{"trojan", "malicious process", "malware", "backdoor", "rootkit", "virus", "ransomware", "木马", "恶意进程", "后门", "病毒", "勒索"}},
	{TypeVulnerability, []string{"vulnerab", "cve-", "漏洞"}},
}

// classifyHost returns the kind named by texts, or "" when none matches.
func classifyHost(texts ...string) string {
	for _, k := range hostKinds {
		for _, t := range texts {
			if t == "" {
				continue
			}
			lt := strings.ToLower(t)
			for _, w := range k.words {
				if containsWord(lt, w) {
					return k.kind
				}
			}
		}
	}
	return ""
}

// containsWord reports whether s contains w; short ASCII keywords (c2, cve-)
// must stand alone so that "ec2" is not a C&C.
func containsWord(s, w string) bool {
	if len(w) > 3 {
		return strings.Contains(s, w)
	}
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		if (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end])) {
			return true
		}
		i = start + 1
	}
}

func isWordByte(b byte) bool {
	return b < 0x80 && (unicode.IsLetter(rune(b)) || unicode.IsDigit(rune(b)))
}

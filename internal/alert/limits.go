package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the normalized envelope. The first alert of an incident is
// workflow input, so it must stay far below Temporal's payload limits
// (512 KiB warning, 2 MiB error) whatever a detector sends.
const (
	// MaxIDLen is the longest alert ID; longer vendor IDs are hashed, longer
	// envelope IDs are refused.
	MaxIDLen = 200
	// MaxTitleLen and MaxStringLen bound text fields (bytes); longer values
	// are cut at a rune boundary and end with "…".
	MaxTitleLen  = 1024
	MaxStringLen = 4096
	// MaxListItems bounds security_group_ids, each iocs list, labels and
	// resource tags; longer ones are refused (too_many_items).
	MaxListItems = 256
	// MaxLabelKeyLen and MaxLabelValueLen bound labels and tags.
	MaxLabelKeyLen   = 128
	MaxLabelValueLen = 1024
)

// TruncatedKey is set (to true) in [Alert.Raw] when the original payload
// was larger than [DecodeOptions.MaxRawBytes] and was replaced by a summary:
// {"soar_truncated": true, "bytes": N, "sha256": "…", "head": "<first bytes
// of the canonical JSON>"}.
const TruncatedKey = "soar_truncated"

var typeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// capString cuts s to n bytes, marking the cut with "…".
func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncate(s, n-len("…")) + "…"
}

// oneLine replaces control characters (newlines included) with spaces, so
// that a title cannot forge lines in notifications and logs.
func oneLine(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029
}

// vendorID prefixes a vendor's own ID, hashing it when it is too long or
// holds control characters.
func vendorID(prefix, id string) string {
	if id == "" {
		return ""
	}
	if len(prefix)+1+len(id) > MaxIDLen || strings.IndexFunc(id, isControl) >= 0 || !utf8.ValidString(id) {
		sum := sha256.Sum256([]byte(id))
		return prefix + "-" + hex.EncodeToString(sum[:16])
	}
	return prefix + "-" + id
}

// finish applies the envelope limits and checks the result. It is the last
// step for every decoder, so vendor and envelope alerts obey the same rules.
func finish(a *Alert) *DecodeError {
	if a.ID == "" {
		return missing("id")
	}
	if len(a.ID) > MaxIDLen {
		return invalid("id", "%d bytes, at most %d", len(a.ID), MaxIDLen)
	}
	if strings.IndexFunc(a.ID, isControl) >= 0 {
		return invalid("id", "contains control characters")
	}
	if a.Type == "" {
		return missing("type")
	}
	if !typeRE.MatchString(a.Type) {
		return invalid("type", "%q: want lowercase letters, digits, _ . - (e.g. webshell)", clip(a.Type, 40))
	}
	if a.Severity < SeverityInfo || a.Severity > SeverityCritical {
		return invalid("severity", "%d: want 1 (info) to 5 (critical)", a.Severity)
	}
	if a.Count < 0 {
		return invalid("count", "%d is negative", a.Count)
	}
	if a.Process.PID < 0 {
		return invalid("process.pid", "%d is negative", a.Process.PID)
	}
	if a.HTTP.Status < 0 || a.HTTP.Status > 999 {
		return invalid("http.status", "%d is not an HTTP status", a.HTTP.Status)
	}
	if !a.Time.IsZero() && (a.Time.Year() < 1970 || a.Time.Year() > 9999) {
		return invalid("time", "year %d is out of range", a.Time.Year())
	}
	for _, f := range []struct {
		path string
		p    *string
	}{
		{"source_ip", &a.SourceIP}, {"resource.internet_ip", &a.Resource.InternetIP}, {"resource.intranet_ip", &a.Resource.IntranetIP},
	} {
		ip, err := parseIP(*f.p)
		if err != nil {
			return invalid(f.path, "%q is not an IP address", clip(*f.p, 60))
		}
		*f.p = ip
	}
	for _, l := range []struct {
		path string
		p    *[]string
		ip   bool
	}{
		{"resource.security_group_ids", &a.Resource.SecurityGroupIDs, false},
		{"iocs.ips", &a.IOCs.IPs, true}, {"iocs.domains", &a.IOCs.Domains, false}, {"iocs.hashes", &a.IOCs.Hashes, false},
	} {
		if len(*l.p) > MaxListItems {
			return decodeErr(ReasonTooManyItems, "%s has %d items, at most %d", l.path, len(*l.p), MaxListItems)
		}
		out := (*l.p)[:0]
		seen := make(map[string]bool, len(*l.p))
		for i, s := range *l.p {
			s = strings.TrimSpace(s)
			if l.ip {
				ip, err := parseIP(s)
				if err != nil {
					return invalid(l.path+"["+strconv.Itoa(i)+"]", "%q is not an IP address", clip(s, 60))
				}
				s = ip
			} else {
				s = capString(s, MaxLabelValueLen)
			}
			if s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		*l.p = out
	}
	for _, m := range []struct {
		path string
		p    *map[string]string
	}{{"labels", &a.Labels}, {"resource.tags", &a.Resource.Tags}} {
		if len(*m.p) > MaxListItems {
			return decodeErr(ReasonTooManyItems, "%s has %d entries, at most %d", m.path, len(*m.p), MaxListItems)
		}
		for k, v := range *m.p {
			if len(k) > MaxLabelKeyLen || k == "" {
				return invalid(m.path, "key %q: want 1 to %d bytes", clip(k, 40), MaxLabelKeyLen)
			}
			(*m.p)[k] = capString(v, MaxLabelValueLen)
		}
	}
	a.Title = capString(oneLine(a.Title), MaxTitleLen)
	for _, p := range []*string{
		&a.Source, &a.Account, &a.Region,
		&a.Resource.InstanceID, &a.Resource.Hostname,
		&a.HTTP.Host, &a.HTTP.Path, &a.HTTP.Method, &a.HTTP.UserAgent, &a.HTTP.Rule,
		&a.Process.Name, &a.Process.Path, &a.Process.Cmdline, &a.Process.User,
		&a.File.Path, &a.File.SHA256,
	} {
		*p = capString(*p, MaxStringLen)
	}
	return nil
}

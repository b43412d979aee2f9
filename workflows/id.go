package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxKeyLen is the longest dedup key kept verbatim in a workflow ID.
const maxKeyLen = 80

// IncidentID returns the workflow ID of the incident of playbook for the
// dedup key (or the alert ID without dedup): "<playbook>.<key>", using only
// [A-Za-z0-9._-] because the Temporal UI mishandles other characters. Other
// characters become "_", and when anything was replaced or the key was cut
// to length, a short hash of the real key is appended so that distinct keys
// never share an incident:
//
//	IncidentID("ssh-bruteforce", "203.0.113.7")  = "ssh-bruteforce.203.0.113.7"
//	IncidentID("threat-intel-c2", "2001:db8::1") = "threat-intel-c2.2001_db8__1-<hash>"
func IncidentID(playbook, key string) string {
	var b strings.Builder
	replaced := false
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			replaced = true
		}
	}
	safe := b.String()
	if len(safe) > maxKeyLen {
		safe = safe[:maxKeyLen]
		replaced = true
	}
	if safe == "" {
		replaced = true
	}
	if replaced {
		sum := sha256.Sum256([]byte(key))
		safe += "-" + hex.EncodeToString(sum[:3])
	}
	return playbook + "." + safe
}

package workflows

import (
	"regexp"
	"strings"
	"testing"
)

func TestIncidentID(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	tests := []struct {
		playbook, key string
		want          string // exact, or a prefix when it ends with "*"
	}{
		{"ssh-bruteforce", "203.0.113.7", "ssh-bruteforce.203.0.113.7"},
		{"compromised-host", "i-bp1abcdefghij0123456", "compromised-host.i-bp1abcdefghij0123456"},
		{"threat-intel-c2", "2001:db8::1", "threat-intel-c2.2001_db8__1-*"},
		{"waf", "www.example.com/login?x=1", "waf.www.example.com_login_x_1-*"},
		{"waf", "", "waf.-*"},
		{"waf", "挂马", "waf.__-*"},
		{"waf", strings.Repeat("a", 200), "waf." + strings.Repeat("a", 80) + "-*"},
	}
	for _, tt := range tests {
		got := IncidentID(tt.playbook, tt.key)
		if !valid.MatchString(got) {
			t.Errorf("IncidentID(%q, %q) = %q has characters outside [A-Za-z0-9._-]", tt.playbook, tt.key, got)
		}
		if p, ok := strings.CutSuffix(tt.want, "*"); ok {
			if !strings.HasPrefix(got, p) || len(got) != len(p)+6 {
				t.Errorf("IncidentID(%q, %q) = %q, want %s<6 hex>", tt.playbook, tt.key, got, p)
			}
		} else if got != tt.want {
			t.Errorf("IncidentID(%q, %q) = %q, want %q", tt.playbook, tt.key, got, tt.want)
		}
	}
	// Keys that sanitize alike must not share an incident.
	if a, b := IncidentID("p", "a:b"), IncidentID("p", "a/b"); a == b {
		t.Errorf("IncidentID(a:b) = IncidentID(a/b) = %q", a)
	}
	if a, b := IncidentID("p", "a:b"), IncidentID("p", "a_b"); a == b {
		t.Errorf("IncidentID(a:b) = IncidentID(a_b) = %q", a)
	}
}

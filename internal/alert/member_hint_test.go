package alert

import "testing"

// TestUnknownMemberHint checks the message of an unknown envelope member:
// it suggests the member meant, at any level, and points at the README
// rather than a design document users do not have.
func TestUnknownMemberHint(t *testing.T) {
	tests := []struct {
		payload, want string
	}{
		{`{"type":"x","sorce_ip":"203.0.113.7"}`, `sorce_ip: not a member of the alert envelope (did you mean "source_ip"?) (see Alerts in README.md)`},
		{`{"type":"x","resource":{"instance":"i-1"}}`, `instance: not a member of the alert envelope (did you mean "instance_id"?) (see Alerts in README.md)`},
		{`{"type":"x","process":{"cmd_line":"sh"}}`, `cmd_line: not a member of the alert envelope (did you mean "cmdline"?) (see Alerts in README.md)`},
		{`{"type":"x","resource":{"zzzzzzzz":"i-1"}}`, `zzzzzzzz: not a member of the alert envelope (see Alerts in README.md)`},
	}
	for _, tt := range tests {
		_, err := DecodeAll("alerts.soar.x", []byte(tt.payload), DecodeOptions{})
		var de *DecodeError
		if !asDecodeError(err, &de) || de.Detail != tt.want {
			t.Errorf("DecodeAll(%s) = %v, want detail %q", tt.payload, err, tt.want)
		}
	}
}

package suggest

import "testing"

func TestClosest(t *testing.T) {
	candidates := []string{"trigger", "steps", "on_failure", "max_attempts", "alicloud.waf.block_ip", "dry_run", "instance_id"}
	for s, want := range map[string]string{
		"tigger": "trigger", "setps": "steps", "on-failure": "on_failure", "attempts": "max_attempts",
		"alicloud.waf.blockip": "alicloud.waf.block_ip", "dry-run": "dry_run", "instance": "instance_id",
		"zzz": "", "description": "", "steps": "",
	} {
		if got := Closest(s, candidates); got != want {
			t.Errorf("Closest(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	if got, want := DidYouMean("sorce_ip", []string{"source_ip", "type"}), ` (did you mean "source_ip"?)`; got != want {
		t.Errorf("DidYouMean = %q, want %q", got, want)
	}
	if got := DidYouMean("frobnicate", []string{"source_ip", "type"}); got != "" {
		t.Errorf("DidYouMean of an unlike name = %q, want nothing", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"源地址", "源地", 1}, {"", "abc", 3},
	} {
		if got := EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

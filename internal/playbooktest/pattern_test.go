package playbooktest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
)

// parsePattern parses YAML text as an expected value.
func parsePattern(t *testing.T, src string) *pattern {
	t.Helper()
	p := newParser("pattern.yaml", []byte(src))
	root, ok := p.decode([]byte(src))
	if !ok {
		t.Fatalf("decode %q: %v", src, p.diags)
	}
	pt, ok := p.pattern(root, "value")
	if !ok || len(p.diags) > 0 {
		t.Fatalf("pattern %q: %v", src, p.diags)
	}
	return pt
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		value   any
		want    []string // mismatches, "" path for the root
	}{
		{"subset of a map", "{ip: 203.0.113.7}", map[string]any{"ip": "203.0.113.7", "direction": "in"}, nil},
		{"missing key", "{ip: 203.0.113.7}", map[string]any{"direction": "in"}, []string{"ip: expected 203.0.113.7, got null"}},
		{"numbers by value", "{pid: 4242}", map[string]any{"pid": 4242.0}, nil},
		{"string is not a number", "{pid: 4242}", map[string]any{"pid": "4242"}, []string{`pid: expected 4242, got "4242"`}},
		{"quoted number is a string", `{rule: "22215"}`, map[string]any{"rule": "22215"}, nil},
		{"list in order", "[a, b]", []any{"a", "b"}, nil},
		{"list length", "[a]", []any{"a", "b"}, []string{`expected 1 item(s) [a], got 2: [a, b]`}},
		{"nested", "{params: {pid: 1}}", map[string]any{"params": map[string]any{"pid": 2.0}}, []string{"params.pid: expected 1, got 2"}},
		{"contains", "{text: !contains blocked}", map[string]any{"text": "ip blocked at the WAF"}, nil},
		{"contains fails", "{text: !contains blocked}", map[string]any{"text": "not now"}, []string{`text: expected text containing blocked, got not now`}},
		{"matches", `{id: !matches "^i-[a-z0-9]+$"}`, map[string]any{"id": "i-web1"}, nil},
		{"any", "{id: !any }", map[string]any{"id": "x"}, nil},
		{"any needs a value", "{id: !any }", map[string]any{}, []string{"id: expected a value, got nothing"}},
		{"absent", "{force: !absent }", map[string]any{"id": "x"}, nil},
		{"absent fails", "{force: !absent }", map[string]any{"force": true}, []string{"force: expected nothing, got true"}},
		{"map against a string", "{a: 1}", "x", []string{"expected {a: 1}, got x"}},
		{"long text is shown whole", "{text: !contains approved by analyst}", map[string]any{"text": strings.Repeat("x", 70) + "\napproved by )"},
			[]string{"text: expected text containing approved by analyst, got \"" + strings.Repeat("x", 70) + "\\napproved by )\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt := parsePattern(t, tt.pattern)
			var got []string
			for _, m := range pt.match(tt.value, "") {
				got = append(got, m.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("match(%s, %v) mismatch (-want +got):\n%s", tt.pattern, tt.value, diff)
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		value any
		want  string
	}{
		{map[string]any{"ip": "203.0.113.7", "ports": []any{22.0, 80.0}}, "{ip: 203.0.113.7, ports: [22, 80]}"},
		{"22215", `"22215"`},
		{"", `""`},
		{"a: b", `"a: b"`},
		{"true", `"true"`},
		{nil, "null"},
		{map[string]any{"id": "i-1", "force": false}, "{force: false, id: i-1}"},
	}
	for _, tt := range tests {
		if got := render(tt.value); got != tt.want {
			t.Errorf("render(%v) = %s, want %s", tt.value, got, tt.want)
		}
	}
}

func TestMatchSubject(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"alerts.waf.>", "alerts.waf.sqli", true},
		{"alerts.waf.>", "alerts.waf", false},
		{"alerts.*.sqli", "alerts.waf.sqli", true},
		{"alerts.*.sqli", "alerts.waf.xss", false},
		{"alerts.soar.ddos", "alerts.soar.ddos", true},
		{"alerts.soar.ddos", "alerts.soar.ddos.x", false},
		{"alerts.>", "alerts.sas.webshell", true},
	}
	for _, tt := range tests {
		if got := matchSubject(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("matchSubject(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestExecutionsCanonicalOrder(t *testing.T) {
	order := map[string]int{"evidence": 0, "block": 1, "notify": 2}
	calls := []call{
		{seq: 5, action: "b", at: 0, attempt: 1, meta: metaStep("block#1")},
		{seq: 3, action: "e", at: 0, attempt: 1, meta: metaStep("evidence")},
		{seq: 6, action: "b", at: 0, attempt: 1, meta: metaStep("block#0")},
		{seq: 3, action: "e", at: 1, attempt: 2, meta: metaStep("evidence"), err: ""},
		{seq: 9, action: "n", at: 0, attempt: 1, meta: metaStep("notify")},
		{seq: 1, action: "b", at: 10, attempt: 1, meta: metaStep("block#0")},
	}
	var got []string
	for _, e := range executions(calls, order) {
		got = append(got, e.step+" "+offset(e.at)+" "+plural(e.attempts, "attempt"))
	}
	want := []string{"evidence +0s 2 attempts", "block#0 +0s 1 attempt", "block#1 +0s 1 attempt", "notify +0s 1 attempt", "block#0 +10ns 1 attempt"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("executions order mismatch (-want +got):\n%s", diff)
	}
}

func metaStep(step string) activities.Meta { return activities.Meta{Step: step} }

package playbook_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/playbook"
)

// head is a valid start of a playbook; cases append their steps.
const head = "name: t\ntrigger: { subjects: [alerts.sas.>] }\nsteps:\n"

// at is the part of a diagnostic a structural test asserts: independent of
// the wording.
type at struct {
	Code     string
	Line     int
	Column   int
	Severity playbook.Severity
}

func TestDiagnosticsStructure(t *testing.T) {
	opts := MustOptions(t)
	tests := []struct {
		name string
		src  string
		want []at
	}{
		{"valid", head + "  - { id: w, wait: 1m }\n", nil},
		{"unknown top-level key", head + "  - { id: w, wait: 1m }\ntitel: x\n",
			[]at{{"unknown-key", 5, 1, playbook.SeverityError}}},
		{"x- keys are ignored", head + "  - { id: w, wait: 1m }\nx-anchors: { a: 1 }\n", nil},
		{"unknown action in flow mapping", head + "  - { id: a, action: nope, with: {} }\n",
			[]at{{"unknown-action", 4, 22, playbook.SeverityError}}},
		{"cel error in plain scalar", "name: t\ntrigger:\n  subjects: [alerts.>]\n  when: alert.sorce_ip == \"\"\nsteps:\n  - { id: w, wait: 1m }\n",
			[]at{{"cel-type", 4, 15, playbook.SeverityError}}},
		{"cel error in double-quoted scalar with escapes", "name: t\ntrigger:\n  subjects: [alerts.>]\n  when: \"alert.type == \\\"x\\\" && alert.sorce_ip == ''\"\nsteps:\n  - { id: w, wait: 1m }\n",
			[]at{{"cel-type", 4, 39, playbook.SeverityError}}},
		{"cel error in single-quoted scalar with a doubled quote", "name: t\ntrigger:\n  subjects: [alerts.>]\n  when: 'alert.type == ''x'' && alert.sorce_ip == \"\"'\nsteps:\n  - { id: w, wait: 1m }\n",
			[]at{{"cel-type", 4, 39, playbook.SeverityError}}},
		{"cel error on the second line of a literal block", "name: t\ntrigger:\n  subjects: [alerts.>]\n  when: |\n    alert.type == \"x\" &&\n      alert.sorce_ip == \"\"\nsteps:\n  - { id: w, wait: 1m }\n",
			[]at{{"cel-type", 6, 13, playbook.SeverityError}}},
		{"cel error on the second line of a folded block", "name: t\ntrigger:\n  subjects: [alerts.>]\n  when: >-\n    alert.type == \"x\"\n    && alert.sorce_ip == \"\"\nsteps:\n  - { id: w, wait: 1m }\n",
			[]at{{"cel-type", 6, 14, playbook.SeverityError}}},
		{"cel error in a multi-line plain scalar", "name: t\ntrigger:\n  subjects: [alerts.>]\n  when: alert.type == \"x\"\n    && alert.sorce_ip == \"\"\nsteps:\n  - { id: w, wait: 1m }\n",
			[]at{{"cel-type", 5, 14, playbook.SeverityError}}},
		{"second template segment after multi-byte text", head + "  - id: p\n    action: notify.webhook\n    with: { channel: secops, text: \"挂马 ${{ alert.title }} ${{ alert.tite }}\" }\n",
			[]at{{"cel-type", 6, 69, playbook.SeverityError}}},
		{"template in a literal block, third line", head + "  - id: p\n    action: notify.webhook\n    with:\n      channel: secops\n      text: |\n        a ${{ alert.title }}\n        b\n        c ${{ alert.tite }}\n",
			[]at{{"cel-type", 11, 21, playbook.SeverityError}}},
		{"template after an escaped tab", head + "  - id: p\n    action: notify.webhook\n    with: { channel: secops, text: \"\\t${{ alert.tite }}\" }\n",
			[]at{{"cel-type", 6, 49, playbook.SeverityError}}},
		{"template behind an anchor", head + "  - id: p\n    action: notify.webhook\n    with: { channel: secops, text: &t \"${{ alert.tite }}\" }\n",
			[]at{{"cel-type", 6, 50, playbook.SeverityError}}},
		{"unterminated template", head + "  - id: p\n    action: notify.webhook\n    with: { channel: secops, text: \"a ${{ alert.title\" }\n",
			[]at{{"template-syntax", 6, 39, playbook.SeverityError}}},
		{"step reads a later step", head + "  - id: a\n    if: steps.b.status == \"succeeded\"\n    wait: 1m\n  - { id: b, wait: 1m }\n",
			[]at{{"forward-ref", 5, 15, playbook.SeverityWarning}}},
		{"gated step reads its own approvers", head + "  - id: a\n    approval: { approvers: [secops] }\n    action: notify.webhook\n    with: { channel: secops, text: \"by ${{ steps.a.approved_by }}\" }\n", nil},
		{"on_failure reads the steps", head + "  - { id: a, wait: 1m }\non_failure:\n  - id: f\n    if: steps.a.status == \"failed\"\n    wait: 1m\n", nil},
		{"step reads an on_failure step", head + "  - id: a\n    if: steps.f.status == \"failed\"\n    wait: 1m\non_failure:\n  - { id: f, wait: 1m }\n",
			[]at{{"forward-ref", 5, 15, playbook.SeverityWarning}}},
		{"duplicate id in on_failure", head + "  - { id: a, wait: 1m }\non_failure:\n  - { id: a, wait: 1m }\n",
			[]at{{"duplicate-id", 6, 11, playbook.SeverityError}}},
		{"missing param at the action", head + "  - id: b\n    action: alicloud.waf.block_ip\n",
			[]at{{"missing-param", 5, 13, playbook.SeverityError}}},
		{"missing param at with", head + "  - id: b\n    action: alicloud.waf.block_ip\n    with: { instance_id: waf-1 }\n",
			[]at{{"missing-param", 6, 5, playbook.SeverityError}}},
		{"whole template int for a string param", head + "  - id: p\n    action: notify.webhook\n    with: { channel: secops, text: \"${{ alert.count }}\" }\n",
			[]at{{"param-type", 6, 41, playbook.SeverityError}}},
		{"embedded int for a string param", head + "  - id: p\n    action: notify.webhook\n    with: { channel: secops, text: \"n=${{ alert.count }}\" }\n", nil},
		{"dyn for a list param", head + "  - id: d\n    action: alicloud.ddos.blacklist_ip\n    with: { domain: x, ips: \"${{ alert.raw.ips }}\" }\n", nil},
		{"protected literal in a list", head + "  - id: d\n    action: alicloud.ddos.blacklist_ip\n    with: { domain: x, ips: [203.0.113.7, 127.0.0.1] }\n",
			[]at{{"protected-target", 6, 43, playbook.SeverityError}}},
		{"private address in a trace is fine", head + "  - id: t\n    action: alicloud.actiontrail.lookup_events\n    with: { ip: 10.0.0.1 }\n", nil},
		{"ids merged from an anchor", "x-s: &s { id: merged, wait: 1m }\n" + head + "  - { <<: *s }\n  - id: b\n    if: steps.merged.status == \"succeeded\"\n    wait: 1m\n", nil},
		{"yaml error", "name: t\ntrigger: [\n", []at{{"yaml-syntax", 2, 1, playbook.SeverityError}}},
		{"several problems, sorted", head + "  - id: B\n    wait: 1x\n  - id: p\n    action: notify.webhook\n    with: { channel: nope, text: hi, meta: 1 }\n",
			[]at{
				{"invalid-id", 4, 9, playbook.SeverityError},
				{"invalid-duration", 5, 11, playbook.SeverityError},
				{"unknown-channel", 8, 22, playbook.SeverityError},
				{"reserved-param", 8, 38, playbook.SeverityError},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := playbook.Parse("t.yaml", []byte(tt.src), opts)
			var got []at
			for _, d := range diags {
				got = append(got, at{d.Code, d.Pos.Line, d.Pos.Column, d.Severity})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse diagnostics mismatch (-want +got):\n%s\n%s", diff, diags.Render())
			}
		})
	}
}

func TestDiagnosticRender(t *testing.T) {
	d := playbook.Diagnostic{
		Pos:        playbook.Position{File: "x.yaml", Line: 3, Column: 9},
		Code:       "cel-type",
		Message:    "undefined field 'tite'",
		SourceLine: "\ttitle: 挂马 ${{ x }}",
	}
	want := "ERROR: x.yaml:3:9: undefined field 'tite' [cel-type]\n" +
		" |  title: 挂马 ${{ x }}\n" +
		" | ........＾"
	if got := d.Render(); got != want {
		t.Errorf("Render() =\n%s\nwant\n%s", got, want)
	}
	d.Severity = playbook.SeverityWarning
	d.SourceLine = ""
	if got, want := d.Render(), "WARNING: x.yaml:3:9: undefined field 'tite' [cel-type]"; got != want {
		t.Errorf("Render() = %q, want %q", got, want)
	}
}

func TestDiagnosticsErr(t *testing.T) {
	warn := playbook.Diagnostic{Pos: playbook.Position{File: "a.yaml", Line: 1, Column: 1}, Code: "forward-ref", Severity: playbook.SeverityWarning, Message: "w"}
	errd := playbook.Diagnostic{Pos: playbook.Position{File: "a.yaml", Line: 2, Column: 1}, Code: "unknown-key", Message: "e"}
	if err := (playbook.Diagnostics{warn}).Err(); err != nil {
		t.Errorf("Err() with only warnings = %v, want nil", err)
	}
	ds := playbook.Diagnostics{warn, errd}
	err := ds.Err()
	if err == nil || !strings.Contains(err.Error(), "ERROR: a.yaml:2:1: e [unknown-key]") {
		t.Errorf("Err() = %v, want the error rendered", err)
	}
	if e, w := ds.Count(); e != 1 || w != 1 {
		t.Errorf("Count() = %d, %d, want 1, 1", e, w)
	}
	b, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back[0]["severity"] != "warning" || back[1]["severity"] != "error" {
		t.Errorf("JSON severities = %v, %v, want warning, error", back[0]["severity"], back[1]["severity"])
	}
	if b, _ := json.Marshal(playbook.Diagnostics(nil)); string(b) != "[]" {
		t.Errorf("JSON of no diagnostics = %s, want []", b)
	}
}

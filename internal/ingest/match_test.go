package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/playbook"
)

// subjectMatches is the reference NATS subject matcher (and the linear-scan
// baseline of BenchmarkMatch): * is one token, a final > one or more.
func subjectMatches(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" && i == len(pt)-1 {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

func TestSubjectMatch(t *testing.T) {
	for _, c := range []struct{ pattern, subject string }{
		{"alerts.>", "alerts.sas.webshell"}, {"alerts.>", "alerts"}, {"alerts.*", "alerts.sas"}, {"alerts.*", "alerts.sas.x"},
		{"*.*.*", "a.b.c"}, {"a.b", "a.b"}, {"a.b", "a.c"}, {">", "a"}, {"a.>", "a.b.c.d"}, {"a.*.c", "a.b.c"}, {"a.*.c", "a.b"},
	} {
		if got, want := subjectMatch(c.pattern, c.subject), subjectMatches(c.pattern, c.subject); got != want {
			t.Errorf("subjectMatch(%q, %q) = %v, want %v", c.pattern, c.subject, got, want)
		}
	}
}

func TestIndex_Candidates(t *testing.T) {
	pbs := []*playbook.Playbook{
		pb("all", "", "", "alerts.>"),
		pb("sas-any", "", "", "alerts.sas.>"),
		pb("any-webshell", "", "", "alerts.*.webshell"),
		pb("exact", "", "", "alerts.waf.sqli"),
		pb("two-patterns", "", "", "alerts.sas.webshell", "alerts.sas.*"),
		pb("three-tokens-star", "", "", "*.*.*"),
		pb("deep", "", "", "alerts.sas.webshell.>"),
	}
	off := pb("disabled", "", "", "alerts.>")
	off.Enabled = false
	pbs = append(pbs, off)
	ix, errs := buildIndex(testEnv(t), pbs, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, subject := range []string{
		"alerts.sas.webshell", "alerts.waf.sqli", "alerts.waf.xss", "alerts", "alerts.sas",
		"alerts.sas.webshell.extra", "other.sas.webshell", "alerts..x", "", "alerts.sas.",
	} {
		var want []string
		valid := subject != "" && !strings.Contains(subject, "..") && !strings.HasSuffix(subject, ".")
		for _, p := range pbs {
			if !p.Enabled || !valid {
				continue
			}
			for _, pat := range p.Trigger.Subjects {
				if subjectMatches(pat, subject) {
					want = append(want, p.Name)
					break
				}
			}
		}
		var got []string
		for _, e := range ix.candidates(subject) {
			got = append(got, e.pb.Name)
		}
		// Both lists are in name order.
		sortStrings(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("candidates(%q) (-linear scan +index):\n%s", subject, diff)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestMatcher_Match(t *testing.T) {
	metrics := NewMetrics()
	sev := pb("sev", `true`, "", "alerts.waf.>")
	sev.Severity = `alert.severity + 3`
	m, errs := NewMatcher(testEnv(t), []*playbook.Playbook{
		pb("sqli", `alert.type == "sqli"`, "alert.source_ip", "alerts.waf.>"),
		pb("xss", `alert.type == "xss"`, "", "alerts.waf.>"),
		pb("bad-when", `alert.labels["missing"] == "x"`, "", "alerts.waf.>"),
		pb("bad-key", `alert.type == "sqli"`, `alert.labels["missing"]`, "alerts.waf.>"),
		pb("empty-key", `alert.type == "sqli"`, `alert.resource.instance_id`, "alerts.waf.>"),
		sev,
	}, testLogger(t), metrics)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, a := sample(t, "waf-sqli-blacklist")
	got := m.Match(context.Background(), "alerts.waf.sqli", &a, time.Now())
	type row struct {
		Name, Key string
		Severity  int
	}
	var rows []row
	for _, mt := range got {
		rows = append(rows, row{mt.Playbook.Name, mt.DedupKey, mt.Severity})
	}
	want := []row{
		{"bad-key", a.ID, 4},   // dedup key failed: the alert ID
		{"empty-key", a.ID, 4}, // dedup key empty: the alert ID
		{"sev", "", 5},         // severity expression, clamped to 5
		{"sqli", "203.0.113.7", 4},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Match (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		name string
		want float64
		lbl  []string
	}{
		{"soar_ingest_when_errors_total", 1, []string{"playbook", "bad-when"}},
		{"soar_ingest_dedup_key_errors_total", 2, nil},
		{"soar_ingest_alerts_matched_total", 1, []string{"playbook", "sqli"}},
		{"soar_ingest_match_seconds", 1, nil},
	} {
		if got := metric(t, metrics, c.name, c.lbl...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.lbl, got, c.want)
		}
	}
	d := got[3].Delivery(a)
	if d.WorkflowID != "sqli.203.0.113.7" || d.UpdateID != a.ID+"/sqli" || d.DedupKey != "203.0.113.7" {
		t.Errorf("Delivery = {%s %s %s}", d.WorkflowID, d.UpdateID, d.DedupKey)
	}
	if d := got[2].Delivery(a); d.WorkflowID != "sev."+a.ID || d.Severity != 5 {
		t.Errorf("Delivery without dedup = {%s severity %d}, want sev.<alert id>, 5", d.WorkflowID, d.Severity)
	}
}

func TestMatcher_ReplaceKeepsCompiledPrograms(t *testing.T) {
	p1 := pb("p", `alert.type == "sqli"`, "", "alerts.waf.>")
	m := newMatcher(t, p1)
	before := m.idx.Load().entries[0].when
	same := *p1
	m.Replace([]*playbook.Playbook{&same})
	if m.idx.Load().entries[0].when != before {
		t.Error("Replace with an unchanged playbook recompiled its trigger")
	}
	changed := pb("p", `alert.type == "xss"`, "", "alerts.waf.>")
	m.Replace([]*playbook.Playbook{changed})
	_, a := sample(t, "waf-sqli-blacklist")
	if got := m.Match(context.Background(), "alerts.waf.sqli", &a, time.Now()); len(got) != 0 {
		t.Errorf("after Replace, the old trigger still matches: %v", got)
	}
	bad := pb("q", `alert.nope`, "", "alerts.>")
	if errs := m.Replace([]*playbook.Playbook{changed, bad}); len(errs) != 1 {
		t.Errorf("Replace with an uncompilable playbook: errs = %v, want 1", errs)
	}
	if got := m.Playbooks(); len(got) != 1 || got[0].Name != "p" {
		t.Errorf("Playbooks() = %v, want [p]", got)
	}
}

var _ = alert.Alert{}

package playbooktest

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

var update = flag.Bool("update", false, "update golden files")

// testEnv builds one CEL environment for a test.
func testEnv(t *testing.T) *expr.Env {
	t.Helper()
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		t.Fatalf("expr.NewEnv: %v", err)
	}
	return env
}

// mustRun runs a test file that must parse.
func mustRun(t *testing.T, path string, opts Options) FileResult {
	t.Helper()
	if opts.Env == nil {
		opts.Env = testEnv(t)
	}
	res, err := RunFile(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("RunFile(%s) error: %v\n%s", path, err, res.Diagnostics.Render())
	}
	return res
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestRunFile_PassingCases(t *testing.T) {
	res := mustRun(t, "testdata/host.test.yaml", Options{})
	if res.Playbook != "host-response" || res.PlaybookFile != filepath.Join("testdata", "host.yaml") {
		t.Errorf("playbook = %q from %q, want host-response from testdata/host.yaml", res.Playbook, res.PlaybookFile)
	}
	if len(res.Cases) != 12 {
		t.Fatalf("ran %d cases, want 12", len(res.Cases))
	}
	for _, c := range res.Cases {
		if !c.Passed {
			t.Errorf("case %q failed:\n%s", c.Name, c.Report)
		}
	}
	if !res.Passed() || res.Failed() != 0 {
		t.Errorf("Passed() = %v, Failed() = %d; want true, 0", res.Passed(), res.Failed())
	}
	// The first case's C&C blocks are lifted after 72h of workflow time.
	first := res.Cases[0]
	if first.Simulated != 72*time.Hour {
		t.Errorf("first case simulated %v, want 72h", first.Simulated)
	}
	var reverts []string
	for _, e := range first.Timeline {
		if e.Kind == "revert" {
			reverts = append(reverts, offset(e.At)+" "+e.Text)
		}
	}
	want := []string{
		"+3d block_c2#0: alicloud.cloudfw.unblock_ip {direction: out, ip: 198.51.100.1/32} → {} (unmocked)",
		"+3d block_c2#1: alicloud.cloudfw.unblock_ip {direction: out, ip: 198.51.100.2/32} → {} (unmocked)",
	}
	if diff := cmp.Diff(want, sortedStrings(reverts)); diff != "" {
		t.Errorf("revert timeline mismatch (-want +got):\n%s", diff)
	}
}

// TestRunFile_SharedMeasureTimeline: the timeline says when a due revert
// only released its hold.
func TestRunFile_SharedMeasureTimeline(t *testing.T) {
	res := mustRun(t, "testdata/host.test.yaml", Options{Filter: func(name string) bool { return strings.Contains(name, "listed twice") }})
	if len(res.Cases) != 1 {
		t.Fatalf("ran %d cases, want 1", len(res.Cases))
	}
	var reverts []string
	for _, e := range res.Cases[0].Timeline {
		if e.Kind == "revert" {
			reverts = append(reverts, offset(e.At)+" "+e.Text)
		}
	}
	want := []string{
		"+3d block_c2#0: alicloud.cloudfw.unblock_ip not run (released), still held by host-response.i-web1/block_c2#1 until 2025-06-06T10:00:00Z",
		"+4d block_c2#1: alicloud.cloudfw.unblock_ip {direction: out, ip: 198.51.100.1/32} → {} (unmocked)",
	}
	if diff := cmp.Diff(want, reverts); diff != "" {
		t.Errorf("revert timeline mismatch (-want +got):\n%s", diff)
	}
}

func sortedStrings(s []string) []string { return sortedCopy(s) }

// TestRunFile_WrongExpectations checks the report of a case whose every
// expectation is wrong: it is what an author reads, so it is a golden file.
func TestRunFile_WrongExpectations(t *testing.T) {
	res := mustRun(t, "testdata/wrong.test.yaml", Options{})
	if len(res.Cases) != 1 || res.Cases[0].Passed || res.Passed() || res.Failed() != 1 {
		t.Fatalf("cases = %+v, want one failed case", res.Cases)
	}
	c := res.Cases[0]
	// The failures are deterministic; the timeline shows concurrent calls
	// (foreach items) in the order they really ran, which varies.
	failures, timeline, ok := strings.Cut(c.Report, "timeline:\n")
	if !ok {
		t.Fatalf("report has no timeline:\n%s", c.Report)
	}
	golden(t, "testdata/wrong.report.golden", failures)
	for _, want := range []string{
		"+0s  alert    alert sas-1 (webshell on i-web1 severity 4) opens incident host-response.i-web1\n",
		"+5m  vote     approve isolate by analyst → approved (1 of 1 approvals)\n",
		"+3d  closed   incident closed\n",
	} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	for _, want := range []string{
		"✗ #3 expected alicloud.ecs.stop_instance {instance_id: i-x}  (line 23)",
		"       got alicloud.cloudfw.block_ip {direction: out, ip: 198.51.100.2}",
		"      with.instance_id: expected i-x, got i-web1",
		"alicloud.ecs.isolate_instance must not be called, but call #4 at +5m was",
		"at: expected +2d, got +3d",
		"isolate: expected rejected, got succeeded",
		"state: expected the incident to end failed, it ended closed",
	} {
		if !strings.Contains(c.Report, want) {
			t.Errorf("report lacks %q:\n%s", want, c.Report)
		}
	}
	if len(c.Failures) != 5 {
		t.Errorf("%d failures, want 5 (calls, not_called, reverts, steps, state):\n%s", len(c.Failures), strings.Join(c.Failures, "\n"))
	}
}

func TestRunFile_MalformedIsPositioned(t *testing.T) {
	res, err := RunFile(context.Background(), "testdata/malformed.test.yaml", Options{Env: testEnv(t)})
	var diags playbook.Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("RunFile error = %v, want playbook.Diagnostics", err)
	}
	if len(res.Cases) != 0 {
		t.Errorf("ran %d cases of a malformed file, want none", len(res.Cases))
	}
	golden(t, "testdata/malformed.golden", diags.Render())

	type at struct {
		Code      string
		Line, Col int
	}
	var got []at
	for _, d := range diags {
		got = append(got, at{d.Code, d.Pos.Line, d.Pos.Column})
	}
	want := []at{
		{CodeUnknownField, 8, 11},   // sorce_ip
		{CodeWrongType, 9, 21},      // severity: high
		{CodeWrongType, 10, 50},     // tags: [prod]
		{CodeInvalidDur, 11, 13},    // at: 10x
		{CodeUnknownSample, 12, 17}, // no-such-sample
		{CodeUnknownAction, 14, 7},  // isolate_instanse
		{CodeUnknownField, 17, 42},  // output rule
		{CodeUnknownField, 18, 19},  // when adress
		{CodeUnknownStep, 22, 15},   // isolat
		{CodeInvalidValue, 27, 9},   // revert and keep
		{CodeUnknownField, 31, 19},  // with instance
		{CodeInvalidValue, 32, 26},  // succeded
		{CodeInvalidValue, 33, 14},  // state: done
		{CodeUnknownField, 34, 17},  // alert_cnt
		{CodeUnknownKey, 35, 7},     // colls
		{CodeMissingField, 36, 5},   // no expect
		{CodeDuplicateCase, 36, 11}, // same name
		{CodeMissingField, 37, 13},  // alerts: []
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics mismatch (-want +got):\n%s", diff)
	}
}

func TestRunFile_Problems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken.yaml", "name: broken\nsteps: []\n")
	tests := []struct {
		name, file, content string
		wantCode            string
		wantLine            int
		wantText            string
	}{
		{"no playbook beside it", "alone.test.yaml", "cases: []\n", CodeNoPlaybook, 1, "alone.yaml does not load"},
		{"playbook does not validate", "x.test.yaml", "playbook: broken.yaml\ncases: []\n", CodeNoPlaybook, 1, broken},
		{"yaml syntax", "y.test.yaml", "cases: [\n", CodeYAMLSyntax, 1, "did not find expected node content"},
		{"empty file", "e.test.yaml", "", CodeMissingField, 1, "empty"},
		{"unknown top-level key", "z.test.yaml", "playbook: ../nowhere.yaml\ncasses: []\n", CodeUnknownKey, 2, `did you mean "cases"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(tt.file, tt.content)
			res, err := RunFile(context.Background(), path, Options{Env: testEnv(t)})
			if err == nil || res.Passed() {
				t.Fatalf("RunFile(%s) = %v, passed %v; want diagnostics", tt.file, err, res.Passed())
			}
			found := false
			for _, d := range res.Diagnostics {
				if d.Code == tt.wantCode && d.Pos.Line == tt.wantLine && strings.Contains(d.Message, tt.wantText) {
					found = true
				}
			}
			if !found {
				t.Errorf("diagnostics lack %s at line %d containing %q:\n%s", tt.wantCode, tt.wantLine, tt.wantText, res.Diagnostics.Render())
			}
		})
	}
}

func TestRunFile_Filter(t *testing.T) {
	res := mustRun(t, "testdata/host.test.yaml", Options{Filter: func(name string) bool { return strings.Contains(name, "dry run") }})
	if len(res.Cases) != 1 || res.Cases[0].Name != "dry run plans everything and waits for nobody" || !res.Cases[0].Passed {
		t.Errorf("cases = %+v, want the dry-run case, passed", res.Cases)
	}
}

// TestShippedPlaybooks runs the tests of every shipped playbook.
func TestShippedPlaybooks(t *testing.T) {
	files, err := filepath.Glob("../../playbooks/*.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d shipped test files, want at least 2", len(files))
	}
	env := testEnv(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := mustRun(t, f, Options{Env: env})
			if len(res.Cases) < 3 {
				t.Errorf("%d cases, want at least 3", len(res.Cases))
			}
			for _, c := range res.Cases {
				if !c.Passed {
					t.Errorf("case %q failed:\n%s", c.Name, c.Report)
				}
			}
		})
	}
}

func BenchmarkRunFile(b *testing.B) {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cases := 0
	for b.Loop() {
		res, err := RunFile(context.Background(), "testdata/host.test.yaml", Options{Env: env})
		if err != nil {
			b.Fatal(err)
		}
		cases = len(res.Cases)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*cases)/1000, "ms/case")
}

func TestApproversResolution(t *testing.T) {
	cfg := config.Default()
	cfg.Approvers = map[string][]string{"secops": {"analyst"}, "admins": {"root"}, "dba": {"dana"}}
	withGate := playbook.Playbook{Name: "p", Steps: []playbook.Step{{ID: "s", Kind: playbook.KindApproval, Approval: &playbook.Approval{Approvers: []string{"dba"}}}}}
	tests := []struct {
		name         string
		pb           playbook.Playbook
		defaults     []string
		wantGroups   map[string][]string
		wantDefaults []string
	}{
		{"no approvals: the first group approves policy gates", playbook.Playbook{Name: "p"}, nil,
			map[string][]string{"admins": {"root"}}, []string{"admins"}},
		{"the playbook's groups plus the default", withGate, nil,
			map[string][]string{"admins": {"root"}, "dba": {"dana"}}, []string{"admins"}},
		{"default_approvers from the case", withGate, []string{"secops"},
			map[string][]string{"secops": {"analyst"}, "dba": {"dana"}}, []string{"secops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &caseRun{pb: tt.pb, c: &testCase{config: caseConfig{defaultApprovers: tt.defaults}}}
			groups, defaults := r.approvers(cfg)
			if diff := cmp.Diff(tt.wantGroups, groups); diff != "" {
				t.Errorf("groups mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDefaults, defaults); diff != "" {
				t.Errorf("defaults mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunFile_RequiredParameters: a call, forward or inverse, that lacks a
// parameter the catalog requires fails the case and says where it comes
// from, even when every expectation holds.
func TestRunFile_RequiredParameters(t *testing.T) {
	res := mustRun(t, "testdata/incomplete.test.yaml", Options{})
	want := map[string]string{
		"an unmocked block is lifted with no address": "revert alicloud.cloudfw.unblock_ip of step block_c2#0 at +3d lacks the required parameter(s) ip, which the real action refuses: alicloud.cloudfw.unblock_ip {}\n" +
			"  ip comes from the output field ip of alicloud.cloudfw.block_ip, which its mock does not give: add ip to the mock's output (unmocked, an action answers only {changed: true})",
		"an empty address is blocked": "call alicloud.cloudfw.block_ip of step block_c2#0 at +0s lacks the required parameter(s) ip, which the real action refuses: alicloud.cloudfw.block_ip {direction: out, ip: \"\"}\n" +
			"  check the step's with: (a template that rendered empty?)",
	}
	if len(res.Cases) != len(want) {
		t.Fatalf("ran %d cases, want %d", len(res.Cases), len(want))
	}
	for _, c := range res.Cases {
		if c.Passed || !cmp.Equal(c.Failures, []string{want[c.Name]}) {
			t.Errorf("case %q: passed %v, failures:\n%s\nwant failed with only:\n%s", c.Name, c.Passed, strings.Join(c.Failures, "\n"), want[c.Name])
		}
	}
}

// TestRunFile_RepeatsMoveInTime: the copies of repeat: carry their own
// time, so a dedup key on alert.time sends the copies past the hour to
// another incident, as ingest would.
func TestRunFile_RepeatsMoveInTime(t *testing.T) {
	res := mustRun(t, "testdata/hourly.test.yaml", Options{})
	if len(res.Cases) != 1 || !res.Cases[0].Passed {
		t.Fatalf("cases = %+v, want one passing", res.Cases)
	}
}

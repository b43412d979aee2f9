package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/config"
)

// runSoar runs the soar command line with args and no input (see soarIn)
// and returns its output and exit status; an error without an exit status
// fails the test.
func runSoar(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code = soarIn(t, "", args...)
	if code == -1 {
		t.Fatalf("soar %v: %s", args, stderr)
	}
	return stdout, stderr, code
}

// copyPlaybooks copies the shipped playbooks (and only the YAML) into a
// temporary directory.
func copyPlaybooks(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("../../playbooks/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return copyFiles(t, files...)
}

// breakFile replaces old with new in the file, which must contain it.
func breakFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// posOf returns "line:col" of the first occurrence of needle in the file,
// plus skip runes: where a diagnostic about it should point.
func posOf(t *testing.T, path, needle string, skip int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), needle)
	if i < 0 {
		t.Fatalf("%s does not contain %q", path, needle)
	}
	before := string(b[:i])
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:]) + 1 + skip
	return fmt.Sprintf("%d:%d", line, col)
}

func TestValidateShipped(t *testing.T) {
	stdout, stderr, code := runSoar(t, "validate", "../../playbooks")
	if code != 0 || !strings.HasPrefix(stdout, "ok: ") || !strings.Contains(stdout, " playbooks") {
		t.Errorf("soar validate ../../playbooks = exit %d, stdout %q, stderr %q; want exit 0 and ok: N playbooks", code, stdout, stderr)
	}
}

func TestValidateBroken(t *testing.T) {
	dir := copyPlaybooks(t)
	host := filepath.Join(dir, "compromised-host.yaml")
	breakFile(t, host, "action: alicloud.ecs.isolate_instance", "action: alicloud.ecs.isolate_instanse")
	breakFile(t, host, "size(alert.iocs.ips) > 0", "size(alert.iocs.ip) > 0")
	waf := filepath.Join(dir, "waf-sqli-blacklist.yaml")
	breakFile(t, waf, "channel: secops\n      title:", "channel: secopz\n      title:")

	stdout, stderr, code := runSoar(t, "validate", dir)
	if code != 1 {
		t.Fatalf("soar validate on a broken copy = exit %d, want 1; stdout:\n%s", code, stdout)
	}
	for _, want := range []string{
		"ERROR: " + host + ":" + posOf(t, host, "size(alert.iocs.ip)", len("size(alert.iocs.")) + ": undefined field 'ip' (did you mean \"ips\"?) [cel-type]",
		"ERROR: " + host + ":" + posOf(t, host, "alicloud.ecs.isolate_instanse", 0) + ": unknown action \"alicloud.ecs.isolate_instanse\" (did you mean \"alicloud.ecs.isolate_instance\"?) [unknown-action]",
		"ERROR: " + waf + ":" + posOf(t, waf, "secopz", 0) + ": unknown notification channel \"secopz\"",
		" |     action: alicloud.ecs.isolate_instanse\n | ............^",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("soar validate output lacks %q; got:\n%s", want, stdout)
		}
	}
	playbooks, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var shipped int
	for _, p := range playbooks {
		if !strings.HasSuffix(p, ".test.yaml") {
			shipped++
		}
	}
	if want := fmt.Sprintf("FAIL: 3 errors, 0 warnings in 2 files; %d playbooks ok\n", shipped-2); stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

func TestValidateJSON(t *testing.T) {
	dir := copyPlaybooks(t)
	host := filepath.Join(dir, "compromised-host.yaml")
	breakFile(t, host, "revert_after: 72h", "revert_after: 72 hours")

	stdout, _, code := runSoar(t, "validate", "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var got []validateProblem
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("--format json output is not JSON: %v\n%s", err, stdout)
	}
	var line, col int
	if _, err := fmt.Sscanf(posOf(t, host, "72 hours", 0), "%d:%d", &line, &col); err != nil {
		t.Fatal(err)
	}
	want := []validateProblem{{File: host, Line: line, Column: col, Severity: "error", Code: "invalid-duration",
		Message: `revert_after: "72 hours" is not a duration (write e.g. 30s, 10m, 24h, 7d or 1h30m)`}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON diagnostics mismatch (-want +got):\n%s", diff)
	}

	// Flags after the path work too, and a clean run prints [].
	stdout, stderr, code := runSoar(t, "validate", "../../playbooks", "--format", "json")
	if code != 0 || strings.TrimSpace(stdout) != "[]" || !strings.HasPrefix(stderr, "ok: ") {
		t.Errorf("clean JSON run = exit %d, stdout %q, stderr %q; want 0, [] and ok on stderr", code, stdout, stderr)
	}
}

func TestValidateConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "soar.yaml")
	conf := "approvers:\n  oncall: [alice, bob]\nnotify:\n  pager: { kind: generic, url: \"http://127.0.0.1:9/hook\" }\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, code := runSoar(t, "validate", "--config", cfg, "../../playbooks/compromised-host.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1: the shipped playbook names the secops group and channel", code)
	}
	for _, want := range []string{"[unknown-approver]", "unknown notification channel \"secops\": soar.yaml notify: has pager [unknown-channel]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestValidateUsage(t *testing.T) {
	nested := t.TempDir()
	if err := os.Mkdir(filepath.Join(nested, "team"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../playbooks/crypto-miner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(nested, "team"), "crypto-miner.yaml", string(b))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"missing path", []string{"validate", "no/such/dir"}, "[read-error]"},
		{"empty directory", []string{"validate", t.TempDir()}, "FAIL: no playbooks found"},
		{"playbook test", []string{"validate", "../../playbooks/crypto-miner.test.yaml"},
			"FAIL: ../../playbooks/crypto-miner.test.yaml is a playbook test, not a playbook: run it with soar test ../../playbooks/crypto-miner.test.yaml\n"},
		{"playbooks in a subdirectory", []string{"validate", nested},
			"FAIL: no playbooks found in " + nested + " (a directory's *.yaml and *.yml files are read, not its subdirectories; name them to check them: soar validate " + filepath.Join(nested, "team") + ")\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runSoar(t, tt.args...)
			if code != 1 || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("soar %v = exit %d, output %q; want exit 1 mentioning %q", tt.args, code, stdout+stderr, tt.want)
			}
		})
	}
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	if err := run(context.Background(), e, []string{"validate", "--format", "xml"}); err == nil || !strings.Contains(err.Error(), "unknown --format") {
		t.Errorf("--format xml error = %v, want unknown --format", err)
	}
}

// TestValidateNoDefaultDir runs soar validate without a path where there is
// no ./playbooks: it says so and how to name one, in JSON too.
func TestValidateNoDefaultDir(t *testing.T) {
	t.Chdir(t.TempDir())
	const want = "no PATH given, and the default directory ./playbooks does not exist here; name playbook files or directories: soar validate path/to/playbooks"
	if _, errOut, code := soarIn(t, "", "validate"); code != -1 || errOut != want {
		t.Errorf("soar validate = exit %d, error %q; want %q", code, errOut, want)
	}
	stdout, errOut, code := soarIn(t, "", "validate", "--format", "json")
	var got struct{ Error string }
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Error != want || code != -1 || errOut != want {
		t.Errorf("soar validate --format json = exit %d, stdout %q (%v), error %q; want {\"error\": %q}", code, stdout, err, errOut, want)
	}
}

// TestValidateJSONConfigError checks that --format json answers a config
// error in JSON on stdout.
func TestValidateJSONConfigError(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "soar.yaml")
	if err := os.WriteFile(cfg, []byte("temporal:\n  adress: x:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, errOut, code := soarIn(t, "", "validate", "--format", "json", "--config", cfg, "../../playbooks")
	var got map[string]string
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	want := map[string]string{"error": "config " + cfg + `: temporal.adress: unknown key (did you mean "address"?) at line 2`}
	if diff := cmp.Diff(want, got); diff != "" || code != -1 || errOut != want["error"] {
		t.Errorf("soar validate --format json with a bad config: exit %d, error %q, JSON (-want +got):\n%s", code, errOut, diff)
	}
}

// TestPlaybookEnv checks the config soar validate and soar test check
// playbooks against: without --config the built-in one, untouched by the
// environment; with it the file, with the environment's overrides.
func TestPlaybookEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "soar.yaml")
	if err := os.WriteFile(path, []byte("approvers:\n  oncall: [alice]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return map[string]string{"SOAR_TEMPORAL_TASK_QUEUE": "soar-blue"}[k] }
	def := config.Default()
	tests := []struct {
		name, path     string
		wantQueue      string
		wantApprovers  []string
		wantErrContain string
	}{
		{name: "built-in", wantQueue: def.Temporal.TaskQueue, wantApprovers: slices.Sorted(maps.Keys(def.Approvers))},
		{name: "file", path: path, wantQueue: "soar-blue", wantApprovers: []string{"oncall"}},
		{name: "missing file", path: path + ".missing", wantErrContain: "read config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, celEnv, err := playbookEnv(tt.path, getenv)
			if tt.wantErrContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrContain) {
					t.Fatalf("playbookEnv(%q) error = %v, want one containing %q", tt.path, err, tt.wantErrContain)
				}
				return
			}
			if err != nil || celEnv == nil {
				t.Fatalf("playbookEnv(%q) = env %v, error %v", tt.path, celEnv, err)
			}
			if cfg.Temporal.TaskQueue != tt.wantQueue {
				t.Errorf("task queue = %q, want %q", cfg.Temporal.TaskQueue, tt.wantQueue)
			}
			if diff := cmp.Diff(tt.wantApprovers, slices.Sorted(maps.Keys(cfg.Approvers))); diff != "" {
				t.Errorf("approver groups (-want +got):\n%s", diff)
			}
		})
	}
}

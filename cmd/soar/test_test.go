package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyFiles copies files into a temporary directory and returns it.
func copyFiles(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTest_ShippedPlaybooksPass(t *testing.T) {
	stdout, stderr, code := runSoar(t, "test", "../../playbooks")
	if code != 0 {
		t.Fatalf("soar test ../../playbooks: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"--- ../../playbooks/compromised-host.test.yaml (playbook compromised-host)\n",
		"--- ../../playbooks/waf-sqli-blacklist.test.yaml (playbook waf-sqli-blacklist)\n",
		"PASS  blocks the attacker and lifts the block 24h after the last attempt  (1d2h simulated in ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "FAIL") {
		t.Errorf("output has a failure:\n%s", stdout)
	}
	last := lastLine(stdout)
	if !strings.HasPrefix(last, "ok: ") || !strings.Contains(last, " cases passed in ") {
		t.Errorf("summary = %q, want ok: N cases passed in M files", last)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestTest_Failures(t *testing.T) {
	dir := copyFiles(t, "../../internal/playbooktest/testdata/host.yaml",
		"../../internal/playbooktest/testdata/wrong.test.yaml", "../../internal/playbooktest/testdata/malformed.test.yaml")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		notWant  []string
	}{
		{
			name: "wrong expectations print the diff and the timeline", args: []string{filepath.Join(dir, "wrong.test.yaml")}, wantCode: 1,
			want: []string{
				"FAIL  wrong expectations  (3d simulated in ",
				"      1. calls: 2 of 6 differ (expected 6 calls, got 6):\n",
				"           ✗ #3 expected alicloud.ecs.stop_instance {instance_id: i-x}  (line 23)\n",
				"                  got alicloud.cloudfw.block_ip {direction: out, ip: 198.51.100.2}\n",
				"      timeline:\n",
				"FAIL: 1 of 1 case failed, 1 file with failures or errors (of 1)\n",
			},
		},
		{
			name: "a malformed file prints positioned diagnostics", args: []string{filepath.Join(dir, "malformed.test.yaml")}, wantCode: 1,
			want: []string{
				"malformed.test.yaml:8:11: alert has no field \"sorce_ip\" (did you mean \"source_ip\"?) [unknown-field]\n",
				" | ..........^\n",
				"the test file or its playbook has errors; no case ran\n",
				"FAIL: 0 of 0 cases failed, 1 file with failures or errors (of 1)\n",
			},
		},
		{
			name: "--run selects cases", args: []string{"--run", "^dry run plans the block", "../../playbooks"}, wantCode: 0,
			want:    []string{"PASS  dry run plans the block and changes nothing", "ok: 1 case passed in "},
			notWant: []string{"blocks the attacker"},
		},
		{
			name: "-v prints the timeline of passing cases", args: []string{"-v", "--run", "^dry run", "../../playbooks/waf-sqli-blacklist.yaml"}, wantCode: 0,
			want: []string{"      timeline:\n", "block: alicloud.waf.block_ip {ip: 203.0.113.7} → {changed: false, dry_run: true} (unmocked)", "      final: closed after 1d (dry run), alert_count 1\n"},
		},
		{
			name: "--run matching nothing fails", args: []string{"--run", "no such case", "../../playbooks"}, wantCode: 1,
			want: []string{"FAIL: no case matched --run \"no such case\"\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runSoar(t, append([]string{"test"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("soar test %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(stdout, w) {
					t.Errorf("output has %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestTest_ConfigApprovers(t *testing.T) {
	dir := copyFiles(t, "../../internal/playbooktest/testdata/host.yaml")
	writeFile(t, dir, "host.test.yaml", `cases:
  - name: alice approves the isolation
    alerts:
      - alert: { id: a-1, source: alibaba.sas, type: webshell, severity: 4, resource: { instance_id: i-1 } }
    approvals:
      - { at: 1m, step: isolate, by: alice }
    expect:
      steps: { isolate: { status: succeeded, approved_by: [alice] } }
`)
	cfg := writeFile(t, dir, "soar.yaml", "approvers:\n  secops: [alice]\n")

	stdout, _, code := runSoar(t, "test", dir)
	if code != 1 || !strings.Contains(stdout, `approval approve of isolate by alice at +1m (line 6) was refused: user "alice" is not among the approvers`) {
		t.Errorf("without --config: exit %d, want 1 with alice refused:\n%s", code, stdout)
	}
	stdout, _, code = runSoar(t, "test", "--config", cfg, dir)
	if code != 0 {
		t.Errorf("with --config: exit %d, want 0:\n%s", code, stdout)
	}
}

func TestTest_Errors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "lonely.yaml", "name: lonely\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad --run", []string{"--run", "(", dir}, "bad --run pattern"},
		{"missing path", []string{filepath.Join(dir, "nowhere")}, "no such file or directory"},
		{"playbook without tests", []string{filepath.Join(dir, "lonely.yaml")}, "has no test file"},
		{"not a playbook", []string{writeFile(t, dir, "README.md", "# notes\n")}, "README.md: not a playbook (.yaml or .yml)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runErr(t, append([]string{"test"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("soar test %v error = %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
	_, stderr, code := runSoar(t, "test", dir)
	if code != 1 || !strings.Contains(stderr, "FAIL: no playbook tests (*.test.yaml) in ") {
		t.Errorf("empty directory: exit %d, stderr %q; want 1 and no playbook tests", code, stderr)
	}
}

// TestTestNoDefaultDir runs soar test without a path where there is no
// ./playbooks: it says so and how to name one, as soar validate does.
func TestTestNoDefaultDir(t *testing.T) {
	t.Chdir(t.TempDir())
	const want = "no PATH given, and the default directory ./playbooks does not exist here; name test files, playbooks or directories: soar test path/to/playbooks"
	if _, errOut, code := soarIn(t, "", "test"); code != -1 || errOut != want {
		t.Errorf("soar test = exit %d, error %q; want %q", code, errOut, want)
	}
}

func TestDays(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{26 * time.Hour, "1d2h"},
		{72 * time.Hour, "3d"},
		{90 * time.Minute, "1h30m"},
		{512 * time.Hour, "21d8h"},
	}
	for _, tt := range tests {
		if got := days(tt.d); got != tt.want {
			t.Errorf("days(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// runErr runs the soar command line and returns its error.
func runErr(t *testing.T, args ...string) error {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	return run(context.Background(), e, args)
}

package main

import (
	"errors"
	"flag"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
)

// TestFlagErrors checks that a wrong flag is answered in one line with a
// suggestion and a pointer to --help, exit status 2, not the whole usage.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"validate", "--frmat", "json"}, "soar validate: unknown flag --frmat (did you mean --format?)\nRun 'soar validate --help' for usage.\n"},
		{[]string{"validate", "playbooks", "-confg=x"}, "soar validate: unknown flag --confg (did you mean --config?)\nRun 'soar validate --help' for usage.\n"},
		{[]string{"actions", "--zzzzzz"}, "soar actions: unknown flag --zzzzzz\nRun 'soar actions --help' for usage.\n"},
		{[]string{"bench", "--runs", "many"}, "soar bench: invalid value \"many\" for flag --runs: parse error\nRun 'soar bench --help' for usage.\n"},
	}
	for _, tt := range tests {
		stdout, stderr, code := soarIn(t, "", tt.args...)
		if code != 2 || stdout != "" {
			t.Errorf("soar %v: exit %d, stdout %q; want exit 2 and nothing on stdout", tt.args, code, stdout)
		}
		if diff := cmp.Diff(tt.want, stderr); diff != "" {
			t.Errorf("soar %v: stderr (-want +got):\n%s", tt.args, diff)
		}
	}
}

// TestHelpFlag checks that --help still prints the command's usage.
func TestHelpFlag(t *testing.T) {
	var out, errOut strings.Builder
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	err := run(t.Context(), e, []string{"validate", "--help"})
	if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(errOut.String(), "Usage: soar validate") || !strings.Contains(errOut.String(), "-format") {
		t.Errorf("soar validate --help = %v, stderr %q; want ErrHelp and the usage with the flags", err, errOut.String())
	}
}

func TestVersionString(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "91d977a1b2c3d4e5f60718293a4b5c6d7e8f9012"},
		{Key: "vcs.time", Value: "2026-11-29T05:15:43Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name  string
		stamp string
		info  *debug.BuildInfo
		want  string
	}{
		{"stamped release", "v1.4.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"soar v1.4.0 (go1.26.8 " + platform + ")"},
		{"go build in a checkout", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129051543-91d977a1b2c3+dirty"}, Settings: vcs},
			"soar v0.0.0-20261129051543-91d977a1b2c3+dirty (commit 91d977a1b2c3, 2026-11-29T05:15:43Z, modified; go1.26.8 " + platform + ")"},
		{"the Dockerfile's default stamp", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:1]},
			"soar development build (commit 91d977a1b2c3; go1.26.8 " + platform + ")"},
		{"go install of a tag", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.5.0"}},
			"soar v1.5.0 (go1.26.8 " + platform + ")"},
		{"no build information", "", nil, "soar development build (" + runtime.Version() + " " + platform + ")"},
	}
	for _, tt := range tests {
		if got := versionString(tt.stamp, tt.info); got != tt.want {
			t.Errorf("%s: versionString(%q) = %q, want %q", tt.name, tt.stamp, got, tt.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-v"}, {"--version"}} {
		stdout, stderr, code := soarIn(t, "", args...)
		if code != 0 || !strings.HasPrefix(stdout, "soar ") || strings.HasPrefix(stdout, "soar dev\n") || !strings.Contains(stdout, runtime.GOOS) {
			t.Errorf("soar %v = exit %d, stdout %q, stderr %q; want the version line", args, code, stdout, stderr)
		}
	}
	if _, errOut, code := soarIn(t, "", "version", "foo"); code != 2 || errOut != "soar version: takes no arguments, got foo\nRun 'soar version --help' for usage.\n" {
		t.Errorf("soar version foo = exit %d, error %q; want it refused", code, errOut)
	}
}

// TestActionsTable checks that soar actions prints the catalog as a table,
// one line per action, and the details only for named actions.
func TestActionsTable(t *testing.T) {
	stdout, _, code := soarIn(t, "", "actions")
	if code != 0 {
		t.Fatalf("soar actions: exit %d", code)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	catalog := activities.Catalog()
	if want := len(catalog) + 3; len(lines) != want {
		t.Fatalf("soar actions printed %d lines, want %d (header, one per action, blank, hint):\n%s", len(lines), want, stdout)
	}
	if f := strings.Fields(lines[0]); !cmp.Equal(f, []string{"ACTION", "CHANGES", "INVERSE", "DOES"}) {
		t.Errorf("header = %q", lines[0])
	}
	for i, s := range catalog {
		f := strings.Fields(lines[i+1])
		inverse := s.Inverse
		if inverse == "" {
			inverse = "-"
		}
		changes := map[bool]string{true: "yes", false: "no"}[s.Mutating]
		if len(f) < 4 || f[0] != s.Name || f[1] != changes || f[2] != inverse || !strings.HasSuffix(lines[i+1], s.Summary) {
			t.Errorf("row %d = %q, want %s %s %s %s", i, lines[i+1], s.Name, changes, inverse, s.Summary)
		}
	}
	if !strings.Contains(lines[len(lines)-1], "soar actions NAME") {
		t.Errorf("last line = %q, want a pointer to soar actions NAME", lines[len(lines)-1])
	}

	stdout, _, code = soarIn(t, "", "actions", "alicloud.waf.block_ip")
	if code != 0 || !strings.HasPrefix(stdout, "alicloud.waf.block_ip — ") || !strings.Contains(stdout, "RAM permissions:") || !strings.Contains(stdout, "example:") {
		t.Errorf("soar actions alicloud.waf.block_ip = exit %d:\n%s\nwant the details", code, stdout)
	}
	stdout, _, _ = soarIn(t, "", "actions", "--format", "details")
	if got := strings.Count(stdout, "RAM permissions:"); got < len(catalog)/2 {
		t.Errorf("soar actions --format details shows %d actions' permissions, want the details of every action", got)
	}
}

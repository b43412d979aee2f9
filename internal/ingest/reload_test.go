package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opensoar/soar/internal/playbook"
)

func playbookYAML(name, when string) string {
	return `name: ` + name + `
trigger:
  subjects: [alerts.waf.>]
  when: ` + when + `
steps:
  - id: page
    action: notify.webhook
    with: { channel: secops, text: "alert ${{ alert.id }}" }
`
}

func matchNames(t *testing.T, m *Matcher) []string {
	t.Helper()
	_, a := sample(t, "waf-sqli-blacklist")
	var names []string
	for _, mt := range m.Match(context.Background(), "alerts.waf.sqli", &a, time.Now()) {
		names = append(names, mt.Playbook.Name+"@"+mt.Playbook.Trigger.When)
	}
	return names
}

// newReloadFixture is a reloader over a new directory with its matcher
// and metrics, and write, which writes a file into the directory.
func newReloadFixture(t *testing.T) (dir string, write func(file, content string), m *Matcher, r *Reloader, metrics *Metrics) {
	t.Helper()
	dir = t.TempDir()
	write = func(file, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := testEnv(t)
	metrics = NewMetrics()
	m, _ = NewMatcher(env, nil, testLogger(t), metrics)
	r = NewReloader(dir, playbook.Options{Env: env}, m, testLogger(t), metrics)
	return dir, write, m, r, metrics
}

func TestReloader_Reload(t *testing.T) {
	dir, write, m, r, metrics := newReloadFixture(t)

	write("block.yaml", playbookYAML("block", `alert.type == "sqli"`))
	write("block.test.yaml", "not a playbook: ignored")
	r.Reload()
	if got := matchNames(t, m); strings.Join(got, ",") != `block@alert.type == "sqli"` {
		t.Fatalf("after the first load, matches = %v", got)
	}

	// A valid edit replaces the playbook for new alerts.
	write("block.yaml", playbookYAML("block", `alert.severity >= 4`))
	r.Reload()
	if got := matchNames(t, m); strings.Join(got, ",") != `block@alert.severity >= 4` {
		t.Fatalf("after a valid edit, matches = %v", got)
	}

	// An invalid edit keeps the last good version.
	write("block.yaml", playbookYAML("block", `alert.sevrity >= 4`))
	r.Reload()
	r.Reload() // reported once, not on every rescan
	if got := matchNames(t, m); strings.Join(got, ",") != `block@alert.severity >= 4` {
		t.Fatalf("after an invalid edit, matches = %v, want the last good version", got)
	}
	if got := metric(t, metrics, "soar_ingest_playbook_reloads_total", "result", "invalid"); got != 1 {
		t.Errorf("invalid reloads = %v, want 1", got)
	}

	// A second file with the same name is refused; a new one is added.
	write("copy.yaml", playbookYAML("block", `true`))
	write("other.yaml", playbookYAML("other", `alert.type == "sqli"`))
	r.Reload()
	if got := strings.Join(matchNames(t, m), ","); got != `block@alert.severity >= 4,other@alert.type == "sqli"` {
		t.Fatalf("after adding files, matches = %v", got)
	}

	// Removing a file unloads its playbook.
	for _, f := range []string{"block.yaml", "copy.yaml"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	r.Reload()
	if got := strings.Join(matchNames(t, m), ","); got != `other@alert.type == "sqli"` {
		t.Fatalf("after removing block.yaml, matches = %v", got)
	}
	if got := metric(t, metrics, "soar_ingest_playbook_reloads_total", "result", "removed"); got != 1 {
		t.Errorf("removed = %v, want 1", got)
	}
}

// TestReloader_Watch edits a file while Run watches the directory.
func TestReloader_Watch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "block.yaml")
	if err := os.WriteFile(file, []byte(playbookYAML("block", `alert.type == "sqli"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := testEnv(t)
	m, _ := NewMatcher(env, nil, testLogger(t), nil)
	r := NewReloader(dir, playbook.Options{Env: env}, m, testLogger(t), nil)
	r.SetDebounce(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the first load", func() bool { return len(m.Playbooks()) == 1 })

	// Editors write to a temporary file and rename it over the original.
	tmp := filepath.Join(dir, ".block.yaml.swp")
	if err := os.WriteFile(tmp, []byte(playbookYAML("block", `alert.type == "xss"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited playbook", func() bool {
		p := m.Playbooks()
		return len(p) == 1 && p[0].Trigger.When == `alert.type == "xss"`
	})
	if got := matchNames(t, m); len(got) != 0 {
		t.Errorf("an sqli alert still matches after the edit: %v", got)
	}
}

// playbookNames returns the names of the playbooks m matches with.
func playbookNames(m *Matcher) string {
	var names []string
	for _, p := range m.Playbooks() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

// TestReloader_Rename: a playbook file renamed between two rescans stays
// loaded under its new path; it is not refused as a duplicate of its old
// path.
func TestReloader_Rename(t *testing.T) {
	dir, write, m, r, metrics := newReloadFixture(t)
	write("a.yaml", playbookYAML("block", `alert.type == "sqli"`))
	r.Reload()
	if err := os.Rename(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	r.Reload()
	r.Reload()
	if got := strings.Join(matchNames(t, m), ","); got != `block@alert.type == "sqli"` {
		t.Fatalf("after renaming a.yaml to b.yaml, matches = %q, want the playbook still matching", got)
	}
	if got := metric(t, metrics, "soar_ingest_playbook_reloads_total", "result", "invalid"); got != 0 {
		t.Errorf("invalid reloads = %v, want 0: a rename is not a duplicate", got)
	}
	// Editing the renamed file takes effect: its path is not remembered as bad.
	write("b.yaml", playbookYAML("block", `alert.severity >= 4`))
	r.Reload()
	if got := strings.Join(matchNames(t, m), ","); got != `block@alert.severity >= 4` {
		t.Fatalf("after editing b.yaml, matches = %q", got)
	}
}

// TestReloader_DuplicateLoadsOnceTheFirstIsGone: copy.yaml, refused as a
// duplicate of block.yaml, is loaded on the rescan after block.yaml is
// deleted, or after block.yaml renames its playbook.
func TestReloader_DuplicateLoadsOnceTheFirstIsGone(t *testing.T) {
	dir, write, m, r, metrics := newReloadFixture(t)

	write("block.yaml", playbookYAML("block", `alert.severity >= 4`))
	r.Reload()
	write("copy.yaml", playbookYAML("block", `alert.type == "sqli"`))
	r.Reload()
	r.Reload()
	if got := strings.Join(matchNames(t, m), ","); got != `block@alert.severity >= 4` {
		t.Fatalf("with a duplicate, matches = %q, want the first file's playbook", got)
	}
	if got := metric(t, metrics, "soar_ingest_playbook_reloads_total", "result", "invalid"); got != 1 {
		t.Errorf("invalid reloads = %v, want 1 (the duplicate reported once)", got)
	}

	if err := os.Remove(filepath.Join(dir, "block.yaml")); err != nil {
		t.Fatal(err)
	}
	r.Reload()
	if got := strings.Join(matchNames(t, m), ","); got != `block@alert.type == "sqli"` {
		t.Fatalf("after deleting block.yaml, matches = %q, want copy.yaml's playbook", got)
	}

	// The same with a rename of the first file's playbook, in one rescan:
	// a.yaml sorts before the file that frees its name.
	write("a.yaml", playbookYAML("other", `alert.type == "sqli"`))
	r.Reload()
	write("a.yaml", playbookYAML("block", `alert.type == "xss"`)) // refused: copy.yaml holds block
	r.Reload()
	if got := playbookNames(m); got != "block,other" {
		t.Fatalf("playbooks = %s, want a.yaml's last good version kept", got)
	}
	write("copy.yaml", playbookYAML("renamed", `alert.type == "sqli"`))
	r.Reload()
	if got := playbookNames(m); got != "block,renamed" {
		t.Fatalf("after copy.yaml renamed its playbook, playbooks = %s, want block (a.yaml) and renamed", got)
	}
	if got := strings.Join(matchNames(t, m), ","); got != `renamed@alert.type == "sqli"` {
		t.Errorf("matches = %q, want only renamed (a.yaml's block is on xss)", got)
	}
}

// TestReloader_WatchConfigMap updates a directory laid out as Kubernetes
// mounts a ConfigMap: each key is a symlink through ..data, and an update
// writes a new ..<timestamp> directory and swaps the ..data symlink, so no
// event names a playbook file.
func TestReloader_WatchConfigMap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, when string) string {
		t.Helper()
		ts := filepath.Join(dir, "..2026_11_29_05_00_00."+name)
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts, "block.yaml"), []byte(playbookYAML("block", when)), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(ts)
	}
	first := version("000000001", `alert.type == "sqli"`)
	if err := os.Symlink(first, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "block.yaml"), filepath.Join(dir, "block.yaml")); err != nil {
		t.Fatal(err)
	}

	env := testEnv(t)
	m, _ := NewMatcher(env, nil, testLogger(t), nil)
	r := NewReloader(dir, playbook.Options{Env: env}, m, testLogger(t), nil)
	r.SetDebounce(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the first load", func() bool { return len(m.Playbooks()) == 1 })
	if got := strings.Join(matchNames(t, m), ","); got != `block@alert.type == "sqli"` {
		t.Fatalf("after the first load, matches = %q", got)
	}

	// The kubelet's atomic update.
	second := version("000000002", `alert.type == "xss"`)
	if err := os.Symlink(second, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, first)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ConfigMap update", func() bool {
		p := m.Playbooks()
		return len(p) == 1 && p[0].Trigger.When == `alert.type == "xss"`
	})
	if got := matchNames(t, m); len(got) != 0 {
		t.Errorf("an sqli alert still matches after the update: %v", got)
	}
}

// TestReloader_SwapNames: two files that swap their playbooks' names in one
// edit both load on the next rescan; neither is refused as a duplicate of
// the other's old version.
func TestReloader_SwapNames(t *testing.T) {
	_, write, m, r, metrics := newReloadFixture(t)
	write("a.yaml", playbookYAML("alpha", `alert.type == "sqli"`))
	write("b.yaml", playbookYAML("beta", `alert.severity >= 1`))
	r.Reload()
	write("a.yaml", playbookYAML("beta", `alert.severity >= 2`))
	write("b.yaml", playbookYAML("alpha", `alert.type != "xss"`))
	r.Reload()
	got := matchNames(t, m)
	slices.Sort(got)
	if want := []string{`alpha@alert.type != "xss"`, `beta@alert.severity >= 2`}; !slices.Equal(got, want) {
		t.Fatalf("after swapping names, matches = %q, want %q", got, want)
	}
	if got := metric(t, metrics, "soar_ingest_playbook_reloads_total", "result", "invalid"); got != 0 {
		t.Errorf("invalid reloads = %v, want 0: a swap is not a duplicate", got)
	}
}

package ingest

import (
	"context"
	"os"
	"path/filepath"
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

func TestReloader_Reload(t *testing.T) {
	dir := t.TempDir()
	write := func(file, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := testEnv(t)
	metrics := NewMetrics()
	m, _ := NewMatcher(env, nil, testLogger(t), metrics)
	r := NewReloader(dir, playbook.Options{Env: env}, m, testLogger(t), metrics)

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

package playbook_test

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/playbooks"
)

func TestLoadDir(t *testing.T) {
	valid := func(name string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("name: " + name + "\ntrigger: { subjects: [alerts.>] }\nsteps:\n  - { id: w, wait: 1m }\n")}
	}
	fsys := fstest.MapFS{
		"pb/a.yaml":        valid("alpha"),
		"pb/b.yml":         valid("beta"),
		"pb/c.yaml":        {Data: []byte("name: gamma\ntrigger: { subjects: [alerts.>] }\nsteps:\n  - { id: w, wat: 1m }\n")},
		"pb/d.yaml":        valid("alpha"),
		"pb/a.test.yaml":   {Data: []byte("not: [a playbook\n")},
		"pb/notes.md":      {Data: []byte("# notes\n")},
		"pb/.hidden.yaml":  {Data: []byte("junk: [\n")},
		"pb/sub/e.yaml":    valid("epsilon"),
		"other/f.yaml":     valid("phi"),
		"pb/warn.yaml":     {Data: []byte("name: warned\ntrigger: { subjects: [alerts.>] }\nsteps:\n  - id: a\n    if: steps.b.status == \"failed\"\n    wait: 1m\n  - { id: b, wait: 1m }\n")},
		"pb/zz-empty.yaml": {Data: []byte("")},
	}
	set, reports := playbook.LoadDir(fsys, "pb", MustOptions(t))

	var names []string
	for _, p := range set.Playbooks() {
		names = append(names, p.Name+" "+p.File)
	}
	wantNames := []string{"alpha pb/a.yaml", "beta pb/b.yml", "warned pb/warn.yaml"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("loaded playbooks mismatch (-want +got):\n%s", diff)
	}
	if p, ok := set.Get("beta"); !ok || p.File != "pb/b.yml" || len(p.Hash) != 64 {
		t.Errorf("Get(beta) = %+v, %v; want pb/b.yml with a SHA-256 hash", p, ok)
	}
	if _, ok := set.Get("gamma"); ok {
		t.Error("Get(gamma) found the invalid playbook")
	}
	if set.Len() != 3 {
		t.Errorf("Len() = %d, want 3", set.Len())
	}

	type report struct{ File, Codes string }
	var got []report
	for _, r := range reports {
		codes := ""
		for _, d := range r.Diagnostics {
			codes += d.Code + "@" + d.Pos.String() + " "
		}
		got = append(got, report{r.File, codes})
	}
	want := []report{
		{"pb/c.yaml", "step-kind@pb/c.yaml:4:5 unknown-key@pb/c.yaml:4:14 "},
		{"pb/d.yaml", "duplicate-name@pb/d.yaml:1:7 "},
		{"pb/warn.yaml", "forward-ref@pb/warn.yaml:5:15 "},
		{"pb/zz-empty.yaml", "missing-field@pb/zz-empty.yaml:1:1 "},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadDirMissing(t *testing.T) {
	set, reports := playbook.LoadDir(fstest.MapFS{}, "nowhere", MustOptions(t))
	if set.Len() != 0 || len(reports) != 1 || reports[0].Diagnostics[0].Code != playbook.CodeReadError {
		t.Errorf("LoadDir(missing) = %d playbooks, %+v; want none and one read-error", set.Len(), reports)
	}
}

// TestShippedPlaybooks loads every shipped playbook with the real catalog
// and the built-in config: none may have a diagnostic, not even a warning.
func TestShippedPlaybooks(t *testing.T) {
	opts := MustOptions(t)
	opts.Actions = playbook.Catalog(activities.Catalog())
	set, reports := playbook.LoadDir(playbooks.FS(), ".", opts)
	for _, r := range reports {
		t.Errorf("%s:\n%s", r.File, r.Diagnostics.Render())
	}
	for _, name := range []string{"compromised-host", "waf-sqli-blacklist"} {
		if _, ok := set.Get(name); !ok {
			t.Errorf("shipped playbook %s not loaded", name)
		}
	}

	waf, ok := set.Get("waf-sqli-blacklist")
	if !ok {
		return
	}
	block := waf.Steps[0]
	if block.Action != activities.WAFBlockIP || block.RevertAfter.Hours() != 24 || !block.ExtendOnAlert {
		t.Errorf("waf-sqli-blacklist first step = %s revert %v extend %v; want a 24h auto-reverted WAF block extended on alert",
			block.Action, block.RevertAfter, block.ExtendOnAlert)
	}
	if waf.Dedup == nil || waf.Dedup.Key != "alert.source_ip" {
		t.Errorf("waf-sqli-blacklist dedup = %+v, want keyed by alert.source_ip", waf.Dedup)
	}
}

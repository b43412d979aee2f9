package playbook_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

var update = flag.Bool("update", false, "update the golden files and playbooks/schema.json")

// MustOptions returns parse options with a fresh expression environment,
// the real catalog and the built-in config.
func MustOptions(tb testing.TB) playbook.Options {
	tb.Helper()
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		tb.Fatalf("expr.NewEnv: %v", err)
	}
	cfg := config.Default()
	return playbook.Options{Env: env, Config: &cfg}
}

// checkGolden compares got with the golden file, or rewrites it with
// -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
	}
}

func TestValidateGolden(t *testing.T) {
	opts := MustOptions(t)
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d invalid playbooks, want at least 30", len(files))
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			pb, diags := playbook.ParseFile(in, opts)
			if len(diags) == 0 {
				t.Fatalf("ParseFile(%s) found no problem", in)
			}
			if diags.HasErrors() != (pb == nil) {
				t.Errorf("ParseFile(%s): playbook nil = %v, has errors = %v; want nil exactly when there are errors", in, pb == nil, diags.HasErrors())
			}
			for _, d := range diags {
				if d.Pos.File != in || d.Pos.Line < 1 || d.Pos.Column < 1 {
					t.Errorf("diagnostic %v has position %+v, want %s with line and column", d, d.Pos, in)
				}
			}
			checkGolden(t, strings.TrimSuffix(in, ".yaml")+".golden", diags.Render())
		})
	}
}

func TestValidGolden(t *testing.T) {
	opts := MustOptions(t)
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no valid playbooks in testdata/valid")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			pb, diags := playbook.ParseFile(in, opts)
			if len(diags) > 0 {
				t.Fatalf("ParseFile(%s) diagnostics:\n%s", in, diags.Render())
			}
			if pb == nil {
				t.Fatalf("ParseFile(%s) = nil playbook without diagnostics", in)
			}
			// The model as the workflow receives it, for reviewers and the
			// workflow engineer.
			var out strings.Builder
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(pb); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, strings.TrimSuffix(in, ".yaml")+".json", out.String())
		})
	}
}

func TestLoadGolden(t *testing.T) {
	opts := MustOptions(t)
	set, reports := playbook.LoadPaths([]string{"testdata/load", "testdata/load/a.yaml", "testdata/load/missing.yaml"}, opts)
	var b strings.Builder
	for _, r := range reports {
		b.WriteString(r.Diagnostics.Render())
	}
	checkGolden(t, "testdata/load.golden", b.String())
	var names []string
	for _, p := range set.Playbooks() {
		names = append(names, p.Name+" "+filepath.ToSlash(p.File))
	}
	want := []string{"block-ip testdata/load/a.yaml", "notify testdata/load/b.yml"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("LoadPaths playbooks mismatch (-want +got):\n%s", diff)
	}
}

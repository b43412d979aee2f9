package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/internal/playbooktest"
)

func runTest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "test", "[PATH…]",
		"Run playbook tests offline: every case of every *.test.yaml runs the playbook beside it\n"+
			"(x.test.yaml tests x.yaml) on the Temporal test environment with time skipping, with\n"+
			"mocked actions, and compares what the incident did with the case's expectations.\n"+
			"PATH is a test file, a playbook (its x.test.yaml runs) or a directory of them (default:\n"+
			"playbooks). Prints PASS or FAIL per case, the report of each failing case, and a\n"+
			"summary. Exit status 1 on any failure. The format is in playbooks/README.md.")
	configPath := fs.String("config", "", "soar.yaml whose approvers and guardrails the cases run with (default: the built-in config)")
	runPattern := fs.String("run", "", "run only the cases whose name matches this regular expression")
	verbose := fs.Bool("v", false, "print the report (timeline and final state) of passing cases too")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		if _, err := os.Stat(defaultPlaybookDir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no PATH given, and the default directory ./%s does not exist here; name test files, playbooks or directories: soar test path/to/playbooks", defaultPlaybookDir)
		}
		paths = []string{defaultPlaybookDir}
	}
	var filter func(string) bool
	if *runPattern != "" {
		re, err := regexp.Compile(*runPattern)
		if err != nil {
			return fmt.Errorf("bad --run pattern: %w", err)
		}
		filter = re.MatchString
	}
	cfg, celEnv, err := playbookEnv(*configPath, e.getenv)
	if err != nil {
		return err
	}
	files, err := testFiles(paths)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintf(e.stderr, "FAIL: no playbook tests (*.test.yaml) in %s\n", strings.Join(paths, " "))
		return exitError{code: 1}
	}

	began := time.Now()
	opts := playbooktest.Options{Config: &cfg, Env: celEnv, Filter: filter}
	var cases, failed, badFiles int
	var simulated time.Duration
	for _, f := range files {
		res, err := playbooktest.RunFile(ctx, f, opts)
		var diags playbook.Diagnostics
		switch {
		case errors.As(err, &diags):
			fmt.Fprintf(e.stdout, "--- %s\n", f)
			fmt.Fprint(e.stdout, diags.Render())
			fmt.Fprintf(e.stdout, "FAIL  %s: the test file or its playbook has errors; no case ran\n", f)
			badFiles++
			continue
		case err != nil:
			return err
		}
		if len(res.Cases) == 0 {
			continue // every case filtered out
		}
		fmt.Fprintf(e.stdout, "--- %s (playbook %s)\n", f, res.Playbook)
		for _, c := range res.Cases {
			cases++
			simulated += c.Simulated
			verdict := "PASS"
			if !c.Passed {
				verdict = "FAIL"
				failed++
			}
			fmt.Fprintf(e.stdout, "%s  %s  (%s simulated in %s)\n", verdict, c.Name, days(c.Simulated), c.Elapsed.Round(time.Millisecond))
			if !c.Passed || *verbose {
				fmt.Fprint(e.stdout, indentLines(c.Report, "      "))
			}
		}
		if r := res.Failed(); r > 0 {
			badFiles++
		}
	}

	took := time.Since(began).Round(time.Millisecond)
	switch {
	case failed > 0 || badFiles > 0:
		fmt.Fprintf(e.stdout, "FAIL: %d of %s failed, %s with failures or errors (of %d)\n",
			failed, plural(cases, "case"), plural(badFiles, "file"), len(files))
		return exitError{code: 1}
	case cases == 0:
		fmt.Fprintf(e.stdout, "FAIL: no case matched --run %q\n", *runPattern)
		return exitError{code: 1}
	}
	fmt.Fprintf(e.stdout, "ok: %s passed in %s (%s of incident time in %s)\n",
		plural(cases, "case"), plural(len(files), "file"), days(simulated), took)
	return nil
}

// days renders a long duration as days and hours: 21d8h, 26h → 1d2h.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	d = d.Round(time.Second)
	if d < day || d%day == 0 {
		return playbook.FormatDuration(d)
	}
	return playbook.FormatDuration(d/day*day) + playbook.FormatDuration(d%day)
}

// testFiles expands the paths: a directory gives its *.test.yaml and
// *.test.yml files, a playbook x.yaml gives x.test.yaml beside it, a test
// file itself. Files are sorted and named once.
func testFiles(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[filepath.Clean(f)] {
			seen[filepath.Clean(f)] = true
			out = append(out, f)
		}
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("test %s: %w", p, err)
		}
		if info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("test %s: %w", p, err)
			}
			var names []string
			for _, en := range entries {
				if !en.IsDir() && isTestFile(en.Name()) {
					names = append(names, filepath.Join(p, en.Name()))
				}
			}
			sort.Strings(names)
			for _, n := range names {
				add(n)
			}
			continue
		}
		if isTestFile(p) {
			add(p)
			continue
		}
		ext := filepath.Ext(p)
		if ext != ".yaml" && ext != ".yml" {
			return nil, fmt.Errorf("test %s: not a playbook (.yaml or .yml), a playbook test file (.test.yaml) or a directory", p)
		}
		sibling := strings.TrimSuffix(p, ext) + ".test" + ext
		if _, err := os.Stat(sibling); err != nil {
			return nil, fmt.Errorf("test %s: the playbook has no test file %s", p, sibling)
		}
		add(sibling)
	}
	return out, nil
}

func isTestFile(name string) bool {
	base := filepath.Base(name)
	return !strings.HasPrefix(base, ".") && (strings.HasSuffix(base, ".test.yaml") || strings.HasSuffix(base, ".test.yml"))
}

// indentLines prefixes every non-empty line of s.
func indentLines(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

// validateProblem is one diagnostic in `soar validate --format json`.
type validateProblem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

func runValidate(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "validate", "[PATH…]",
		"Check playbooks and print every problem with file:line:col, a stable code and the\n"+
			"source line. PATH is a playbook file or a directory of them (default: playbooks);\n"+
			"playbook tests (*.test.yaml) are skipped. Exit status 1 on any error; warnings\n"+
			"alone pass.")
	format := fs.String("format", "text", "output format: text, or json (an array of {file, line, column, severity, code, message})")
	configPath := fs.String("config", "", "soar.yaml to check approvers, channels, command templates, accounts and guardrails against (default: the built-in config)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("unknown --format %q: use text or json", *format)
	}
	// fail reports a problem that stops the check before any playbook is
	// read; --format json still answers in JSON, as {"error": "…"}.
	fail := func(err error) error {
		if *format == "json" {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			if werr := enc.Encode(map[string]string{"error": err.Error()}); werr != nil {
				return fmt.Errorf("write the error: %w", werr)
			}
		}
		return err
	}
	if len(paths) == 0 {
		if _, err := os.Stat(defaultPlaybookDir); errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("no PATH given, and the default directory ./%s does not exist here; name playbook files or directories: soar validate path/to/playbooks", defaultPlaybookDir))
		}
		paths = []string{defaultPlaybookDir}
	}
	cfg, celEnv, err := playbookEnv(*configPath, e.getenv)
	if err != nil {
		return fail(err)
	}
	set, reports := playbook.LoadPaths(paths, playbook.Options{Env: celEnv, Config: &cfg})

	var all playbook.Diagnostics
	for _, r := range reports {
		all = append(all, r.Diagnostics...)
	}
	errs, warnings := all.Count()

	if *format == "json" {
		problems := make([]validateProblem, 0, len(all))
		for _, d := range all {
			problems = append(problems, validateProblem{File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Column,
				Severity: d.Severity.String(), Code: d.Code, Message: d.Message})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(problems); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	} else {
		for _, r := range reports {
			fmt.Fprint(e.stdout, r.Diagnostics.Render())
		}
	}

	switch {
	case errs > 0:
		failed := 0
		for _, r := range reports {
			if r.Diagnostics.HasErrors() {
				failed++
			}
		}
		fmt.Fprintf(e.stderr, "FAIL: %s, %s in %s; %s ok\n",
			plural(errs, "error"), plural(warnings, "warning"), plural(failed, "file"), plural(set.Len(), "playbook"))
		return exitError{code: 1}
	case set.Len() == 0:
		fmt.Fprintf(e.stderr, "FAIL: %s\n", noPlaybooks(paths))
		return exitError{code: 1}
	}
	summary := "ok: " + plural(set.Len(), "playbook")
	if warnings > 0 {
		summary += " (" + plural(warnings, "warning") + ")"
	}
	if *format == "json" {
		fmt.Fprintln(e.stderr, summary)
	} else {
		fmt.Fprintln(e.stdout, summary)
	}
	return nil
}

// defaultPlaybookDir is what soar validate checks when given no path.
const defaultPlaybookDir = "playbooks"

// noPlaybooks explains why paths held no playbook: playbook tests named
// instead of playbooks, or directories whose playbooks are in
// subdirectories (which are not searched).
func noPlaybooks(paths []string) string {
	var tests, dirs, subdirs []string
	for _, p := range paths {
		info, err := os.Stat(p)
		switch {
		case err != nil:
		case !info.IsDir():
			if !playbook.IsPlaybookFile(p) && (strings.HasSuffix(p, ".test.yaml") || strings.HasSuffix(p, ".test.yml")) {
				tests = append(tests, p)
			}
		default:
			dirs = append(dirs, p)
			entries, _ := os.ReadDir(p)
			for _, en := range entries {
				if en.IsDir() && !strings.HasPrefix(en.Name(), ".") {
					subdirs = append(subdirs, filepath.Join(p, en.Name()))
				}
			}
		}
	}
	if len(tests) == 1 && len(paths) == 1 {
		return fmt.Sprintf("%s is a playbook test, not a playbook: run it with soar test %[1]s", tests[0])
	}
	msg := "no playbooks found in " + strings.Join(paths, ", ")
	switch len(tests) {
	case 0:
	case 1:
		msg += fmt.Sprintf("; %s is a playbook test: run it with soar test %[1]s", tests[0])
	default:
		msg += fmt.Sprintf("; %s are playbook tests: run them with soar test %s", strings.Join(tests, ", "), strings.Join(tests, " "))
	}
	if len(dirs) > 0 {
		msg += " (a directory's *.yaml and *.yml files are read, not its subdirectories"
		if len(subdirs) > 0 {
			msg += "; name them to check them: soar validate " + strings.Join(subdirs, " ")
		}
		msg += ")"
	}
	return msg
}

// playbookEnv is what soar validate and soar test check playbooks in: the
// config of configPath (the built-in config, without the environment's
// overrides, when it is empty) and the CEL environment.
func playbookEnv(configPath string, getenv func(string) string) (config.Config, *expr.Env, error) {
	cfg := config.Default()
	if configPath != "" {
		var err error
		if cfg, err = config.Load(configPath, getenv); err != nil {
			return config.Config{}, nil, err
		}
	}
	celEnv, err := newCELEnv()
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, celEnv, nil
}

// plural renders "1 error", "2 errors".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

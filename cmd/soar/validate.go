package main

import (
	"context"
	"encoding/json"
	"fmt"

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
	if len(paths) == 0 {
		paths = []string{"playbooks"}
	}
	cfg, celEnv, err := playbookEnv(*configPath, e.getenv)
	if err != nil {
		return err
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
		fmt.Fprintf(e.stderr, "FAIL: no playbooks found in %v\n", paths)
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

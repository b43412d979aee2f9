package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

func runActions(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "actions", "[ACTION…]",
		"List the actions playbooks can use: parameters (required ones marked *), outputs,\n"+
			"the inverse used by revert_after, the RAM permissions soar's identity needs, and an example.\n"+
			"Name actions to show only those.")
	format := fs.String("format", "text", "output format: text, json, or markdown (the README's table)")
	names, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	specs := activities.Catalog()
	if len(names) > 0 {
		specs = specs[:0]
		for _, n := range names {
			s, ok := activities.Lookup(n)
			if !ok {
				return fmt.Errorf("unknown action %q%s", n, playbook.DidYouMean(n, activities.Names()))
			}
			specs = append(specs, s)
		}
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(specs)
	case "text":
		printActions(e.stdout, specs)
		return nil
	case "markdown":
		fmt.Fprint(e.stdout, actionsMarkdown(specs))
		return nil
	default:
		return fmt.Errorf("unknown --format %q: use text, json or markdown", *format)
	}
}

func printActions(w io.Writer, specs []activities.ActionSpec) {
	for i, s := range specs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s — %s\n", s.Name, s.Summary)
		fmt.Fprintf(w, "  category: %s", s.Category)
		if s.Inverse != "" {
			fmt.Fprintf(w, "   inverse: %s (revert_after allowed)", s.Inverse)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "  params:")
		for _, p := range s.AllParams() {
			req := " "
			if p.Required {
				req = "*"
			}
			line := fmt.Sprintf("   %s %-20s %-16s %s", req, p.Name, p.Type, p.Description)
			if len(p.Enum) > 0 {
				line += " [" + strings.Join(p.Enum, "|") + "]"
			}
			if p.Default != "" {
				line += " (default: " + p.Default + ")"
			}
			fmt.Fprintln(w, line)
		}
		fmt.Fprintln(w, "  outputs:")
		for _, f := range s.Outputs {
			fmt.Fprintf(w, "     %-20s %-16s %s\n", f.Name, f.Type, f.Description)
		}
		if len(s.Permissions) > 0 {
			fmt.Fprintf(w, "  RAM permissions: %s\n", strings.Join(s.Permissions, ", "))
		}
		fmt.Fprintln(w, "  example:")
		for _, l := range strings.Split(s.Example, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

// actionsMarkdown renders the catalog as the README's action table.
func actionsMarkdown(specs []activities.ActionSpec) string {
	var b strings.Builder
	b.WriteString("| action | parameters (required in bold) | inverse | does |\n|---|---|---|---|\n")
	for _, s := range specs {
		var params []string
		for _, p := range s.Params {
			if p.Required {
				params = append(params, "**`"+p.Name+"`**")
			} else {
				params = append(params, "`"+p.Name+"`")
			}
		}
		inverse := "—"
		if s.Inverse != "" {
			inverse = "`" + s.Inverse + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Name, strings.Join(params, ", "), inverse, s.Summary)
	}
	return b.String()
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

func runActions(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "actions", "[ACTION…]",
		"List the actions playbooks can use, as a table: name, whether it changes the cloud,\n"+
			"the inverse used by revert_after, and what it does.\n"+
			"Name actions to show their details: parameters (required ones marked *), outputs,\n"+
			"the RAM permissions soar's identity needs, and an example step.")
	format := fs.String("format", "text", "output format: text (the table, or details for named actions), details (every action's details), json, or markdown (the README's table)")
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
				return fmt.Errorf("unknown action %q%s", n, actionHint(n, activities.Names()))
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
		if len(names) == 0 {
			return printActionTable(e.stdout, specs)
		}
		printActions(e.stdout, specs)
		return nil
	case "details":
		printActions(e.stdout, specs)
		return nil
	case "markdown":
		fmt.Fprint(e.stdout, actionsMarkdown(specs))
		return nil
	default:
		return fmt.Errorf("unknown --format %q: use text, details, json or markdown", *format)
	}
}

// actionHint suggests the actions a name that is not one probably meant:
// those it is the end of (waf.block_ip → alicloud.waf.block_ip), else the
// nearest by spelling.
func actionHint(name string, names []string) string {
	var suffixed []string
	for _, n := range names {
		if strings.HasSuffix(n, "."+name) {
			suffixed = append(suffixed, strconv.Quote(n))
		}
	}
	switch len(suffixed) {
	case 0:
		return playbook.DidYouMean(name, names)
	case 1:
		return " (did you mean " + suffixed[0] + "?)"
	}
	return " (did you mean one of " + strings.Join(suffixed, ", ") + "?)"
}

// printActionTable prints one line per action.
func printActionTable(w io.Writer, specs []activities.ActionSpec) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tCHANGES\tINVERSE\tDOES")
	for _, s := range specs {
		changes, inverse := "no", "-"
		if s.Mutating {
			changes = "yes"
		}
		if s.Inverse != "" {
			inverse = s.Inverse
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, changes, inverse, s.Summary)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print the action table: %w", err)
	}
	fmt.Fprintln(w, "\nRun 'soar actions NAME' for an action's parameters, outputs, RAM permissions and an example step.")
	return nil
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

package playbooktest

import (
	"fmt"
	"strings"

	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// report renders a case: its failures, the timeline and the final state.
func (r *caseRun) report(result workflows.Result, ran bool) string {
	var b strings.Builder
	if len(r.failures) > 0 {
		for i, f := range r.failures {
			lines := strings.SplitN(f, "\n", 2)
			fmt.Fprintf(&b, "%d. %s\n", i+1, lines[0])
			if len(lines) > 1 {
				b.WriteString(indent(lines[1], "   "))
			}
		}
	}
	tl := r.sortedTimeline()
	if len(tl) > 0 {
		b.WriteString("timeline:\n")
		width := 0
		for _, e := range tl {
			width = max(width, len(offset(e.At)))
		}
		for _, e := range tl {
			fmt.Fprintf(&b, "  %-*s  %-8s %s\n", width, offset(e.At), e.Kind, e.Text)
		}
	}
	if ran {
		fmt.Fprintf(&b, "final: %s after %s", result.State, playbook.FormatDuration(result.ClosedAt.Sub(r.start)))
		if result.DryRun {
			b.WriteString(" (dry run)")
		}
		fmt.Fprintf(&b, ", alert_count %d\n", result.AlertCount)
		if len(result.Steps) > 0 {
			parts := make([]string, len(result.Steps))
			for i, s := range result.Steps {
				parts[i] = s.ID + " " + s.Status
			}
			fmt.Fprintf(&b, "steps: %s\n", strings.Join(parts, ", "))
		}
	}
	return b.String()
}

package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
)

// Search attribute keys (DESIGN §6).
func keyword(name string) temporal.SearchAttributeKeyKeyword {
	return temporal.NewSearchAttributeKeyKeyword(name)
}

func severityKey() temporal.SearchAttributeKeyInt64 {
	return temporal.NewSearchAttributeKeyInt64(SearchAttrSeverity)
}

// soarState is the incident's SoarState.
func (s *incident) soarState() string {
	switch {
	case s.final != "":
		return s.final
	case s.Failed:
		return StateFailed
	case len(s.Gates) > 0:
		return StateAwaitingApproval
	}
	for _, a := range s.Applied {
		if s.failedRevertWaits(a) {
			return StateFailed // until the analyst retries or keeps it
		}
	}
	for _, a := range s.Applied {
		if a.Status == RevertReverting || (a.Status == RevertScheduled && s.Phase == phaseDone) {
			return StateReverting
		}
	}
	return StateRunning
}

// upsertAll sets every search attribute (at start and after
// continue-as-new).
func (s *incident) upsertAll(ctx workflow.Context) {
	s.saState, s.saSeverity, s.saTarget = s.soarState(), s.Severity, s.Target
	err := workflow.UpsertTypedSearchAttributes(ctx,
		keyword(SearchAttrPlaybook).ValueSet(s.pb.Name),
		keyword(SearchAttrState).ValueSet(s.saState),
		severityKey().ValueSet(int64(s.saSeverity)),
		keyword(SearchAttrTarget).ValueSet(s.saTarget),
		keyword(SearchAttrAlertType).ValueSet(s.in.Alert.Type),
	)
	if err != nil {
		s.logger.Warn("upsert search attributes failed", "incident", s.id, "error", err)
	}
}

// syncState upserts the search attributes that changed. Each upsert is a
// history event, so it only happens on change.
func (s *incident) syncState(ctx workflow.Context) {
	var updates []temporal.SearchAttributeUpdate
	if st := s.soarState(); st != s.saState {
		s.saState = st
		updates = append(updates, keyword(SearchAttrState).ValueSet(st))
	}
	if s.Severity != s.saSeverity {
		s.saSeverity = s.Severity
		updates = append(updates, severityKey().ValueSet(int64(s.Severity)))
	}
	if s.Target != s.saTarget {
		s.saTarget = s.Target
		updates = append(updates, keyword(SearchAttrTarget).ValueSet(s.Target))
	}
	if len(updates) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		s.logger.Warn("upsert search attributes failed", "incident", s.id, "error", err)
	}
}

// refreshDetails sets the markdown the Temporal UI shows as the workflow's
// current details: what runs, what waits and the exact Update to send, the
// planned reverts. It records no history.
func (s *incident) refreshDetails(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, s.details())
}

func (s *incident) details() string {
	var b strings.Builder
	title := s.pb.Title
	if title == "" {
		title = s.pb.Name
	}
	fmt.Fprintf(&b, "**%s** · %s", mdEscape(title), s.soarState())
	if s.dryRun {
		b.WriteString(" · dry-run (nothing is changed)")
	}
	fmt.Fprintf(&b, "\n\nIncident `%s` · playbook `%s` · severity %d", s.id, s.pb.Name, s.Severity)
	if s.Target != "" {
		fmt.Fprintf(&b, " · target `%s`", s.Target)
	}
	fmt.Fprintf(&b, " · %d alert(s), last %s\n", s.Info.AlertCount, fmtTime(s.Info.LastSeen))
	if s.Info.Error != "" {
		fmt.Fprintf(&b, "\n**Failed**: %s\n", mdEscape(s.Info.Error))
	}

	if keys := workflow.DeterministicKeys(s.Gates); len(keys) > 0 {
		b.WriteString("\n**Waiting for approval**\n")
		for _, k := range keys {
			g := s.Gates[k]
			fmt.Fprintf(&b, "- `%s` (%s): %s — approvers %s · %d/%d approvals · on timeout %s at %s\n",
				k, g.Reason, mdEscape(g.Message), strings.Join(g.Approvers, ", "), len(approvals(g)), g.Quorum,
				g.OnTimeout, fmtTime(g.Deadline))
			fmt.Fprintf(&b, "  Send Update `approve` with `{\"step\":\"%s\",\"decision\":\"approve\",\"by\":\"<you>\"}` (or `\"decision\":\"reject\"`)\n", k)
		}
	}

	var running []string
	for _, id := range s.order {
		sr := s.Steps[id]
		if sr.Status != activities.StatusRunning || sr.Kind == "parallel" {
			continue
		}
		line := fmt.Sprintf("`%s`", id)
		if sr.Action != "" {
			line += " " + sr.Action
		}
		if sr.Foreach {
			done := 0
			for _, u := range sr.Units {
				if terminal(u.Status) {
					done++
				}
			}
			line += fmt.Sprintf(" (%d/%d items)", done, len(sr.Units))
		} else if len(sr.Units) == 1 && sr.Units[0].Target != "" {
			line += " " + sr.Units[0].Target
		}
		if !sr.WaitUntil.IsZero() {
			line += " until " + fmtTime(sr.WaitUntil)
		}
		running = append(running, line)
	}
	if len(running) > 0 {
		fmt.Fprintf(&b, "\n**Running**: %s\n", strings.Join(running, " · "))
	}

	var reverts []string
	for _, a := range s.Applied {
		note := ""
		if n := holdNote(a); n != "" {
			note = " · " + mdEscape(n)
		}
		switch a.Status {
		case RevertScheduled, RevertPlanned:
			reverts = append(reverts, fmt.Sprintf("- `%s` %s%s at %s (%s) — Update `revert` (now), `extend` with `{\"step\":\"%s\",\"by\":\"24h\"}`, or `keep` with `{\"step\":\"%s\"}`%s",
				a.Key, a.Inverse, targetSuffix(a.Target), fmtTime(a.At), a.Status, a.Key, a.Key, note))
		case RevertFailed:
			if s.failedRevertWaits(a) {
				reverts = append(reverts, fmt.Sprintf("- `%s` %s%s **failed**: %s — the incident stays open until you decide: send Update `revert` with `{\"step\":\"%s\",\"by\":\"<you>\"}` to retry, or `keep` with `{\"step\":\"%s\",\"by\":\"<you>\"}` to leave the measure in place",
					a.Key, a.Inverse, targetSuffix(a.Target), mdEscape(a.Error), a.Key, a.Key))
				break
			}
			reverts = append(reverts, fmt.Sprintf("- `%s` %s%s **failed**: %s — send Update `revert` with `{\"step\":\"%s\"}` to retry",
				a.Key, a.Inverse, targetSuffix(a.Target), mdEscape(a.Error), a.Key))
		case RevertReverting:
			reverts = append(reverts, fmt.Sprintf("- `%s` %s%s running now", a.Key, a.Inverse, targetSuffix(a.Target)))
		case RevertReleased, RevertUnchanged:
			reverts = append(reverts, fmt.Sprintf("- `%s` %s%s not run (%s)%s", a.Key, a.Inverse, targetSuffix(a.Target), a.Status, note))
		}
	}
	if len(reverts) > 0 {
		b.WriteString("\n**Reverts**\n")
		b.WriteString(strings.Join(reverts, "\n"))
		b.WriteByte('\n')
	}

	var steps []string
	for _, id := range s.order {
		sr := s.Steps[id]
		if s.isOnFailure(id) && sr.Status == activities.StatusPending {
			continue
		}
		steps = append(steps, fmt.Sprintf("%s %s", id, sr.Status))
	}
	fmt.Fprintf(&b, "\n**Steps**: %s\n", strings.Join(steps, " · "))
	return b.String()
}

// isOnFailure reports whether id is an on_failure step.
func (s *incident) isOnFailure(id string) bool {
	for _, st := range s.pb.OnFailure {
		if st.ID == id {
			return true
		}
		for _, c := range st.Parallel {
			if c.ID == id {
				return true
			}
		}
	}
	return false
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// mdEscape keeps user text from breaking the markdown.
func mdEscape(s string) string {
	return strings.NewReplacer("\n", " ", "`", "'", "*", "\\*", "_", "\\_").Replace(s)
}

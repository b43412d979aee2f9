package playbooktest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opensoar/soar/workflows"
)

// execution is one action execution: its attempts folded together.
type execution struct {
	seq      int64
	action   string
	params   map[string]any
	step     string
	revert   bool
	at       time.Duration
	attempts int
	output   map[string]any
	err      string
}

// executions folds the recorded attempts into executions, in a canonical
// order: by the time of the first attempt, then by the step's place in the
// playbook (stepOrder), then by foreach index. Within one instant that is
// the order the playbook reads in; the order the workflow scheduled
// concurrent actions (parallel branches, foreach items) in is not
// meaningful.
func executions(calls []call, stepOrder map[string]int) []execution {
	bySeq := map[int64]*execution{}
	var order []int64
	for _, c := range calls {
		e, ok := bySeq[c.seq]
		if !ok {
			e = &execution{seq: c.seq, action: c.action, params: c.params, step: c.meta.Step, revert: c.meta.Revert, at: c.at}
			bySeq[c.seq] = e
			order = append(order, c.seq)
		}
		e.attempts++
		if int(c.attempt) >= e.attempts {
			e.output, e.err = c.output, c.err
		}
		e.at = min(e.at, c.at)
	}
	out := make([]execution, len(order))
	for i, s := range order {
		out[i] = *bySeq[s]
	}
	slices.SortStableFunc(out, func(a, b execution) int {
		sa, ia := splitKey(a.step)
		sb, ib := splitKey(b.step)
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(stepOrder[sa], stepOrder[sb]), cmp.Compare(ia, ib), cmp.Compare(a.seq, b.seq))
	})
	return out
}

// splitKey splits a unit key "step#3" into the step and the index (-1
// without one).
func splitKey(key string) (string, int) {
	step, idx, ok := strings.Cut(key, "#")
	if !ok {
		return key, -1
	}
	n, err := strconv.Atoi(idx)
	if err != nil {
		return step, -1
	}
	return step, n
}

// describe renders an execution on one line.
func (e execution) describe(keep *pattern) string {
	s := e.action + " " + renderParams(e.params, keep)
	if e.err != "" {
		s += " → error: " + e.err
	}
	return s
}

// check compares the incident's outcome with the case's expectations.
func (r *caseRun) check(result workflows.Result) {
	calls, _ := r.rec.snapshot()
	order := r.stepOrder()
	all := executions(calls, order)
	canonical(&result.Status, order)
	r.checkInputs(all)
	var forward, reverts []execution
	for _, e := range all {
		if e.revert {
			reverts = append(reverts, e)
		} else {
			forward = append(forward, e)
		}
	}
	x := r.c.expect
	if x.hasCalls {
		if msg := diffCalls("calls", x.calls, forward); msg != "" {
			r.fail("%s", msg)
		}
	}
	for _, n := range x.notCalled {
		for i, e := range forward {
			if e.action == n.name {
				r.fail("%s must not be called, but call #%d at %s was: %s", n.name, i+1, offset(e.at), e.describe(nil))
				break
			}
		}
	}
	if x.hasReverts {
		if msg := diffCalls("reverts", x.reverts, reverts); msg != "" {
			r.fail("%s", msg)
		}
	}
	r.checkSteps(result)
	state := x.state
	if state == "" {
		state = workflows.StateClosed
	}
	if result.State != state {
		why := ""
		if result.Error != "" {
			why = " (error: " + result.Error + ")"
		}
		r.fail("state: expected the incident to end %s, it ended %s%s", state, result.State, why)
	}
	if x.errText != nil {
		if ms := x.errText.match(result.Error, "error"); len(ms) > 0 {
			r.fail("%s", joinMismatches("incident error", ms))
		}
	}
	if x.status != nil {
		if ms := x.status.match(jsonValue(result), "status"); len(ms) > 0 {
			r.fail("%s", joinMismatches("final status", ms))
		}
	}
	r.checkDuring(result)
	r.checkSends(result)
}

// checkSteps compares step statuses, errors, approvers and outputs.
func (r *caseRun) checkSteps(result workflows.Result) {
	byID := map[string]workflows.StepStatus{}
	for _, s := range result.Steps {
		byID[s.ID] = s
	}
	var lines []string
	for _, se := range r.c.expect.steps {
		got, ok := byID[se.id]
		if !ok {
			got = workflows.StepStatus{ID: se.id, Status: "pending"}
		}
		if se.status != "" && got.Status != se.status {
			why := ""
			if got.Error != "" {
				why = " (" + got.Error + ")"
			}
			lines = append(lines, fmt.Sprintf("%s: expected %s, got %s%s", se.id, se.status, got.Status, why))
		}
		if se.err != nil {
			for _, m := range se.err.match(got.Error, se.id+".error") {
				lines = append(lines, m.String())
			}
		}
		if se.approvedBy != nil {
			for _, m := range se.approvedBy.match(jsonValue(orEmpty(got.ApprovedBy)), se.id+".approved_by") {
				lines = append(lines, m.String())
			}
		}
		if se.output != nil {
			for _, m := range se.output.match(jsonValue(got.Output), se.id+".output") {
				lines = append(lines, m.String())
			}
		}
	}
	if len(lines) > 0 {
		r.fail("steps:\n%s", indent(strings.Join(lines, "\n"), "  "))
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// stepOrder maps step IDs to their place in the playbook.
func (r *caseRun) stepOrder() map[string]int {
	order := map[string]int{}
	for i, id := range r.pb.StepIDs() {
		order[id] = i
	}
	return order
}

// canonical sorts a status's planned reverts by the step's place in the
// playbook and the foreach index: the workflow lists them in the order the
// actions completed, which is not defined for concurrent ones.
func canonical(st *workflows.Status, order map[string]int) {
	slices.SortStableFunc(st.Reverts, func(a, b workflows.PlannedRevert) int {
		sa, ia := splitKey(cmp.Or(a.Key, a.Step))
		sb, ib := splitKey(cmp.Or(b.Key, b.Step))
		return cmp.Or(cmp.Compare(order[sa], order[sb]), cmp.Compare(ia, ib))
	})
}

// checkDuring compares the status queries made during the run.
func (r *caseRun) checkDuring(result workflows.Result) {
	order := r.stepOrder()
	for i, cp := range r.c.expect.during {
		st := r.statuses[i]
		if st != nil {
			canonical(st, order)
		}
		if st == nil {
			r.fail("during at %s (line %d): the status was never queried: the incident had ended at %s",
				offset(cp.at), cp.pos.Line, offset(result.ClosedAt.Sub(r.start)))
			continue
		}
		if ms := cp.status.match(jsonValue(st), "status"); len(ms) > 0 {
			r.fail("%s", joinMismatches(fmt.Sprintf("status at %s (line %d)", offset(cp.at), cp.pos.Line), ms))
		}
	}
}

// checkSends checks that every vote and update was sent and answered as
// the case expects.
func (r *caseRun) checkSends(result workflows.Result) {
	ended := offset(result.ClosedAt.Sub(r.start))
	for i, v := range r.c.approvals {
		key := fmt.Sprintf("vote#%d", i)
		label := fmt.Sprintf("approval %s of %s by %s at %s (line %d)", v.decision, v.step, orNobody(v.by), offset(v.at), v.pos.Line)
		r.checkSend(key, label, v.refused, ended)
	}
	for i, u := range r.c.updates {
		key := fmt.Sprintf("update#%d", i)
		label := fmt.Sprintf("%s %s at %s (line %d)", u.kind, u.step, offset(u.at), u.pos.Line)
		r.checkSend(key, label, u.refused, ended)
	}
}

func (r *caseRun) checkSend(key, label string, refused *pattern, ended string) {
	if !r.fired[key] {
		r.fail("%s was never sent: the incident had ended at %s", label, ended)
		return
	}
	o, ok := r.outcomes[key]
	switch {
	case !ok:
		r.fail("%s got no answer", label)
	case refused == nil && o.refused != nil:
		r.fail("%s was refused: %v", label, o.refused)
	case refused == nil && o.err != nil:
		r.fail("%s failed: %v", label, o.err)
	case refused != nil && o.refused == nil:
		r.fail("%s was expected to be refused (%s), but it was accepted", label, refused)
	case refused != nil:
		if ms := refused.match(o.refused.Error(), "reason"); len(ms) > 0 {
			r.fail("%s was refused for another reason: expected %s, got %q", label, refused, o.refused.Error())
		}
	}
}

func joinMismatches(what string, ms []mismatch) string {
	if len(ms) == 1 {
		return what + ": " + ms[0].String()
	}
	lines := make([]string, len(ms))
	for i, m := range ms {
		lines[i] = m.String()
	}
	return what + ":\n" + indent(strings.Join(lines, "\n"), "  ")
}

// matchCall compares an expected call with an execution and lists the
// differences; none means it matches.
func matchCall(x callExpect, e execution) []string {
	var out []string
	if x.action != e.action {
		out = append(out, fmt.Sprintf("action: expected %s, got %s", x.action, e.action))
		return out
	}
	if x.with != nil {
		for _, m := range x.with.match(jsonValue(e.params), "with") {
			out = append(out, m.String())
		}
	}
	if x.step != "" && x.step != e.step {
		out = append(out, fmt.Sprintf("step: expected %s, got %s", x.step, e.step))
	}
	if x.at != nil && *x.at != e.at {
		out = append(out, fmt.Sprintf("at: expected %s, got %s", offset(*x.at), offset(e.at)))
	}
	if x.error != nil {
		for _, m := range x.error.match(nilIfEmpty(e.err), "error") {
			out = append(out, m.String())
		}
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (x callExpect) describe() string {
	s := x.action
	if x.with != nil {
		s += " " + x.with.String()
	}
	if x.step != "" {
		s += " step " + x.step
	}
	if x.at != nil {
		s += " at " + offset(*x.at)
	}
	if x.error != nil {
		s += " error " + x.error.String()
	}
	return s
}

// diffCalls aligns the expected calls with the executions (longest common
// subsequence of matching pairs) and renders the whole list when they
// differ, marking each line: ✓ matched, ✗ differing, missing or
// unexpected. It returns "" when they are the same.
func diffCalls(what string, want []callExpect, got []execution) string {
	n, m := len(want), len(got)
	ok := func(i, j int) bool { return len(matchCall(want[i], got[j])) == 0 }
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if ok(i, j) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	if lcs[0][0] == n && n == m {
		return ""
	}
	var lines []string
	bad := 0
	// flush renders the unmatched runs want[i0:i1] and got[j0:j1]: an
	// expected call pairs with a call of the same action if there is one,
	// else with the next unpaired call; the rest are missing or unexpected.
	flush := func(i0, i1, j0, j1 int) {
		pairOf := map[int]int{} // got index → want index
		paired := map[int]bool{}
		for i := i0; i < i1; i++ {
			for j := j0; j < j1; j++ {
				if _, taken := pairOf[j]; !taken && got[j].action == want[i].action {
					pairOf[j], paired[i] = i, true
					break
				}
			}
		}
		for i := i0; i < i1; i++ {
			if paired[i] {
				continue
			}
			for j := j0; j < j1; j++ {
				if _, taken := pairOf[j]; !taken {
					pairOf[j], paired[i] = i, true
					break
				}
			}
		}
		for j := j0; j < j1; j++ {
			bad++
			i, ok := pairOf[j]
			switch {
			case !ok:
				lines = append(lines, fmt.Sprintf("✗ #%d unexpected %s", j+1, got[j].describe(nil)))
			case want[i].action == got[j].action:
				lines = append(lines, fmt.Sprintf("✗ #%d %s", j+1, got[j].describe(want[i].with)))
				for _, d := range matchCall(want[i], got[j]) {
					lines = append(lines, "      "+d)
				}
			default:
				lines = append(lines, fmt.Sprintf("✗ #%d expected %s  (line %d)", j+1, want[i].describe(), want[i].pos.Line))
				lines = append(lines, fmt.Sprintf("       got %s", got[j].describe(want[i].with)))
			}
		}
		for i := i0; i < i1; i++ {
			if !paired[i] {
				bad++
				lines = append(lines, fmt.Sprintf("✗ missing %s  (line %d): no such call", want[i].describe(), want[i].pos.Line))
			}
		}
	}
	i, j, i0, j0 := 0, 0, 0, 0
	for i < n && j < m {
		switch {
		case ok(i, j) && lcs[i][j] == lcs[i+1][j+1]+1:
			flush(i0, i, j0, j)
			lines = append(lines, fmt.Sprintf("✓ #%d %s", j+1, got[j].describe(want[i].with)))
			i, j = i+1, j+1
			i0, j0 = i, j
		case lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			j++
		}
	}
	flush(i0, n, j0, m)
	head := fmt.Sprintf("%s: %d of %d differ (expected %s, got %d)", what, bad, max(n, m), plural(n, "call"), m)
	return head + ":\n" + indent(strings.Join(lines, "\n"), "  ")
}

// sortedTimeline returns the timeline in workflow time order.
func (r *caseRun) sortedTimeline() []Entry {
	r.mu.Lock()
	entries := slices.Clone(r.timeline)
	r.mu.Unlock()
	if r.rec != nil {
		calls, events := r.rec.snapshot()
		for _, c := range calls {
			entries = append(entries, callEntry(c))
		}
		for _, e := range events {
			if en, ok := eventEntry(e); ok {
				entries = append(entries, en)
			}
		}
	}
	slices.SortStableFunc(entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.seq, b.seq))
	})
	return entries
}

func callEntry(c call) Entry {
	kind := "call"
	if c.meta.Revert {
		kind = "revert"
	}
	text := c.action + " " + renderParams(c.params, nil)
	if c.meta.Step != "" {
		text = c.meta.Step + ": " + text
	}
	if c.attempt > 1 {
		text += fmt.Sprintf(" (attempt %d)", c.attempt)
	}
	if c.err != "" {
		text += " → error: " + c.err
	} else {
		text += " → " + render(jsonValue(trimOutput(c.output)))
	}
	if c.mock == "" {
		text += " (unmocked)"
	}
	return Entry{At: c.at, Kind: kind, Text: text, seq: float64(c.seq)}
}

// trimOutput drops the outcome fields every output has, for brevity.
func trimOutput(out map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range out {
		if k == "plan" || k == "changed" && v == true {
			continue
		}
		m[k] = v
	}
	return m
}

func eventEntry(e event) (Entry, bool) {
	d := e.ev.Detail
	en := Entry{At: e.at, seq: float64(e.seq)}
	switch e.ev.Event {
	case "step_succeeded", "step_failed", "step_skipped", "step_rejected", "step_timed_out":
		if d["revert"] == true {
			return en, false // the revert call says it
		}
		en.Kind = "step"
		en.Text = fmt.Sprintf("%s %v", e.ev.Step, d["status"])
		if msg, ok := d["error"].(string); ok && msg != "" {
			en.Text += ": " + msg
		}
	case "released":
		// A due revert that left the measure to other holders, or to
		// nobody (soar never changed it).
		en.Kind = "revert"
		en.Text = fmt.Sprintf("%v: %v not run (%v)", d["key"], d["action"], d["status"])
		if held, ok := d["held_by"].([]any); ok && len(held) > 0 {
			parts := make([]string, len(held))
			for i, h := range held {
				parts[i] = fmt.Sprint(h)
			}
			en.Text += ", still held by " + strings.Join(parts, ", ")
		}
	case "approval_requested":
		en.Kind = "approval"
		en.Text = fmt.Sprintf("%v awaits approval (%v) from %s: %v", d["key"], d["reason"], render(d["approvers"]), d["message"])
	case "approval_decided":
		en.Kind = "approval"
		en.Text = fmt.Sprintf("%v %v", d["key"], d["outcome"])
		if by, ok := d["approved_by"].([]any); ok && len(by) > 0 {
			en.Text += " by " + render(by)
		}
		if d["timed_out"] == true {
			en.Text += " (timed out)"
		}
	default:
		return en, false
	}
	return en, true
}

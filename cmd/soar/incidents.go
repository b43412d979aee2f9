package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/opensoar/soar/workflows"
)

// incidentRow is one incident in `soar incidents`, read from visibility.
type incidentRow struct {
	ID        string `json:"id"`
	RunID     string `json:"run_id"`
	Playbook  string `json:"playbook"`
	State     string `json:"state"`
	Severity  int64  `json:"severity"`
	Target    string `json:"target,omitempty"`
	AlertType string `json:"alert_type,omitempty"`
	// Execution is Temporal's execution status: running, completed,
	// failed, terminated, canceled, timed_out.
	Execution  string    `json:"execution"`
	Started    time.Time `json:"started"`
	Closed     time.Time `json:"closed,omitzero"`
	LastChange time.Time `json:"last_change,omitzero"`
}

// incidentStates are the SoarState values --state accepts.
func incidentStates() []string {
	return []string{
		workflows.StateRunning, workflows.StateAwaitingApproval, workflows.StateReverting,
		workflows.StateClosed, workflows.StateFailed,
	}
}

func runIncidents(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "incidents", "[show ID]",
		"List incidents through Temporal visibility (newest first), filtered by the search\n"+
			"attributes SoarState and SoarPlaybook, or with `show ID` print one incident's status:\n"+
			"its steps, targets, errors, approvals, the approvals it waits for (with the command\n"+
			"that approves them) and its planned reverts.")
	state := fs.String("state", "", "only incidents in this state: "+strings.Join(incidentStates(), ", "))
	pb := fs.String("playbook", "", "only incidents of this playbook")
	format := fs.String("format", "text", "output format: text or json")
	limit := fs.Int("limit", 50, "list at most this many incidents")
	af := addAnalystFlags(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("unknown --format %q: use text or json", *format)
	}
	var showID string
	switch {
	case len(rest) == 0:
	case len(rest) == 2 && rest[0] == "show":
		showID = rest[1]
	case len(rest) == 1 && rest[0] == "show":
		return usageError(fs, "show needs an incident ID (the workflow ID that soar incidents lists)")
	default:
		return usageError(fs, fmt.Sprintf("unexpected arguments %q: use soar incidents [flags] or soar incidents show ID", rest))
	}
	if *state != "" && !slices.Contains(incidentStates(), *state) {
		return fmt.Errorf("unknown --state %q: use one of %s", *state, strings.Join(incidentStates(), ", "))
	}
	if *limit <= 0 {
		return fmt.Errorf("--limit must be positive, got %d", *limit)
	}
	cfg, err := af.load(e.getenv)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, *af.timeout)
	defer cancel()
	c, err := dialTemporal(ctx, cfg.Temporal, e.getenv, discardLogger())
	if err != nil {
		return err
	}
	defer c.Close()

	if showID != "" {
		st, err := incidentStatus(ctx, c, showID)
		if err != nil {
			return err
		}
		if *format == "json" {
			return writeIndentedJSON(e.stdout, st)
		}
		printStatus(e.stdout, st, af.cliArgs())
		return nil
	}

	rows, err := listIncidents(ctx, c, cfg.Temporal.Namespace, incidentQuery(*state, *pb), *limit)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeIndentedJSON(e.stdout, rows)
	}
	printIncidents(e.stdout, rows)
	return nil
}

// incidentQuery is the visibility query of the list: Incident workflows
// (not the runs that continued as new), filtered by state and playbook.
func incidentQuery(state, pb string) string {
	q := []string{
		fmt.Sprintf("WorkflowType = %s", visibilityString(workflows.IncidentWorkflow)),
		"ExecutionStatus != 'ContinuedAsNew'",
	}
	if state != "" {
		q = append(q, fmt.Sprintf("%s = %s", workflows.SearchAttrState, visibilityString(state)))
	}
	if pb != "" {
		q = append(q, fmt.Sprintf("%s = %s", workflows.SearchAttrPlaybook, visibilityString(pb)))
	}
	return strings.Join(q, " AND ")
}

// visibilityString quotes s as a visibility query string literal.
func visibilityString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// listIncidents lists at most limit incidents matching query, newest
// first, with the time of each open incident's latest history event.
func listIncidents(ctx context.Context, c client.Client, namespace, query string, limit int) ([]incidentRow, error) {
	var rows []incidentRow
	var token []byte
	for len(rows) < limit {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace:     namespace,
			PageSize:      int32(min(limit-len(rows), 1000)),
			NextPageToken: token,
			Query:         query,
		})
		if err != nil {
			return nil, fmt.Errorf("list incidents (%s): %w", query, err)
		}
		for _, info := range resp.GetExecutions() {
			rows = append(rows, rowOf(info))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if len(rows) > limit {
		rows = rows[:limit]
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Started.After(rows[j].Started) })
	lastChanges(ctx, c, namespace, rows)
	return rows, nil
}

// rowOf reads an incident row from a visibility record.
func rowOf(info *workflowpb.WorkflowExecutionInfo) incidentRow {
	r := incidentRow{
		ID:        info.GetExecution().GetWorkflowId(),
		RunID:     info.GetExecution().GetRunId(),
		Execution: executionStatus(info.GetStatus()),
		Started:   info.GetStartTime().AsTime(),
	}
	if info.GetCloseTime() != nil {
		r.Closed = info.GetCloseTime().AsTime()
		r.LastChange = r.Closed
	}
	fields := info.GetSearchAttributes().GetIndexedFields()
	r.Playbook = searchString(fields, workflows.SearchAttrPlaybook)
	r.State = searchString(fields, workflows.SearchAttrState)
	r.Target = searchString(fields, workflows.SearchAttrTarget)
	r.AlertType = searchString(fields, workflows.SearchAttrAlertType)
	if p := fields[workflows.SearchAttrSeverity]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &r.Severity)
	}
	// A terminated, cancelled or timed-out run never updated SoarState.
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED,
		enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		r.State = r.Execution
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		r.State = workflows.StateFailed
	}
	return r
}

func searchString(fields map[string]*commonpb.Payload, name string) string {
	p := fields[name]
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return ""
	}
	return s
}

// executionStatus is the lower-case name of a Temporal execution status.
func executionStatus(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued_as_new"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed_out"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "WorkflowExecutionStatus"))
}

// lastChanges fills LastChange of the open incidents with the time of
// their newest history event (an alert, a step, a vote, a timer), a few
// at a time. Rows whose history cannot be read keep it empty.
func lastChanges(ctx context.Context, c client.Client, namespace string, rows []incidentRow) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range rows {
		if !rows[i].LastChange.IsZero() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *incidentRow) {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := c.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
				Namespace:       namespace,
				Execution:       &commonpb.WorkflowExecution{WorkflowId: r.ID, RunId: r.RunID},
				MaximumPageSize: 1,
			})
			if err != nil {
				return
			}
			if ev := resp.GetHistory().GetEvents(); len(ev) > 0 {
				r.LastChange = ev[0].GetEventTime().AsTime()
			}
		}(&rows[i])
	}
	wg.Wait()
}

// printIncidents writes the incidents as a table.
func printIncidents(w io.Writer, rows []incidentRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no incidents")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tPLAYBOOK\tSTATE\tSEVERITY\tTARGET\tSTARTED\tLAST CHANGE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, orDash(r.Playbook), orDash(r.State), r.Severity,
			orDash(r.Target), fmtLocal(r.Started), fmtLocal(r.LastChange))
	}
	_ = tw.Flush()
}

// incidentStatus returns an incident's status: the status Query of a
// running incident (answered by a worker), or the result of a completed one
// (read from its history, no worker needed).
func incidentStatus(ctx context.Context, c client.Client, id string) (workflows.Status, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return workflows.Status{}, fmt.Errorf("incident %s not found; soar incidents lists them", id)
		}
		return workflows.Status{}, fmt.Errorf("describe incident %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var res workflows.Result
		if err := c.GetWorkflow(ctx, id, info.GetExecution().GetRunId()).Get(ctx, &res); err == nil {
			return res.Status, nil
		}
	}
	v, err := c.QueryWorkflow(ctx, id, info.GetExecution().GetRunId(), workflows.QueryStatus)
	if err != nil {
		if ctx.Err() != nil {
			return workflows.Status{}, fmt.Errorf("query the status of %s: no answer in time (is a soar worker running?): %w", id, err)
		}
		return workflows.Status{}, fmt.Errorf("query the status of %s: %w", id, err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		return workflows.Status{}, fmt.Errorf("decode the status of %s: %w", id, err)
	}
	return st, nil
}

// printStatus writes an incident's status for a human. extra are the
// connection flags to repeat in the suggested approve command.
func printStatus(w io.Writer, st workflows.Status, extra string) {
	fmt.Fprintf(w, "incident   %s\n", st.Incident)
	fmt.Fprintf(w, "playbook   %s\n", st.Playbook)
	state := st.State
	if st.DryRun {
		state += " (dry-run: nothing is changed)"
	}
	fmt.Fprintf(w, "state      %s\n", state)
	fmt.Fprintf(w, "alerts     %d (first %s, last %s)\n", st.AlertCount, fmtLocal(st.FirstSeen), fmtLocal(st.LastSeen))
	if st.Error != "" {
		fmt.Fprintf(w, "error      %s\n", st.Error)
	}

	fmt.Fprintln(w, "\nsteps")
	tw := newTable(w)
	for _, s := range st.Steps {
		what := s.Action
		if what == "" {
			what = s.Kind
		}
		target := s.Target
		if s.Items > 0 {
			target = fmt.Sprintf("%d item(s)", s.Items)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.ID, orDash(what), s.Status, orDash(target), stepNote(s))
		for _, it := range s.ItemStates {
			t := it.Target
			if t == "" && it.Item != nil {
				t = fmt.Sprint(it.Item)
			}
			note := it.Error
			if len(it.ApprovedBy) > 0 {
				note = joinNote(note, "approved by "+strings.Join(it.ApprovedBy, ", "))
			}
			fmt.Fprintf(tw, "    #%d\t\t%s\t%s\t%s\n", it.Index, it.Status, orDash(t), note)
		}
	}
	_ = tw.Flush()

	if len(st.Pending) > 0 {
		fmt.Fprintln(w, "\nwaiting for approval")
		for _, g := range st.Pending {
			fmt.Fprintf(w, "  %s (%s): %s\n", g.Step, g.Reason, g.Message)
			fmt.Fprintf(w, "    approvers %s · %d of %d approval(s)", strings.Join(g.Approvers, ", "), len(g.Approvals), g.Quorum)
			if len(g.Approvals) > 0 {
				fmt.Fprintf(w, " (%s)", strings.Join(g.Approvals, ", "))
			}
			fmt.Fprintf(w, " · on timeout %s at %s\n", g.OnTimeout, fmtLocal(g.Deadline))
			fmt.Fprintf(w, "    soar approve %s %s --by <you>%s    (add --reject to refuse)\n",
				shellQuote(st.Incident), shellQuote(g.Step), extra)
		}
	}

	if len(st.Reverts) > 0 {
		fmt.Fprintln(w, "\nreverts")
		tw := newTable(w)
		for _, r := range st.Reverts {
			key := r.Key
			if key == "" {
				key = r.Step
			}
			when := "-"
			switch {
			case !r.At.IsZero():
				when = "at " + fmtLocal(r.At)
			case r.Status == workflows.RevertApplied:
				when = "no timer: on request" // in place; undone by the revert Update or a rollback
			}
			// The error says why a revert failed; otherwise the note says what
			// the hold registry decided ("still held by …").
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", key, r.Action, orDash(r.Target), orDash(r.Status), when, joinNote(r.Error, r.Note))
		}
		_ = tw.Flush()
	}
}

// table is a tabwriter that writes its rows without the padding of an
// empty last column.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	return t
}

func (t *table) Write(p []byte) (int, error) { return t.tw.Write(p) }

// Flush aligns the rows and writes them out.
func (t *table) Flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if line == "" {
			continue
		}
		nl := strings.HasSuffix(line, "\n")
		line = strings.TrimRight(line, " \n")
		if nl {
			line += "\n"
		}
		if _, err := io.WriteString(t.w, line); err != nil {
			return err
		}
	}
	t.buf.Reset()
	return nil
}

// stepNote is the last column of a step line: approvals, gates, error.
func stepNote(s workflows.StepStatus) string {
	var note string
	if len(s.ApprovedBy) > 0 {
		note = "approved by " + strings.Join(s.ApprovedBy, ", ")
	}
	if s.Error != "" {
		note = joinNote(note, s.Error)
	}
	return note
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtLocal formats t in the local time zone, "-" for the zero time.
func fmtLocal(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

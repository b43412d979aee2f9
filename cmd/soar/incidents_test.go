package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/workflows"
)

func TestIncidentQuery(t *testing.T) {
	tests := []struct {
		state, playbook string
		want            string
	}{
		{"", "", "WorkflowType = 'Incident' AND ExecutionStatus != 'ContinuedAsNew'"},
		{"awaiting_approval", "", "WorkflowType = 'Incident' AND ExecutionStatus != 'ContinuedAsNew' AND SoarState = 'awaiting_approval'"},
		{"", "waf-sqli-blacklist", "WorkflowType = 'Incident' AND ExecutionStatus != 'ContinuedAsNew' AND SoarPlaybook = 'waf-sqli-blacklist'"},
		{"closed", `it's`, `WorkflowType = 'Incident' AND ExecutionStatus != 'ContinuedAsNew' AND SoarState = 'closed' AND SoarPlaybook = 'it\'s'`},
	}
	for _, tt := range tests {
		if got := incidentQuery(tt.state, tt.playbook); got != tt.want {
			t.Errorf("incidentQuery(%q, %q) = %q, want %q", tt.state, tt.playbook, got, tt.want)
		}
	}
}

func searchAttrs(t *testing.T, kv map[string]any) *commonpb.SearchAttributes {
	t.Helper()
	fields := map[string]*commonpb.Payload{}
	for k, v := range kv {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		fields[k] = p
	}
	return &commonpb.SearchAttributes{IndexedFields: fields}
}

func TestRowOf(t *testing.T) {
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	closed := start.Add(time.Hour)
	attrs := searchAttrs(t, map[string]any{
		workflows.SearchAttrPlaybook: "compromised-host", workflows.SearchAttrState: "awaiting_approval",
		workflows.SearchAttrSeverity: 5, workflows.SearchAttrTarget: "i-bp1sandboxweb01", workflows.SearchAttrAlertType: "webshell",
	})
	tests := []struct {
		name   string
		status enumspb.WorkflowExecutionStatus
		close  *timestamppb.Timestamp
		want   incidentRow
	}{
		{"running", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil, incidentRow{
			ID: "compromised-host.i-bp1sandboxweb01", RunID: "r1", Playbook: "compromised-host", State: "awaiting_approval",
			Severity: 5, Target: "i-bp1sandboxweb01", AlertType: "webshell", Execution: "running", Started: start,
		}},
		{"terminated keeps no stale state", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, timestamppb.New(closed), incidentRow{
			ID: "compromised-host.i-bp1sandboxweb01", RunID: "r1", Playbook: "compromised-host", State: "terminated",
			Severity: 5, Target: "i-bp1sandboxweb01", AlertType: "webshell", Execution: "terminated", Started: start,
			Closed: closed, LastChange: closed,
		}},
		{"failed", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, timestamppb.New(closed), incidentRow{
			ID: "compromised-host.i-bp1sandboxweb01", RunID: "r1", Playbook: "compromised-host", State: "failed",
			Severity: 5, Target: "i-bp1sandboxweb01", AlertType: "webshell", Execution: "failed", Started: start,
			Closed: closed, LastChange: closed,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rowOf(&workflowpb.WorkflowExecutionInfo{
				Execution:        &commonpb.WorkflowExecution{WorkflowId: "compromised-host.i-bp1sandboxweb01", RunId: "r1"},
				Status:           tt.status,
				StartTime:        timestamppb.New(start),
				CloseTime:        tt.close,
				SearchAttributes: attrs,
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rowOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrintIncidents(t *testing.T) {
	var b bytes.Buffer
	printIncidents(&b, nil)
	if got := b.String(); got != "no incidents\n" {
		t.Errorf("printIncidents(nil) = %q, want %q", got, "no incidents\n")
	}
	b.Reset()
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	printIncidents(&b, []incidentRow{{ID: "waf-sqli-blacklist.203.0.113.7", Playbook: "waf-sqli-blacklist", State: "running", Severity: 4, Target: "203.0.113.7", Started: start}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("printIncidents printed %d lines, want a header and a row:\n%s", len(lines), b.String())
	}
	if got := strings.Fields(lines[0]); !cmp.Equal(got, []string{"ID", "PLAYBOOK", "STATE", "SEVERITY", "TARGET", "STARTED", "LAST", "CHANGE"}) {
		t.Errorf("header fields = %q", got)
	}
	want := []string{"waf-sqli-blacklist.203.0.113.7", "waf-sqli-blacklist", "running", "4", "203.0.113.7"}
	if got := strings.Fields(lines[1])[:5]; !cmp.Equal(got, want) {
		t.Errorf("row fields = %q, want %q first", got, want)
	}
	if !strings.HasSuffix(lines[1], "  -") {
		t.Errorf("row %q: an unknown last change should be -", lines[1])
	}
}

func TestPrintStatus(t *testing.T) {
	at := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	st := workflows.Status{
		Incident: "compromised-host.i-bp1sandboxweb01", Playbook: "compromised-host", State: "awaiting_approval",
		AlertCount: 2, FirstSeen: at, LastSeen: at.Add(time.Minute),
		Steps: []workflows.StepStatus{
			{ID: "evidence", Action: "alicloud.ecs.snapshot_instance", Status: "succeeded", Target: "i-bp1sandboxweb01"},
			{ID: "block_c2", Action: "alicloud.cloudfw.block_ip", Status: "succeeded", Items: 2, ItemStates: []workflows.ItemStatus{
				{Index: 0, Item: "203.0.113.7", Status: "succeeded", Target: "203.0.113.7"},
				{Index: 1, Item: "10.0.0.1", Status: "failed", Error: "protected network"},
			}},
			{ID: "isolate", Action: "alicloud.ecs.isolate_instance", Status: "running"},
		},
		Pending: []workflows.PendingGate{{Step: "isolate", Message: "Isolate web-01?", Approvers: []string{"secops"}, Quorum: 1,
			Deadline: at.Add(30 * time.Minute), OnTimeout: "approve", Reason: "playbook"}},
		Reverts: []workflows.PlannedRevert{{Step: "block_c2", Key: "block_c2#0", Action: "alicloud.cloudfw.unblock_ip",
			Target: "203.0.113.7", At: at.Add(72 * time.Hour), Status: "scheduled"},
			{Step: "isolate", Action: "alicloud.ecs.restore_instance", Target: "i-bp1sandboxweb01", Status: "released",
				Note: "still held by crypto-miner.i-bp1sandboxdb01; the last holder undoes it"},
			{Step: "stop", Action: "alicloud.ecs.start_instance", Target: "i-bp1sandboxdb01", Status: "applied"}},
	}
	var b bytes.Buffer
	printStatus(&b, st, " --temporal-addr 10.0.0.1:7233")
	out := b.String()
	for _, want := range []string{
		"incident   compromised-host.i-bp1sandboxweb01\n",
		"state      awaiting_approval\n",
		"alerts     2 (first ",
		"evidence  alicloud.ecs.snapshot_instance",
		"block_c2  alicloud.cloudfw.block_ip",
		"2 item(s)",
		"#1", "protected network",
		"isolate (playbook): Isolate web-01?\n",
		"approvers secops · 0 of 1 approval(s) · on timeout approve at ",
		"soar approve compromised-host.i-bp1sandboxweb01 isolate --by <you> --temporal-addr 10.0.0.1:7233    (add --reject to refuse)\n",
		"still held by crypto-miner.i-bp1sandboxdb01; the last holder undoes it\n",
		"no timer: on request\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("printStatus output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("printStatus line %q ends in spaces", line)
		}
		if f := strings.Fields(line); len(f) > 3 && f[0] == "stop" && strings.Join(f[3:], " ") != "applied no timer: on request" {
			t.Errorf("revert row %q, want applied with no timer: on request", line)
		}
		if f := strings.Fields(line); len(f) > 0 && f[0] == "block_c2#0" {
			if want := []string{"block_c2#0", "alicloud.cloudfw.unblock_ip", "203.0.113.7", "scheduled", "at"}; !slices.Equal(f[:5], want) {
				t.Errorf("revert row %q, want the fields %v first", line, want)
			}
		}
	}
}

func TestApprovalError(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		err         error
		wantRefused string
		wantErr     string
	}{
		{"validator", temporal.NewApplicationError(`user "mallory" is not among the approvers of step "isolate" (secops)`, ""),
			`user "mallory" is not among the approvers of step "isolate" (secops)`, ""},
		{"not running", serviceerror.NewNotFound("workflow not found"),
			"incident pb.x is not running (unknown, or already closed); soar incidents lists them", ""},
		{"transport", errors.New("connection refused"), "", "approve on pb.x: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := approvalError(ctx, "pb.x", fmt.Errorf("update: %w", tt.err))
			var refused *approvalRefusedError
			switch {
			case tt.wantRefused != "":
				if !errors.As(err, &refused) || refused.reason != tt.wantRefused {
					t.Errorf("approvalError = %v, want refused %q", err, tt.wantRefused)
				}
			case errors.As(err, &refused) || err.Error() != "approve on pb.x: update: connection refused":
				t.Errorf("approvalError = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestPrintApproval(t *testing.T) {
	tests := []struct {
		req  workflows.ApproveRequest
		res  workflows.ApproveResult
		want string
	}{
		{workflows.ApproveRequest{Step: "isolate", Decision: "approve", By: "analyst"},
			workflows.ApproveResult{Step: "isolate", Approvals: 1, Quorum: 1, Outcome: "approved"},
			"approved step isolate of pb.x as analyst: 1 of 1 approval(s), outcome approved\n"},
		{workflows.ApproveRequest{Step: "isolate", Decision: "approve", By: "alice"},
			workflows.ApproveResult{Step: "isolate", Approvals: 1, Quorum: 2, Outcome: "pending"},
			"approved step isolate of pb.x as alice: 1 of 2 approval(s), outcome pending\nwaiting for 1 more approval(s)\n"},
		{workflows.ApproveRequest{Step: "isolate", Decision: "reject", By: "analyst"},
			workflows.ApproveResult{Step: "isolate", Approvals: 0, Quorum: 1, Outcome: "rejected"},
			"rejected step isolate of pb.x as analyst: 0 of 1 approval(s), outcome rejected\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		printApproval(&b, "pb.x", tt.req, tt.res)
		if got := b.String(); got != tt.want {
			t.Errorf("printApproval(%+v) = %q, want %q", tt.res, got, tt.want)
		}
	}
}

func TestAnalystUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"approve", "pb.x"}, 2, ""},
		{[]string{"approve", "pb.x", "isolate"}, 0, "--by is required"},
		{[]string{"incidents", "--state", "open"}, 0, `unknown --state "open"`},
		{[]string{"incidents", "--format", "yaml"}, 0, `unknown --format "yaml"`},
		{[]string{"incidents", "show"}, 2, ""},
	}
	for _, tt := range tests {
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		err := run(context.Background(), e, tt.args)
		var ee exitError
		switch {
		case tt.wantCode != 0:
			if !errors.As(err, &ee) || ee.code != tt.wantCode {
				t.Errorf("soar %v = %v, want exit status %d", tt.args, err, tt.wantCode)
			}
		case err == nil || !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("soar %v = %v, want an error containing %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"compromised-host.i-bp1sandboxweb01": "compromised-host.i-bp1sandboxweb01",
		"block_c2#0":                         "block_c2#0",
		"127.0.0.1:7233":                     "127.0.0.1:7233",
		"":                                   "''",
		"it's here":                          `'it'\''s here'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestAnalystFlags checks the connection flags of soar approve and soar
// incidents: they override the config's Temporal address and namespace,
// leave NATS alone, and are repeated in the commands soar suggests.
func TestAnalystFlags(t *testing.T) {
	def := config.Default()
	tests := []struct {
		args        []string
		wantAddr    string
		wantNS      string
		wantCLIArgs string
	}{
		{nil, def.Temporal.Address, def.Temporal.Namespace, ""},
		{[]string{"--temporal-addr", "10.0.0.1:7233", "--namespace", "soar prod"}, "10.0.0.1:7233", "soar prod", ` --temporal-addr 10.0.0.1:7233 --namespace 'soar prod'`},
		{[]string{"--namespace", "blue", "--timeout", "5s"}, def.Temporal.Address, "blue", " --namespace blue"},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		af := addAnalystFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := af.load(func(string) string { return "" })
		if err != nil {
			t.Fatalf("load(%v): %v", tt.args, err)
		}
		got := []string{cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.NATS.URL, af.cliArgs()}
		want := []string{tt.wantAddr, tt.wantNS, def.NATS.URL, tt.wantCLIArgs}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("flags %v: address, namespace, NATS URL, cliArgs (-want +got):\n%s", tt.args, diff)
		}
	}
	if fs := flag.NewFlagSet("test", flag.ContinueOnError); addAnalystFlags(fs).natsURL == nil || fs.Lookup("nats-url") != nil {
		t.Error("the analyst commands must not take --nats-url, and load must not see a nil natsURL")
	}
}

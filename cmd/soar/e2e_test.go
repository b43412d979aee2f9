package main

// End-to-end tests: the whole engine (soar dev: NATS, Temporal, the UI, the
// sandbox cloud, the worker, the ingestor) runs in this process through
// run(ctx, env, ["dev", …]) on free ports; the tests publish alerts to NATS
// over TCP and read the outcome from the sandbox cloud (/_sandbox/state,
// /_sandbox/calls) and from Temporal (visibility, the status query).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/ingest"
	"github.com/opensoar/soar/internal/sandbox"
	"github.com/opensoar/soar/workflows"
)

// Sandbox default-world facts the tests rely on.
const (
	web01         = "i-bp1sandboxweb01"
	db01          = "i-bp1sandboxdb001"
	sgWeb         = "sg-bp1sandboxweb"
	sgDB          = "sg-bp1sandboxdb0"
	sgQuarantine  = "sg-bp1quarantine"
	e2eRevertWait = 8 * time.Second
)

// TestE2E runs the scenarios that can share one stack, in parallel.
func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole engine")
	}
	dir := t.TempDir()
	pbDir := filepath.Join(dir, "playbooks")
	writePlaybooks(t, pbDir, map[string]string{
		"compromised-host.yaml":   compromisedHostVariant(t),
		"waf-sqli-blacklist.yaml": readShipped(t, "waf-sqli-blacklist.yaml"),
	})
	ports := freePorts(t, 4)
	s := startDev(t, filepath.Join(dir, "data"), pbDir, ports)
	defer s.stop(t)

	t.Run("group", func(t *testing.T) {
		t.Run("webshell", func(t *testing.T) { t.Parallel(); testWebshell(t, s) })
		t.Run("waf-storm", func(t *testing.T) { t.Parallel(); testWAFStorm(t, s) })
		t.Run("ui-approval", func(t *testing.T) { t.Parallel(); testUIApproval(t, s) })
		t.Run("dead-letters", func(t *testing.T) { t.Parallel(); testDeadLetters(t, s) })
	})
}

// testWebshell: a Security Center webshell alert → evidence snapshots in
// the sandbox, the incident awaits approval; soar approve → the instance is
// in the quarantine group; the short revert_after → its groups are back.
func testWebshell(t *testing.T, s *devStack) {
	ctx := testContext(t, 3*time.Minute)
	id := "compromised-host." + web01
	s.publish(ctx, t, "alerts.sas.webshell", webshellAlert("e2e-webshell-web01", web01, "web-01", sgWeb))

	s.waitState(ctx, t, id, workflows.StateAwaitingApproval)
	st := s.sandboxState(ctx, t)
	if got, want := snapshotDisks(st, web01), []string{"d-bp1sandboxweb01d", "d-bp1sandboxweb01s"}; !slices.Equal(got, want) {
		t.Errorf("evidence snapshots of disks %v, want %v", got, want)
	}
	if got := groupsOf(st, web01); !slices.Equal(got, []string{sgWeb}) {
		t.Errorf("before approval %s is in %v, want %v", web01, got, []string{sgWeb})
	}

	out, errOut, code := s.soar(ctx, t, "approve", id, "isolate", "--by", "analyst", "--comment", "e2e")
	if code != 0 || !strings.Contains(out, "outcome approved") {
		t.Fatalf("soar approve = %d, stdout %q, stderr %q; want exit 0 and outcome approved", code, out, errOut)
	}
	waitFor(ctx, t, "instance isolated", func() (bool, string) {
		got := groupsOf(s.sandboxState(ctx, t), web01)
		return slices.Equal(got, []string{sgQuarantine}), fmt.Sprint(got)
	})
	status := s.status(ctx, t, id)
	if step := stepOf(status, "isolate"); step.Status != "succeeded" || !slices.Equal(step.ApprovedBy, []string{"analyst"}) {
		t.Errorf("step isolate = %s approved by %v, want succeeded approved by [analyst]", step.Status, step.ApprovedBy)
	}
	waitFor(ctx, t, "isolation reverted", func() (bool, string) {
		got := groupsOf(s.sandboxState(ctx, t), web01)
		return slices.Equal(got, []string{sgWeb}), fmt.Sprint(got)
	})

	// soar incidents sees it; show prints its steps.
	out, _, code = s.soar(ctx, t, "incidents", "--playbook", "compromised-host", "--format", "json")
	var rows []incidentRow
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("soar incidents --format json = %d, %v: %s", code, err, out)
	}
	if !slices.ContainsFunc(rows, func(r incidentRow) bool { return r.ID == id && r.Playbook == "compromised-host" && r.Target == web01 }) {
		t.Errorf("soar incidents rows %+v, want %s", rows, id)
	}
	out, _, code = s.soar(ctx, t, "incidents", "show", id)
	if code != 0 || !strings.Contains(out, "isolate") || !strings.Contains(out, "approved by analyst") {
		t.Errorf("soar incidents show %s = %d:\n%s", id, code, out)
	}
}

// testWAFStorm: 1,000 messages from 5 IPs, with JetStream duplicates (same
// Nats-Msg-Id) and redeliveries (same alert, new message) → 5 IPs on the
// WAF blacklist, 5 incidents, alert counts summing to the distinct alerts.
func testWAFStorm(t *testing.T, s *devStack) {
	ctx := testContext(t, 3*time.Minute)
	sample, ok := alert.SampleByName("waf-sqli-blacklist")
	if !ok {
		t.Fatal("no waf-sqli-blacklist sample")
	}
	ips := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13", "203.0.113.14"}
	const distinct, duplicates, redeliveries = 700, 150, 150
	type msg struct {
		id   string // Nats-Msg-Id
		data []byte
	}
	var msgs []msg
	for n := range distinct {
		data, err := alert.Variant(sample.Subject, sample.Payload, 10000+n, ips[n%len(ips)])
		if err != nil {
			t.Fatal(err)
		}
		a, err := alert.Decode(sample.Subject, data, alert.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg{a.ID, data})
	}
	for n := range duplicates { // the same message again: JetStream drops it
		msgs = append(msgs, msgs[n*3])
	}
	for n := range redeliveries { // the same alert in a new message: the incident answers from the first outcome
		m := msgs[n*4+1]
		msgs = append(msgs, msg{m.id + "-again", m.data})
	}
	if len(msgs) != 1000 {
		t.Fatalf("built %d messages, want 1000", len(msgs))
	}
	js := s.jetStream(t)
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		// A long stall wait: on a loaded machine the acks lag behind.
		f, err := js.PublishAsync(sample.Subject, m.data, jetstream.WithMsgID(m.id), jetstream.WithStallWait(time.Minute))
		if err != nil {
			t.Fatalf("publish the storm: %v", err)
		}
		futures = append(futures, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing the storm timed out")
	}
	dups := 0
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				dups++
			}
		case err := <-f.Err():
			t.Fatalf("publish %s: %v", f.Msg().Header.Get(jetstream.MsgIDHeader), err)
		}
	}
	if dups != duplicates {
		t.Errorf("JetStream dropped %d duplicates, want %d", dups, duplicates)
	}

	var counts map[string]int
	waitFor(ctx, t, "alerts absorbed by 5 incidents", func() (bool, string) {
		counts = map[string]int{}
		total := 0
		for _, ip := range ips {
			st, err := s.tryStatus(ctx, "waf-sqli-blacklist."+ip)
			if err != nil {
				return false, err.Error()
			}
			counts[ip] = st.AlertCount
			total += st.AlertCount
		}
		return total == distinct, fmt.Sprint(counts)
	})
	for _, ip := range ips {
		if counts[ip] != distinct/len(ips) {
			t.Errorf("incident of %s counted %d alerts, want %d", ip, counts[ip], distinct/len(ips))
		}
	}
	rows := s.list(ctx, t, fmt.Sprintf("WorkflowType = 'Incident' AND %s = 'waf-sqli-blacklist'", workflows.SearchAttrPlaybook))
	if len(rows) != len(ips) {
		t.Errorf("%d waf-sqli-blacklist incidents, want %d: %v", len(rows), len(ips), rows)
	}
	waitFor(ctx, t, "5 IPs on the WAF blacklist", func() (bool, string) {
		got := wafBlacklist(s.sandboxState(ctx, t))
		return slices.Equal(got, ips), fmt.Sprint(got)
	})
	for _, ip := range ips {
		if step := stepOf(s.status(ctx, t, "waf-sqli-blacklist."+ip), "block"); step.Status != "succeeded" {
			t.Errorf("block step of %s = %s (%s), want succeeded", ip, step.Status, step.Error)
		}
	}
}

// testUIApproval: the approve Update sent through the Temporal UI server's
// HTTP API is refused with the validator's reason for a user who is not an
// approver, and accepted for one who is.
func testUIApproval(t *testing.T, s *devStack) {
	ctx := testContext(t, 3*time.Minute)
	id := "compromised-host." + db01
	s.publish(ctx, t, "alerts.sas.webshell", webshellAlert("e2e-webshell-db01", db01, "db-01", sgDB))
	s.waitState(ctx, t, id, workflows.StateAwaitingApproval)

	ui := newUIClient(ctx, t, s.uiURL)
	failure, res := ui.approve(ctx, t, id, workflows.ApproveRequest{Step: "isolate", Decision: "approve", By: "mallory"})
	if want := `user "mallory" is not among the approvers of step "isolate"`; !strings.Contains(failure, want) {
		t.Errorf("approval by mallory through the UI: failure %q, result %+v; want a failure containing %q", failure, res, want)
	}
	failure, res = ui.approve(ctx, t, id, workflows.ApproveRequest{Step: "isolate", Decision: "approve", By: "analyst"})
	want := workflows.ApproveResult{Step: "isolate", Approvals: 1, Quorum: 1, Outcome: workflows.OutcomeApproved}
	if failure != "" || res != want {
		t.Errorf("approval by analyst through the UI: failure %q, result %+v; want %+v", failure, res, want)
	}
	waitFor(ctx, t, "db-01 isolated", func() (bool, string) {
		got := groupsOf(s.sandboxState(ctx, t), db01)
		return slices.Equal(got, []string{sgQuarantine}), fmt.Sprint(got)
	})
}

// testDeadLetters: malformed alerts published with plain NATS land on
// soar.dlq.<reason> with the original payload.
func testDeadLetters(t *testing.T, s *devStack) {
	ctx := testContext(t, 2*time.Minute)
	nc := s.natsConn(t)
	sub, err := nc.SubscribeSync("soar.dlq.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		subject string
		payload string
		reason  string
	}{
		{"alerts.sas.webshell", `{"id": "broken", "source":`, alert.ReasonInvalidJSON},
		{"alerts.custom.thing", `[1, 2, 3]`, alert.ReasonNotObject},
		{"alerts.sas.webshell", `{}`, alert.ReasonMissingField},
		{"alerts.custom.thing", `{"id": "bad-severity", "source": "custom", "type": "webshell", "severity": 9, "title": "t"}`, alert.ReasonInvalidField},
	}
	for i := range cases {
		_, err := alert.DecodeAll(cases[i].subject, []byte(cases[i].payload), alert.DecodeOptions{})
		if alert.ReasonOf(err) != cases[i].reason {
			t.Fatalf("Decode(%s) = %v, want reason %s", cases[i].payload, err, cases[i].reason)
		}
		if err := nc.Publish(cases[i].subject, []byte(cases[i].payload)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for len(got) < len(cases) {
		m, err := sub.NextMsg(time.Until(deadline(ctx)))
		if err != nil {
			t.Fatalf("dead letters so far %v: %v", got, err)
		}
		got[string(m.Data)] = m.Subject + " " + m.Header.Get(ingest.HeaderDLQReason)
	}
	want := map[string]string{}
	for _, c := range cases {
		want[c.payload] = "soar.dlq." + c.reason + " " + c.reason
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters by payload (-want +got):\n%s", diff)
	}
}

// TestE2E_Restart stops soar dev twice in the middle of an incident (while
// it awaits approval, then isolated with its auto-revert pending) and starts
// it again on the same data dir each time: the incident completes, the
// sandbox cloud keeps its state, and no mutating cloud call is made twice.
func TestE2E_Restart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole engine")
	}
	ctx := testContext(t, 4*time.Minute)
	dir := t.TempDir()
	pbDir := filepath.Join(dir, "playbooks")
	writePlaybooks(t, pbDir, map[string]string{"restart-drill.yaml": restartDrill})
	dataDir := filepath.Join(dir, "data")
	ports := freePorts(t, 4)
	id := "restart-drill.e2e-restart"

	s := startDev(t, dataDir, pbDir, ports)
	s.publish(ctx, t, "alerts.sas.webshell", webshellAlert("e2e-restart", web01, "web-01", sgWeb))
	s.waitState(ctx, t, id, workflows.StateAwaitingApproval)
	s.stop(t)

	s = startDev(t, dataDir, pbDir, ports)
	if got, want := snapshotDisks(s.sandboxState(ctx, t), web01), []string{"d-bp1sandboxweb01d", "d-bp1sandboxweb01s"}; !slices.Equal(got, want) {
		t.Errorf("after a restart: evidence snapshots of disks %v, want the restored %v", got, want)
	}
	if out, errOut, code := s.soar(ctx, t, "approve", id, "isolate", "--by", "analyst"); code != 0 {
		t.Fatalf("soar approve after a restart = %d: %s %s", code, out, errOut)
	}
	waitFor(ctx, t, "instance isolated", func() (bool, string) {
		got := groupsOf(s.sandboxState(ctx, t), web01)
		return slices.Equal(got, []string{sgQuarantine}), fmt.Sprint(got)
	})
	s.stop(t)
	before := readSavedCalls(t, dataDir) // both runs so far

	s = startDev(t, dataDir, pbDir, ports)
	defer s.stop(t)
	if got := groupsOf(s.sandboxState(ctx, t), web01); !slices.Equal(got, []string{sgQuarantine}) {
		t.Errorf("after a restart %s is in %v, want the restored sandbox state %v", web01, got, []string{sgQuarantine})
	}
	var res workflows.Result
	if err := s.tc.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("incident %s after the restarts: %v", id, err)
	}
	if res.State != workflows.StateClosed {
		t.Errorf("incident ended in state %s, want %s", res.State, workflows.StateClosed)
	}
	st := s.sandboxState(ctx, t)
	if got := groupsOf(st, web01); !slices.Equal(got, []string{sgWeb}) {
		t.Errorf("after the revert %s is in %v, want %v", web01, got, []string{sgWeb})
	}
	if got, want := snapshotDisks(st, web01), []string{"d-bp1sandboxweb01d", "d-bp1sandboxweb01s"}; !slices.Equal(got, want) {
		t.Errorf("evidence snapshots of disks %v, want %v (one per disk, kept across the restart)", got, want)
	}

	after := s.calls(ctx, t)
	changes := noRepeatedChange(t, append(before, after...))
	t.Logf("mutating calls across the restart (%d before, %d after):\n%s", len(before), len(after), strings.Join(changes, "\n"))
	if len(changes) == 0 || !slices.ContainsFunc(before, func(c sandbox.Call) bool { return c.Changed }) ||
		!slices.ContainsFunc(after, func(c sandbox.Call) bool { return c.Changed }) {
		t.Errorf("mutating calls %v (before the restart %d calls, after %d): want changes in both runs", changes, len(before), len(after))
	}
}

// noRepeatedChange fails the test for every mutating call made twice with
// the same parameters, and returns the mutating calls.
func noRepeatedChange(t *testing.T, calls []sandbox.Call) []string {
	t.Helper()
	seen := map[string]int{}
	var changes []string
	for _, c := range calls {
		if !c.Changed || isRead(c.Action) {
			continue // reads can advance progress (a snapshot, a command); they change nothing soar asked for
		}
		k := callKey(c)
		changes = append(changes, k)
		if seen[k]++; seen[k] == 2 {
			t.Errorf("mutating call repeated: %s", k)
		}
	}
	return changes
}

// TestE2E_RestartDuringCloudCall stops soar dev while a cloud call is in
// flight — the sandbox holds CreateSnapshot (a fault with a delay) — and
// starts it again on the same data dir. Whether the held call's answer
// reached Temporal before the stop or the snapshot activity is retried
// after its heartbeat timeout under the same ClientToken, the incident
// goes on to its approval with exactly one snapshot per disk and no
// mutating call made twice.
func TestE2E_RestartDuringCloudCall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole engine")
	}
	ctx := testContext(t, 5*time.Minute)
	dir := t.TempDir()
	pbDir := filepath.Join(dir, "playbooks")
	writePlaybooks(t, pbDir, map[string]string{"restart-drill.yaml": restartDrill})
	dataDir := filepath.Join(dir, "data")
	ports := freePorts(t, 4)
	id := "restart-drill.e2e-inflight"

	s := startDev(t, dataDir, pbDir, ports)
	s.postJSON(ctx, t, s.sandboxURL+"/_sandbox/faults", sandbox.Fault{Action: "CreateSnapshot", Count: 1, Delay: 6 * time.Second})
	s.publish(ctx, t, "alerts.sas.webshell", webshellAlert("e2e-inflight", web01, "web-01", sgWeb))
	waitFor(ctx, t, "CreateSnapshot held by the sandbox", func() (bool, string) {
		var faults []sandbox.Fault
		s.getJSON(ctx, t, s.sandboxURL+"/_sandbox/faults", &faults)
		return len(faults) == 0, fmt.Sprintf("faults left: %+v", faults)
	})
	s.stop(t) // the sandbox finishes the held call as it shuts down
	before := readSavedCalls(t, dataDir)

	s = startDev(t, dataDir, pbDir, ports)
	defer s.stop(t)
	s.waitState(ctx, t, id, workflows.StateAwaitingApproval)
	st := s.sandboxState(ctx, t)
	if got, want := snapshotDisks(st, web01), []string{"d-bp1sandboxweb01d", "d-bp1sandboxweb01s"}; !slices.Equal(got, want) {
		t.Errorf("evidence snapshots of disks %v, want one each of %v", got, want)
	}
	for _, step := range s.status(ctx, t, id).Steps {
		if step.ID == "evidence" && step.Status != "succeeded" {
			t.Errorf("evidence step = %+v, want succeeded", step)
		}
	}
	changes := noRepeatedChange(t, append(before, s.calls(ctx, t)...))
	t.Logf("mutating calls across the restart:\n%s", strings.Join(changes, "\n"))
}

// restartDrill opens an incident per alert (no dedup, so it closes once its
// steps are done and its revert has run): evidence, then an approved
// isolation reverted after a few seconds.
const restartDrill = `name: restart-drill
title: restart drill
trigger:
  subjects: [alerts.sas.>]
  when: alert.type == "webshell"
steps:
  - id: evidence
    action: alicloud.ecs.snapshot_instance
    with: { instance_id: "${{ alert.resource.instance_id }}", reason: "evidence for ${{ incident.id }}" }
  - id: isolate
    approval: { approvers: [secops], timeout: 30m }
    action: alicloud.ecs.isolate_instance
    with: { instance_id: "${{ alert.resource.instance_id }}" }
    revert_after: 8s
`

// callKey identifies a mutating call by its action and parameters, without
// what differs between two sends of the same change (signature, nonce,
// time, idempotency token).
func callKey(c sandbox.Call) string {
	var parts []string
	for k, v := range c.Params {
		switch k {
		case "Signature", "SignatureNonce", "SignatureMethod", "SignatureVersion", "SignatureType",
			"Timestamp", "AccessKeyId", "SecurityToken", "ClientToken", "Format":
			continue
		}
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return c.Action + " " + strings.Join(parts, "&")
}

// isRead reports whether an API action only reads.
func isRead(action string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Query", "Lookup"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

func readSavedCalls(t *testing.T, dataDir string) []sandbox.Call {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "sandbox.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Calls []sandbox.Call `json:"calls"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Calls
}

// devStack is one soar dev run in this process and clients of it.
type devStack struct {
	cancel context.CancelFunc
	done   chan error
	stdout *watchWriter
	stderr *watchWriter

	natsURL, temporalAddr, uiURL, sandboxURL string
	tc                                       client.Client
	http                                     *http.Client

	mu sync.Mutex
	nc *nats.Conn
}

// startDev runs soar dev on dataDir with the playbooks of pbDir (empty:
// the shipped set embedded in soar) on ports (NATS, Temporal, UI, sandbox)
// and waits for its ready line.
func startDev(t *testing.T, dataDir, pbDir string, ports []string) *devStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &devStack{
		cancel: cancel, done: make(chan error, 1),
		stdout: newWatchWriter("\nready\n"), stderr: newWatchWriter(""),
		natsURL: "nats://" + ports[0], temporalAddr: ports[1], uiURL: "http://" + ports[2], sandboxURL: "http://" + ports[3],
		http: &http.Client{Timeout: 30 * time.Second},
	}
	e := &env{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr, getenv: func(string) string { return "" }}
	args := []string{"dev", "--data-dir", dataDir,
		"--nats-addr", ports[0], "--temporal-addr", ports[1], "--ui-addr", ports[2], "--sandbox-addr", ports[3]}
	if pbDir != "" {
		args = append(args, "--playbooks", pbDir)
	}
	go func() { s.done <- run(ctx, e, args) }()
	select {
	case <-s.stdout.seen:
	case err := <-s.done:
		t.Fatalf("soar dev exited before ready: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr.tail(4000))
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatalf("soar dev not ready after 3 minutes\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr.tail(4000))
	}
	tc, err := client.Dial(client.Options{HostPort: s.temporalAddr, Namespace: "default"})
	if err != nil {
		s.stop(t)
		t.Fatal(err)
	}
	s.tc = tc
	return s
}

// stop cancels soar dev, waits for a clean exit and closes the clients.
func (s *devStack) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.mu.Lock()
	if s.nc != nil {
		s.nc.Close()
		s.nc = nil
	}
	s.mu.Unlock()
	if s.tc != nil {
		s.tc.Close()
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("soar dev: %v\nstderr:\n%s", err, s.stderr.tail(4000))
		}
		if !strings.Contains(s.stdout.String(), "\nstopped\n") {
			t.Errorf("soar dev did not say it stopped:\n%s", s.stdout)
		}
	case <-time.After(90 * time.Second):
		t.Errorf("soar dev did not stop within 90s\nstderr:\n%s", s.stderr.tail(4000))
	}
	if t.Failed() {
		t.Logf("soar dev stderr (tail):\n%s", s.stderr.tail(8000))
	}
}

// soar runs a soar command against this stack.
func (s *devStack) soar(ctx context.Context, t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	switch args[0] {
	case "approve":
		// A busy CI machine running the storm beside this can take longer
		// than the interactive default of 30s to answer an Update.
		args = append(args, "--temporal-addr", s.temporalAddr, "--timeout", "2m")
	case "incidents":
		args = append(args, "--temporal-addr", s.temporalAddr)
	}
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	err := run(ctx, e, args)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = 1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func (s *devStack) natsConn(t *testing.T) *nats.Conn {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc == nil {
		nc, err := nats.Connect(s.natsURL, nats.Name("soar-e2e"))
		if err != nil {
			t.Fatal(err)
		}
		s.nc = nc
	}
	return s.nc
}

func (s *devStack) jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(s.natsConn(t), jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// publish publishes one alert to JetStream with its ID as Nats-Msg-Id.
func (s *devStack) publish(ctx context.Context, t *testing.T, subject string, a map[string]any) {
	t.Helper()
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.jetStream(t).Publish(ctx, subject, data, jetstream.WithMsgID(a["id"].(string))); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// waitState waits until visibility shows the incident in state.
func (s *devStack) waitState(ctx context.Context, t *testing.T, id, state string) {
	t.Helper()
	q := fmt.Sprintf("WorkflowId = %s AND %s = %s", visibilityString(id), workflows.SearchAttrState, visibilityString(state))
	waitFor(ctx, t, id+" "+state, func() (bool, string) {
		rows, err := listIncidents(ctx, s.tc, "default", q, 10)
		if err != nil {
			return false, err.Error()
		}
		return len(rows) == 1, fmt.Sprint(rows)
	})
}

func (s *devStack) list(ctx context.Context, t *testing.T, query string) []incidentRow {
	t.Helper()
	rows, err := listIncidents(ctx, s.tc, "default", query, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func (s *devStack) tryStatus(ctx context.Context, id string) (workflows.Status, error) {
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return incidentStatus(qctx, s.tc, id)
}

func (s *devStack) status(ctx context.Context, t *testing.T, id string) workflows.Status {
	t.Helper()
	st, err := s.tryStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *devStack) sandboxState(ctx context.Context, t *testing.T) sandbox.State {
	t.Helper()
	var st sandbox.State
	s.getJSON(ctx, t, s.sandboxURL+"/_sandbox/state", &st)
	return st
}

func (s *devStack) calls(ctx context.Context, t *testing.T) []sandbox.Call {
	t.Helper()
	var calls []sandbox.Call
	s.getJSON(ctx, t, s.sandboxURL+"/_sandbox/calls", &calls)
	return calls
}

// postJSON posts v as JSON to u and fails the test unless it is accepted.
func (s *devStack) postJSON(ctx context.Context, t *testing.T, u string, v any) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s = %s %.300s", u, resp.Status, msg)
	}
}

func (s *devStack) getJSON(ctx context.Context, t *testing.T, u string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s %.300s (%v)", u, resp.Status, body, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode: %v", u, err)
	}
}

// uiClient speaks to the Temporal UI server's HTTP API as the UI does.
type uiClient struct {
	base  string
	hc    *http.Client
	token string
}

// newUIClient loads the UI's settings, which sets the CSRF cookie the
// write endpoints require.
func newUIClient(ctx context.Context, t *testing.T, base string) *uiClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &uiClient{base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	u.do(ctx, t, http.MethodGet, "/api/v1/settings", nil)
	bu, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range jar.Cookies(bu) {
		if ck.Name == "_csrf" {
			u.token = ck.Value
		}
	}
	if u.token == "" {
		t.Fatal("the Temporal UI set no _csrf cookie")
	}
	return u
}

// approve sends the approve Update through POST
// /api/v1/namespaces/default/workflows/{id}/update/approve and returns the
// failure message, or the result.
func (u *uiClient) approve(ctx context.Context, t *testing.T, id string, req workflows.ApproveRequest) (string, workflows.ApproveResult) {
	t.Helper()
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"workflowExecution": map[string]any{"runId": ""},
		"request": map[string]any{
			"meta": map[string]any{"updateId": "ui-" + req.By + "-" + req.Step, "identity": req.By + "@ui"},
			"input": map[string]any{"args": map[string]any{"payloads": []any{map[string]any{
				"metadata": map[string]string{"encoding": base64.StdEncoding.EncodeToString([]byte("json/plain"))},
				"data":     base64.StdEncoding.EncodeToString(arg),
			}}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	respBody := u.do(ctx, t, http.MethodPost, fmt.Sprintf("/api/v1/namespaces/default/workflows/%s/update/%s",
		url.PathEscape(id), workflows.UpdateApprove), body)
	var resp workflowservice.UpdateWorkflowExecutionResponse
	if err := (temporalproto.CustomJSONUnmarshalOptions{DiscardUnknown: true}).Unmarshal(respBody, &resp); err != nil {
		t.Fatalf("decode update response %s: %v", respBody, err)
	}
	if f := resp.GetOutcome().GetFailure(); f != nil {
		return f.GetMessage(), workflows.ApproveResult{}
	}
	var res workflows.ApproveResult
	if err := converter.GetDefaultDataConverter().FromPayloads(resp.GetOutcome().GetSuccess(), &res); err != nil {
		t.Fatalf("decode update result %s: %v", respBody, err)
	}
	return "", res
}

func (u *uiClient) do(ctx context.Context, t *testing.T, method, path string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", u.token)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s = %s %s (%v)", method, path, resp.Status, b, err)
	}
	return b
}

// watchWriter collects output and closes seen once it contains marker.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func newWatchWriter(marker string) *watchWriter {
	return &watchWriter{marker: marker, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.marker != "" && strings.Contains("\n"+w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *watchWriter) tail(n int) string {
	s := w.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// waitFor polls cond until it holds, failing the test when ctx ends; the
// failure shows cond's last description of what it saw.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last seen: %s", what, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return d
}

// webshellAlert is a Security Center webshell alert in the envelope's shape
// on one of the sandbox's instances.
func webshellAlert(id, instance, host, group string) map[string]any {
	return map[string]any{
		"id": id, "source": "alibaba.sas", "type": "webshell", "severity": 5,
		"title": "Webshell in /var/www/html/index.php on " + host, "time": time.Now().UTC().Format(time.RFC3339),
		"resource": map[string]any{"instance_id": instance, "hostname": host, "security_group_ids": []string{group}},
		"process":  map[string]any{"pid": 31337, "name": "php-fpm", "path": "/usr/sbin/php-fpm", "user": "www-data"},
		"file":     map[string]any{"path": "/var/www/html/index.php"},
		"iocs":     map[string]any{"ips": []string{"203.0.113.7"}},
	}
}

// compromisedHostVariant is the shipped compromised-host playbook whose
// isolation reverts after a few seconds.
func compromisedHostVariant(t *testing.T) string {
	t.Helper()
	src := readShipped(t, "compromised-host.yaml")
	const anchor = "    action: alicloud.ecs.isolate_instance\n"
	if strings.Count(src, anchor) != 1 {
		t.Fatalf("compromised-host.yaml: want exactly one %q", anchor)
	}
	return strings.Replace(src, anchor, anchor+"    revert_after: "+e2eRevertWait.String()+"\n", 1)
}

func readShipped(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "playbooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writePlaybooks(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// groupsOf returns the security groups of an instance's primary interface.
func groupsOf(st sandbox.State, instance string) []string {
	for _, in := range st.ECS.Instances {
		if in.ID != instance {
			continue
		}
		for _, n := range in.NetworkInterfaces {
			if n.Type == "Primary" {
				return n.SecurityGroupIDs
			}
		}
	}
	return nil
}

// snapshotDisks returns the disks of instance that have a snapshot, sorted.
func snapshotDisks(st sandbox.State, instance string) []string {
	disks := map[string]bool{}
	for _, d := range st.ECS.Disks {
		if d.InstanceID == instance {
			disks[d.ID] = true
		}
	}
	var out []string
	for _, s := range st.ECS.Snapshots {
		if disks[s.DiskID] {
			out = append(out, s.DiskID)
		}
	}
	sort.Strings(out)
	return out
}

// wafBlacklist returns every address on a WAF ip_blacklist rule, sorted.
func wafBlacklist(st sandbox.State) []string {
	var out []string
	for _, r := range st.WAF.Rules {
		if r.Scene == "ip_blacklist" {
			out = append(out, r.RemoteAddr...)
		}
	}
	sort.Strings(out)
	return out
}

func stepOf(st workflows.Status, id string) workflows.StepStatus {
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	return workflows.StepStatus{ID: id, Status: "absent"}
}

package devstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/temporalproto"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"

	"github.com/opensoar/soar/workflows"
)

const (
	testTaskQueue      = "devstack-test"
	testNamespace      = "soar-test"
	testRetention      = 72 * time.Hour
	testStream         = "DEVSTACK_TEST"
	testConsumer       = "devstack-test"
	testOtherHdr       = "test-other"
	noPrincipal        = "<none>"
	approveUpdate      = "approve"
	greetWorkflowID    = "devstack-greet"
	approvalWorkflowID = "devstack-approval"
)

// approval is the "approve" Update's argument.
type approval struct {
	By       string `json:"by"`
	Decision string `json:"decision"`
}

// approvalSeen is what the Update handler saw, including its headers.
type approvalSeen struct {
	By        string `json:"by"`
	Decision  string `json:"decision"`
	Principal string `json:"principal"` // PrincipalHeader, or noPrincipal
	Other     string `json:"other"`     // testOtherHdr: proves headers reach the handler
}

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, greetActivity, name).Get(ctx, &out)
	return out, err
}

func greetActivity(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

// approvalWorkflow returns what its first two "approve" Updates saw.
func approvalWorkflow(ctx workflow.Context) ([]approvalSeen, error) {
	var seen []approvalSeen
	err := workflow.SetUpdateHandler(ctx, approveUpdate, func(ctx workflow.Context, a approval) (approvalSeen, error) {
		s := approvalSeen{By: a.By, Decision: a.Decision,
			Principal: headerString(ctx, PrincipalHeader), Other: headerString(ctx, testOtherHdr)}
		seen = append(seen, s)
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if err := workflow.Await(ctx, func() bool { return len(seen) >= 2 }); err != nil {
		return nil, err
	}
	return seen, nil
}

func headerString(ctx workflow.Context, key string) string {
	p, ok := interceptor.WorkflowHeader(ctx)[key]
	if !ok {
		return noPrincipal
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return "<undecodable: " + err.Error() + ">"
	}
	return s
}

// TestStack runs the whole stack on a data directory, exercises every part
// through its public interface, restarts it and checks nothing was lost.
func TestStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logger := testLogger(t)
	dir := t.TempDir()
	opts := Options{
		DataDir:      dir,
		NATSAddr:     "127.0.0.1:0",
		TemporalAddr: "127.0.0.1:0",
		UIAddr:       "127.0.0.1:0",
		Namespace:    testNamespace,
		Retention:    testRetention,
		Logger:       logger,
	}

	// An older soar left a namespace with one search attribute and the 24 h
	// default retention: Start must bring it up to date.
	preCreateNamespace(t, filepath.Join(dir, "temporal.db"), map[string]enums.IndexedValueType{saPlaybook: enums.INDEXED_VALUE_TYPE_KEYWORD})

	began := time.Now()
	st, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start() error: %v", err)
	}
	t.Logf("Start() on an older data dir took %s; %s", time.Since(began).Round(time.Millisecond), memStats())
	t.Cleanup(func() { _ = st.Stop(context.Background()) }) // after the clients' cleanups

	if !strings.HasPrefix(st.NATSURL(), "nats://127.0.0.1:") || !strings.HasPrefix(st.UIURL(), "http://127.0.0.1:") {
		t.Fatalf("NATSURL() = %q, UIURL() = %q, want loopback URLs", st.NATSURL(), st.UIURL())
	}
	c := dialTemporal(t, st, logger)
	stopWorker := startWorker(t, c)

	t.Run("second stack on the same data dir is refused", func(t *testing.T) {
		_, err := Start(ctx, Options{DataDir: dir, TemporalAddr: "127.0.0.1:0", Logger: logger})
		if err == nil || !strings.Contains(err.Error(), "in use by another soar dev") {
			t.Fatalf("Start() on a locked data dir error = %v, want \"in use by another soar dev\"", err)
		}
	})

	t.Run("namespace has the search attributes and retention", func(t *testing.T) {
		resp, err := c.OperatorService().ListSearchAttributes(ctx,
			&operatorservice.ListSearchAttributesRequest{Namespace: testNamespace})
		if err != nil {
			t.Fatalf("ListSearchAttributes() error: %v", err)
		}
		got := map[string]enums.IndexedValueType{}
		for name, typ := range resp.GetCustomAttributes() {
			if strings.HasPrefix(name, "Soar") {
				got[name] = typ
			}
		}
		if diff := cmp.Diff(SearchAttributes(), got); diff != "" {
			t.Errorf("custom search attributes mismatch (-want +got):\n%s", diff)
		}
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: testNamespace})
		if err != nil {
			t.Fatalf("DescribeNamespace() error: %v", err)
		}
		if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != testRetention {
			t.Errorf("namespace retention = %s, want %s", got, testRetention)
		}
	})

	t.Run("workflow runs an activity", func(t *testing.T) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: greetWorkflowID, TaskQueue: testTaskQueue}, greetWorkflow, "devstack")
		if err != nil {
			t.Fatalf("ExecuteWorkflow() error: %v", err)
		}
		var got string
		if err := run.Get(ctx, &got); err != nil {
			t.Fatalf("greetWorkflow result error: %v", err)
		}
		if got != "hello devstack" {
			t.Errorf("greetWorkflow() = %q, want %q", got, "hello devstack")
		}
	})

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        approvalWorkflowID,
		TaskQueue: testTaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(saPlaybook).ValueSet("ssh-bruteforce"),
			temporal.NewSearchAttributeKeyKeyword(saState).ValueSet("running"),
			temporal.NewSearchAttributeKeyInt64(saSeverity).ValueSet(8),
			temporal.NewSearchAttributeKeyKeyword(saTarget).ValueSet("203.0.113.7"),
			temporal.NewSearchAttributeKeyKeyword(saAlertType).ValueSet("ssh.bruteforce"),
		),
	}, approvalWorkflow)
	if err != nil {
		t.Fatalf("ExecuteWorkflow(approvalWorkflow) error: %v", err)
	}

	t.Run("visibility query on search attributes", func(t *testing.T) {
		query := fmt.Sprintf(`SoarState = "running" AND SoarSeverity >= 7 AND WorkflowId = %q`, approvalWorkflowID)
		var ids []string
		for deadline := time.Now().Add(15 * time.Second); ; {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: testNamespace, Query: query})
			if err != nil {
				t.Fatalf("ListWorkflow(%q) error: %v", query, err)
			}
			ids = ids[:0]
			for _, e := range resp.GetExecutions() {
				ids = append(ids, e.GetExecution().GetWorkflowId())
			}
			if len(ids) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if diff := cmp.Diff([]string{approvalWorkflowID}, ids); diff != "" {
			t.Errorf("ListWorkflow(%q) mismatch (-want +got):\n%s", query, diff)
		}
	})

	t.Run("client-sent principal header is stripped", func(t *testing.T) {
		got := updateWithHeaders(ctx, t, c, approval{By: "mallory", Decision: "approve"}, map[string]string{
			PrincipalHeader: "alice", // forged
			testOtherHdr:    "kept",
		})
		want := approvalSeen{By: "mallory", Decision: "approve", Principal: noPrincipal, Other: "kept"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Update with a forged %s header: handler saw (-want +got):\n%s", PrincipalHeader, diff)
		}
	})

	t.Run("ui sends an update", func(t *testing.T) {
		got := updateThroughUI(ctx, t, st, approval{By: "alice", Decision: "approve"})
		want := approvalSeen{By: "alice", Decision: "approve", Principal: noPrincipal, Other: noPrincipal}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Update through the UI: handler saw (-want +got):\n%s", diff)
		}
		var seen []approvalSeen
		if err := run.Get(ctx, &seen); err != nil {
			t.Fatalf("approvalWorkflow result error: %v", err)
		}
		if len(seen) != 2 {
			t.Errorf("approvalWorkflow saw %d updates, want 2", len(seen))
		}
	})

	t.Run("jetstream over tcp", func(t *testing.T) {
		nc, err := nats.Connect(st.NATSURL())
		if err != nil {
			t.Fatalf("nats.Connect(%s) error: %v", st.NATSURL(), err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatalf("jetstream.New() error: %v", err)
		}
		stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{"devtest.>"}, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatalf("CreateStream() error: %v", err)
		}
		want := []string{"one", "two", "three"}
		for _, m := range want {
			if _, err := js.Publish(ctx, "devtest.alert", []byte(m)); err != nil {
				t.Fatalf("Publish(%q) error: %v", m, err)
			}
		}
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: testConsumer, AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			t.Fatalf("CreateOrUpdateConsumer() error: %v", err)
		}
		got := fetch(t, cons, len(want))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("consumed messages mismatch (-want +got):\n%s", diff)
		}
	})

	stopWorker()
	c.Close()
	began = time.Now()
	if err := st.Stop(ctx); err != nil {
		t.Fatalf("Stop() error: %v", err)
	}
	t.Logf("Stop() took %s", time.Since(began).Round(time.Millisecond))
	if err := st.Stop(ctx); err != nil {
		t.Errorf("second Stop() error: %v, want nil", err)
	}

	// Restart on the same data dir, on new ports.
	began = time.Now()
	st2, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start() again on the same data dir error: %v", err)
	}
	t.Logf("Start() on an existing data dir took %s; %s", time.Since(began).Round(time.Millisecond), memStats())
	t.Cleanup(func() { _ = st2.Stop(context.Background()) })
	c2 := dialTemporal(t, st2, logger)

	t.Run("restart keeps workflows", func(t *testing.T) {
		for _, id := range []string{greetWorkflowID, approvalWorkflowID} {
			desc, err := c2.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				t.Fatalf("DescribeWorkflowExecution(%s) after restart error: %v", id, err)
			}
			if got := desc.GetWorkflowExecutionInfo().GetStatus(); got != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				t.Errorf("workflow %s status after restart = %s, want COMPLETED", id, got)
			}
		}
		var got string
		if err := c2.GetWorkflow(ctx, greetWorkflowID, "").Get(ctx, &got); err != nil || got != "hello devstack" {
			t.Errorf("greetWorkflow result after restart = %q, %v; want %q", got, err, "hello devstack")
		}
	})

	t.Run("restart keeps jetstream streams and consumers", func(t *testing.T) {
		nc, err := nats.Connect(st2.NATSURL())
		if err != nil {
			t.Fatalf("nats.Connect(%s) error: %v", st2.NATSURL(), err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatalf("jetstream.New() error: %v", err)
		}
		stream, err := js.Stream(ctx, testStream)
		if err != nil {
			t.Fatalf("Stream(%s) after restart error: %v", testStream, err)
		}
		if _, err := js.Publish(ctx, "devtest.alert", []byte("four")); err != nil {
			t.Fatalf("Publish() after restart error: %v", err)
		}
		cons, err := stream.Consumer(ctx, testConsumer)
		if err != nil {
			t.Fatalf("Consumer(%s) after restart error: %v", testConsumer, err)
		}
		// The durable consumer resumes after the three acknowledged messages.
		if diff := cmp.Diff([]string{"four"}, fetch(t, cons, 1)); diff != "" {
			t.Errorf("messages after restart mismatch (-want +got):\n%s", diff)
		}
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatalf("stream Info() error: %v", err)
		}
		if info.State.Msgs != 4 {
			t.Errorf("stream holds %d messages after restart, want 4", info.State.Msgs)
		}
	})
}

// TestStartInMemory covers the test mode other packages use: SQLite in
// memory, NATS in process only, no UI.
func TestStartInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := testLogger(t)
	st, err := Start(ctx, Options{InMemory: true, TemporalAddr: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatalf("Start(InMemory) error: %v", err)
	}
	t.Cleanup(func() { _ = st.Stop(context.Background()) })
	if st.UIURL() != "" || st.Namespace() != DefaultNamespace || st.NATSURL() != natsInProcessURL {
		t.Errorf("UIURL() = %q, Namespace() = %q, NATSURL() = %q; want \"\", %q, %q",
			st.UIURL(), st.Namespace(), st.NATSURL(), DefaultNamespace, natsInProcessURL)
	}

	nc, err := nats.Connect(st.NATSURL(), nats.InProcessServer(st.NATSServer()))
	if err != nil {
		t.Fatalf("in-process nats.Connect() error: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New() error: %v", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{"devtest.>"}}); err != nil {
		t.Fatalf("CreateStream() in process error: %v", err)
	}
	ack, err := js.Publish(ctx, "devtest.x", []byte("x"))
	if err != nil || ack.Sequence != 1 {
		t.Fatalf("Publish() in process = %+v, %v; want sequence 1", ack, err)
	}

	c := dialTemporal(t, st, logger)
	startWorker(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: greetWorkflowID, TaskQueue: testTaskQueue}, greetWorkflow, "memory")
	if err != nil {
		t.Fatalf("ExecuteWorkflow() error: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "hello memory" {
		t.Errorf("greetWorkflow() = %q, %v; want %q", got, err, "hello memory")
	}
}

func TestStartRejectsBusyAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()

	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"temporal", Options{TemporalAddr: addr},
			"temporal address " + addr + " is in use (another soar dev or temporal server running?); use --temporal-addr"},
		{"ui", Options{TemporalAddr: "127.0.0.1:0", UIAddr: addr},
			"ui address " + addr + " is in use (another soar dev or temporal server running?); use --ui-addr"},
		{"nats", Options{TemporalAddr: "127.0.0.1:0", NATSAddr: addr},
			"nats address " + addr + " is in use (another soar dev or nats-server running?); use --nats-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.DataDir = t.TempDir()
			st, err := Start(context.Background(), tt.opts)
			if err == nil {
				_ = st.Stop(context.Background())
				t.Fatalf("Start() with a busy %s address succeeded, want an error", tt.name)
			}
			if err.Error() != tt.want {
				t.Errorf("Start() error = %q, want %q", err, tt.want)
			}
			var ae *AddrError
			if !errors.As(err, &ae) || !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("Start() error %v: want an *AddrError wrapping EADDRINUSE", err)
			}
			entries, _ := os.ReadDir(tt.opts.DataDir)
			if len(entries) != 0 {
				t.Errorf("Start() failed but created %v in the data dir, want nothing", entries)
			}
		})
	}
}

// TestTemporalPortTakenAfterCheck covers the race Start's address check
// cannot close: the port is taken between the check and the server's bind.
// The server panics then; newTemporalServer must return an error instead.
func TestTemporalPortTakenAfterCheck(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	_, err = newTemporalServer(temporalConfig{
		frontend:  endpoint{host: "127.0.0.1", port: port},
		namespace: DefaultNamespace,
		retention: DefaultRetention,
		logger:    slog.New(slog.DiscardHandler),
	})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("newTemporalServer() on a taken port error = %v, want one saying \"address already in use\"", err)
	}
	t.Logf("newTemporalServer() on a taken port: %v", err)
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // substring of the error
	}{
		{"in memory with a data dir", Options{InMemory: true, DataDir: "x"}, "DataDir must be empty with InMemory"},
		{"no data dir", Options{}, "DataDir is required unless InMemory"},
		{"short retention", Options{InMemory: true, Retention: time.Minute}, "below the server's minimum"},
		{"bad namespace", Options{InMemory: true, Namespace: "soar prod"}, `namespace "soar prod"`},
		{"same port twice", Options{InMemory: true, TemporalAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:47331", NATSAddr: "127.0.0.1:47331"},
			"--ui-addr and --nats-addr both use port 47331"},
		{"host name", Options{InMemory: true, TemporalAddr: "example.com:7233"}, `host "example.com" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Start(context.Background(), tt.opts)
			if err == nil {
				_ = st.Stop(context.Background())
				t.Fatalf("Start(%+v) succeeded, want error containing %q", tt.opts, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start() error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestStampPrincipal(t *testing.T) {
	tests := []struct {
		name    string
		claims  *authorization.Claims // nil: none in the context
		headers map[string]string     // sent by the client
		want    map[string]string     // seen by the handler
	}{
		{"subject overwrites a forged header", &authorization.Claims{Subject: "alice"},
			map[string]string{PrincipalHeader: "mallory", "other": "x"}, map[string]string{PrincipalHeader: "alice", "other": "x"}},
		{"subject without client headers", &authorization.Claims{Subject: "alice"},
			nil, map[string]string{PrincipalHeader: "alice"}},
		{"empty subject strips the header", &authorization.Claims{System: authorization.RoleAdmin},
			map[string]string{PrincipalHeader: "mallory", "other": "x"}, map[string]string{"other": "x"}},
		{"no claims strips the header", nil,
			map[string]string{PrincipalHeader: "mallory"}, map[string]string{}},
		{"no claims, no headers", nil, nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.claims != nil {
				ctx = context.WithValue(ctx, authorization.MappedClaims, tt.claims)
			}
			for _, kind := range []string{"update", "update-with-start"} {
				req, get := updateRequest(t, kind, tt.headers)
				var handled bool
				_, err := stampPrincipal(ctx, req, nil, func(context.Context, any) (any, error) {
					handled = true
					return nil, nil
				})
				if err != nil || !handled {
					t.Fatalf("%s: stampPrincipal() = %v, handled %t; want nil, true", kind, err, handled)
				}
				if diff := cmp.Diff(tt.want, decodeHeaders(t, get())); diff != "" {
					t.Errorf("%s: headers after stampPrincipal mismatch (-want +got):\n%s", kind, diff)
				}
			}
		})
	}

	t.Run("other requests pass untouched", func(t *testing.T) {
		req := &workflowservice.SignalWorkflowExecutionRequest{Header: encodeHeaders(t, map[string]string{PrincipalHeader: "mallory"})}
		ctx := context.WithValue(context.Background(), authorization.MappedClaims, &authorization.Claims{Subject: "alice"})
		if _, err := stampPrincipal(ctx, req, nil, func(context.Context, any) (any, error) { return nil, nil }); err != nil {
			t.Fatalf("stampPrincipal(signal) error: %v", err)
		}
		if diff := cmp.Diff(map[string]string{PrincipalHeader: "mallory"}, decodeHeaders(t, req.GetHeader())); diff != "" {
			t.Errorf("signal headers changed (-want +got):\n%s", diff)
		}
	})
}

// TestNamesMatchWorkflows keeps this package's copy of the wire names equal
// to the workflows package's, which workflow code uses.
func TestNamesMatchWorkflows(t *testing.T) {
	got := map[string]string{
		"PrincipalHeader": PrincipalHeader, "SoarPlaybook": saPlaybook, "SoarState": saState,
		"SoarSeverity": saSeverity, "SoarTarget": saTarget, "SoarAlertType": saAlertType,
	}
	want := map[string]string{
		"PrincipalHeader": workflows.PrincipalHeader, "SoarPlaybook": workflows.SearchAttrPlaybook,
		"SoarState": workflows.SearchAttrState, "SoarSeverity": workflows.SearchAttrSeverity,
		"SoarTarget": workflows.SearchAttrTarget, "SoarAlertType": workflows.SearchAttrAlertType,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names differ from package workflows (-want +got):\n%s", diff)
	}
}

// BenchmarkStart measures Start + Stop of the full stack (NATS, Temporal on
// a new SQLite file, UI) on free ports.
func BenchmarkStart(b *testing.B) {
	base := b.TempDir()
	var start, stop time.Duration
	n := 0
	for b.Loop() {
		n++
		t0 := time.Now()
		st, err := Start(context.Background(), Options{
			DataDir:      filepath.Join(base, fmt.Sprint(n)),
			NATSAddr:     "127.0.0.1:0",
			TemporalAddr: "127.0.0.1:0",
			UIAddr:       "127.0.0.1:0",
		})
		if err != nil {
			b.Fatalf("Start() error: %v", err)
		}
		t1 := time.Now()
		if err := st.Stop(context.Background()); err != nil {
			b.Fatalf("Stop() error: %v", err)
		}
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(float64(start.Milliseconds())/float64(n), "start-ms/op")
	b.ReportMetric(float64(stop.Milliseconds())/float64(n), "stop-ms/op")
}

// BenchmarkJetStreamPublish compares the file store's fsync policies for
// synchronous 512-byte publishes over an in-process connection.
func BenchmarkJetStreamPublish(b *testing.B) {
	for _, tc := range []struct {
		name string
		set  func(*natsserver.Options)
	}{
		{"sync=1s", func(o *natsserver.Options) { o.SyncInterval = natsSyncInterval }},
		{"sync=always", func(o *natsserver.Options) { o.SyncAlways = true }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := &natsserver.Options{ServerName: natsServerName, JetStream: true, StoreDir: b.TempDir(), DontListen: true, NoSigs: true, NoLog: true}
			tc.set(o)
			s, err := natsserver.NewServer(o)
			if err != nil {
				b.Fatal(err)
			}
			go s.Start()
			if !s.ReadyForConnections(10 * time.Second) {
				b.Fatal("nats not ready")
			}
			defer func() { s.Shutdown(); s.WaitForShutdown() }()
			nc, err := nats.Connect(s.ClientURL(), nats.InProcessServer(s))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}}); err != nil {
				b.Fatal(err)
			}
			payload := bytes.Repeat([]byte("x"), 512)
			for b.Loop() {
				if _, err := js.Publish(ctx, "bench.alert", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// preCreateNamespace creates the schema in a new database file and
// testNamespace with only the given search attributes and the 24 h retention
// sqlite.NewNamespaceConfig sets.
func preCreateNamespace(t *testing.T, dbPath string, attrs map[string]enums.IndexedValueType) {
	t.Helper()
	conf := &config.SQL{PluginName: sqliteplugin.PluginName, DatabaseName: dbPath,
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"}}
	if err := sqliteschema.SetupSchema(conf); err != nil {
		t.Fatalf("SetupSchema() error: %v", err)
	}
	nsConf, err := sqliteschema.NewNamespaceConfig(clusterName, testNamespace, false, attrs)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqliteschema.CreateNamespaces(conf, nsConf); err != nil {
		t.Fatalf("CreateNamespaces() error: %v", err)
	}
}

// dialTemporal dials the stack's frontend; the client closes with the test.
func dialTemporal(t *testing.T, st *Stack, logger *slog.Logger) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  st.TemporalAddr(),
		Namespace: st.Namespace(),
		// Error level: polls fail noisily while a stack stops under them.
		Logger: sdklog.NewStructuredLogger(componentLogger(logger, slog.LevelError, "sdk")),
	})
	if err != nil {
		t.Fatalf("client.Dial(%s) error: %v", st.TemporalAddr(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// startWorker runs the test workflows and activity until the test ends or
// the returned function is called.
func startWorker(t *testing.T, c client.Client) (stop func()) {
	t.Helper()
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(approvalWorkflow)
	w.RegisterActivity(greetActivity)
	if err := w.Start(); err != nil {
		t.Fatalf("worker Start() error: %v", err)
	}
	stop = sync.OnceFunc(w.Stop)
	t.Cleanup(stop)
	return stop
}

// updateWithHeaders sends the "approve" Update through the gRPC API with
// the given Update headers and returns the handler's result.
func updateWithHeaders(ctx context.Context, t *testing.T, c client.Client, a approval, headers map[string]string) approvalSeen {
	t.Helper()
	args, err := converter.GetDefaultDataConverter().ToPayloads(a)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.WorkflowService().UpdateWorkflowExecution(ctx, &workflowservice.UpdateWorkflowExecutionRequest{
		Namespace:         testNamespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: approvalWorkflowID},
		WaitPolicy:        &updatepb.WaitPolicy{LifecycleStage: enums.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED},
		Request: &updatepb.Request{
			Meta:  &updatepb.Meta{UpdateId: "grpc-" + a.By, Identity: a.By},
			Input: &updatepb.Input{Name: approveUpdate, Header: encodeHeaders(t, headers), Args: args},
		},
	})
	if err != nil {
		t.Fatalf("UpdateWorkflowExecution() error: %v", err)
	}
	return decodeOutcome(t, resp.GetOutcome())
}

// updateThroughUI sends the "approve" Update the way the Temporal UI does:
// GET the settings (which sets the CSRF cookie), then POST to the UI's
// HTTP API with the token, the body shaped like the UI's own.
func updateThroughUI(ctx context.Context, t *testing.T, st *Stack, a approval) approvalSeen {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}

	body := httpDo(ctx, t, hc, http.MethodGet, st.UIURL()+"/api/v1/settings", nil, nil)
	var settings struct {
		DefaultNamespace       string
		DisableWriteActions    bool
		WorkflowUpdateDisabled bool
	}
	if err := json.Unmarshal(body, &settings); err != nil {
		t.Fatalf("decode /api/v1/settings %s: %v", body, err)
	}
	if settings.DefaultNamespace != testNamespace || settings.DisableWriteActions || settings.WorkflowUpdateDisabled {
		t.Errorf("UI settings = %+v, want namespace %s and updates enabled", settings, testNamespace)
	}
	var token string
	for _, ck := range jar.Cookies(mustParseURL(t, st.UIURL())) {
		if ck.Name == "_csrf" {
			token = ck.Value
		}
	}
	if token == "" {
		t.Fatal("the UI set no _csrf cookie")
	}

	arg, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]any{
		"workflowExecution": map[string]any{"runId": ""},
		"request": map[string]any{
			"meta": map[string]any{"updateId": "ui-" + a.By, "identity": a.By + "@ui"},
			"input": map[string]any{"args": map[string]any{"payloads": []any{map[string]any{
				"metadata": map[string]string{"encoding": base64.StdEncoding.EncodeToString([]byte("json/plain"))},
				"data":     base64.StdEncoding.EncodeToString(arg),
			}}}},
		},
	}
	reqBody, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/api/v1/namespaces/%s/workflows/%s/update/%s", st.UIURL(), testNamespace, approvalWorkflowID, approveUpdate)
	body = httpDo(ctx, t, hc, http.MethodPost, url, reqBody, map[string]string{"X-CSRF-Token": token, "Content-Type": "application/json"})
	var resp workflowservice.UpdateWorkflowExecutionResponse
	if err := (temporalproto.CustomJSONUnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode update response %s: %v", body, err)
	}
	return decodeOutcome(t, resp.GetOutcome())
}

func httpDo(ctx context.Context, t *testing.T, hc *http.Client, method, url string, body []byte, headers map[string]string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s error: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s = %s %s, want 200", method, url, resp.Status, b)
	}
	return b
}

func decodeOutcome(t *testing.T, o *updatepb.Outcome) approvalSeen {
	t.Helper()
	if f := o.GetFailure(); f != nil {
		t.Fatalf("update failed: %s", f.GetMessage())
	}
	var seen approvalSeen
	if err := converter.GetDefaultDataConverter().FromPayloads(o.GetSuccess(), &seen); err != nil {
		t.Fatalf("decode update result: %v", err)
	}
	return seen
}

// updateRequest builds an Update request of kind ("update" or
// "update-with-start") carrying headers, and a getter for its header after
// the interceptor ran.
func updateRequest(t *testing.T, kind string, headers map[string]string) (any, func() *commonpb.Header) {
	t.Helper()
	var input *updatepb.Input
	if headers != nil {
		input = &updatepb.Input{Name: approveUpdate, Header: encodeHeaders(t, headers)}
	}
	upd := &workflowservice.UpdateWorkflowExecutionRequest{Request: &updatepb.Request{Input: input}}
	get := func() *commonpb.Header { return upd.GetRequest().GetInput().GetHeader() }
	if kind == "update" {
		return upd, get
	}
	return &workflowservice.ExecuteMultiOperationRequest{Operations: []*workflowservice.ExecuteMultiOperationRequest_Operation{
		{Operation: &workflowservice.ExecuteMultiOperationRequest_Operation_StartWorkflow{StartWorkflow: &workflowservice.StartWorkflowExecutionRequest{}}},
		{Operation: &workflowservice.ExecuteMultiOperationRequest_Operation_UpdateWorkflow{UpdateWorkflow: upd}},
	}}, get
}

func encodeHeaders(t *testing.T, headers map[string]string) *commonpb.Header {
	t.Helper()
	h := &commonpb.Header{Fields: map[string]*commonpb.Payload{}}
	for k, v := range headers {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		h.Fields[k] = p
	}
	return h
}

func decodeHeaders(t *testing.T, h *commonpb.Header) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, p := range h.GetFields() {
		var s string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
			t.Fatalf("decode header %s: %v", k, err)
		}
		out[k] = s
	}
	return out
}

func fetch(t *testing.T, cons jetstream.Consumer, n int) []string {
	t.Helper()
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatalf("Fetch(%d) error: %v", n, err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
		if err := m.DoubleAck(context.Background()); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatalf("Fetch(%d) batch error: %v", n, err)
	}
	return got
}

func mustParseURL(t *testing.T, raw string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// memStats reports the process's resident set size (Linux) and Go heap.
func memStats() string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := "n/a"
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				rss = strings.TrimSpace(v)
			}
		}
	}
	return fmt.Sprintf("RSS %s, Go heap in use %d MiB", rss, ms.HeapInuse>>20)
}

// testLogger logs to t until the test ends; the servers' goroutines may
// still log after that, which testing would report as a panic.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

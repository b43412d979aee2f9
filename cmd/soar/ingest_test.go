package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/ingest"
	"github.com/opensoar/soar/workflows"
)

// recordingStarter accepts every delivery and remembers it.
type recordingStarter struct {
	mu sync.Mutex
	ds []ingest.Delivery
}

func (r *recordingStarter) Deliver(_ context.Context, d ingest.Delivery) (workflows.AlertAck, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, d)
	return workflows.AlertAck{Incident: d.WorkflowID, AlertCount: 1}, nil
}

func (r *recordingStarter) workflowIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.ds {
		out = append(out, d.WorkflowID)
	}
	return out
}

// alertConn starts an alert server (see alertServer) and returns a
// connection to it, closed when the test ends, and the server's URL.
func alertConn(t *testing.T) (*nats.Conn, string) {
	t.Helper()
	_, url := alertServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, url
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStartIngest runs the ingest wiring with the shipped playbooks, a
// recording starter and a metrics endpoint: a sample goes through, a bad
// alert is dead-lettered, and /metrics shows both.
func TestStartIngest(t *testing.T) {
	nc, url := alertConn(t)
	cfg := config.Default()
	cfg.NATS.URL = url
	cfg.Metrics.Addr = "127.0.0.1:0"
	celEnv, err := newCELEnv()
	if err != nil {
		t.Fatal(err)
	}
	st := &recordingStarter{}
	ing, err := startIngest(context.Background(), cfg, ingestDeps{nats: nc, celEnv: celEnv, logger: discardLogger(), starter: st})
	if err != nil {
		t.Fatal(err)
	}
	defer ing.stop()
	if got := ing.playbooks(); !slices.Contains(got, "compromised-host") || !slices.Contains(got, "waf-sqli-blacklist") {
		t.Errorf("playbooks in use = %v, want the shipped set", got)
	}

	if _, errOut, code := soarIn(t, "", "publish", "--nats-url", url, "--sample", "waf-sqli-blacklist"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	if _, errOut, code := soarIn(t, "{oops", "publish", "--nats-url", url, "--subject", "alerts.waf.sqli", "-"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	waitUntil(t, "the sample's delivery", func() bool { return len(st.workflowIDs()) == 1 })
	if got := st.workflowIDs(); got[0] != "waf-sqli-blacklist.203.0.113.7" {
		t.Errorf("workflow IDs = %v", got)
	}
	waitUntil(t, "the dead letter in the metrics", func() bool {
		return strings.Contains(getMetrics(t, ing.metricsURL), `soar_ingest_dead_letters_total{reason="invalid_json"} 1`)
	})
	body := getMetrics(t, ing.metricsURL)
	for _, want := range []string{
		`soar_ingest_alerts_matched_total{playbook="waf-sqli-blacklist"} 1`,
		`soar_ingest_incidents_started_total{playbook="waf-sqli-blacklist"} 1`,
		"soar_ingest_messages_received_total 2",
		"soar_ingest_deliveries_in_flight 0",
		"soar_ingest_match_seconds_count 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func getMetrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStartIngest_WatchedDirectory: a playbook directory is watched; an
// invalid playbook is left out and the others run.
func TestStartIngest_WatchedDirectory(t *testing.T) {
	nc, _ := alertConn(t)
	dir := copyPlaybooks(t)
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("name: broken\ntrigger: {subjects: [alerts.>], when: alert.nope}\nsteps: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Playbooks.Dir, cfg.Playbooks.Watch = dir, true
	celEnv, err := newCELEnv()
	if err != nil {
		t.Fatal(err)
	}
	ing, err := startIngest(context.Background(), cfg, ingestDeps{nats: nc, celEnv: celEnv, logger: discardLogger(), starter: &recordingStarter{}})
	if err != nil {
		t.Fatal(err)
	}
	defer ing.stop()
	if got := ing.playbooks(); slices.Contains(got, "broken") || !slices.Contains(got, "compromised-host") {
		t.Errorf("playbooks = %v: want the shipped ones without broken", got)
	}
	if err := os.Remove(filepath.Join(dir, "compromised-host.yaml")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "compromised-host to be unloaded", func() bool { return !slices.Contains(ing.playbooks(), "compromised-host") })
}

func TestStartIngest_CreatesStreamAndConsumer(t *testing.T) {
	nc, _ := alertConn(t)
	cfg := config.Default()
	celEnv, _ := newCELEnv()
	ing, err := startIngest(context.Background(), cfg, ingestDeps{nats: nc, celEnv: celEnv, starter: &recordingStarter{}})
	if err != nil {
		t.Fatal(err)
	}
	defer ing.stop()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	cons, err := js.Consumer(ctx, cfg.NATS.Stream, cfg.NATS.Consumer)
	if err != nil {
		t.Fatalf("durable consumer: %v", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.AckPolicy != jetstream.AckExplicitPolicy || c.AckWait != cfg.NATS.AckWait || c.MaxDeliver != cfg.NATS.MaxDeliver || c.MaxAckPending != cfg.NATS.MaxAckPending || len(c.BackOff) == 0 {
		t.Errorf("consumer config = %+v", c)
	}
	if _, err := js.Stream(ctx, ingest.DefaultDLQStream); err != nil {
		t.Errorf("dead-letter stream: %v", err)
	}
}

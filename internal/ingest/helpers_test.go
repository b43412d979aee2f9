package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// runJetStream starts a JetStream-enabled server on a random loopback port.
// The server and its store directory are removed when the test ends.
func runJetStream(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: tb.TempDir(),
		MaxPayload: 4 << 20, // so that a 2 MiB alert reaches the consumer's size check
	})
	if err != nil {
		tb.Fatalf("new nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func connect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// testNATS is the nats section of soar.yaml with short timers.
func testNATS() config.NATS {
	n := config.Default().NATS
	n.AckWait = time.Second
	n.MaxDeliver = 4
	n.DuplicateWindow = time.Minute
	return n
}

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.tb.Log(string(p)); return len(p), nil }

func testEnv(tb testing.TB) *expr.Env {
	tb.Helper()
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// pb returns an enabled playbook on subjects with a when and an optional
// dedup key.
func pb(name, when, key string, subjects ...string) *playbook.Playbook {
	p := &playbook.Playbook{Name: name, Enabled: true, Mode: playbook.ModeEnforce, Hash: name + "|" + when + "|" + key,
		Trigger: playbook.Trigger{Subjects: subjects, When: when}}
	if key != "" {
		p.Dedup = &playbook.Dedup{Key: key, Window: time.Hour}
	}
	return p
}

func newMatcher(tb testing.TB, pbs ...*playbook.Playbook) *Matcher {
	tb.Helper()
	m, errs := NewMatcher(testEnv(tb), pbs, testLogger(tb), nil)
	if len(errs) > 0 {
		tb.Fatalf("NewMatcher: %v", errs)
	}
	return m
}

// fakeStarter is an idempotent Starter: like the incident workflow, a
// repeated UpdateID is answered with its first outcome. fail decides, per
// call, whether a delivery fails (before it is recorded).
type fakeStarter struct {
	mu    sync.Mutex
	calls []Delivery
	acks  map[string]workflows.AlertAck // by UpdateID
	count map[string]int                // alerts per incident
	fail  func(d Delivery, call int) error
	// called receives every delivery, if not nil.
	called chan Delivery
}

func newFakeStarter() *fakeStarter {
	return &fakeStarter{acks: map[string]workflows.AlertAck{}, count: map[string]int{}}
}

func (f *fakeStarter) Deliver(ctx context.Context, d Delivery) (workflows.AlertAck, error) {
	f.mu.Lock()
	f.calls = append(f.calls, d)
	n := len(f.calls)
	fail := f.fail
	f.mu.Unlock()
	if f.called != nil {
		select {
		case f.called <- d:
		case <-ctx.Done():
			return workflows.AlertAck{}, ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(d, n); err != nil {
			return workflows.AlertAck{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ack, ok := f.acks[d.UpdateID]; ok {
		ack.Duplicate = true
		return ack, nil
	}
	f.count[d.WorkflowID]++
	ack := workflows.AlertAck{Incident: d.WorkflowID, AlertCount: f.count[d.WorkflowID]}
	f.acks[d.UpdateID] = ack
	return ack, nil
}

func (f *fakeStarter) updateIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, d := range f.calls {
		out[i] = d.UpdateID
	}
	return out
}

func (f *fakeStarter) accepted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acks)
}

// startConsumer runs a consumer on nc until the test ends or stop is
// called; stop waits for Run to return.
func startConsumer(tb testing.TB, nc *nats.Conn, opts Options) (c *Consumer, stop func()) {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	if opts.NakDelay == 0 {
		opts.NakDelay = 50 * time.Millisecond
	}
	c, err := NewConsumer(nc, opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Setup(ctx); err != nil {
		tb.Fatalf("Setup: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				tb.Error("Run did not return after cancel")
			}
		})
	}
	tb.Cleanup(stop)
	return c, stop
}

func publish(tb testing.TB, nc *nats.Conn, subject, msgID string, data []byte, hdr nats.Header) *jetstream.PubAck {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	for k, vs := range hdr {
		for _, v := range vs {
			m.Header.Add(k, v)
		}
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, m, opts...)
	if err != nil {
		tb.Fatalf("publish %s: %v", subject, err)
	}
	return ack
}

// waitFor polls cond until it holds or 20 s passed (a deadline for a hung
// test, not a timing assertion).
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consumerInfo returns the durable consumer's state.
func consumerInfo(tb testing.TB, nc *nats.Conn, n config.NATS) *jetstream.ConsumerInfo {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, n.Stream, n.Consumer)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return info
}

// settled reports whether every message was acknowledged or terminated.
func settled(tb testing.TB, nc *nats.Conn, n config.NATS) bool {
	info := consumerInfo(tb, nc, n)
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return false
	}
	// The consumer's pending count can lag a message just stored: also
	// require that every stored message was delivered at least once.
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, n.Stream)
	if err != nil {
		tb.Fatal(err)
	}
	sinfo, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return info.Delivered.Stream >= sinfo.State.LastSeq
}

var errBoom = errors.New("boom")

// metric returns the value of a counter or gauge in m's registry whose
// labels include labels (0 when absent).
func metric(tb testing.TB, m *Metrics, name string, labels ...string) float64 {
	tb.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, mt := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case mt.GetCounter() != nil:
				sum += mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				sum += mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				sum += float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func streamInfo(tb testing.TB, nc *nats.Conn, name string) *jetstream.StreamInfo {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return info
}

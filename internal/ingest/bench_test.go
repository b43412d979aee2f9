package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// benchPlaybooks returns n playbooks spread over 25 sources and 40 types:
// 70% on alerts.<source>.<type>, 15% on alerts.<source>.>, 15% on
// alerts.*.<type>, each with a trigger.when on type and severity.
func benchPlaybooks(n int) []*playbook.Playbook {
	sources := []string{"sas", "waf", "ddos", "cloudfw", "actiontrail"}
	for i := range 20 {
		sources = append(sources, fmt.Sprintf("src%02d", i))
	}
	types := append([]string(nil), alert.KnownTypes()...)
	for len(types) < 40 {
		types = append(types, fmt.Sprintf("custom%02d", len(types)))
	}
	out := make([]*playbook.Playbook, n)
	for i := range out {
		src, typ := sources[i%len(sources)], types[(i/len(sources))%len(types)]
		subject := "alerts." + src + "." + typ
		switch i % 20 {
		case 0, 1, 2:
			subject = "alerts." + src + ".>"
		case 3, 4, 5:
			subject = "alerts.*." + typ
		}
		out[i] = pb(fmt.Sprintf("pb-%04d", i), fmt.Sprintf(`alert.type == %q && alert.severity >= %d`, typ, 1+i%5), "alert.source_ip", subject)
	}
	return out
}

// linearMatch is the baseline: every pattern of every playbook is compared
// with the subject (without allocating), then trigger.when and dedup.key
// are evaluated on the candidates, as the index does.
func linearMatch(ctx context.Context, entries []*entry, subject string, a *alert.Alert, now time.Time) int {
	matched := 0
	act := expr.Activation{Alert: a, Now: now}
	for _, e := range entries {
		hit := false
		for _, p := range e.pb.Trigger.Subjects {
			if subjectMatch(p, subject) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		if ok, err := e.when.EvalBool(ctx, act); err == nil && ok {
			if _, err := e.key.EvalString(ctx, act); err == nil {
				matched++
			}
		}
	}
	return matched
}

// BenchmarkMatch matches one WAF sqli alert against 1,000 playbooks: the
// subject index against a linear scan of every pattern (the baseline).
//
//	go test ./internal/ingest -run '^$' -bench BenchmarkMatch -benchtime 2s
func BenchmarkMatch(b *testing.B) {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pbs := benchPlaybooks(1000)
	m, errs := NewMatcher(env, pbs, testLogger(b), nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	s, ok := alert.SampleByName("waf-sqli-blacklist")
	if !ok {
		b.Fatal("no sample")
	}
	a, err := alert.Decode(s.Subject, s.Payload, alert.DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	want := len(m.Match(ctx, s.Subject, &a, now))
	if got := linearMatch(ctx, m.idx.Load().entries, s.Subject, &a, now); got != want || want == 0 {
		b.Fatalf("index matched %d, linear scan %d", want, got)
	}
	b.Logf("1,000 playbooks: %d have a pattern matching %s, %d trigger", len(m.idx.Load().candidates(s.Subject)), s.Subject, want)
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Match(ctx, s.Subject, &a, now)
		}
	})
	// The subject lookup alone, without CEL.
	b.Run("subjects-only/index", func(b *testing.B) {
		ix := m.idx.Load()
		for b.Loop() {
			ix.candidates(s.Subject)
		}
	})
	b.Run("subjects-only/linear-scan", func(b *testing.B) {
		entries := m.idx.Load().entries
		for b.Loop() {
			n := 0
			for _, e := range entries {
				for _, p := range e.pb.Trigger.Subjects {
					if subjectMatch(p, s.Subject) {
						n++
						break
					}
				}
			}
		}
	})
	b.Run("linear-scan", func(b *testing.B) {
		b.ReportAllocs()
		entries := m.idx.Load().entries
		for b.Loop() {
			linearMatch(ctx, entries, s.Subject, &a, now)
		}
	})
}

// noopStarter accepts every delivery at once.
type noopStarter struct{}

func (noopStarter) Deliver(_ context.Context, d Delivery) (workflows.AlertAck, error) {
	return workflows.AlertAck{Incident: d.WorkflowID, AlertCount: 1}, nil
}

// BenchmarkConsumer measures alerts/s through the consumer (decode,
// match, a no-op Starter, ack) against raw JetStream consume+ack of the
// same messages (the baseline), on an in-process server with file storage.
//
//	go test ./internal/ingest -run '^$' -bench BenchmarkConsumer -benchtime 20000x
func BenchmarkConsumer(b *testing.B) {
	s, ok := alert.SampleByName("waf-sqli-blacklist")
	if !ok {
		b.Fatal("no sample")
	}
	setup := func(b *testing.B) (*nats.Conn, func()) {
		b.StopTimer()
		srv := runJetStream(b)
		nc := connect(b, srv)
		n := testNATS()
		n.AckWait = 30 * time.Second
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: n.Stream, Subjects: n.Subjects, Storage: jetstream.FileStorage, Duplicates: time.Minute}); err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			if _, err := js.PublishAsync(s.Subject, s.Payload, jetstream.WithMsgID(fmt.Sprintf("bench-%d", i))); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 || i == b.N-1 {
				select {
				case <-js.PublishAsyncComplete():
				case <-time.After(time.Minute):
					b.Fatal("publish did not complete")
				}
			}
		}
		return nc, b.StartTimer
	}
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "alerts/s")
	}

	b.Run("raw-jetstream", func(b *testing.B) {
		nc, start := setup(b)
		js, _ := jetstream.New(nc)
		n := testNATS()
		cons, err := js.CreateOrUpdateConsumer(context.Background(), n.Stream, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: n.MaxAckPending})
		if err != nil {
			b.Fatal(err)
		}
		var done atomic.Int64
		all := make(chan struct{})
		start()
		t0 := time.Now()
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if err := m.Ack(); err != nil {
				b.Error(err)
			}
			if done.Add(1) == int64(b.N) {
				close(all)
			}
		}, jetstream.PullMaxMessages(DefaultConcurrency))
		if err != nil {
			b.Fatal(err)
		}
		<-all
		b.StopTimer()
		report(b, t0)
		cc.Stop()
	})

	b.Run("soar-consumer", func(b *testing.B) {
		nc, start := setup(b)
		n := testNATS()
		n.AckWait = 30 * time.Second
		metrics := NewMetrics()
		m, _ := NewMatcher(testEnv(b), []*playbook.Playbook{wafPlaybook()}, testLogger(b), nil)
		c, err := NewConsumer(nc, Options{NATS: n, Starter: noopStarter{}, Matcher: m, Metrics: metrics, Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := c.Setup(ctx); err != nil {
			b.Fatal(err)
		}
		runDone := make(chan error, 1)
		start()
		t0 := time.Now()
		go func() { runDone <- c.Run(ctx) }()
		for metric(b, metrics, "soar_ingest_acks_total") < float64(b.N) {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		report(b, t0)
		cancel()
		if err := <-runDone; err != nil {
			b.Fatal(err)
		}
	})
}

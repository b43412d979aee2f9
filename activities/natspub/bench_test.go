package natspub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
)

// BenchmarkTakeBudget measures one budget take (a KeyValue read and a
// compare-and-set write) on an embedded server, uncontended.
func BenchmarkTakeBudget(b *testing.B) {
	s := runJetStream(b)
	a := natspub.New(natspub.Options{JetStream: connect(b, s)})
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		// A fresh window every 100 takes keeps the token list short.
		res, err := a.TakeBudget(b.Context(), activities.BudgetRequest{
			Action: "bench", Max: 100, Window: time.Hour, Token: fmt.Sprint(i), Now: now.Add(time.Duration(i/100) * time.Hour),
		})
		if err != nil || !res.Allowed {
			b.Fatalf("take %d = %+v, %v", i, res, err)
		}
	}
}

// BenchmarkPublish measures one linkage alert: validation, a stream lookup
// and a JetStream publish with its ack.
func BenchmarkPublish(b *testing.B) {
	s := runJetStream(b)
	js := connect(b, s)
	createStream(b, js, "SOAR_ALERTS", "alerts.>")
	a := natspub.New(natspub.Options{JetStream: js})
	in := linkageInput()
	for i := 0; b.Loop(); i++ {
		in.Meta.Step = fmt.Sprint("s", i)
		out, err := a.Publish(b.Context(), in)
		if err != nil || out.Duplicate {
			b.Fatalf("publish %d = %+v, %v", i, out, err)
		}
	}
}

// BenchmarkHoldAcquireRelease measures one hold's life on an embedded
// server, uncontended: an acquire (read, compare-and-set create) and the
// last release (read, compare-and-set tombstone) of a fresh key.
func BenchmarkHoldAcquireRelease(b *testing.B) {
	s := runJetStream(b)
	a := natspub.New(natspub.Options{JetStream: connect(b, s)})
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		req := activities.HoldRequest{Key: fmt.Sprint("bench.", i), Holder: "incident/step", Until: now.Add(time.Hour), Changed: true, Now: now}
		if _, err := a.AcquireHold(b.Context(), req); err != nil {
			b.Fatalf("acquire %d: %v", i, err)
		}
		res, err := a.ReleaseHold(b.Context(), req)
		if err != nil || !res.Undo {
			b.Fatalf("release %d = %+v, %v", i, res, err)
		}
	}
}

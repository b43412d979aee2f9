package natspub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opensoar/soar/activities/natspub"
)

// fixedNow is the clock of the tests.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// runJetStream starts a JetStream-enabled server on a random loopback port.
// The server and its store directory are removed when the test ends.
func runJetStream(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: tb.TempDir(),
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

// connect opens a client connection (one "worker") to s.
func connect(tb testing.TB, s *server.Server) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}

// createStream creates a stream named name on subjects with a 10 minute
// duplicate window, as the ingestor creates SOAR_ALERTS.
func createStream(tb testing.TB, js jetstream.JetStream, name string, subjects ...string) jetstream.Stream {
	tb.Helper()
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: name, Subjects: subjects, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute,
	})
	if err != nil {
		tb.Fatalf("create stream %s: %v", name, err)
	}
	return st
}

// streamMsgs is the number of messages in st.
func streamMsgs(tb testing.TB, st jetstream.Stream) uint64 {
	tb.Helper()
	info, err := st.Info(context.Background())
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

// activityEnv runs the activities of opts the way a worker does.
func activityEnv(opts natspub.Options) *testsuite.TestActivityEnvironment {
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	var s testsuite.WorkflowTestSuite
	e := s.NewTestActivityEnvironment()
	natspub.New(opts).Register(e)
	return e
}

// appError returns err's application error, failing the test if it has
// none.
func appError(tb testing.TB, err error) *temporal.ApplicationError {
	tb.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		tb.Fatalf("error = %v, want an application error", err)
	}
	return appErr
}

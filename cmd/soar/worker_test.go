package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
)

// registry records activity registrations.
type workerRegistry struct{ names []string }

func (r *workerRegistry) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) {
	r.names = append(r.names, o.Name)
}

// runJetStream starts an in-process NATS server with JetStream and returns
// a connection to it; both end with the test.
func startTestJetStream(tb testing.TB) *nats.Conn {
	tb.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		JetStream: true, StoreDir: tb.TempDir(), DontListen: true, NoSigs: true, NoLog: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	nc, err := nats.Connect(srv.ClientURL(), nats.InProcessServer(srv))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// newTestActivities builds the activities of a worker with the built-in
// config, as startWorker does, on an in-process JetStream; getenv reads the
// credential variables.
func newTestActivities(t *testing.T, getenv func(string) string) *workerActivities {
	t.Helper()
	js, err := jetstream.New(startTestJetStream(t))
	if err != nil {
		t.Fatal(err)
	}
	celEnv, err := newCELEnv()
	if err != nil {
		t.Fatal(err)
	}
	acts, err := newActivities(config.Default(), js, celEnv, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

func TestWorkerRegistersEveryActivity(t *testing.T) {
	acts := newTestActivities(t, nil)
	var r workerRegistry
	got := acts.register(&r)

	// Every catalog action and every inverse, plus the internal activities
	// the workflow calls.
	want := []string{activities.ExprEval, activities.PublishEvent, activities.BudgetTake, activities.HoldAcquire, activities.HoldRelease}
	for _, spec := range activities.Catalog() {
		want = append(want, spec.Name)
		if spec.Inverse != "" {
			want = append(want, spec.Inverse)
		}
	}
	sort.Strings(want)
	want = slices.Compact(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registered activities (-want +got):\n%s", diff)
	}
	sort.Strings(r.names)
	if diff := cmp.Diff(want, r.names); diff != "" {
		t.Errorf("registry calls (-want +got):\n%s", diff)
	}
}

func TestWorkerProtectsOwnAccessKey(t *testing.T) {
	acts := newTestActivities(t, func(k string) string {
		return map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIengine", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cret"}[k]
	})
	if got := acts.alicloud.OwnAccessKeyIDs(); !slices.Equal(got, []string{"LTAIengine"}) {
		t.Fatalf("OwnAccessKeyIDs() = %v, want [LTAIengine]", got)
	}
	var s testsuite.WorkflowTestSuite
	tenv := s.NewTestActivityEnvironment()
	acts.register(tenv)
	_, err := tenv.ExecuteActivity(activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{AccessKeyID: "LTAIengine", UserName: "soar-engine"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeGuardDenied {
		t.Fatalf("%s(own key) error = %v, want a %s error", activities.RAMDisableAccessKey, err, activities.ErrTypeGuardDenied)
	}
}

func TestEnsureEventsStream(t *testing.T) {
	nc := startTestJetStream(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := config.Default().NATS
	logger := slog.New(slog.DiscardHandler)
	for range 2 { // the second call finds it
		if err := ensureEventsStream(ctx, js, n, logger); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	got := struct {
		Subjects   []string
		Duplicates time.Duration
		MaxAge     time.Duration
		Replicas   int
		Storage    jetstream.StorageType
	}{cfg.Subjects, cfg.Duplicates, cfg.MaxAge, cfg.Replicas, cfg.Storage}
	want := got
	want.Subjects, want.Duplicates, want.MaxAge, want.Replicas, want.Storage = []string{"soar.events.>"}, n.DuplicateWindow, n.MaxAge, 1, jetstream.FileStorage
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stream config (-want +got):\n%s", diff)
	}

	// Events published twice with the same Nats-Msg-Id are kept once.
	for range 2 {
		if _, err := js.Publish(ctx, "soar.events.pb.step_succeeded", []byte(`{}`), jetstream.WithMsgID("e1")); err != nil {
			t.Fatal(err)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

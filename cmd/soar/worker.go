package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/alicloud"
	"github.com/opensoar/soar/activities/natspub"
	"github.com/opensoar/soar/activities/notify"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/workflows"
)

// EventsStream is the JetStream stream that keeps incident events
// (<events prefix>.>), so that audit consumers can replay them and event
// retries are deduplicated by their Nats-Msg-Id.
const EventsStream = "SOAR_EVENTS"

func runWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "worker", "",
		"Run a Temporal worker of the Incident workflow and every action, against the Temporal\n"+
			"cluster and NATS of soar.yaml. Run several to scale out: they share the task queue.\n"+
			"Alibaba Cloud credentials come from the environment variables each account names. For\n"+
			"the default account, ALIBABA_CLOUD_ROLE_ARN (and ALIBABA_CLOUD_ROLE_SESSION_NAME) names a\n"+
			"RAM role to assume with those keys when soar.yaml sets no role_arn, and on ECS without\n"+
			"keys ALIBABA_CLOUD_ECS_METADATA names the instance RAM role to use. A hosted Temporal is\n"+
			"reached with temporal.tls (mTLS) or temporal.api_key_env (an API key read from that\n"+
			"environment variable) in soar.yaml.")
	cf := addConnFlags(fs)
	taskQueue := fs.String("task-queue", "", "Temporal task queue (default: temporal.task_queue)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := cf.load(e.getenv)
	if err != nil {
		return err
	}
	overrideIfSet(&cfg.Temporal.TaskQueue, *taskQueue)
	logger, err := newLogger(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	tc, err := dialTemporal(ctx, cfg.Temporal, e.getenv, logger.With("component", "temporal-client"))
	if err != nil {
		return err
	}
	defer tc.Close()
	nc, err := dialNATS(cfg.NATS, "soar-worker", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	celEnv, err := newCELEnv()
	if err != nil {
		return err
	}
	stop, err := startWorker(ctx, cfg, workerDeps{temporal: tc, nats: nc, celEnv: celEnv, getenv: e.getenv, logger: logger})
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// workerDeps are the connections and helpers a worker runs on; the caller
// owns them and closes them after stop.
type workerDeps struct {
	// temporal is the client the worker polls with.
	temporal client.Client
	// nats is the connection of nats.publish, soar.events.publish and
	// soar.budget.take.
	nats *nats.Conn
	// celEnv is the CEL environment of the soar.expr.eval local activity.
	celEnv *expr.Env
	// getenv reads the credential and webhook variables soar.yaml names.
	getenv func(string) string
	logger *slog.Logger
}

// startWorker starts a Temporal worker on cfg.Temporal.TaskQueue with the
// Incident workflow and every activity (all alicloud actions and their
// inverses, notify.webhook, nats.publish, soar.events.publish,
// soar.budget.take and the soar.expr.eval local activity), after making sure
// the incident events stream exists. The engine's own access keys are
// protected by the guard. stop stops the worker; in-flight activities are
// cancelled and retried by Temporal on the next worker.
func startWorker(ctx context.Context, cfg config.Config, deps workerDeps) (stop func(), err error) {
	if deps.temporal == nil || deps.nats == nil || deps.celEnv == nil {
		return nil, errors.New("start worker: a Temporal client, a NATS connection and a CEL environment are required")
	}
	logger := deps.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(deps.nats)
	if err != nil {
		return nil, fmt.Errorf("start worker: jetstream: %w", err)
	}
	if err := ensureEventsStream(ctx, js, cfg.NATS, logger); err != nil {
		return nil, err
	}
	acts, err := newActivities(cfg, js, deps.celEnv, deps.getenv, logger)
	if err != nil {
		return nil, err
	}

	taskQueue := cfg.Temporal.TaskQueue
	if taskQueue == "" {
		taskQueue = workflows.TaskQueue
	}
	w := worker.New(deps.temporal, taskQueue, worker.Options{
		// Every workflow and activity is registered under its wire name;
		// never under a Go function name that a refactoring could change.
		DisableRegistrationAliasing: true,
	})
	workflows.RegisterWorkflow(w)
	names := acts.register(w)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker on task queue %s: %w", taskQueue, err)
	}
	logger.Info("worker started", "task_queue", taskQueue, "namespace", cfg.Temporal.Namespace,
		"workflow", workflows.IncidentWorkflow, "activities", len(names))
	return func() {
		w.Stop()
		logger.Info("worker stopped", "task_queue", taskQueue)
	}, nil
}

// workerActivities are every activity implementation of one worker.
type workerActivities struct {
	alicloud *alicloud.Activities
	notify   *notify.Activities
	nats     *natspub.Activities
	expr     *expr.Evaluator
}

// newActivities builds the activity implementations from the config. The
// guard protects the guardrail policy's targets and the access keys the
// engine itself signs with, so no playbook can disable them.
func newActivities(cfg config.Config, js jetstream.JetStream, celEnv *expr.Env, getenv func(string) string, logger *slog.Logger) (*workerActivities, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	opts := alicloud.Options{
		Accounts:       cfg.Cloud.Accounts,
		DefaultAccount: cfg.Cloud.DefaultAccount,
		Commands:       cfg.Commands,
		Getenv:         getenv,
		Logger:         logger.With("component", "alicloud"),
	}
	// The engine's own keys are only known once the accounts are resolved:
	// build once to read them, then again with the guard that protects them.
	probe, err := alicloud.New(opts)
	if err != nil {
		return nil, err
	}
	g, err := guard.New(cfg.Guardrails, probe.OwnAccessKeyIDs()...)
	if err != nil {
		return nil, fmt.Errorf("guardrails: %w", err)
	}
	opts.Guard = g
	ali, err := alicloud.New(opts)
	if err != nil {
		return nil, err
	}
	return &workerActivities{
		alicloud: ali,
		notify: notify.New(notify.Options{
			Channels: cfg.Notify,
			Getenv:   getenv,
			Logger:   logger.With("component", "notify"),
		}),
		nats: natspub.New(natspub.Options{
			JetStream:    js,
			EventsPrefix: cfg.NATS.EventsPrefix,
			Policy:       cfg.Guardrails,
			Replicas:     cfg.NATS.Replicas,
			Logger:       logger.With("component", "natspub"),
		}),
		expr: expr.NewEvaluator(celEnv),
	}, nil
}

// activityRegistry is what register needs of a worker: a worker.Worker, or
// a recorder in tests.
type activityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// register registers every activity under its wire name and returns the
// names, sorted. soar.expr.eval is a plain registration: the workflow runs
// it as a local activity, which the SDK resolves by name in the same
// registry.
func (a *workerActivities) register(r activityRegistry) []string {
	fns := map[string]any{
		activities.NotifyWebhook: a.notify.Webhook,
		activities.NATSPublish:   a.nats.Publish,
		activities.PublishEvent:  a.nats.PublishEvent,
		activities.BudgetTake:    a.nats.TakeBudget,
		activities.HoldAcquire:   a.nats.AcquireHold,
		activities.HoldRelease:   a.nats.ReleaseHold,
		activities.ExprEval:      a.expr.Eval,
	}
	for name, fn := range a.alicloud.Actions() {
		fns[name] = fn
	}
	names := make([]string, 0, len(fns))
	for name, fn := range fns {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ensureEventsStream creates the incident events stream when it is missing:
// file storage, the alert stream's duplicate window (event retries carry
// the same Nats-Msg-Id), max age and replicas. An existing stream is left
// as its operator configured it.
func ensureEventsStream(ctx context.Context, js jetstream.JetStream, n config.NATS, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := js.Stream(ctx, EventsStream)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("look up stream %s: %w", EventsStream, err)
	}
	prefix := n.EventsPrefix
	if prefix == "" {
		prefix = natspub.DefaultEventsPrefix
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "soar incident events (soar.events.<playbook>.<event>): audit and SIEM",
		Subjects:    []string{prefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  n.DuplicateWindow,
		MaxAge:      n.MaxAge,
		Replicas:    max(n.Replicas, 1),
	})
	switch {
	case err == nil:
		logger.Info("created stream", "stream", EventsStream, "subjects", prefix+".>")
		return nil
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		return nil // another worker created it meanwhile
	}
	return fmt.Errorf("create stream %s on %s.>: %w", EventsStream, prefix, err)
}

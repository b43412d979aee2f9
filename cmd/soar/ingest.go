package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/ingest"
	"github.com/opensoar/soar/internal/playbook"
)

func runIngest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "ingest", "",
		"Consume alerts from NATS JetStream and deliver each to the incidents of the playbooks it\n"+
			"triggers (Temporal UpdateWithStart), until interrupted. Bad alerts go to soar.dlq.<reason>.\n"+
			"Several replicas may share the durable consumer.")
	cf := addConnFlags(fs)
	playbooksDir := fs.String("playbooks", "", "directory of playbooks, reloaded on change (default: playbooks.dir, else the shipped set)")
	metricsAddr := fs.String("metrics-addr", "", "host:port to serve Prometheus /metrics on (default: metrics.addr; empty: off)")
	taskQueue := fs.String("task-queue", "", "Temporal task queue incidents are started on; the workers' --task-queue (default: temporal.task_queue)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := cf.load(e.getenv)
	if err != nil {
		return err
	}
	overrideIfSet(&cfg.Metrics.Addr, *metricsAddr)
	overrideIfSet(&cfg.Temporal.TaskQueue, *taskQueue)
	if *playbooksDir != "" {
		cfg.Playbooks.Dir, cfg.Playbooks.Watch = *playbooksDir, true
	}
	logger, err := newLogger(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	celEnv, err := newCELEnv()
	if err != nil {
		return err
	}
	tc, err := dialTemporal(ctx, cfg.Temporal, e.getenv, logger.With("component", "temporal-client"))
	if err != nil {
		return err
	}
	defer tc.Close()
	nc, err := dialNATS(cfg.NATS, "soar-ingest", logger)
	if err != nil {
		return err
	}
	defer nc.Close()

	ing, err := startIngest(ctx, cfg, ingestDeps{temporal: tc, nats: nc, celEnv: celEnv, logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ingest: %d playbook(s) [%s], stream %s, consumer %s, Temporal %s/%s",
		len(ing.playbooks()), strings.Join(ing.playbooks(), ", "), cfg.NATS.Stream, cfg.NATS.Consumer, cfg.Temporal.Address, cfg.Temporal.Namespace)
	if ing.metricsURL != "" {
		fmt.Fprintf(e.stdout, ", metrics %s", ing.metricsURL)
	}
	fmt.Fprintln(e.stdout)
	fmt.Fprintln(e.stdout, "ready")
	select {
	case <-ctx.Done():
	case err := <-ing.done:
		ing.stop()
		return err
	}
	fmt.Fprintln(e.stdout, "stopping: draining in-flight alerts")
	ing.stop()
	fmt.Fprintln(e.stdout, "stopped")
	return nil
}

// ingestDeps are what startIngest runs on; the caller owns and closes the
// connections after stop.
type ingestDeps struct {
	// temporal is the client of the default Starter (UpdateWithStart).
	temporal client.Client
	nats     *nats.Conn
	celEnv   *expr.Env
	logger   *slog.Logger
	// starter replaces the Temporal starter (tests); optional.
	starter ingest.Starter
	// metrics collects the ingest metrics; a new set when nil.
	metrics *ingest.Metrics
}

// ingestRunner is a running ingestor.
type ingestRunner struct {
	matcher    *ingest.Matcher
	metrics    *ingest.Metrics
	metricsURL string
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	srv        *http.Server
	// done receives the consumer's error if it stops on its own.
	done chan error
}

// playbooks returns the names of the playbooks in use.
func (r *ingestRunner) playbooks() []string {
	var out []string
	for _, p := range r.matcher.Playbooks() {
		out = append(out, p.Name)
	}
	return out
}

// stop drains the consumer (in-flight deliveries finish and are acked),
// stops the playbook watcher and the metrics server, and waits for them.
func (r *ingestRunner) stop() {
	r.cancel()
	r.wg.Wait()
	if r.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.srv.Shutdown(ctx)
	}
}

// startIngest loads the playbooks (watching cfg.Playbooks.Dir when
// cfg.Playbooks.Watch), sets up the alert stream and the durable consumer,
// serves /metrics on cfg.Metrics.Addr when set, and starts consuming. It
// returns once consuming has started; stop drains it.
func startIngest(ctx context.Context, cfg config.Config, d ingestDeps) (*ingestRunner, error) {
	if d.nats == nil || d.celEnv == nil || (d.temporal == nil && d.starter == nil) {
		return nil, errors.New("start ingest: a NATS connection, a CEL environment and a Temporal client are required")
	}
	logger := d.logger
	if logger == nil {
		logger = discardLogger()
	}
	metrics := d.metrics
	if metrics == nil {
		metrics = ingest.NewMetrics()
	}
	r := &ingestRunner{metrics: metrics, done: make(chan error, 1)}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel

	// Playbooks: a watched directory, a directory read once, or the
	// shipped set.
	matcher, _ := ingest.NewMatcher(d.celEnv, nil, logger, metrics)
	r.matcher = matcher
	if cfg.Playbooks.Dir != "" {
		rl := ingest.NewReloader(cfg.Playbooks.Dir, playbook.Options{Env: d.celEnv, Config: &cfg}, matcher, logger, metrics)
		rl.Reload()
		if cfg.Playbooks.Watch {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				if err := rl.Run(runCtx); err != nil {
					logger.Error("playbook watcher stopped: playbooks are no longer reloaded", "dir", cfg.Playbooks.Dir, "error", err)
				}
			}()
		}
	} else {
		pbs, reports := loadPlaybooks(&cfg, d.celEnv)
		logDiagnostics(logger, reports)
		for _, err := range matcher.Replace(pbs) {
			logger.Error("playbook left out of matching", "error", err)
		}
	}
	if len(matcher.Playbooks()) == 0 {
		logger.Warn("no playbook is enabled: every alert will be acknowledged unmatched")
	}

	starter := d.starter
	if starter == nil {
		starter = ingest.NewTemporalStarter(d.temporal, ingest.TemporalOptions{
			TaskQueue: cfg.Temporal.TaskQueue, Approvers: cfg.Approvers, Policy: cfg.Guardrails, Cloud: cfg.Cloud,
		})
	}
	consumer, err := ingest.NewConsumer(d.nats, ingest.Options{
		NATS: cfg.NATS, Starter: starter, Matcher: matcher, Logger: logger, Metrics: metrics,
	})
	if err == nil {
		err = consumer.Setup(ctx)
	}
	if err != nil {
		cancel()
		r.wg.Wait()
		return nil, fmt.Errorf("start ingest: %w", err)
	}

	if cfg.Metrics.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			cancel()
			r.wg.Wait()
			return nil, fmt.Errorf("metrics: listen on %s: %w", cfg.Metrics.Addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		r.metricsURL = "http://" + ln.Addr().String() + "/metrics"
		go func() {
			if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server", "error", err)
			}
		}()
	}

	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := consumer.Run(runCtx); err != nil {
			logger.Error("ingest stopped", "error", err)
			r.done <- err
		}
	}()
	return r, nil
}

package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// Defaults of soar dev. The CLI passes them as flag defaults;
// in [Options], an empty NATSAddr or UIAddr turns that listener off.
const (
	DefaultNATSAddr     = "127.0.0.1:4222"
	DefaultTemporalAddr = "127.0.0.1:7233"
	DefaultUIAddr       = "127.0.0.1:8233"
	DefaultNamespace    = "default"
	DefaultRetention    = 7 * 24 * time.Hour
)

// startTimeout bounds Start's wait for the parts to answer when ctx has no
// earlier deadline.
const startTimeout = time.Minute

// minRetention is the Temporal server's minimum retention of a local
// namespace (system.namespaceMinRetentionLocal).
const minRetention = time.Hour

// Options configures [Start].
type Options struct {
	// DataDir holds the state: nats/ (JetStream file store), temporal.db
	// (SQLite, WAL) and soar.lock. It is created if missing. Required unless
	// InMemory.
	DataDir string
	// InMemory keeps Temporal's SQLite database in memory and JetStream's
	// store in a temporary directory removed by Stop. DataDir must be "".
	// For tests.
	InMemory bool
	// NATSAddr is the host:port NATS listens on for outside producers and
	// the nats CLI (soar dev: DefaultNATSAddr). "" or "-" means no TCP
	// listener: connect in process with nats.InProcessServer(s.NATSServer()).
	// Port 0 picks a free port.
	NATSAddr string
	// TemporalAddr is the host:port of the frontend gRPC API; "" means
	// DefaultTemporalAddr, port 0 picks a free port. History, matching and
	// the internal worker service listen on free loopback ports.
	TemporalAddr string
	// UIAddr is the host:port of the Temporal UI (soar dev: DefaultUIAddr);
	// "" disables the UI, port 0 picks a free port.
	UIAddr string
	// Namespace is created if missing; "" means DefaultNamespace.
	Namespace string
	// Retention is how long closed workflows stay visible; 0 means
	// DefaultRetention. At least one hour.
	Retention time.Duration
	// Logger receives the stack's own messages and the servers' logs; nil
	// discards them.
	Logger *slog.Logger
	// ServerLogLevel is the lowest level of the embedded servers' own log
	// records that reach Logger; nil means slog.LevelWarn (they are chatty).
	ServerLogLevel slog.Leveler
}

// Stack is a running NATS + Temporal + UI stack. Its methods are safe for
// concurrent use.
type Stack struct {
	logger    *slog.Logger
	level     *serverLevel
	namespace string

	lock    *os.File // DataDir/soar.lock; nil with InMemory
	tempDir string   // JetStream store with InMemory, removed by Stop

	nats     *natsserver.Server
	natsURL  string
	temporal *temporalServer
	frontend endpoint // dial address
	ui       *uiServer

	stopOnce sync.Once
	stopErr  error
}

// Start starts NATS, the Temporal server and the UI, and returns once every
// part answers: NATS accepts connections, the frontend serves the namespace
// with soar's search attributes and retention, and the UI answers
// /api/v1/settings. It gives up when ctx ends or after a minute.
//
// Every listen address is checked before anything starts. A busy or unusable
// one returns an [*AddrError] whose message names the soar dev flag to change;
// a data directory used by another stack is an error too. On any error,
// whatever had started is stopped again.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	began := time.Now()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ServerLogLevel == nil {
		opts.ServerLogLevel = slog.LevelWarn
	}
	if opts.TemporalAddr == "" {
		opts.TemporalAddr = DefaultTemporalAddr
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	// Check every address first: the Temporal server panics and the UI
	// server exits the process when they cannot bind.
	frontend, err := resolveAddr("temporal", "--temporal-addr", opts.TemporalAddr)
	if err != nil {
		return nil, err
	}
	var uiListen *endpoint
	if opts.UIAddr != "" {
		ep, err := resolveAddr("ui", "--ui-addr", opts.UIAddr)
		if err != nil {
			return nil, err
		}
		uiListen = &ep
	}
	var natsListen *endpoint
	if opts.NATSAddr != "" && opts.NATSAddr != "-" {
		ep, err := checkNATSAddr(opts.NATSAddr)
		if err != nil {
			return nil, err
		}
		natsListen = &ep
	}
	if err := distinctPorts(frontend, uiListen, natsListen); err != nil {
		return nil, err
	}

	last := began
	phase := func(name string) {
		now := time.Now()
		opts.Logger.Debug("dev stack part ready", "part", name, "elapsed", now.Sub(last).Round(time.Millisecond))
		last = now
	}
	s := &Stack{logger: opts.Logger, level: &serverLevel{base: opts.ServerLogLevel}, namespace: opts.Namespace}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop(context.Background())
		}
	}()

	natsDir, dbPath := "", ""
	if opts.InMemory {
		s.tempDir, err = os.MkdirTemp("", "soar-dev-nats-")
		if err != nil {
			return nil, fmt.Errorf("create jetstream store dir: %w", err)
		}
		natsDir = s.tempDir
	} else {
		if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		if s.lock, err = lockDataDir(opts.DataDir); err != nil {
			return nil, err
		}
		natsDir = filepath.Join(opts.DataDir, "nats")
		dbPath = filepath.Join(opts.DataDir, "temporal.db")
	}

	s.nats, err = startNATS(natsConfig{
		listen:   natsListen,
		storeDir: natsDir,
		logger:   componentLogger(opts.Logger, s.level, "nats"),
	})
	if err != nil {
		return nil, err
	}
	s.natsURL = natsClientURL(s.nats, natsListen != nil)
	phase("nats")

	s.frontend = frontend.advertised()
	srv, err := newTemporalServer(temporalConfig{
		frontend:  frontend,
		dbPath:    dbPath,
		namespace: opts.Namespace,
		retention: opts.Retention,
		logger:    componentLogger(opts.Logger, s.level, "temporal"),
	})
	if err != nil {
		return nil, err
	}
	phase("temporal prepare")
	if err := srv.start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s.temporal = srv
	phase("temporal start")
	if err := s.setUpNamespace(ctx, opts); err != nil {
		return nil, err
	}
	phase("temporal namespace")

	if uiListen != nil {
		s.ui, err = startUI(ctx, *uiListen, s.frontend, opts.Namespace,
			componentLogger(opts.Logger, s.level, "ui"))
		if err != nil {
			return nil, err
		}
		phase("ui")
	}

	ok = true
	s.logger.Info("dev stack ready",
		"nats_url", s.natsURL, "temporal_addr", s.frontend.String(), "ui_url", s.UIURL(),
		"namespace", s.namespace, "data_dir", opts.DataDir, "elapsed", time.Since(began).Round(time.Millisecond))
	return s, nil
}

// setUpNamespace dials the frontend, checks its health and brings the
// namespace's search attributes and retention up to date.
func (s *Stack) setUpNamespace(ctx context.Context, opts Options) error {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.frontend.String(),
		Namespace: opts.Namespace,
		Identity:  "soar-devstack",
		Logger:    sdklog.NewStructuredLogger(componentLogger(opts.Logger, s.level, "temporal-client")),
	})
	if err != nil {
		return fmt.Errorf("dial temporal frontend %s: %w", s.frontend, err)
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("check temporal frontend health: %w", err)
	}
	return ensureNamespace(ctx, c, opts.Namespace, opts.Retention)
}

// NATSURL is the URL NATS clients dial: nats://host:port, or with no TCP
// listener the server's nominal URL, which works only together with
// nats.InProcessServer(s.NATSServer()).
func (s *Stack) NATSURL() string { return s.natsURL }

// NATSServer is the embedded NATS server, for in-process connections
// (nats.InProcessServer).
func (s *Stack) NATSServer() *natsserver.Server { return s.nats }

// TemporalAddr is the host:port SDK clients dial.
func (s *Stack) TemporalAddr() string { return s.frontend.String() }

// UIURL is the Temporal UI's base URL, e.g. http://127.0.0.1:8233, or ""
// when the UI is disabled.
func (s *Stack) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// Namespace is the Temporal namespace soar uses.
func (s *Stack) Namespace() string { return s.namespace }

// Stop shuts down the UI, the Temporal server and NATS, in that order, and
// releases the data directory. Stop clients (workers, ingest) first. It
// returns early with an error if ctx ends before the Temporal server has
// stopped; the data directory then stays locked. Later calls return the
// first call's result.
func (s *Stack) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Stack) stop(ctx context.Context) error {
	began := time.Now()
	s.level.stopping.Store(true)
	var errs []error
	if s.ui != nil {
		s.ui.stop()
	}
	temporalStopped := true
	if s.temporal != nil {
		done := make(chan error, 1)
		go func() { done <- s.temporal.stop() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
			}
		case <-ctx.Done():
			temporalStopped = false
			errs = append(errs, fmt.Errorf("stop temporal server: %w", ctx.Err()))
		}
	}
	if s.nats != nil {
		s.nats.Shutdown()
		s.nats.WaitForShutdown()
	}
	if s.tempDir != "" {
		if err := os.RemoveAll(s.tempDir); err != nil {
			errs = append(errs, fmt.Errorf("remove jetstream store: %w", err))
		}
	}
	if s.lock != nil && temporalStopped {
		if err := s.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("release data dir lock: %w", err))
		}
	}
	if s.nats != nil {
		s.logger.Info("dev stack stopped", "elapsed", time.Since(began).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

func (o Options) validate() error {
	var errs []error
	switch {
	case o.InMemory && o.DataDir != "":
		errs = append(errs, errors.New("devstack: DataDir must be empty with InMemory"))
	case !o.InMemory && o.DataDir == "":
		errs = append(errs, errors.New("devstack: DataDir is required unless InMemory"))
	}
	if o.Retention < minRetention {
		errs = append(errs, fmt.Errorf("devstack: retention %s is below the server's minimum of %s", o.Retention, minRetention))
	}
	if !validNamespace(o.Namespace) {
		errs = append(errs, fmt.Errorf("devstack: namespace %q: use 2-255 letters, digits, '.', '_' or '-'", o.Namespace))
	}
	return errors.Join(errs...)
}

// validNamespace applies Temporal's namespace name rule; the namespace is
// written to the database directly, bypassing the frontend's validation.
func validNamespace(ns string) bool {
	if len(ns) < 2 || len(ns) > 255 {
		return false
	}
	for _, r := range ns {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// checkNATSAddr parses the NATS address and checks a fixed port is free.
// Port 0 is left to NATS (any free port), so there is no pick-then-bind race.
func checkNATSAddr(addr string) (endpoint, error) {
	ep, err := parseAddr(addr)
	if err != nil {
		return endpoint{}, &AddrError{Part: "nats", Addr: addr, Flag: "--nats-addr", Err: err}
	}
	if ep.port == 0 {
		return ep, nil
	}
	return resolveAddr("nats", "--nats-addr", addr)
}

// distinctPorts rejects two parts configured on the same port.
func distinctPorts(frontend endpoint, ui, nats *endpoint) error {
	seen := map[int]string{frontend.port: "--temporal-addr"}
	for _, p := range []struct {
		ep   *endpoint
		flag string
	}{{ui, "--ui-addr"}, {nats, "--nats-addr"}} {
		if p.ep == nil || p.ep.port == 0 {
			continue
		}
		if other, dup := seen[p.ep.port]; dup {
			return fmt.Errorf("%s and %s both use port %d", other, p.flag, p.ep.port)
		}
		seen[p.ep.port] = p.flag
	}
	return nil
}

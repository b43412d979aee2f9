package main

// Shared wiring of the long-running commands (soar ingest, worker, dev):
// the logger, the CEL environment, the playbooks, and the Temporal and NATS
// connections, all from soar.yaml. Keep it small: each function turns one
// config section into one ready-to-use object.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/playbooks"
)

// connFlags are the flags of the long-running commands (soar ingest,
// soar worker) that say which soar.yaml to read and override where it puts
// Temporal and NATS.
type connFlags struct {
	config       *string
	temporalAddr *string
	namespace    *string
	natsURL      *string
}

// addConnFlags declares --config, --temporal-addr, --namespace and
// --nats-url on fs.
func addConnFlags(fs *flag.FlagSet) connFlags {
	return connFlags{
		config:       fs.String("config", "", "soar.yaml (default: the built-in config)"),
		temporalAddr: fs.String("temporal-addr", "", "host:port of the Temporal frontend (default: temporal.address)"),
		namespace:    fs.String("namespace", "", "Temporal namespace (default: temporal.namespace)"),
		natsURL:      fs.String("nats-url", "", "NATS server URL(s), comma-separated (default: nats.url)"),
	}
}

// load reads the config (the file of --config, else the built-in one, with
// the environment's overrides) and applies the flags that were set over it.
func (f connFlags) load(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(*f.config, getenv)
	if err != nil {
		return config.Config{}, err
	}
	overrideIfSet(&cfg.Temporal.Address, *f.temporalAddr)
	overrideIfSet(&cfg.Temporal.Namespace, *f.namespace)
	overrideIfSet(&cfg.NATS.URL, *f.natsURL)
	return cfg, nil
}

// overrideIfSet sets *dst to v unless v is empty (a flag left unset).
func overrideIfSet(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// newLogger builds the process logger from the log section: level debug,
// info, warn or error; format text or json; written to w (stderr).
func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "", "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("log.level %q: use debug, info, warn or error", c.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format %q: use text or json", c.Format)
}

// discardLogger is the logger of short commands that report errors
// themselves.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newCELEnv builds the CEL environment every playbook expression is
// checked and evaluated in. Build one per process and share it: it caches
// compiled programs.
func newCELEnv() (*expr.Env, error) {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		return nil, fmt.Errorf("build the CEL environment: %w", err)
	}
	return env, nil
}

// loadPlaybooks loads the playbooks of cfg: the directory playbooks.dir, or
// the shipped set embedded in soar when it is empty. Files with errors are
// left out; their diagnostics are returned (and logged by the callers that
// keep running).
func loadPlaybooks(cfg *config.Config, env *expr.Env) ([]*playbook.Playbook, []playbook.FileDiagnostics) {
	opts := playbook.Options{Env: env, Config: cfg}
	var (
		set     *playbook.Set
		reports []playbook.FileDiagnostics
	)
	if cfg.Playbooks.Dir == "" {
		set, reports = playbook.LoadDir(playbooks.FS(), ".", opts)
	} else {
		set, reports = playbook.LoadPaths([]string{cfg.Playbooks.Dir}, opts)
	}
	return set.Playbooks(), reports
}

// logDiagnostics logs playbook diagnostics: files with errors at error
// level (those playbooks are not loaded), warnings at warn level.
func logDiagnostics(logger *slog.Logger, reports []playbook.FileDiagnostics) {
	for _, r := range reports {
		if r.Diagnostics.HasErrors() {
			logger.Error("playbook not loaded", "file", r.File, "diagnostics", r.Diagnostics.Render())
		} else {
			logger.Warn("playbook has warnings", "file", r.File, "diagnostics", r.Diagnostics.Render())
		}
	}
}

// dialTemporal connects to the Temporal frontend of t: TLS when
// t.tls.enabled (client certificate, CA and server name from the files it
// names), and an API key (Temporal Cloud) read from the environment
// variable t.api_key_env (looked up with getenv), which implies TLS. The
// SDK logs through logger.
func dialTemporal(ctx context.Context, t config.Temporal, getenv func(string) string, logger *slog.Logger) (client.Client, error) {
	if logger == nil {
		logger = discardLogger()
	}
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger),
	}
	tlsCfg, err := temporalTLS(t.TLS)
	if err != nil {
		return nil, err
	}
	if t.APIKeyEnv != "" {
		key := strings.TrimSpace(getenv(t.APIKeyEnv))
		if key == "" {
			return nil, fmt.Errorf("temporal.api_key_env names %s, which is not set", t.APIKeyEnv)
		}
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
		if tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12} // API keys travel only over TLS
		}
	}
	opts.ConnectionOptions.TLS = tlsCfg
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s; is soar dev or a Temporal server running there?): %w", t.Address, t.Namespace, err)
	}
	return c, nil
}

// temporalTLS returns the TLS configuration of tc, nil when TLS is off.
func temporalTLS(tc config.TLS) (*tls.Config, error) {
	if !tc.Enabled && tc.CertFile == "" && tc.CAFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: tc.ServerName}
	if tc.CertFile != "" || tc.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(tc.CertFile, tc.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if tc.CAFile != "" {
		pem, err := os.ReadFile(tc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls: read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls: %s holds no PEM certificate", tc.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// dialNATS connects to the servers of n (comma-separated URLs) with its
// credentials file, reconnecting forever: JetStream state lives on the
// servers, so a restart of one of them is a pause, not a failure.
func dialNATS(n config.NATS, name string, logger *slog.Logger) (*nats.Conn, error) {
	if logger == nil {
		logger = discardLogger()
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	}
	if n.CredsFile != "" {
		if _, err := os.Stat(n.CredsFile); err != nil {
			return nil, fmt.Errorf("nats.creds_file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(n.CredsFile))
	}
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			return nil, fmt.Errorf("connect to NATS at %s: no server answers (is soar dev or a NATS server running?): %w", n.URL, err)
		}
		return nil, fmt.Errorf("connect to NATS at %s: %w", n.URL, err)
	}
	return nc, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/devstack"
	"github.com/opensoar/soar/internal/sandbox"
	"github.com/opensoar/soar/workflows"
)

// Defaults of soar dev (DESIGN §9).
const (
	devDefaultDataDir     = ".soar"
	devDefaultSandboxAddr = "127.0.0.1:18080"
	cloudSandbox          = "sandbox"
	cloudAlibaba          = "alibaba"
)

// devOptions are the flags of soar dev.
type devOptions struct {
	dataDir      string
	natsAddr     string
	temporalAddr string
	uiAddr       string
	sandboxAddr  string
	playbooksDir string
	configPath   string
	cloud        string
	retention    time.Duration
}

func runDev(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev", "",
		"Run the whole engine in one process: NATS JetStream, the Temporal server (SQLite) with\n"+
			"its UI, the sandbox cloud (an Alibaba Cloud API emulator; --cloud alibaba acts on the\n"+
			"live cloud instead), the worker, the ingestor and the playbooks (the shipped set, or\n"+
			"--playbooks DIR, reloaded on change). State lives in --data-dir and survives a\n"+
			"restart: open incidents resume. Prints `ready` on its own line once every part is up;\n"+
			"Ctrl-C stops it cleanly.")
	var o devOptions
	fs.StringVar(&o.dataDir, "data-dir", devDefaultDataDir, "directory holding all state (JetStream, Temporal's SQLite database, the sandbox cloud)")
	fs.StringVar(&o.natsAddr, "nats-addr", devstack.DefaultNATSAddr, "host:port NATS listens on for alerts (port 0: any free port)")
	fs.StringVar(&o.temporalAddr, "temporal-addr", devstack.DefaultTemporalAddr, "host:port of the Temporal frontend (gRPC)")
	fs.StringVar(&o.uiAddr, "ui-addr", devstack.DefaultUIAddr, "host:port of the Temporal UI (empty: no UI)")
	fs.StringVar(&o.sandboxAddr, "sandbox-addr", devDefaultSandboxAddr, "host:port of the sandbox cloud (with --cloud sandbox)")
	fs.StringVar(&o.playbooksDir, "playbooks", "", "directory of playbooks, reloaded on change (default: playbooks.dir of the config, else the shipped set embedded in soar)")
	fs.StringVar(&o.configPath, "config", "", "soar.yaml (default: the built-in config: approver group secops with the user analyst, channel secops to the sandbox)")
	fs.StringVar(&o.cloud, "cloud", cloudSandbox, "where actions act: sandbox (the built-in emulator) or alibaba (the live cloud, credentials from the environment)")
	fs.DurationVar(&o.retention, "retention", devstack.DefaultRetention, "how long closed incidents stay in Temporal (its namespace retention; at least 1h)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError(fs, "takes no arguments, got "+strings.Join(rest, " "))
	}
	if o.natsAddr == "" || o.natsAddr == "-" {
		return fmt.Errorf("--nats-addr %q: soar dev needs a NATS listener for alerts from outside (port 0 picks a free one)", o.natsAddr)
	}
	return runDevStack(ctx, e, o)
}

// runDevStack runs soar dev until ctx ends.
func runDevStack(ctx context.Context, e *env, o devOptions) (err error) {
	began := time.Now()
	cfg, err := config.Load(o.configPath, e.getenv)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	getenv := e.getenv
	switch o.cloud {
	case cloudSandbox:
	case cloudAlibaba:
		if err := liveCloudConfig(&cfg, getenv); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown --cloud %q: use sandbox or alibaba", o.cloud)
	}
	if o.playbooksDir != "" {
		cfg.Playbooks.Dir = o.playbooksDir
	}
	if cfg.Playbooks.Dir != "" {
		if _, err := os.Stat(cfg.Playbooks.Dir); err != nil {
			return fmt.Errorf("playbook directory: %w", err)
		}
		cfg.Playbooks.Watch = true
	}

	// Bind the sandbox first: a busy port is reported before anything
	// heavier starts. Its state is read once the data dir is locked.
	var sb *devSandbox
	if o.cloud == cloudSandbox {
		if sb, err = listenSandbox(o.sandboxAddr, logger.With("component", "sandbox")); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				sb.close(context.Background())
			}
		}()
	}

	stack, err := devstack.Start(ctx, devstack.Options{
		DataDir:      o.dataDir,
		NATSAddr:     o.natsAddr,
		TemporalAddr: o.temporalAddr,
		UIAddr:       o.uiAddr,
		Namespace:    cfg.Temporal.Namespace,
		Retention:    o.retention,
		Logger:       logger.With("component", "devstack"),
	})
	if err != nil {
		return err
	}
	stopStack := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stack.Stop(stopCtx); err != nil {
			logger.Error("stop dev stack", "error", err)
		}
	}
	defer func() {
		if err != nil {
			stopStack()
		}
	}()

	if sb != nil {
		if err := sb.start(filepath.Join(o.dataDir, "sandbox.json")); err != nil {
			return err
		}
		if getenv, err = sandboxConfig(&cfg, sb.addr(), sandbox.DefaultWorld(), getenv); err != nil {
			return err
		}
	}

	// The worker and ingest dial the embedded stack, not whatever the config
	// names.
	cfg.Temporal.Address = stack.TemporalAddr()
	cfg.Temporal.Namespace = stack.Namespace()
	cfg.Temporal.TLS = config.TLS{}
	cfg.Temporal.APIKeyEnv = ""
	cfg.NATS.URL = stack.NATSURL()
	cfg.NATS.CredsFile = ""

	tc, err := dialTemporal(ctx, cfg.Temporal, getenv, logger.With("component", "temporal-client"))
	if err != nil {
		return err
	}
	closeTemporal := sync.OnceFunc(tc.Close)
	defer closeTemporal()
	nc, err := nats.Connect(stack.NATSURL(), nats.InProcessServer(stack.NATSServer()), nats.Name("soar-dev"))
	if err != nil {
		return fmt.Errorf("connect to the embedded nats: %w", err)
	}
	defer nc.Close()
	celEnv, err := newCELEnv()
	if err != nil {
		return err
	}

	stopWorker, err := startWorker(ctx, cfg, workerDeps{temporal: tc, nats: nc, celEnv: celEnv, getenv: getenv, logger: logger.With("component", "worker")})
	if err != nil {
		return err
	}
	ing, err := startIngest(ctx, cfg, ingestDeps{temporal: tc, nats: nc, celEnv: celEnv, logger: logger.With("component", "ingest")})
	if err != nil {
		stopWorker()
		return err
	}

	printDevBanner(e.stdout, o, cfg, stack, sb, ing.playbooks(), time.Since(began))
	fmt.Fprintln(e.stdout, "ready")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-ing.done:
		runErr = fmt.Errorf("ingest stopped: %w", runErr)
		logger.Error("ingest stopped: shutting down", "error", runErr)
	}
	fmt.Fprintln(e.stdout, "stopping: ingest drains, the worker stops, then the stack (Ctrl-C again to quit at once)")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ing.stop()
	stopWorker()
	if sb != nil {
		sb.close(shutdownCtx)
	}
	nc.Close()
	closeTemporal()
	stopStack()
	fmt.Fprintln(e.stdout, "stopped")
	return runErr
}

// liveCloudConfig prepares cfg for the live cloud: every account over HTTPS
// at the SDK's own endpoints (unless one names a real endpoint), with
// credentials from the environment. It refuses to start without them.
func liveCloudConfig(cfg *config.Config, getenv func(string) string) error {
	var missing []string
	names := make([]string, 0, len(cfg.Cloud.Accounts))
	for name := range cfg.Cloud.Accounts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := cfg.Cloud.Accounts[name]
		if strings.EqualFold(a.Scheme, "http") {
			// Plain HTTP only ever reaches the sandbox; the live cloud is HTTPS.
			a.Endpoint, a.Scheme = "", "https"
		}
		for _, v := range []string{a.AccessKeyIDEnv, a.AccessKeySecretEnv} {
			if strings.TrimSpace(getenv(v)) == "" {
				missing = append(missing, fmt.Sprintf("%s (account %s)", v, name))
			}
		}
		cfg.Cloud.Accounts[name] = a
	}
	if len(cfg.Cloud.Accounts) == 0 {
		return errors.New("--cloud alibaba: the config defines no cloud account")
	}
	if len(missing) > 0 {
		return fmt.Errorf("--cloud alibaba acts on your live Alibaba Cloud account and needs its credentials in the environment; not set: %s. "+
			"Export them (ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET, optionally ALIBABA_CLOUD_SECURITY_TOKEN), "+
			"or try soar on the sandbox cloud with --cloud sandbox", strings.Join(missing, ", "))
	}
	return nil
}

// sandboxConfig points every account at the sandbox cloud (plain HTTP,
// STS too) and the channels posting to the sandbox's webhook receiver at
// its real address, gives the default account the sandbox's account ID
// (alerts name their account by UID) unless it has one, and returns a getenv
// that answers the accounts' credential variables with the sandbox engine's
// key (and the role variables of the live cloud with nothing).
func sandboxConfig(cfg *config.Config, addr string, world sandbox.World, getenv func(string) string) (func(string) string, error) {
	keyID, keySecret, ok := world.EngineCredentials()
	if !ok {
		return nil, errors.New("the sandbox world has no active engine access key")
	}
	// The shell's role and instance-role variables name the live cloud's
	// roles: on the sandbox every account uses the engine key.
	creds := map[string]string{
		"ALIBABA_CLOUD_ROLE_ARN":          "",
		"ALIBABA_CLOUD_ROLE_SESSION_NAME": "",
		"ALIBABA_CLOUD_ECS_METADATA":      "",
	}
	for name, a := range cfg.Cloud.Accounts {
		a.Endpoint, a.Scheme = addr, "http"
		if a.RoleARN != "" {
			a.STSEndpoint = addr
		}
		if name == cfg.Cloud.DefaultAccount && a.ID == "" {
			a.ID = world.AccountID
		}
		creds[a.AccessKeyIDEnv] = keyID
		creds[a.AccessKeySecretEnv] = keySecret
		creds[a.SecurityTokenEnv] = ""
		cfg.Cloud.Accounts[name] = a
	}
	for name, ch := range cfg.Notify {
		u, err := url.Parse(ch.URL)
		if err != nil || !strings.HasPrefix(u.Path, "/_sandbox/webhooks/") {
			continue
		}
		u.Scheme, u.Host = "http", addr
		ch.URL = u.String()
		cfg.Notify[name] = ch
	}
	return func(name string) string {
		if v, ok := creds[name]; ok {
			return v
		}
		return getenv(name)
	}, nil
}

// printDevBanner says what runs where and what to try next.
func printDevBanner(w io.Writer, o devOptions, cfg config.Config, stack *devstack.Stack, sb *devSandbox, playbooks []string, took time.Duration) {
	fmt.Fprintf(w, "soar dev: the whole engine in one process, up in %s\n", took.Round(10*time.Millisecond))
	if sb != nil {
		id, _, _ := sandbox.DefaultWorld().EngineCredentials()
		fmt.Fprintf(w, "  cloud      sandbox: the Alibaba Cloud emulator at http://%s, signed with the engine key %s\n", sb.addr(), id)
	} else {
		fmt.Fprintf(w, "  cloud      alibaba: the LIVE cloud (account %s), credentials from the environment\n", cfg.Cloud.DefaultAccount)
		for _, name := range slices.Sorted(maps.Keys(cfg.Notify)) {
			if u, err := url.Parse(cfg.Notify[name].URL); err == nil && strings.HasPrefix(u.Path, "/_sandbox/webhooks/") {
				fmt.Fprintf(w, "  warning    channel %s posts to the sandbox's webhook receiver, which does not run with --cloud alibaba: define notify.%s in --config\n", name, name)
			}
		}
	}
	fmt.Fprintf(w, "  NATS       %s  (alerts on %s, events on %s.>, dead letters on %s.>)\n",
		stack.NATSURL(), strings.Join(cfg.NATS.Subjects, " "), cfg.NATS.EventsPrefix, cfg.NATS.DLQPrefix)
	fmt.Fprintf(w, "  Temporal   %s  (namespace %s, task queue %s)\n", stack.TemporalAddr(), stack.Namespace(), cfg.Temporal.TaskQueue)
	if u := stack.UIURL(); u != "" {
		fmt.Fprintf(w, "  UI         %s\n", u)
	}
	if sb != nil {
		fmt.Fprintf(w, "  sandbox    http://%[1]s/_sandbox/state  http://%[1]s/_sandbox/calls  http://%[1]s/_sandbox/webhooks\n", sb.addr())
	}
	src := "embedded (the shipped set)"
	if cfg.Playbooks.Dir != "" {
		src = cfg.Playbooks.Dir + ", reloaded on change"
	}
	fmt.Fprintf(w, "  playbooks  %s: %s\n", src, strings.Join(playbooks, ", "))
	abs, err := filepath.Abs(o.dataDir)
	if err != nil {
		abs = o.dataDir
	}
	fmt.Fprintf(w, "  data dir   %s  (a restart resumes every open incident)\n", abs)

	natsFlag, temporalFlag := "", ""
	if stack.NATSURL() != "nats://"+devstack.DefaultNATSAddr {
		natsFlag = " --nats-url " + stack.NATSURL()
	}
	if stack.TemporalAddr() != devstack.DefaultTemporalAddr {
		temporalFlag = " --temporal-addr " + stack.TemporalAddr()
	}
	fmt.Fprintln(w, "\nNext, in another terminal:")
	// The sample is a sandbox alert: on the live cloud its playbook would
	// act on whatever the sample names in your account.
	sample := sb != nil && slices.Contains(playbooks, "compromised-host")
	if sample {
		fmt.Fprintf(w, "  soar publish --sample compromised-host%s\n", natsFlag)
	} else {
		fmt.Fprintf(w, "  soar publish%s ALERT.json   (your own alert; the built-in samples are for the sandbox cloud)\n", natsFlag)
	}
	if u := stack.UIURL(); u != "" {
		q := url.Values{"query": {workflows.SearchAttrState + ` = "` + workflows.StateAwaitingApproval + `"`}}
		fmt.Fprintf(w, "  open %s/namespaces/%s/workflows?%s\n", u, url.PathEscape(stack.Namespace()), q.Encode())
		fmt.Fprintf(w, "    (the workflow list filtered by %s = %q; open the incident, Send Update \"approve\" with\n", workflows.SearchAttrState, workflows.StateAwaitingApproval)
		if sample {
			fmt.Fprintln(w, `     {"step": "isolate", "decision": "approve", "by": "analyst"})`)
		} else {
			fmt.Fprintln(w, `     {"step": "STEP", "decision": "approve", "by": "USER"})`)
		}
	}
	fmt.Fprintf(w, "  soar incidents%s\n", temporalFlag)
	if sample {
		fmt.Fprintf(w, "  soar approve compromised-host.i-bp1sandboxweb01 isolate --by analyst%s\n", temporalFlag)
	} else {
		fmt.Fprintf(w, "  soar approve INCIDENT STEP --by USER%s\n", temporalFlag)
	}
}

// devSandbox is the sandbox cloud of soar dev: served on its own port, a
// checkpoint of it (state, ClientToken answers, counters, nonces, webhooks)
// saved in the data dir on change and on shutdown and restored on start, so
// it survives a restart like the rest of the stack: an action retried after
// the restart is answered as the first time, never run twice.
type devSandbox struct {
	srv    *sandbox.Server
	ln     net.Listener
	hs     *http.Server
	log    *slog.Logger
	path   string
	served chan error

	mu        sync.Mutex
	prevCalls []sandbox.Call // the call log of earlier runs, from the file
	savedRev  uint64         // the server's revision last written

	stopSaver context.CancelFunc
	saverDone chan struct{}
}

// sandboxFile is <data-dir>/sandbox.json: a [sandbox.Checkpoint] with the
// file's format and save time. Its calls are the record of this and earlier
// runs; the sandbox's live call log (GET /_sandbox/calls) holds this run's
// calls only, numbered on from the earlier runs'.
//
// A file of format soar-dev-sandbox/1 (before checkpoints) has only the
// state and the calls; it is read too.
type sandboxFile struct {
	// Format is sandboxFormat.
	Format  string    `json:"format"`
	SavedAt time.Time `json:"saved_at"`
	sandbox.Checkpoint
}

const (
	sandboxFormat   = "soar-dev-sandbox/2"
	sandboxFormatV1 = "soar-dev-sandbox/1"
	// maxSavedCalls bounds the file's call record, oldest dropped first.
	maxSavedCalls = 20000
	// sandboxSaveEvery is how often the sandbox is checked for changes and
	// saved: a crash loses at most this much of the sandbox's history.
	sandboxSaveEvery = time.Second
)

// listenSandbox binds the sandbox's address.
func listenSandbox(addr string, logger *slog.Logger) (*devSandbox, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("sandbox address %s is in use (another soar dev or soar sandbox running?); use --sandbox-addr", addr)
		}
		return nil, fmt.Errorf("sandbox address %s: %w; use --sandbox-addr", addr, err)
	}
	return &devSandbox{ln: ln, log: logger}, nil
}

// addr is the address the sandbox listens on.
func (d *devSandbox) addr() string { return d.ln.Addr().String() }

// start restores the sandbox saved at path (if any), serves it and starts
// saving it on change.
func (d *devSandbox) start(path string) error {
	d.path = path
	d.srv = sandbox.New(sandbox.DefaultWorld(), sandbox.Options{Logger: d.log})
	if err := d.restore(); err != nil {
		return err
	}
	d.savedRev = d.srv.Revision()
	d.hs = &http.Server{Handler: d.srv, ReadHeaderTimeout: 10 * time.Second}
	d.served = make(chan error, 1)
	go func() { d.served <- d.hs.Serve(d.ln) }()

	ctx, cancel := context.WithCancel(context.Background())
	d.stopSaver, d.saverDone = cancel, make(chan struct{})
	go func() {
		defer close(d.saverDone)
		t := time.NewTicker(sandboxSaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := d.save(false); err != nil {
					d.log.Warn("save sandbox state", "file", d.path, "error", err)
				}
			}
		}
	}()
	return nil
}

// restore reads d.path into the server; a missing file leaves the default
// world.
func (d *devSandbox) restore() error {
	data, err := os.ReadFile(d.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.log.Info("sandbox cloud starts from the default world")
		return nil
	case err != nil:
		return fmt.Errorf("read sandbox state: %w", err)
	}
	unreadable := func(err error) error {
		return fmt.Errorf("sandbox state %s is unreadable (%v); move it away to start the sandbox cloud from its default world", d.path, err)
	}
	var f sandboxFile
	if err := json.Unmarshal(data, &f); err != nil {
		return unreadable(err)
	}
	cp := f.Checkpoint
	switch f.Format {
	case sandboxFormat:
	case sandboxFormatV1:
		// The state and the call record only: a restart before this
		// version forgot the rest too.
		cp = sandbox.Checkpoint{Version: sandbox.CheckpointVersion, State: f.State}
		for _, c := range f.Calls {
			cp.Counters.Call = max(cp.Counters.Call, c.Seq)
		}
		d.log.Warn("sandbox state file of an older soar: the state is restored, but it holds no idempotency records "+
			"(ClientToken answers), so an action that was in flight at the last shutdown may run again once; "+
			"the file is rewritten in the current format", "file", d.path, "format", f.Format)
	default:
		return unreadable(fmt.Errorf("format %q, want %q", f.Format, sandboxFormat))
	}
	// This run's live call log starts empty and numbers on; the file keeps
	// the record of earlier runs.
	d.prevCalls, cp.Calls = f.Calls, nil
	if err := d.srv.Restore(cp); err != nil {
		return unreadable(err)
	}
	d.log.Info("sandbox cloud restored", "file", d.path, "saved_at", f.SavedAt.Format(time.RFC3339),
		"client_tokens", len(cp.ClientTokens), "calls", len(d.prevCalls), "webhooks", len(cp.Webhooks))
	return nil
}

// save writes a checkpoint of the sandbox, with the call record of earlier
// runs, when the sandbox changed since the last save, or always with force.
// The file is replaced atomically.
func (d *devSandbox) save(force bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// The revision is read before the checkpoint: a change in between is
	// saved now and once more on the next tick.
	rev := d.srv.Revision()
	if !force && rev == d.savedRev {
		return nil
	}
	cp := d.srv.Checkpoint()
	calls := append(slices.Clip(d.prevCalls), cp.Calls...)
	if over := len(calls) - maxSavedCalls; over > 0 {
		calls = calls[over:]
	}
	cp.Calls = calls
	data, err := json.MarshalIndent(sandboxFile{Format: sandboxFormat, SavedAt: time.Now().UTC(), Checkpoint: cp}, "", " ")
	if err != nil {
		return fmt.Errorf("encode sandbox state: %w", err)
	}
	tmp := d.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write sandbox state: %w", err)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		return fmt.Errorf("write sandbox state: %w", err)
	}
	d.savedRev = rev
	return nil
}

// close stops serving (letting calls in progress finish) and then saves
// the sandbox one last time (once started), so that every call answered is
// in the file.
func (d *devSandbox) close(ctx context.Context) {
	if d.hs == nil {
		_ = d.ln.Close()
		return
	}
	d.stopSaver()
	<-d.saverDone
	if err := d.hs.Shutdown(ctx); err != nil {
		d.log.Warn("stop sandbox cloud", "error", err)
	}
	if err := d.save(true); err != nil {
		d.log.Error("save sandbox state", "file", d.path, "error", err)
	}
}

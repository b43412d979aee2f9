package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// benchPlaybook opens one incident per alert that waits a day for an
// approval: the cheapest incident that stays open.
const benchPlaybook = `name: bench-gate
title: soar bench — one incident per alert, waiting for an approval
trigger:
  subjects: [alerts.bench.>]
steps:
  - id: hold
    approval: { approvers: [secops], timeout: 24h, message: "soar bench" }
`

const benchSubject = "alerts.bench.gate"

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench", "",
		"Measure soar dev as a user runs it, each soar dev a child process of this binary on free\n"+
			"ports: start-up time from process start to the ready line, on a new data dir (cold)\n"+
			"and on the same data dir again (warm); then the memory (RSS) of soar dev with\n"+
			"--incidents open incidents waiting for an approval, against the same soar dev idle,\n"+
			"and the warm start-up with those incidents open. Linux reports RSS; elsewhere n/a.")
	runs := fs.Int("runs", 3, "start-ups of each kind (the median is reported)")
	incidents := fs.Int("incidents", 1000, "open incidents for the memory figure; 0 skips it")
	keep := fs.String("data-dir", "", "directory for the data dirs (default: a temporary one, removed afterwards)")
	bin := fs.String("soar", "", "the soar binary to measure (default: this one)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usageError(fs, "takes no arguments, got "+strings.Join(rest, " "))
	case *runs < 1:
		return usageError(fs, fmt.Sprintf("--runs must be at least 1, got %d", *runs))
	case *incidents < 0:
		return usageError(fs, fmt.Sprintf("--incidents must not be negative, got %d", *incidents))
	}
	if *bin == "" {
		if *bin, err = os.Executable(); err != nil {
			return fmt.Errorf("find the soar binary: %w", err)
		}
	}
	root := *keep
	if root == "" {
		if root, err = os.MkdirTemp("", "soar-bench-"); err != nil {
			return fmt.Errorf("create bench dir: %w", err)
		}
		defer os.RemoveAll(root)
	}
	pbDir := filepath.Join(root, "playbooks")
	if err := writeBenchPlaybook(pbDir); err != nil {
		return err
	}
	out := e.stdout
	fmt.Fprintf(out, "soar bench: %s on %s/%s, %d CPUs, load average %s\n", *bin, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAverage())

	// Start-up: cold (a new data dir each time), then warm (the last one again).
	var cold, warm, coldIn, warmIn []time.Duration
	var dir string
	for i := range *runs {
		dir = filepath.Join(root, fmt.Sprintf("cold-%d", i))
		c, err := startBenchChild(ctx, *bin, dir, pbDir)
		if err != nil {
			return err
		}
		cold, coldIn = append(cold, c.ready), append(coldIn, c.internal)
		if err := c.stop(); err != nil {
			return err
		}
	}
	for range *runs {
		c, err := startBenchChild(ctx, *bin, dir, pbDir)
		if err != nil {
			return err
		}
		warm, warmIn = append(warm, c.ready), append(warmIn, c.internal)
		if err := c.stop(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "\nstart-up of soar dev, process start → ready (in-process part in brackets)")
	fmt.Fprintf(out, "  cold, new data dir:  median %s  runs %s  [%s]\n", median(cold), durations(cold), durations(coldIn))
	fmt.Fprintf(out, "  warm, same data dir: median %s  runs %s  [%s]  ratio to cold %.2f\n",
		median(warm), durations(warm), durations(warmIn), float64(median(warm))/float64(median(cold)))

	if *incidents == 0 {
		return nil
	}
	return benchIncidents(ctx, out, *bin, filepath.Join(root, "incidents"), pbDir, *incidents)
}

// benchIncidents opens n incidents that wait for an approval and reports
// the RSS of soar dev with them against the same process idle, then the
// warm start-up with them open.
func benchIncidents(ctx context.Context, out io.Writer, bin, dir, pbDir string, n int) error {
	c, err := startBenchChild(ctx, bin, dir, pbDir)
	if err != nil {
		return err
	}
	defer func() { _ = c.stop() }()
	// Let start-up garbage settle before the idle figure.
	time.Sleep(3 * time.Second)
	idle := readRSS(c.cmd.Process.Pid)

	began := time.Now()
	if err := publishBenchAlerts(ctx, c.natsURL, n); err != nil {
		return err
	}
	published := time.Since(began)
	tc, err := dialTemporal(ctx, config.Temporal{Address: c.temporalAddr, Namespace: "default"}, os.Getenv, discardLogger())
	if err != nil {
		return err
	}
	defer tc.Close()
	query := fmt.Sprintf("%s = 'bench-gate' AND %s = '%s'", workflows.SearchAttrPlaybook, workflows.SearchAttrState, workflows.StateAwaitingApproval)
	if err := waitCount(ctx, tc, query, n, 15*time.Minute); err != nil {
		return err
	}
	opened := time.Since(began)
	time.Sleep(3 * time.Second)
	busy := readRSS(c.cmd.Process.Pid)
	if err := c.stop(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n%d incidents waiting for an approval (playbook bench-gate)\n", n)
	fmt.Fprintf(out, "  published in %s; all open and awaiting_approval after %s (%.0f incidents/s)\n",
		published.Round(time.Millisecond), opened.Round(time.Millisecond), float64(n)/opened.Seconds())
	if idle.ok && busy.ok {
		fmt.Fprintf(out, "  RSS idle after ready: %s (peak %s)\n", mib(idle.rss), mib(idle.hwm))
		fmt.Fprintf(out, "  RSS with %d open incidents: %s (peak %s): ratio to idle %.2f, %+.0f KiB per incident\n",
			n, mib(busy.rss), mib(busy.hwm), float64(busy.rss)/float64(idle.rss), float64(busy.rss-idle.rss)/1024/float64(n))
	} else {
		fmt.Fprintln(out, "  RSS: n/a (no /proc on this system)")
	}

	r, err := startBenchChild(ctx, bin, dir, pbDir)
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	restarted := readRSS(r.cmd.Process.Pid)
	if err := r.stop(); err != nil {
		return err
	}
	fmt.Fprintf(out, "  warm start-up with %d open incidents: %s [%s]", n, r.ready.Round(time.Millisecond), r.internal.Round(time.Millisecond))
	if restarted.ok {
		fmt.Fprintf(out, ", RSS 3s after ready %s", mib(restarted.rss))
	}
	fmt.Fprintln(out)
	return nil
}

func writeBenchPlaybook(dir string) error {
	cfg := config.Default()
	celEnv, err := newCELEnv()
	if err != nil {
		return err
	}
	if _, diags := playbook.Parse("bench-gate.yaml", []byte(benchPlaybook), playbook.Options{Env: celEnv, Config: &cfg}); diags.HasErrors() {
		return fmt.Errorf("bench playbook:\n%s", diags.Render())
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create bench playbooks: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-gate.yaml"), []byte(benchPlaybook), 0o600); err != nil {
		return fmt.Errorf("write bench playbook: %w", err)
	}
	return nil
}

// benchChild is a soar dev child process.
type benchChild struct {
	cmd                   *exec.Cmd
	natsURL, temporalAddr string
	// ready is the time from process start to the ready line, internal
	// what soar dev itself reported ("up in …").
	ready, internal time.Duration
	exited          chan error
}

// startBenchChild runs soar dev on dataDir with the playbooks of pbDir on
// free ports and waits for its ready line. Its log goes to
// dataDir/../<base>.log.
func startBenchChild(ctx context.Context, bin, dataDir, pbDir string) (*benchChild, error) {
	addrs, err := freeLoopbackAddrs(4)
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(dataDir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open bench log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--playbooks", pbDir,
		"--nats-addr", addrs[0], "--temporal-addr", addrs[1], "--ui-addr", addrs[2], "--sandbox-addr", addrs[3])
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("soar dev stdout: %w", err)
	}
	c := &benchChild{cmd: cmd, natsURL: "nats://" + addrs[0], temporalAddr: addrs[1], exited: make(chan error, 1)}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start soar dev: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			if _, after, ok := strings.Cut(line, ", up in "); ok {
				c.internal, _ = time.ParseDuration(strings.TrimSpace(after))
			}
			if line == "ready" && !seen {
				seen = true
				c.ready = time.Since(began)
				close(ready)
			}
		}
		c.exited <- cmd.Wait()
	}()
	select {
	case <-ready:
		return c, nil
	case err := <-c.exited:
		return nil, fmt.Errorf("soar dev exited before ready (%v); see %s.log", err, dataDir)
	case <-time.After(3 * time.Minute):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-c.exited
	return nil, fmt.Errorf("soar dev not ready (see %s.log): %w", dataDir, errors.Join(ctx.Err(), errors.New("timed out")))
}

// stop interrupts soar dev and waits for it to exit; a second call is a
// no-op.
func (c *benchChild) stop() error {
	if c.exited == nil {
		return nil
	}
	defer func() { c.exited = nil }()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		return fmt.Errorf("interrupt soar dev: %w", err)
	}
	select {
	case err := <-c.exited:
		if err != nil {
			return fmt.Errorf("soar dev: %w", err)
		}
		return nil
	case <-time.After(2 * time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errors.New("soar dev did not stop within 2 minutes after an interrupt")
	}
}

// publishBenchAlerts publishes n distinct envelope alerts to the bench
// subject.
func publishBenchAlerts(ctx context.Context, natsURL string, n int) error {
	nc, err := nats.Connect(natsURL, nats.Name("soar-bench"))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(512))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range n {
		id := fmt.Sprintf("bench-%06d", i)
		data, err := json.Marshal(map[string]any{
			"id": id, "source": "bench", "type": "bench", "severity": 3,
			"title": "soar bench alert " + strconv.Itoa(i), "time": now,
		})
		if err != nil {
			return fmt.Errorf("encode bench alert: %w", err)
		}
		if i == 0 {
			if _, err := alert.Decode(benchSubject, data, alert.DecodeOptions{}); err != nil {
				return fmt.Errorf("bench alert: %w", err)
			}
		}
		if _, err := js.PublishAsync(benchSubject, data, jetstream.WithMsgID(id), jetstream.WithStallWait(time.Minute)); err != nil {
			return fmt.Errorf("publish bench alert %d: %w", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish bench alerts: %w", ctx.Err())
	}
}

// waitCount polls visibility until query counts want workflows.
func waitCount(ctx context.Context, tc client.Client, query string, want int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got int64
	for {
		resp, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err == nil {
			if got = resp.GetCount(); got >= int64(want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d incidents open (%s): %w", got, want, query, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// rss is a process's resident set size and its peak, in bytes.
type rss struct {
	rss, hwm int64
	ok       bool
}

// readRSS reads VmRSS and VmHWM from /proc (Linux).
func readRSS(pid int) rss {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return rss{}
	}
	var r rss
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			r.rss, r.ok = kb*1024, true
		case "VmHWM":
			r.hwm = kb * 1024
		}
	}
	return r
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(10 * time.Millisecond).String()
	}
	return strings.Join(parts, " ")
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// freeLoopbackAddrs returns n distinct free 127.0.0.1 addresses.
func freeLoopbackAddrs(n int) ([]string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

// call is one action call seen by a stub.
type call struct {
	Name    string
	Input   map[string]any
	Attempt int32
	// Timeout is the attempt's StartToClose timeout, Heartbeat its
	// heartbeat timeout.
	Timeout   time.Duration
	Heartbeat time.Duration
	// At is the workflow time of the call.
	At time.Time
}

// meta decodes the call's meta.
func (c call) meta() activities.Meta {
	var m activities.Meta
	data, _ := json.Marshal(c.Input["meta"])
	_ = json.Unmarshal(data, &m)
	return m
}

// behaviour answers one action call.
type behaviour func(c call) (map[string]any, error)

// harness is a test workflow environment with every action, the event
// publisher and the budget registered as recording stubs, and the real
// internal/expr evaluator as ExprEval.
type harness struct {
	t   testing.TB
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	calls    []call
	events   []activities.IncidentEvent
	evals    []activities.EvalRequest
	behave   map[string]behaviour
	budget   func(activities.BudgetRequest) (activities.BudgetResult, error)
	eventErr error
	// onEvent, when set, is called (without the lock) by the event
	// publisher before it returns: the workflow waits for it meanwhile.
	onEvent func(activities.IncidentEvent)
	// holds is the hold registry the hold stubs use: a fresh one per
	// harness; tests of incidents sharing measures set a shared one.
	holds *memHolds
	// holdCalls are the registry calls, in call order.
	holdCalls []holdCall
	// scheduled are the activities the workflow scheduled, with their
	// options, in schedule order (recorded by an outbound interceptor).
	scheduled []scheduled
	// running and maxRunning measure concurrent action calls; barrier, when
	// set, holds each call until running reaches it or the remaining calls
	// cannot reach it (see waitBarrier).
	running, maxRunning, barrier, total, finished int
	cond                                          *sync.Cond
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(testLogger(t))
	h := &harness{t: t, env: s.NewTestWorkflowEnvironment(), behave: map[string]behaviour{}, holds: newMemHolds()}
	h.cond = sync.NewCond(&h.mu)
	h.setWorkerOptions(worker.Options{})
	RegisterWorkflow(h.env)
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		t.Fatalf("expr.NewEnv: %v", err)
	}
	ev := expr.NewEvaluator(env)
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req activities.EvalRequest) (activities.EvalResult, error) {
		h.mu.Lock()
		h.evals = append(h.evals, req)
		h.mu.Unlock()
		return ev.Eval(ctx, req)
	}, activity.RegisterOptions{Name: activities.ExprEval})
	for _, name := range activities.Names() {
		h.env.RegisterActivityWithOptions(h.stub(name), activity.RegisterOptions{Name: name})
	}
	h.env.RegisterActivityWithOptions(h.publish, activity.RegisterOptions{Name: activities.PublishEvent})
	h.env.RegisterActivityWithOptions(h.take, activity.RegisterOptions{Name: activities.BudgetTake})
	h.env.RegisterActivityWithOptions(h.holdStub(activities.HoldAcquire), activity.RegisterOptions{Name: activities.HoldAcquire})
	h.env.RegisterActivityWithOptions(h.holdStub(activities.HoldRelease), activity.RegisterOptions{Name: activities.HoldRelease})
	return h
}

// setWorkerOptions sets worker options with a deadlock-detection timeout
// that survives a loaded shared machine (the default 1s trips when other
// builds starve the test of CPU; determinism is what the replay tests
// check), plus the interceptor that records the scheduled activities.
func (h *harness) setWorkerOptions(o worker.Options) {
	o.DeadlockDetectionTimeout = 30 * time.Second
	o.Interceptors = append(slices.Clip(o.Interceptors), &optionsRecorder{h: h})
	h.env.SetWorkerOptions(o)
}

func (h *harness) stub(name string) func(context.Context, map[string]any) (map[string]any, error) {
	return func(ctx context.Context, in map[string]any) (map[string]any, error) {
		info := activity.GetInfo(ctx)
		c := call{Name: name, Input: in, Attempt: info.Attempt, Timeout: info.StartToCloseTimeout, Heartbeat: info.HeartbeatTimeout, At: h.env.Now()}
		h.mu.Lock()
		h.calls = append(h.calls, c)
		b := h.behave[name]
		h.running++
		h.maxRunning = max(h.maxRunning, h.running)
		h.cond.Broadcast()
		h.waitBarrier()
		h.running--
		h.finished++
		h.cond.Broadcast()
		h.mu.Unlock()
		if b != nil {
			return b(c)
		}
		return echo(c), nil
	}
}

// scheduled is an activity as the workflow scheduled it.
type scheduled struct {
	Name    string
	Options workflow.ActivityOptions
}

// optionsRecorder records the options of every activity the workflow
// schedules (the summary never reaches the activity's Info).
type optionsRecorder struct {
	interceptor.WorkerInterceptorBase
	h *harness
}

func (r *optionsRecorder) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &recordInbound{h: r.h}
	i.Next = next
	return i
}

type recordInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	h *harness
}

func (i *recordInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	o := &recordOutbound{h: i.h}
	o.Next = outbound
	return i.Next.Init(o)
}

type recordOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	h *harness
}

func (o *recordOutbound) ExecuteActivity(ctx workflow.Context, name string, args ...any) workflow.Future {
	o.h.mu.Lock()
	o.h.scheduled = append(o.h.scheduled, scheduled{Name: name, Options: workflow.GetActivityOptions(ctx)})
	o.h.mu.Unlock()
	return o.Next.ExecuteActivity(ctx, name, args...)
}

// scheduledOf returns the options of the named activity's schedules.
func (h *harness) scheduledOf(name string) []workflow.ActivityOptions {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []workflow.ActivityOptions
	for _, s := range h.scheduled {
		if s.Name == name {
			out = append(out, s.Options)
		}
	}
	return out
}

// waitBarrier holds a call until `barrier` calls run at once, or until
// every call not yet finished is running (the tail of a foreach). Called
// with h.mu held.
func (h *harness) waitBarrier() {
	if h.barrier == 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.running < min(h.barrier, h.total-h.finished) && time.Now().Before(deadline) {
		go func() { time.Sleep(10 * time.Millisecond); h.cond.Broadcast() }()
		h.cond.Wait()
	}
}

// echo is the default action output: the input's parameters plus an
// outcome.
func echo(c call) map[string]any {
	out := map[string]any{"changed": true}
	for k, v := range c.Input {
		if k != "meta" {
			out[k] = v
		}
	}
	if c.meta().DryRun {
		out["changed"], out["dry_run"], out["plan"] = false, true, []any{"would " + c.Name}
	}
	return out
}

func (h *harness) publish(_ context.Context, ev activities.IncidentEvent) error {
	h.mu.Lock()
	hook := h.onEvent
	h.mu.Unlock()
	if hook != nil {
		hook(ev)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
	return h.eventErr
}

func (h *harness) take(_ context.Context, req activities.BudgetRequest) (activities.BudgetResult, error) {
	h.mu.Lock()
	f := h.budget
	h.mu.Unlock()
	if f == nil {
		return activities.BudgetResult{Allowed: true, Used: 1, Max: req.Max}, nil
	}
	return f(req)
}

// on sets the behaviour of an action.
func (h *harness) on(name string, b behaviour) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.behave[name] = b
}

// callsOf returns the calls of the named actions (all when none named), in
// call order.
func (h *harness) callsOf(names ...string) []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []call
	for _, c := range h.calls {
		if len(names) == 0 {
			out = append(out, c)
			continue
		}
		for _, n := range names {
			if c.Name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

// sortedEvents lists the events published, sorted (they are published
// asynchronously, so their arrival order is not defined).
func (h *harness) sortedEvents() []string {
	names := h.eventNames()
	slices.Sort(names)
	return names
}

// params returns a call's input without meta.
func params(c call) map[string]any {
	out := map[string]any{}
	for k, v := range c.Input {
		if k != "meta" {
			out[k] = v
		}
	}
	return out
}

// eventNames lists the events published, in arrival order.
func (h *harness) eventNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		out = append(out, e.Event)
	}
	return out
}

// run executes the workflow to completion.
func (h *harness) run(in IncidentInput) {
	h.t.Helper()
	h.env.ExecuteWorkflow(IncidentWorkflow, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

// result returns the workflow's result, failing on a workflow error.
func (h *harness) result() Result {
	h.t.Helper()
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("Incident() error: %v", err)
	}
	var r Result
	if err := h.env.GetWorkflowResult(&r); err != nil {
		h.t.Fatalf("decode result: %v", err)
	}
	return r
}

// status queries the running workflow.
func (h *harness) status() Status {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryStatus)
	if err != nil {
		h.t.Fatalf("query status: %v", err)
	}
	var st Status
	if err := v.Get(&st); err != nil {
		h.t.Fatalf("decode status: %v", err)
	}
	return st
}

// updateResult is what an Update returned, filled in by callbacks.
type updateResult struct {
	done     bool
	rejected error
	err      error
	value    any
}

// update sends an Update at the current workflow time and records its
// outcome.
func (h *harness) update(name string, arg any) *updateResult {
	r := &updateResult{}
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { r.rejected, r.done = err, true },
		OnComplete: func(v any, err error) { r.value, r.err, r.done = v, err, true },
	}, arg)
	return r
}

// sendAndWait sends an Update from outside the workflow's goroutine (an
// activity stub) and waits until it is refused or completed.
func (h *harness) sendAndWait(name string, arg any) *updateResult {
	r := &updateResult{}
	done := make(chan struct{})
	var once sync.Once
	finish := func() { once.Do(func() { close(done) }) }
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { r.rejected, r.done = err, true; finish() },
		OnComplete: func(v any, err error) { r.value, r.err, r.done = v, err, true; finish() },
	}, arg)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.t.Errorf("update %s %v: no answer within 10s", name, arg)
	}
	return r
}

// updateAt sends an Update after d of workflow time.
func (h *harness) updateAt(d time.Duration, name string, arg any) *updateResult {
	r := &updateResult{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { r.rejected, r.done = err, true },
			OnComplete: func(v any, err error) { r.value, r.err, r.done = v, err, true },
		}, arg)
	}, d)
	return r
}

// decode converts an Update's result value.
func decode[T any](t *testing.T, v any) T {
	t.Helper()
	var out T
	switch x := v.(type) {
	case T:
		return x
	case converter.EncodedValue:
		if err := x.Get(&out); err != nil {
			t.Fatalf("decode update result: %v", err)
		}
		return out
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode update result: %v", err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("decode update result: %v", err)
	}
	return out
}

// testAlert is a webshell alert on an instance with C&C IPs.
func testAlert() alert.Alert {
	a := alert.Alert{
		ID: "alert-1", Source: alert.SourceSAS, Type: "webshell", Severity: 4, Title: "webshell in index.php",
		Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Account: "prod", Region: "cn-hangzhou",
		SourceIP: "203.0.113.7",
		Resource: alert.Resource{InstanceID: "i-web1", SecurityGroupIDs: []string{"sg-1"}, Tags: map[string]string{"env": "prod"}},
		Process:  alert.Process{PID: 4242, Name: "php"},
		File:     alert.File{Path: "/var/www/index.php"},
		IOCs:     alert.IOCs{IPs: []string{"198.51.100.1", "198.51.100.2"}},
		Raw:      map[string]any{"vendor": "sas", "big": "x"},
	}
	a.Normalize(a.Time)
	return a
}

// testInput wraps steps in a playbook and an input.
func testInput(steps ...playbook.Step) IncidentInput {
	return IncidentInput{
		IncidentID: "test-pb.i-web1",
		Playbook:   playbook.Playbook{Name: "test-pb", Title: "Test playbook", Mode: playbook.ModeEnforce, Enabled: true, Steps: steps},
		Approvers:  map[string][]string{"secops": {"alice", "bob", "carol"}, "admins": {"root"}},
		Alert:      testAlert(),
		DedupKey:   "i-web1",
	}
}

// stepByID returns a step's status from s.
func stepByID(t *testing.T, s Status, id string) StepStatus {
	t.Helper()
	for _, st := range s.Steps {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("step %q not in status %+v", id, s.Steps)
	return StepStatus{}
}

// statuses maps step IDs to statuses.
func statuses(s Status) map[string]string {
	out := map[string]string{}
	for _, st := range s.Steps {
		out[st.ID] = st.Status
	}
	return out
}

// errText returns err's text or "".
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var errBoom = errors.New("boom")

var verbose = flag.Bool("wflog", false, "log the workflow test environment's output")

// testLogger discards the test environment's chatter unless -wflog.
func testLogger(t testing.TB) log.Logger {
	if *verbose {
		return log.NewStructuredLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	return log.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

package playbooktest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
)

// call is one attempt of an action, as a stub saw it.
type call struct {
	// seq is the activity's schedule order (its ActivityID in the test
	// environment): deterministic, unlike the order stubs run in.
	seq     int64
	action  string
	params  map[string]any
	meta    activities.Meta
	attempt int32
	at      time.Duration
	output  map[string]any
	err     string
	// mock is the position of the mock that answered, "" when unmocked.
	mock string
}

// event is one incident event the workflow published.
type event struct {
	seq int64
	at  time.Duration
	ev  activities.IncidentEvent
}

// recorder holds the stubs registered in a test environment and what they
// saw. Stubs run on the environment's activity goroutines.
type recorder struct {
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	mocks map[string][]*mock

	mu     sync.Mutex
	calls  []call
	events []event
	maxSeq int64
}

func newRecorder(env *testsuite.TestWorkflowEnvironment, start time.Time, mocks map[string][]*mock) *recorder {
	return &recorder{env: env, start: start, mocks: mocks}
}

// register registers a stub under every action name, and the event,
// budget and hold registry activities (the case's own registry).
func (r *recorder) register() {
	for _, name := range activities.Names() {
		r.env.RegisterActivityWithOptions(r.stub(name), activity.RegisterOptions{Name: name})
	}
	r.env.RegisterActivityWithOptions(r.publish, activity.RegisterOptions{Name: activities.PublishEvent})
	r.env.RegisterActivityWithOptions(r.takeBudget, activity.RegisterOptions{Name: activities.BudgetTake})
	reg := natspub.NewMemoryHolds()
	r.env.RegisterActivityWithOptions(reg.Acquire, activity.RegisterOptions{Name: activities.HoldAcquire})
	r.env.RegisterActivityWithOptions(reg.Release, activity.RegisterOptions{Name: activities.HoldRelease})
}

// now is the workflow time as an offset from the start.
func (r *recorder) now() time.Duration { return r.env.Now().Sub(r.start) }

func activitySeq(ctx context.Context) int64 {
	n, err := strconv.ParseInt(activity.GetInfo(ctx).ActivityID, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func (r *recorder) stub(name string) func(context.Context, map[string]any) (map[string]any, error) {
	return func(ctx context.Context, in map[string]any) (map[string]any, error) {
		c := call{seq: activitySeq(ctx), action: name, params: map[string]any{}, attempt: activity.GetInfo(ctx).Attempt, at: r.now()}
		for k, v := range in {
			if k == "meta" {
				data, _ := json.Marshal(v)
				_ = json.Unmarshal(data, &c.meta)
				continue
			}
			c.params[k] = v
		}
		r.mu.Lock()
		m := r.pick(name, c.params)
		r.mu.Unlock()

		out, err := answer(m, c.meta.DryRun, name, c.params)
		c.output = out
		if m != nil {
			c.mock = fmt.Sprintf("line %d", m.pos.Line)
		}
		if err != nil {
			c.err = fmt.Sprintf("%s (%s)", m.err.message, m.err.typ)
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.maxSeq = max(r.maxSeq, c.seq)
		r.mu.Unlock()
		return out, err
	}
}

// pick chooses the mock answering a call (an attempt): the first unused
// entry whose when matches the parameters; when every matching entry is
// used, the last matching one answers again. Called with r.mu held.
func (r *recorder) pick(name string, params map[string]any) *mock {
	var last *mock
	pv := jsonValue(params)
	for _, m := range r.mocks[name] {
		if m.when != nil && !m.when.matches(pv) {
			continue
		}
		if !m.used {
			m.used = true
			return m
		}
		last = m
	}
	return last
}

// answer builds a stub's result: the mock's output (with changed: true
// unless it says otherwise) or error; unmocked, {changed: true}, or on
// dry-run {changed: false, dry_run: true, plan: [...]}.
func answer(m *mock, dryRun bool, action string, params map[string]any) (map[string]any, error) {
	if m != nil && m.err != nil {
		return nil, temporal.NewApplicationError(m.err.message, m.err.typ)
	}
	out := map[string]any{}
	if m != nil {
		for k, v := range m.output {
			out[k] = v
		}
	}
	defaults := map[string]any{"changed": true}
	if dryRun {
		defaults = map[string]any{"changed": false, "dry_run": true, "plan": []any{"would run " + action + " " + renderParams(params, nil)}}
	}
	for k, v := range defaults {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out, nil
}

func (r *recorder) publish(ctx context.Context, ev activities.IncidentEvent) error {
	e := event{seq: activitySeq(ctx), at: r.now(), ev: ev}
	if t, err := time.Parse(time.RFC3339Nano, ev.Time); err == nil {
		e.at = t.Sub(r.start)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.maxSeq = max(r.maxSeq, e.seq)
	return nil
}

func (r *recorder) takeBudget(_ context.Context, req activities.BudgetRequest) (activities.BudgetResult, error) {
	return activities.BudgetResult{Allowed: true, Used: 1, Max: req.Max}, nil
}

// lastSeq is the highest schedule order seen so far: Updates sent now
// sort after it in the timeline.
func (r *recorder) lastSeq() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxSeq
}

// snapshot returns copies of what was recorded.
func (r *recorder) snapshot() ([]call, []event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...), append([]event(nil), r.events...)
}

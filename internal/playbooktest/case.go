package playbooktest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/ingest"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// sentAlert is an alert of a case, resolved to the envelope.
type sentAlert struct {
	at      time.Duration
	pos     playbook.Position
	a       alert.Alert
	subject string
	hops    int
	// d is the delivery ingest makes of the alert (workflow ID, update ID,
	// dedup key).
	d ingest.Delivery
	// why says why the alert does not reach the incident; "" when it does.
	why string
}

// caseRun is the state of one running case.
type caseRun struct {
	c     *testCase
	opts  Options
	pb    playbook.Playbook
	trig  *trigger
	start time.Time
	cfg   config.Config
	env   *testsuite.TestWorkflowEnvironment
	rec   *recorder

	mu       sync.Mutex
	failures []string
	timeline []Entry
	// fired marks the scheduled sends (alerts, votes, updates, queries)
	// that happened; the rest never did because the incident had ended.
	fired map[string]bool
	// statuses are the status queries of expect.during, by index.
	statuses map[int]*workflows.Status
	// refusals are the outcomes of votes and updates, by their key.
	outcomes map[string]outcome
}

// outcome is what an Update sent by the case returned.
type outcome struct {
	refused error
	err     error
	value   any
}

func (r *caseRun) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *caseRun) note(at time.Duration, seq float64, kind, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timeline = append(r.timeline, Entry{At: at, Kind: kind, Text: fmt.Sprintf(format, args...), seq: seq})
}

// runCase runs one case on a fresh test environment.
func runCase(ctx context.Context, pb *playbook.Playbook, trig *trigger, c *testCase, opts Options) CaseResult {
	began := time.Now()
	r := &caseRun{c: c, opts: opts, pb: *pb, trig: trig, start: c.start, fired: map[string]bool{},
		statuses: map[int]*workflows.Status{}, outcomes: map[string]outcome{}}
	if c.mode != "" {
		r.pb.Mode = c.mode
	}
	res := CaseResult{Name: c.name, Pos: c.pos}
	result, ran := r.run(ctx)
	if ran {
		r.check(result)
		res.Simulated = result.ClosedAt.Sub(r.start)
	}
	res.Elapsed = time.Since(began)
	res.Failures = r.failures
	res.Passed = len(r.failures) == 0
	res.Timeline = r.sortedTimeline()
	res.Report = r.report(result, ran)
	return res
}

// run prepares and executes the incident. It reports false when nothing
// ran (the first alert did not trigger, or the case could not start).
func (r *caseRun) run(ctx context.Context) (workflows.Result, bool) {
	cfg, err := r.config()
	if err != nil {
		r.fail("config: %v", err)
		return workflows.Result{}, false
	}
	r.cfg = cfg
	alerts, ok := r.resolveAlerts(ctx)
	if !ok {
		return workflows.Result{}, false
	}
	first := alerts[0]
	want := r.c.expect.triggered == nil || *r.c.expect.triggered
	switch {
	case first.why != "" && !want:
		r.note(0, -1, "alert", "alert %s does not trigger %s: %s", first.a.ID, r.pb.Name, first.why)
		return workflows.Result{}, false
	case first.why != "":
		r.fail("the first alert does not trigger the playbook: %s", first.why)
		return workflows.Result{}, false
	case !want:
		r.fail("expected the first alert not to trigger the playbook, but it does (subject %s)", first.subject)
		return workflows.Result{}, false
	}
	if !r.pb.Enabled {
		r.note(0, -1, "note", "the playbook is disabled (enabled: false): ingest would not start it; the case runs it anyway")
	}

	var suite testsuite.WorkflowTestSuite
	logger := r.opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	suite.SetLogger(log.NewStructuredLogger(logger))
	r.env = suite.NewTestWorkflowEnvironment()
	r.env.SetStartTime(r.start)
	timeout := r.opts.CaseTimeout
	if timeout <= 0 {
		timeout = DefaultCaseTimeout
	}
	r.env.SetTestTimeout(timeout)
	// The SDK flags a workflow task that runs over 1s as a deadlock; on a
	// busy machine (CI, parallel test packages) a task with many CEL
	// evaluations can take longer without being stuck.
	r.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: timeout})
	workflows.RegisterWorkflow(r.env)
	r.env.RegisterActivityWithOptions(expr.NewEvaluator(r.opts.Env).Eval, activity.RegisterOptions{Name: activities.ExprEval})
	r.rec = newRecorder(r.env, r.start, r.c.mocks)
	r.rec.register()

	approvers, defaults := r.approvers(cfg)
	in := workflows.IncidentInput{
		IncidentID:       first.d.WorkflowID,
		Playbook:         r.pb,
		Approvers:        approvers,
		Policy:           cfg.Guardrails,
		Alert:            first.a,
		DedupKey:         first.d.DedupKey,
		DefaultApprovers: defaults,
		Hops:             first.hops,
		Cloud:            ingest.CloudDirectoryOf(cfg.Cloud),
	}
	r.note(0, -1, "alert", "alert %s (%s) opens incident %s", first.a.ID, describeAlert(first.a), in.IncidentID)
	r.schedule(alerts[1:], first)

	r.env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	if !r.env.IsWorkflowCompleted() {
		r.fail("the incident did not end within %s of wall-clock time (a step waiting forever?)", timeout)
		return workflows.Result{}, false
	}
	var result workflows.Result
	if werr := r.env.GetWorkflowError(); werr != nil {
		var appErr *temporal.ApplicationError
		if !errors.As(werr, &appErr) || appErr.Type() != workflows.ErrTypePlaybookFailed || appErr.Details(&result) != nil {
			r.fail("the incident workflow failed: %v", werr)
			return workflows.Result{}, false
		}
	} else if err := r.env.GetWorkflowResult(&result); err != nil {
		r.fail("decode the incident's result: %v", err)
		return workflows.Result{}, false
	}
	r.note(result.ClosedAt.Sub(r.start), 1e18, "closed", "incident %s%s", result.State, suffixIf(result.Error, ": "))
	return result, true
}

func suffixIf(s, sep string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// approvers resolves the approver groups as ingest does (the groups the
// playbook's approvals and the policy's rules and budgets name), plus the
// default approvers of policy gates that name none (protected instances):
// the case's default_approvers, else the first group in name order, as
// the IncidentInput contract says.
func (r *caseRun) approvers(cfg config.Config) (map[string][]string, []string) {
	groups := ingest.ApproversFor(&r.pb, cfg.Guardrails, cfg.Approvers)
	defaults := r.c.config.defaultApprovers
	if defaults == nil {
		if names := sortedKeys(cfg.Approvers); len(names) > 0 {
			defaults = names[:1]
		}
	}
	for _, n := range defaults {
		if users, ok := cfg.Approvers[n]; ok {
			if groups == nil {
				groups = map[string][]string{}
			}
			groups[n] = users
		}
	}
	return groups, defaults
}

// config applies the case's overrides to the base config.
func (r *caseRun) config() (config.Config, error) {
	cfg := *r.opts.Config
	cc := r.c.config
	if cc.approvers != nil {
		cfg.Approvers = map[string][]string{}
		for k, v := range r.opts.Config.Approvers {
			cfg.Approvers[k] = v
		}
		for k, v := range cc.approvers {
			cfg.Approvers[k] = v
		}
	}
	pol := cfg.Guardrails
	pol.ProtectedCIDRs = slices.Clone(pol.ProtectedCIDRs)
	pol.ProtectedInstances = slices.Clone(pol.ProtectedInstances)
	pol.ProtectedAccessKeys = slices.Clone(pol.ProtectedAccessKeys)
	pol.Budgets = slices.Clone(pol.Budgets)
	pol.RequireApproval = slices.Clone(pol.RequireApproval)
	for _, n := range cc.guardrails {
		if err := n.Decode(&pol); err != nil {
			return config.Config{}, fmt.Errorf("guardrails: %w", err)
		}
	}
	if _, err := guard.New(pol); err != nil {
		return config.Config{}, fmt.Errorf("guardrails: %w", err)
	}
	for _, rule := range pol.RequireApproval {
		if _, err := r.opts.Env.CompileBool(rule.When, expr.PolicyScope()); err != nil {
			return config.Config{}, fmt.Errorf("guardrails.require_approval %s: %w", rule.Name, err)
		}
	}
	cfg.Guardrails = pol
	return cfg, nil
}

// resolveAlerts turns the case's alerts (and their repeats) into envelopes
// and works out whether each reaches the incident.
func (r *caseRun) resolveAlerts(ctx context.Context) ([]sentAlert, bool) {
	var out []sentAlert
	for i := range r.c.alerts {
		in := &r.c.alerts[i]
		base, ok := r.resolve(in, i)
		if !ok {
			return nil, false
		}
		out = append(out, base)
		for k := 1; k <= in.repeat; k++ {
			cp := base
			cp.a.ID = fmt.Sprintf("%s-%d", base.a.ID, k)
			cp.at = base.at + time.Duration(k)*in.every
			// A repeat is seen later: its time moves with it (a dedup key
			// or a trigger on alert.time sees it as ingest would).
			cp.a.Time = base.a.Time.Add(time.Duration(k) * in.every)
			cp.a.Labels = cloneMap(base.a.Labels)
			out = append(out, cp)
		}
	}
	slices.SortStableFunc(out, func(a, b sentAlert) int { return cmp.Compare(a.at, b.at) })
	for i := range out {
		s := &out[i]
		s.d, s.why = r.trig.match(ctx, s.subject, &s.a, r.start.Add(s.at))
		if i == 0 {
			continue
		}
		first := out[0].d
		switch {
		case s.why != "":
			s.why = "not delivered to the incident: " + s.why
		case s.d.WorkflowID != first.WorkflowID && r.pb.Dedup == nil:
			s.why = "opens an incident of its own (the playbook has no dedup), not part of this case"
		case s.d.WorkflowID != first.WorkflowID:
			s.why = fmt.Sprintf("opens another incident, %s: its dedup key %q differs from %q", s.d.WorkflowID, s.d.DedupKey, first.DedupKey)
		}
	}
	return out, true
}

// resolve builds one alert: the envelope as written, or a sample or vendor
// payload through the decoder.
func (r *caseRun) resolve(in *alertIn, i int) (sentAlert, bool) {
	s := sentAlert{at: in.at, pos: in.pos, subject: in.subject, hops: in.hops}
	now := r.start.Add(in.at)
	switch {
	case in.envelope != nil:
		s.a = *in.envelope
		s.a.Labels = cloneMap(s.a.Labels)
		if s.a.ID == "" {
			s.a.ID = fmt.Sprintf("alert-%d", i+1)
		}
		s.a.Normalize(now)
		if s.subject == "" {
			s.subject = envelopeSubject(&s.a)
		}

	default:
		subject, payload := in.subject, in.payload
		if in.sample != "" {
			sub, data, ok := r.opts.Sample(in.sample)
			if !ok {
				r.fail("%s: no built-in sample %q", in.pos, in.sample)
				return s, false
			}
			payload = data
			if subject == "" {
				subject = sub
			}
		}
		a, err := r.opts.Decode(subject, payload, now)
		if err != nil {
			r.fail("%s: alert %d on %s does not decode: %v", in.pos, i+1, subject, err)
			return s, false
		}
		s.a, s.subject = a, subject
	}
	if in.hops > 0 {
		// As ingest copies the Soar-Hops header of a linkage alert.
		s.a.Labels = cloneMap(s.a.Labels)
		if s.a.Labels == nil {
			s.a.Labels = map[string]string{}
		}
		s.a.Labels[ingest.HopsLabel] = strconv.Itoa(in.hops)
	}
	return s, true
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// describeAlert summarizes an alert for the timeline.
func describeAlert(a alert.Alert) string {
	parts := []string{a.Type}
	if a.SourceIP != "" {
		parts = append(parts, "from "+a.SourceIP)
	}
	if a.Resource.InstanceID != "" {
		parts = append(parts, "on "+a.Resource.InstanceID)
	}
	if a.HTTP.Host != "" {
		parts = append(parts, "at "+a.HTTP.Host)
	}
	parts = append(parts, fmt.Sprintf("severity %d", a.Severity))
	return strings.Join(parts, " ")
}

// schedule registers the later alerts, the votes, the updates and the
// status queries as delayed callbacks on the workflow clock.
func (r *caseRun) schedule(later []sentAlert, first sentAlert) {
	for i, s := range later {
		key := fmt.Sprintf("alert#%d", i)
		if s.why != "" {
			r.fired[key] = true
			r.note(s.at, -1, "alert", "alert %s (%s) %s", s.a.ID, describeAlert(s.a), s.why)
			continue
		}
		r.env.RegisterDelayedCallback(func() {
			r.markFired(key)
			seq := float64(r.rec.lastSeq()) + 0.5
			r.env.UpdateWorkflow(workflows.UpdateAlert, s.d.UpdateID, &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) {
					r.note(s.at, seq, "alert", "alert %s refused: %v", s.a.ID, err)
				},
				OnComplete: func(v any, err error) {
					if err != nil {
						r.note(s.at, seq, "alert", "alert %s failed: %v", s.a.ID, err)
						return
					}
					var ack workflows.AlertAck
					decodeValue(v, &ack)
					dup := ""
					if ack.Duplicate {
						dup = " (duplicate id: ignored)"
					}
					r.note(s.at, seq, "alert", "alert %s (%s) → alert_count %d%s", s.a.ID, describeAlert(s.a), ack.AlertCount, dup)
				},
			}, workflows.AlertUpdate{Alert: s.a})
		}, s.at)
	}
	for i, v := range r.c.approvals {
		key := fmt.Sprintf("vote#%d", i)
		req := workflows.ApproveRequest{Step: v.step, Decision: v.decision, By: v.by, Comment: v.comment}
		label := fmt.Sprintf("%s %s by %s", v.decision, v.step, orNobody(v.by))
		r.sendUpdate(key, v.at, workflows.UpdateApprove, req, "vote", label)
	}
	for i, u := range r.c.updates {
		key := fmt.Sprintf("update#%d", i)
		var arg any
		label := u.kind + " " + u.step
		switch u.kind {
		case "extend":
			arg = workflows.ExtendRequest{Step: u.step, By: u.by, User: u.user}
			label += " by " + u.by
			if u.user != "" {
				label += " (" + u.user + ")"
			}
		default:
			arg = workflows.StepRequest{Step: u.step, By: u.by}
		}
		name := map[string]string{"revert": workflows.UpdateRevert, "extend": workflows.UpdateExtend, "keep": workflows.UpdateKeep}[u.kind]
		r.sendUpdate(key, u.at, name, arg, "update", label)
	}
	for i, cp := range r.c.expect.during {
		key := fmt.Sprintf("status#%d", i)
		r.env.RegisterDelayedCallback(func() {
			r.markFired(key)
			v, err := r.env.QueryWorkflow(workflows.QueryStatus)
			if err != nil {
				r.fail("%s: status query at %s failed: %v", cp.pos, offset(cp.at), err)
				return
			}
			var st workflows.Status
			if err := v.Get(&st); err != nil {
				r.fail("%s: decode the status at %s: %v", cp.pos, offset(cp.at), err)
				return
			}
			r.mu.Lock()
			r.statuses[i] = &st
			r.mu.Unlock()
			r.note(cp.at, float64(r.rec.lastSeq())+0.5, "status", "status: %s", describeStatus(st))
		}, cp.at)
	}
}

func orNobody(s string) string {
	if s == "" {
		return "(nobody)"
	}
	return s
}

// sendUpdate registers an Update sent at offset at and records its
// outcome under key.
func (r *caseRun) sendUpdate(key string, at time.Duration, name string, arg any, kind, label string) {
	r.env.RegisterDelayedCallback(func() {
		r.markFired(key)
		seq := float64(r.rec.lastSeq()) + 0.5
		r.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) {
				r.setOutcome(key, outcome{refused: err})
				r.note(at, seq, kind, "%s → refused: %v", label, err)
			},
			OnComplete: func(v any, err error) {
				r.setOutcome(key, outcome{err: err, value: v})
				if err != nil {
					r.note(at, seq, kind, "%s → failed: %v", label, err)
					return
				}
				r.note(at, seq, kind, "%s → %s", label, describeUpdateResult(v))
			},
		}, arg)
	}, at)
}

func (r *caseRun) markFired(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fired[key] = true
}

func (r *caseRun) setOutcome(key string, o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[key] = o
}

// describeUpdateResult renders an approve or revert result.
func describeUpdateResult(v any) string {
	var m map[string]any
	decodeValue(v, &m)
	if o, ok := m["outcome"].(string); ok {
		return fmt.Sprintf("%s (%v of %v approvals)", o, m["approvals"], m["quorum"])
	}
	if rs, ok := m["reverts"].([]any); ok {
		var parts []string
		for _, x := range rs {
			if pr, ok := x.(map[string]any); ok {
				parts = append(parts, fmt.Sprintf("%v %v", pr["key"], pr["status"]))
			}
		}
		return "reverts: " + strings.Join(parts, ", ")
	}
	return "accepted"
}

// describeStatus summarizes a status query for the timeline.
func describeStatus(st workflows.Status) string {
	parts := []string{"state " + st.State, fmt.Sprintf("alert_count %d", st.AlertCount)}
	for _, g := range st.Pending {
		parts = append(parts, fmt.Sprintf("awaiting approval of %s (%s)", g.Step, g.Reason))
	}
	return strings.Join(parts, ", ")
}

// decodeValue converts an Update's result into out.
func decodeValue(v any, out any) {
	if ev, ok := v.(converter.EncodedValue); ok {
		_ = ev.Get(out)
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	_ = json.Unmarshal(data, out)
}

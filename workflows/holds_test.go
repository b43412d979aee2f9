package workflows

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// memHolds is an in-memory hold registry with the semantics of natspub's
// (activities/natspub/holds.go): live holds per key, owned once a holder
// changed the target, the first changer's inverse input, undo for the last
// release of an owned measure. Incidents of one test share it.
type memHolds struct {
	mu      sync.Mutex
	entries map[string]*memEntry
	// fail, when set, fails every call with a non-retryable error.
	fail string
}

type memEntry struct {
	owned   bool
	inverse map[string]any
	holds   map[string]time.Time
}

func newMemHolds() *memHolds { return &memHolds{entries: map[string]*memEntry{}} }

func (m *memHolds) others(e *memEntry, holder string, now time.Time) []activities.Hold {
	var out []activities.Hold
	for _, h := range slices.Sorted(maps.Keys(e.holds)) {
		if until := e.holds[h]; h != holder && (until.IsZero() || until.After(now)) {
			out = append(out, activities.Hold{Holder: h, Until: until})
		}
	}
	return out
}

func (m *memHolds) do(op string, req activities.HoldRequest) (activities.HoldResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != "" {
		return activities.HoldResult{}, temporal.NewNonRetryableApplicationError(m.fail, activities.ErrTypeNotConfigured, nil)
	}
	e := m.entries[req.Key]
	if op == activities.HoldRelease && e == nil {
		return activities.HoldResult{Undo: req.Changed, Owned: req.Changed, Inverse: req.Inverse}, nil
	}
	if e == nil {
		e = &memEntry{holds: map[string]time.Time{}}
		m.entries[req.Key] = e
	}
	if req.Changed {
		if !e.owned {
			e.inverse = req.Inverse
		}
		e.owned = true
	}
	if op == activities.HoldAcquire {
		if until, ok := e.holds[req.Holder]; !ok || (!until.IsZero() && (req.Until.IsZero() || req.Until.After(until))) {
			e.holds[req.Holder] = req.Until
		}
		return activities.HoldResult{Owned: e.owned, Holders: m.others(e, req.Holder, req.Now)}, nil
	}
	delete(e.holds, req.Holder)
	if others := m.others(e, req.Holder, req.Now); len(others) > 0 {
		return activities.HoldResult{Owned: e.owned, Holders: others}, nil
	}
	delete(m.entries, req.Key)
	res := activities.HoldResult{Undo: e.owned, Owned: e.owned}
	if e.owned {
		res.Inverse = e.inverse
	}
	return res, nil
}

// setFail makes every call fail with msg ("" to stop).
func (m *memHolds) setFail(msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = msg
}

// keys lists the keys the registry holds.
func (m *memHolds) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.entries))
}

// holdCall is one registry call seen by the harness.
type holdCall struct {
	Op  string
	Req activities.HoldRequest
}

func (h *harness) holdStub(op string) func(context.Context, activities.HoldRequest) (activities.HoldResult, error) {
	return func(_ context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
		h.mu.Lock()
		h.holdCalls = append(h.holdCalls, holdCall{Op: op, Req: req})
		reg := h.holds
		h.mu.Unlock()
		return reg.do(op, req)
	}
}

// holdOps lists the registry calls as "<op> <holder> <until offset>".
func (h *harness) holdOps(start time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.holdCalls {
		op := strings.TrimPrefix(c.Op, "soar.hold.")
		switch {
		case c.Op == activities.HoldRelease:
			out = append(out, op+" "+c.Req.Holder)
		case c.Req.Until.IsZero():
			out = append(out, op+" "+c.Req.Holder+" forever")
		default:
			out = append(out, op+" "+c.Req.Holder+" "+shortDuration(c.Req.Until.Sub(start)))
		}
	}
	return out
}

// incidents runs several incidents as children of one workflow, so that
// they share the test environment's clock (and the harness's registry).
func incidents(ctx workflow.Context, ins []IncidentInput) ([]Result, error) {
	fs := make([]workflow.ChildWorkflowFuture, len(ins))
	for i, in := range ins {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: in.IncidentID})
		fs[i] = workflow.ExecuteChildWorkflow(cctx, IncidentWorkflow, in)
	}
	out := make([]Result, len(ins))
	for i, f := range fs {
		if err := f.Get(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// runIncidents runs ins side by side and returns their results.
func (h *harness) runIncidents(ins ...IncidentInput) []Result {
	h.t.Helper()
	h.env.RegisterWorkflowWithOptions(incidents, workflow.RegisterOptions{Name: "incidents"})
	h.env.ExecuteWorkflow("incidents", ins)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("incidents error: %v", err)
	}
	var rs []Result
	if err := h.env.GetWorkflowResult(&rs); err != nil {
		h.t.Fatalf("decode results: %v", err)
	}
	return rs
}

// named renames a test input's incident and playbook.
func named(in IncidentInput, playbookName string) IncidentInput {
	in.Playbook.Name = playbookName
	in.IncidentID = playbookName + ".i-web1"
	return in
}

// withID returns a step with another ID.
func withID(st playbook.Step, id string) playbook.Step {
	st.ID = id
	return st
}

// TestHolds_LastHolderUndoes: two incidents rely on one measure with
// different due times. The first revert due only releases its hold; the
// last holder undoes the measure, with the first changer's recorded input
// (the CC mode before the change, not the one the later incident found).
func TestHolds_LastHolderUndoes(t *testing.T) {
	const host, miner = "compromised-host.i-web1", "crypto-miner.i-web1"
	ccStep := func(after time.Duration) playbook.Step {
		return playbook.Step{ID: "strict_cc", Kind: playbook.KindAction, Action: activities.DDoSSetCCMode, RevertAfter: after,
			With: map[string]any{"domain": "WWW.example.com", "mode": "gf_sos_verify"}}
	}
	tests := []struct {
		name     string
		step     func(time.Duration) playbook.Step
		action   string
		inverse  string
		changer  string // the incident whose action changed the target
		behave   func(c call, changed bool) (map[string]any, error)
		wantArgs map[string]any
	}{
		{
			name: "a C&C block, the earlier holder changed it", step: blockC2, action: activities.CloudFWBlockIP, inverse: activities.CloudFWUnblockIP,
			changer: host,
			behave: func(c call, changed bool) (map[string]any, error) {
				out, err := cloudFWOutput(c)
				out["changed"] = changed
				return out, err
			},
			wantArgs: map[string]any{"ip": "198.51.100.1/32", "direction": "out", "account": "prod", "region": "cn-hangzhou"},
		},
		{
			name: "a C&C block, the later holder changed it", step: blockC2, action: activities.CloudFWBlockIP, inverse: activities.CloudFWUnblockIP,
			changer: miner,
			behave: func(c call, changed bool) (map[string]any, error) {
				out, err := cloudFWOutput(c)
				out["changed"] = changed
				return out, err
			},
			wantArgs: map[string]any{"ip": "198.51.100.1/32", "direction": "out", "account": "prod", "region": "cn-hangzhou"},
		},
		{
			name: "a CC mode: the last holder restores the mode before the first change", step: ccStep,
			action: activities.DDoSSetCCMode, inverse: activities.DDoSRestoreCCMode, changer: host,
			behave: func(c call, changed bool) (map[string]any, error) {
				prev := "default"
				if !changed {
					prev = "gf_sos_verify" // it found the strict mode set
				}
				return map[string]any{"changed": changed, "domain": c.Input["domain"], "mode": c.Input["mode"], "previous_mode": prev}, nil
			},
			wantArgs: map[string]any{"domain": "WWW.example.com", "mode": "default", "account": "prod", "region": "cn-hangzhou"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			start := h.env.Now()
			h.on(tt.action, func(c call) (map[string]any, error) { return tt.behave(c, c.meta().Incident == tt.changer) })
			a := named(testInput(tt.step(72*time.Hour)), "compromised-host")
			b := named(testInput(withID(tt.step(168*time.Hour), "block_pool")), "crypto-miner")
			rs := h.runIncidents(a, b)

			undos := h.callsOf(tt.inverse)
			if len(undos) != 1 {
				t.Fatalf("%s calls = %d, want 1 (by the last holder)", tt.inverse, len(undos))
			}
			if m := undos[0].meta(); m.Incident != miner || undos[0].At.Sub(start) != 168*time.Hour {
				t.Errorf("undone by %s after %v, want by %s after 168h", m.Incident, undos[0].At.Sub(start), miner)
			}
			if diff := cmp.Diff(tt.wantArgs, params(undos[0])); diff != "" {
				t.Errorf("inverse input mismatch (-want +got):\n%s", diff)
			}
			first, last := rs[0].Reverts[0], rs[1].Reverts[0]
			if first.Status != RevertReleased || !slices.Equal(first.HeldBy, []string{miner + "/block_pool until " + fmtTime(start.Add(168*time.Hour))}) ||
				!strings.Contains(first.Note, "the last holder undoes it") {
				t.Errorf("first revert = %+v, want released, held by %s until +168h, with a note", first, miner)
			}
			if last.Status != RevertReverted || len(last.HeldBy) != 0 {
				t.Errorf("last revert = %+v, want reverted", last)
			}
			if got := stepByID(t, rs[0].Status, rs[0].Reverts[0].Step).Status; got != activities.StatusSucceeded {
				t.Errorf("%s's step = %q, want succeeded (its measure stays)", host, got)
			}
			wantOps := []string{
				"acquire " + host + "/" + first.Key + " 72h", "acquire " + miner + "/block_pool 168h",
				"release " + host + "/" + first.Key, "release " + miner + "/block_pool",
			}
			// Both incidents acquire at the start, in either order.
			gotOps := h.holdOps(start)
			if len(gotOps) == len(wantOps) {
				slices.Sort(gotOps[:2])
				slices.Sort(wantOps[:2])
			}
			if diff := cmp.Diff(wantOps, gotOps); diff != "" {
				t.Errorf("registry calls mismatch (-want +got):\n%s", diff)
			}
			var released []activities.IncidentEvent
			h.mu.Lock()
			for _, e := range h.events {
				if e.Event == eventReleased {
					released = append(released, e)
				}
			}
			h.mu.Unlock()
			if len(released) != 1 || released[0].Incident != host || released[0].Detail["status"] != RevertReleased {
				t.Errorf("released events = %+v, want one of %s", released, host)
			}
			if keys := h.holds.keys(); len(keys) != 0 {
				t.Errorf("registry keys left = %v, want none", keys)
			}
		})
	}
}

// An action that found its target already blocked (changed: false) holds
// the measure like any other, but when no incident ever changed it (an
// operator's block) its revert undoes nothing.
func TestRevert_UnchangedIsNeverUndone(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, func(c call) (map[string]any, error) {
		out, err := cloudFWOutput(c)
		out["changed"] = false
		return out, err
	})
	var mid Status
	h.env.RegisterDelayedCallback(func() { mid = h.status() }, 30*time.Second)
	now := h.updateAt(time.Minute, UpdateRevert, StepRequest{Step: "block_c2", By: "alice"})
	again := h.updateAt(2*time.Minute, UpdateRevert, StepRequest{Step: "block_c2", By: "alice"})
	in := testInput(blockC2(72 * time.Hour))
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: time.Hour} // keeps it open
	h.run(in)
	r := h.result()

	if len(mid.Reverts) != 1 || mid.Reverts[0].Status != RevertScheduled {
		t.Errorf("reverts before the Update = %+v, want one scheduled (holding the block)", mid.Reverts)
	}
	if n := len(h.callsOf(activities.CloudFWUnblockIP)); n != 0 {
		t.Errorf("unblock calls = %d, want 0: the block was not soar's to lift", n)
	}
	if len(r.Reverts) != 1 || r.Reverts[0].Status != RevertUnchanged || !strings.Contains(r.Reverts[0].Note, "no incident changed the target") {
		t.Errorf("reverts = %+v, want one %q with a note", r.Reverts, RevertUnchanged)
	}
	if now.rejected != nil || now.err != nil || decode[RevertResult](t, now.value).Reverts[0].Status != RevertUnchanged {
		t.Errorf("revert = %+v, want accepted with status unchanged", now)
	}
	if again.rejected == nil || !strings.Contains(again.rejected.Error(), "changed nothing") {
		t.Errorf("second revert = %+v, want a refusal saying it changed nothing", again)
	}
	if got := stepByID(t, r.Status, "block_c2").Status; got != activities.StatusSucceeded {
		t.Errorf("block_c2 = %q, want succeeded", got)
	}
}

// TestHolds_KeepOutlivesOtherReleases: a kept block is held forever, so
// another incident's release of the same block undoes nothing.
func TestHolds_KeepOutlivesOtherReleases(t *testing.T) {
	reg := newMemHolds()
	const keeper = "threat-intel-c2.i-web1"

	h1 := newHarness(t)
	h1.holds = reg
	h1.on(activities.CloudFWBlockIP, cloudFWOutput)
	kept := h1.updateAt(time.Hour, UpdateKeep, StepRequest{Step: "block_c2", By: "alice"})
	h1.run(named(testInput(blockC2(168*time.Hour)), "threat-intel-c2"))
	r1 := h1.result()
	if kept.rejected != nil || kept.err != nil || r1.Reverts[0].Status != RevertKept {
		t.Fatalf("keep = %+v, revert %+v, want kept", kept, r1.Reverts[0])
	}
	if ops := h1.holdOps(h1.env.Now()); !slices.Contains(ops, "acquire "+keeper+"/block_c2 forever") {
		t.Errorf("registry calls %v, want the hold made forever", ops)
	}

	h2 := newHarness(t)
	h2.holds = reg
	h2.on(activities.CloudFWBlockIP, func(c call) (map[string]any, error) {
		out, err := cloudFWOutput(c)
		out["changed"] = false
		return out, err
	})
	in := named(testInput(blockC2(72*time.Hour)), "compromised-host")
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 100 * time.Hour} // open after the release
	var details string
	h2.env.RegisterDelayedCallback(func() { details = h2.currentDetails() }, 73*time.Hour)
	h2.run(in)
	r2 := h2.result()
	wantLine := "- `block_c2` alicloud.cloudfw.unblock_ip 198.51.100.1 not run (released) · still held by threat-intel-c2.i-web1/block\\_c2 forever; the last holder undoes it"
	if !strings.Contains(details, wantLine) {
		t.Errorf("current details lack %q:\n%s", wantLine, details)
	}
	if n := len(h2.callsOf(activities.CloudFWUnblockIP)); n != 0 {
		t.Errorf("unblock calls = %d, want 0: the block is kept by %s", n, keeper)
	}
	want := []string{keeper + "/block_c2 forever"}
	if got := r2.Reverts[0]; got.Status != RevertReleased || !slices.Equal(got.HeldBy, want) {
		t.Errorf("revert = %+v, want released, held by %v", got, want)
	}
}

// TestHolds_RollbackReleases: a rollback releases like a due revert: the
// block another incident holds stays; the others are undone.
func TestHolds_RollbackReleases(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	h.on(activities.ECSRunCommand, func(call) (map[string]any, error) {
		return nil, temporal.NewNonRetryableApplicationError("template kill not allowed", activities.ErrTypeNotConfigured, nil)
	})
	in := rollbackPlaybook()
	// Another incident holds the C&C block for a week.
	key := holdUnits(mustLookup(t, activities.CloudFWBlockIP), map[string]any{"account": "prod", "region": "cn-hangzhou"},
		map[string]any{"ip": "198.51.100.1/32", "direction": "out"})[0].Key
	if _, err := h.holds.do(activities.HoldAcquire, activities.HoldRequest{Key: key, Holder: "threat-intel-c2.x/block", Until: h.env.Now().Add(168 * time.Hour), Now: h.env.Now()}); err != nil {
		t.Fatal(err)
	}
	h.run(in)
	var appErr *temporal.ApplicationError
	if err := h.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypePlaybookFailed {
		t.Fatalf("workflow error = %v, want type %s", err, ErrTypePlaybookFailed)
	}
	var res Result
	if appErr.Details(&res) != nil {
		t.Fatal("failure carries no Result details")
	}
	got := map[string]string{}
	for _, r := range res.Reverts {
		got[r.Step] = r.Status
	}
	want := map[string]string{"waf": RevertReverted, "isolate": RevertReverted, "block_c2": RevertReleased}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revert statuses mismatch (-want +got):\n%s", diff)
	}
	if n := len(h.callsOf(activities.CloudFWUnblockIP)); n != 0 {
		t.Errorf("unblock calls = %d, want 0", n)
	}
	if n := len(h.callsOf(activities.WAFUnblockIP, activities.ECSRestoreInstance)); n != 2 {
		t.Errorf("waf unblock + restore calls = %d, want 2", n)
	}
	if keys := h.holds.keys(); !slices.Equal(keys, []string{key}) {
		t.Errorf("registry keys = %v, want only the other incident's block", keys)
	}
}

// TestHolds_ExtendMovesTheHold: extend and extend_on_alert move the
// registry's due time with the revert's.
func TestHolds_ExtendMovesTheHold(t *testing.T) {
	h := newHarness(t)
	start := h.env.Now()
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	step := blockC2(time.Hour)
	step.ExtendOnAlert = true
	in := testInput(step)
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 10 * time.Minute}
	a := testAlert()
	a.ID = "repeat"
	h.updateAt(30*time.Minute, UpdateAlert, AlertUpdate{Alert: a})
	ext := h.updateAt(40*time.Minute, UpdateExtend, ExtendRequest{Step: "block_c2", By: "2h", User: "alice"})
	h.run(in)
	r := h.result()
	if ext.rejected != nil || ext.err != nil {
		t.Fatalf("extend: rejected %v err %v", ext.rejected, ext.err)
	}
	const holder = "test-pb.i-web1/block_c2"
	want := []string{"acquire " + holder + " 1h", "acquire " + holder + " 1h30m", "acquire " + holder + " 3h30m", "release " + holder}
	if diff := cmp.Diff(want, h.holdOps(start)); diff != "" {
		t.Errorf("registry calls mismatch (-want +got):\n%s", diff)
	}
	if unblocks := h.callsOf(activities.CloudFWUnblockIP); len(unblocks) != 1 || unblocks[0].At.Sub(start) != 210*time.Minute {
		t.Errorf("unblocks = %+v, want one at 3h30m", unblocks)
	}
	if r.Reverts[0].Status != RevertReverted {
		t.Errorf("revert = %+v, want reverted", r.Reverts[0])
	}
}

// TestHolds_DryRunTakesNone: a dry run plans reverts and holds nothing.
func TestHolds_DryRunTakesNone(t *testing.T) {
	h := newHarness(t)
	in := testInput(blockC2(time.Hour))
	in.Playbook.Mode = playbook.ModeDryRun
	h.run(in)
	r := h.result()
	if ops := h.holdOps(h.env.Now()); len(ops) != 0 {
		t.Errorf("registry calls = %v, want none", ops)
	}
	if r.Reverts[0].Status != RevertPlanned {
		t.Errorf("revert = %+v, want planned", r.Reverts[0])
	}
}

// TestHolds_RegistryDown: when the registry cannot be reached the action's
// revert fails visibly (send revert to retry) rather than guessing.
func TestHolds_RegistryDown(t *testing.T) {
	h := newHarness(t)
	h.on(activities.CloudFWBlockIP, cloudFWOutput)
	h.holds.setFail("nats: no responders")
	in := testInput(blockC2(time.Hour))
	in.Playbook.Dedup = &playbook.Dedup{Key: "alert.resource.instance_id", Window: 5 * time.Hour}
	var mid, failed Status
	h.env.RegisterDelayedCallback(func() { mid = h.status() }, time.Minute)
	h.env.RegisterDelayedCallback(func() {
		failed = h.status()
		h.holds.setFail("")
	}, 2*time.Hour)
	retry := h.updateAt(3*time.Hour, UpdateRevert, StepRequest{Step: "block_c2", By: "alice"})
	h.run(in)
	r := h.result()
	if got := mid.Reverts[0]; got.Status != RevertScheduled || !strings.Contains(got.Note, "hold registry: nats: no responders") {
		t.Errorf("revert at 1m = %+v, want scheduled with the registry error in its note", got)
	}
	if got := failed.Reverts[0]; got.Status != RevertFailed || !strings.Contains(got.Error, "nats: no responders") {
		t.Errorf("revert at 2h = %+v, want failed with the registry error", got)
	}
	if retry.rejected != nil || retry.err != nil {
		t.Errorf("retry: rejected %v err %v, want accepted", retry.rejected, retry.err)
	}
	// The registry never heard of the block: this incident changed it, so
	// it undoes it.
	if r.Reverts[0].Status != RevertReverted || len(h.callsOf(activities.CloudFWUnblockIP)) != 1 {
		t.Errorf("final revert %+v, unblocks %d; want reverted once", r.Reverts[0], len(h.callsOf(activities.CloudFWUnblockIP)))
	}
}

// currentDetails reads the running workflow's current details.
func (h *harness) currentDetails() string {
	h.t.Helper()
	v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
	if err != nil {
		h.t.Fatalf("query metadata: %v", err)
	}
	var md sdkpb.WorkflowMetadata
	if err := v.Get(&md); err != nil {
		h.t.Fatalf("decode metadata: %v", err)
	}
	return md.GetCurrentDetails()
}

func mustLookup(t *testing.T, name string) activities.ActionSpec {
	t.Helper()
	spec, ok := activities.Lookup(name)
	if !ok {
		t.Fatalf("no action %s", name)
	}
	return spec
}

// TestHoldKey: an incident that changed the target and one that found it in
// place derive the same key for every revertible action; another target
// does not.
func TestHoldKey(t *testing.T) {
	cloud := map[string]any{"account": "prod", "region": "cn-hangzhou"}
	with := func(m map[string]any) map[string]any {
		out := maps.Clone(cloud)
		maps.Copy(out, m)
		return out
	}
	groups := []any{map[string]any{"network_interface_id": "eni-1", "security_group_ids": []any{"sg-1"}}}
	tests := []struct {
		action                string
		in                    map[string]any
		changerOut, finderOut map[string]any
		otherIn, otherOut     map[string]any
	}{
		{activities.CloudFWBlockIP, with(map[string]any{"ip": "198.51.100.1", "direction": "out"}),
			map[string]any{"changed": true, "ip": "198.51.100.1/32", "direction": "out", "policy_id": "acl-1"},
			map[string]any{"changed": false, "ip": "198.51.100.1/32", "direction": "out", "policy_id": "acl-1"},
			with(map[string]any{"ip": "198.51.100.1", "direction": "in"}),
			map[string]any{"changed": true, "ip": "198.51.100.1/32", "direction": "in"}},
		{activities.WAFBlockIP, with(map[string]any{"ip": "203.0.113.7"}),
			map[string]any{"changed": true, "ip": "203.0.113.7", "instance_id": "waf-1", "rule_id": "22215"},
			map[string]any{"changed": false, "ip": "203.0.113.7/32", "instance_id": "waf-1", "rule_id": "22216"},
			with(map[string]any{"ip": "203.0.113.8"}),
			map[string]any{"changed": true, "ip": "203.0.113.8", "instance_id": "waf-1", "rule_id": "22215"}},
		{activities.ECSBlockIP, with(map[string]any{"security_group_id": "sg-1", "ip": "203.0.113.7"}),
			map[string]any{"changed": true, "security_group_id": "sg-1", "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1", "direction": "in", "rule_id": "sgr-1"},
			map[string]any{"changed": false, "security_group_id": "sg-1", "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1", "direction": "in", "rule_id": "sgr-1"},
			with(map[string]any{"security_group_id": "sg-1", "ip": "203.0.113.7", "protocol": "tcp", "port_range": "22/22"}),
			map[string]any{"changed": true, "security_group_id": "sg-1", "ip": "203.0.113.7/32", "protocol": "tcp", "port_range": "22/22", "direction": "in"}},
		// By instance, in one group (several: TestHoldUnits_BlockByInstancePerGroup).
		{activities.ECSBlockIP, with(map[string]any{"instance_id": "i-1", "ip": "203.0.113.7"}),
			map[string]any{"changed": true, "security_group_id": "sg-1", "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1", "direction": "in",
				"rule_id": "sgr-1", "security_group_ids": []any{"sg-1"}, "rule_ids": []any{"sgr-1"}, "changed_security_group_ids": []any{"sg-1"}},
			map[string]any{"changed": false, "security_group_id": "sg-1", "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1", "direction": "in",
				"rule_id": "sgr-7", "security_group_ids": []any{"sg-1"}, "rule_ids": []any{"sgr-7"}},
			with(map[string]any{"instance_id": "i-1", "ip": "203.0.113.8"}),
			map[string]any{"changed": true, "security_group_id": "sg-1", "ip": "203.0.113.8/32", "protocol": "all", "port_range": "-1/-1", "direction": "in",
				"rule_id": "sgr-3", "security_group_ids": []any{"sg-1"}, "rule_ids": []any{"sgr-3"}, "changed_security_group_ids": []any{"sg-1"}}},
		{activities.ECSIsolateInstance, with(map[string]any{"instance_id": "i-1"}),
			map[string]any{"changed": true, "instance_id": "i-1", "quarantine_group_id": "sg-q", "original_groups": groups},
			map[string]any{"changed": false, "instance_id": "i-1", "quarantine_group_id": "sg-q", "original_groups": []any{}},
			with(map[string]any{"instance_id": "i-2"}),
			map[string]any{"changed": true, "instance_id": "i-2", "quarantine_group_id": "sg-q", "original_groups": groups}},
		{activities.ECSStopInstance, with(map[string]any{"instance_id": "i-1"}),
			map[string]any{"changed": true, "instance_id": "i-1", "previous_status": "Running"},
			map[string]any{"changed": false, "instance_id": "i-1", "previous_status": "Stopped"},
			with(map[string]any{"instance_id": "i-1", "account": "staging"}),
			map[string]any{"changed": true, "instance_id": "i-1"}},
		{activities.RAMDisableAccessKey, with(map[string]any{"access_key_id": "LTAI1"}),
			map[string]any{"changed": true, "access_key_id": "LTAI1", "user_name": "alice", "previous_status": "Active"},
			map[string]any{"changed": false, "access_key_id": "LTAI1", "user_name": "alice", "previous_status": "Inactive"},
			with(map[string]any{"access_key_id": "LTAI2"}),
			map[string]any{"changed": true, "access_key_id": "LTAI2", "user_name": "alice"}},
		{activities.DDoSSetCCMode, with(map[string]any{"domain": "www.example.com", "mode": "gf_sos_verify"}),
			map[string]any{"changed": true, "domain": "www.example.com", "mode": "gf_sos_verify", "previous_mode": "default"},
			map[string]any{"changed": false, "domain": "WWW.example.com", "mode": "gf_sos_verify", "previous_mode": "gf_sos_verify"},
			with(map[string]any{"domain": "api.example.com", "mode": "gf_sos_verify"}),
			map[string]any{"changed": true, "domain": "api.example.com", "previous_mode": "default"}},
		{activities.DDoSBlacklistIP, with(map[string]any{"domain": "www.example.com", "ips": []any{"203.0.113.7"}}),
			map[string]any{"changed": true, "domain": "www.example.com", "changed_ips": []any{"203.0.113.7"}},
			map[string]any{"changed": false, "domain": "www.example.com", "changed_ips": []any{}},
			with(map[string]any{"domain": "www.example.com", "ips": []any{"203.0.113.8"}}),
			map[string]any{"changed": true, "domain": "www.example.com", "changed_ips": []any{"203.0.113.8"}}},
	}
	revertible := map[string]bool{}
	for _, spec := range activities.Catalog() {
		if spec.Inverse != "" {
			revertible[spec.Name] = true
		}
	}
	for _, tt := range tests {
		delete(revertible, tt.action)
		t.Run(tt.action, func(t *testing.T) {
			spec := mustLookup(t, tt.action)
			changer, finder := holdUnits(spec, tt.in, tt.changerOut), holdUnits(spec, tt.in, tt.finderOut)
			other := holdUnits(spec, tt.otherIn, tt.otherOut)
			if len(changer) != 1 || len(finder) != 1 || len(other) != 1 {
				t.Fatalf("holds: %d, %d, %d, want one each", len(changer), len(finder), len(other))
			}
			if changer[0].Key != finder[0].Key {
				t.Errorf("keys differ:\n changer %s (%s)\n finder  %s (%s)", changer[0].Key, changer[0].Measure, finder[0].Key, finder[0].Measure)
			}
			if other[0].Key == changer[0].Key {
				t.Errorf("another target has the same key %s (%s)", other[0].Key, other[0].Measure)
			}
			if !changer[0].Changed || finder[0].Changed {
				t.Errorf("changed: changer %v, finder %v; want true, false", changer[0].Changed, finder[0].Changed)
			}
			if !strings.HasPrefix(changer[0].Key, spec.Inverse+".") || !strings.HasPrefix(changer[0].Measure, spec.Inverse+" ") {
				t.Errorf("key %q measure %q, want both to start with %s", changer[0].Key, changer[0].Measure, spec.Inverse)
			}
		})
	}
	if len(revertible) != 0 {
		t.Errorf("revertible actions without a case: %v", slices.Sorted(maps.Keys(revertible)))
	}
}

// A blacklist edit holds each address it asked for: the ones it added are
// its changes, the others it found listed; the undo removes only the
// addresses the registry says to.
func TestHoldUnits_BlacklistPerAddress(t *testing.T) {
	spec := mustLookup(t, activities.DDoSBlacklistIP)
	in := map[string]any{"domain": "www.example.com", "ips": []any{"203.0.113.7/32", "203.0.113.8", "203.0.113.7"}, "account": "prod"}
	out := map[string]any{"changed": true, "domain": "www.example.com", "changed_ips": []any{"203.0.113.8"}}
	units := holdUnits(spec, in, out)
	var got []string
	for _, u := range units {
		got = append(got, u.Measure)
		if u.Changed != strings.Contains(u.Measure, "203.0.113.8") {
			t.Errorf("%s: changed %v", u.Measure, u.Changed)
		}
	}
	want := []string{
		"alicloud.ddos.unblacklist_ip account=prod domain=www.example.com ips=[203.0.113.7/32]",
		"alicloud.ddos.unblacklist_ip account=prod domain=www.example.com ips=[203.0.113.8/32]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("measures mismatch (-want +got):\n%s", diff)
	}
	single := holdUnits(spec, map[string]any{"domain": "www.example.com", "ips": []any{"203.0.113.8"}, "account": "prod"},
		map[string]any{"changed": false, "domain": "www.example.com", "changed_ips": []any{}})
	if units[1].Key != single[0].Key {
		t.Errorf("key of 203.0.113.8 in a list %s, alone %s: want the same", units[1].Key, single[0].Key)
	}
	a := &applied{Inverse: spec.Inverse, Holds: units}
	units[0].Released, units[1].Released, units[1].Undo = true, true, true
	wantIn := map[string]any{"domain": "www.example.com", "ips": []any{"203.0.113.8"}, "account": "prod"}
	if diff := cmp.Diff(wantIn, undoInput(a)); diff != "" {
		t.Errorf("undo input mismatch (-want +got):\n%s", diff)
	}
}

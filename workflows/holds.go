package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
)

// holdsChange is the workflow.GetVersion change of the cross-incident hold
// registry. Runs recorded before it (version DefaultVersion) undo, at the
// due time, what they changed and never what they found in place, without
// asking the registry.
const holdsChange = "cross-incident-holds"

// hold is one measure an applied action relies on, as the hold registry
// (activities.HoldAcquire, activities.HoldRelease) knows it.
type hold struct {
	// Key is the registry key: see holdKey.
	Key     string `json:"key"`
	Measure string `json:"measure,omitempty"`
	// Changed is true when this incident's action changed the target.
	Changed bool `json:"changed,omitempty"`
	// Args is the inverse input that undoes this measure, from this
	// incident's recorded call.
	Args map[string]any `json:"args"`
	// Acquired is true once the registry holds it until Until (the zero
	// time: forever).
	Acquired bool      `json:"acquired,omitempty"`
	Until    time.Time `json:"until,omitzero"`
	// Others are the other live holds the registry reported at the last
	// acquire, or, once Released, at the release.
	Others []activities.Hold `json:"others,omitempty"`
	// Owned is the registry's answer: some holder changed the target.
	Owned bool `json:"owned,omitempty"`
	// Released is true once the registry answered the release; Undo and
	// Inverse are its answer (Inverse: the first changer's input).
	Released bool           `json:"released,omitempty"`
	Undo     bool           `json:"undo,omitempty"`
	Inverse  map[string]any `json:"inverse,omitempty"`
	// Error is the registry's last error on this hold.
	Error string `json:"error,omitempty"`
}

// useHolds reports whether revertible actions take registry holds: in
// enforce mode, on runs that recorded the change (or started after it).
func (s *incident) useHolds(ctx workflow.Context) bool {
	return !s.dryRun && workflow.GetVersion(ctx, holdsChange, workflow.DefaultVersion, 1) >= 1
}

// perGroupHoldsChange is the workflow.GetVersion change after which a
// block by instance (alicloud.ecs.block_ip with instance_id) holds each
// security group as a measure of its own (see groupUnits). It is asked
// only for such a block, so histories without one get no marker; runs
// recorded before it hold the whole block under one key.
const perGroupHoldsChange = "ecs-block-by-instance-holds-per-group"

// holdsOf returns the holds of an applied action (see holdUnits), but for
// a block by instance recorded before perGroupHoldsChange: one hold for
// the whole block, as then. With a cloud directory the keys name the
// account and region canonically (see rekey).
func holdsOf(ctx workflow.Context, fwd activities.ActionSpec, in, out map[string]any, dir *CloudDirectory) []*hold {
	if fwd.Inverse == activities.ECSUnblockIP && len(stringList(out["security_group_ids"])) > 0 &&
		workflow.GetVersion(ctx, perGroupHoldsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return rekey(fwd.Inverse, []*hold{newHold(fwd.Inverse, inverseInput(fwd.InverseArgs, in, out), outputChanged(out))}, dir)
	}
	return rekey(fwd.Inverse, holdUnits(fwd, in, out), dir)
}

// rekey recomputes the keys of holds with the account and region as the
// activities resolve them (see cloudKeyArgs): an alert naming no account
// and one naming the default account's UID hold the same measure under
// one key. Only incidents whose input carries the directory do so; the
// others (every incident opened before IncidentInput.Cloud existed, whose
// histories record no directory) keep the raw keys they always derived,
// so no version gate is needed: a run derives all its keys one way, and
// replaying it derives them again from the same recorded input. Holds
// already taken are carried with their keys and never rekeyed.
func rekey(inverse string, holds []*hold, dir *CloudDirectory) []*hold {
	if dir == nil {
		return holds
	}
	for _, h := range holds {
		h.Key, h.Measure = holdKey(inverse, dir.cloudKeyArgs(inverse, h.Args))
	}
	return holds
}

// cloudKeyArgs returns args with account and region as the activities
// resolve them: no account (or "") is the default account, an account UID
// is the account's name, and no region (or "") is the account's region.
// An account the directory does not know stays as it is. args itself is
// not changed: the inverse input keeps what the incident recorded.
func (d *CloudDirectory) cloudKeyArgs(inverse string, args map[string]any) map[string]any {
	if spec, ok := activities.Lookup(inverse); !ok || !spec.Cloud {
		return args
	}
	out := make(map[string]any, len(args)+2)
	for _, k := range workflow.DeterministicKeys(args) {
		out[k] = args[k]
	}
	acct, _ := args["account"].(string)
	acct = strings.TrimSpace(acct)
	if acct == "" {
		acct = d.DefaultAccount
	} else if _, isName := d.Regions[acct]; !isName {
		if name, ok := d.AccountIDs[acct]; ok {
			acct = name
		}
	}
	if acct != "" {
		out["account"] = acct
	}
	region, _ := args["region"].(string)
	if region = strings.TrimSpace(region); region == "" {
		region = d.Regions[acct]
	}
	if region != "" {
		out["region"] = region
	}
	return out
}

// holdUnits returns the holds of an applied action: one per measure it
// relies on. A blacklist edit (alicloud.ddos.blacklist_ip) holds each
// address it asked for, changed when the call added it; a block by
// instance holds each security group (see groupUnits); any other action
// holds one measure, changed when its output says so.
func holdUnits(fwd activities.ActionSpec, in, out map[string]any) []*hold {
	args := inverseInput(fwd.InverseArgs, in, out)
	changed := outputChanged(out)
	if units := groupUnits(fwd.Inverse, args, out, changed); len(units) > 0 {
		return units
	}
	if param, source := holdSplit(fwd.Inverse); param != "" {
		asked := plainAddresses(in[source])
		added := plainAddresses(args[param])
		var units []*hold
		for _, addr := range asked {
			unit := make(map[string]any, len(args))
			for _, k := range workflow.DeterministicKeys(args) {
				unit[k] = args[k]
			}
			unit[param] = []any{addr}
			units = append(units, newHold(fwd.Inverse, unit, changed && slices.Contains(added, addr)))
		}
		if len(units) > 0 {
			return units
		}
	}
	return []*hold{newHold(fwd.Inverse, args, changed)}
}

// groupUnits splits a block by instance (an ecs.unblock_ip inverse with
// security_group_ids) into one hold per group, whose inverse input is
// that of a block by security_group_id on the group (security_group_id
// and its rule_id, no lists): a block by group and a block by instance
// that share a drop rule share its hold, and each group's rule is revoked
// by its own last holder only. A unit is changed when the call added the
// rule to its group (changed_security_group_ids; without that field, as
// the whole call). nil for any other action.
func groupUnits(inverse string, args, out map[string]any, changed bool) []*hold {
	groups := stringList(args["security_group_ids"])
	if inverse != activities.ECSUnblockIP || len(groups) == 0 {
		return nil
	}
	rules := stringList(args["rule_ids"])
	added, perGroup := out["changed_security_group_ids"]
	addedGroups := stringList(added)
	var units []*hold
	for i, g := range groups {
		unit := make(map[string]any, len(args))
		for _, k := range workflow.DeterministicKeys(args) {
			switch k {
			case "security_group_ids", "rule_ids", "security_group_id", "rule_id":
			default:
				unit[k] = args[k]
			}
		}
		unit["security_group_id"] = g
		if i < len(rules) && rules[i] != "" {
			unit["rule_id"] = rules[i]
		}
		unitChanged := changed
		if perGroup && added != nil {
			unitChanged = changed && slices.Contains(addedGroups, g)
		}
		units = append(units, newHold(inverse, unit, unitChanged))
	}
	return units
}

// stringList reads a list of strings from a recorded input or output.
func stringList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = fmt.Sprint(e)
		}
		return out
	}
	return nil
}

func newHold(inverse string, args map[string]any, changed bool) *hold {
	key, measure := holdKey(inverse, args)
	return &hold{Key: key, Measure: measure, Changed: changed, Args: args}
}

// holdSplit names, for an inverse that undoes several measures at once, its
// list parameter and the forward action's parameter listing the measures
// asked for. "" for the others.
func holdSplit(inverse string) (param, source string) {
	if inverse == activities.DDoSUnblacklistIP {
		return "ips", "ips"
	}
	return "", ""
}

// stateArg reports whether an inverse parameter records the state before
// the change or where the change landed rather than which measure it is
// (a rule ID, the groups before an isolation, the previous CC mode): it
// can differ between the incident that changed the target and one that
// found it in place, so it is no part of the hold key. The registry keeps
// the first changer's value for the undo.
func stateArg(inverse, param string) bool {
	switch inverse + " " + param {
	case activities.WAFUnblockIP + " rule_id",
		activities.ECSUnblockIP + " rule_id",
		activities.ECSUnblockIP + " rule_ids",
		activities.ECSRestoreInstance + " original_groups",
		activities.ECSRestoreInstance + " quarantine_group_id",
		activities.DDoSRestoreCCMode + " mode":
		return true
	}
	return false
}

// holdKey is the registry key of the measure the inverse input args undoes:
// the inverse's name and a hash of its canonical input (state parameters
// left out, addresses as CIDRs, domains in lower case; account and region
// included, as resolved by rekey when the incident has a cloud directory;
// meta never present), plus a description for humans. Both
// incidents sharing a measure derive the same key, since the input comes
// from their recorded outputs.
func holdKey(inverse string, args map[string]any) (key, measure string) {
	id := map[string]any{}
	var words []string
	for _, k := range workflow.DeterministicKeys(args) {
		if k == "meta" || stateArg(inverse, k) {
			continue
		}
		v := canonicalArg(k, args[k])
		id[k] = v
		words = append(words, fmt.Sprintf("%s=%v", k, v))
	}
	data, _ := json.Marshal(id) // maps of JSON values always encode; keys sorted
	sum := sha256.Sum256(append([]byte(inverse+"\n"), data...))
	return inverse + "." + hex.EncodeToString(sum[:16]), inverse + " " + strings.Join(words, " ")
}

// canonicalArg writes the values that name the same measure in different
// ways the same way.
func canonicalArg(name string, v any) any {
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		switch name {
		case "ip":
			if c, err := guard.CanonicalTarget(x); err == nil {
				return c
			}
		case "domain":
			return strings.ToLower(x)
		}
		return x
	case []any:
		if name != "ips" {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalArg("ip", e)
		}
		return out
	}
	return v
}

// plainAddresses reads a list of addresses as the blacklists store them
// (203.0.113.7 for 203.0.113.7/32), without repeats.
func plainAddresses(v any) []string {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case []string:
		for _, e := range x {
			list = append(list, e)
		}
	}
	var out []string
	for _, e := range list {
		addr := strings.TrimSpace(fmt.Sprint(e))
		if c, err := guard.CanonicalTarget(addr); err == nil {
			addr = c
			if strings.HasSuffix(c, "/32") || strings.HasSuffix(c, "/128") {
				addr = c[:strings.LastIndexByte(c, '/')]
			}
		}
		if addr != "" && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	return out
}

// holder is the token of a's holds: "<incident>/<step key>".
func (s *incident) holder(a *applied) string { return s.id + "/" + a.Key }

// holdOptions bound one registry call: retried for about three minutes,
// then the caller records the error.
func holdOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
			NonRetryableErrorTypes: activities.NonRetryableErrorTypes(),
		},
		Summary: summary,
	}
}

// callHold runs one registry activity.
func (s *incident) callHold(ctx workflow.Context, name, summary string, req activities.HoldRequest) (activities.HoldResult, error) {
	actx := workflow.WithActivityOptions(ctx, holdOptions(summary))
	var res activities.HoldResult
	s.inflight++
	err := workflow.ExecuteActivity(actx, name, req).Get(actx, &res)
	s.inflight--
	return res, err
}

// lockHolds waits until no other hold operation of a runs, then takes its
// turn; the caller calls the returned function when done. The operation
// counts as in-flight work, so the run never continues as new meanwhile.
func (s *incident) lockHolds(ctx workflow.Context, a *applied) (func(), error) {
	if err := workflow.Await(ctx, func() bool { return !a.busy }); err != nil {
		return nil, err
	}
	a.busy = true
	s.inflight++
	return func() {
		a.busy = false
		s.inflight--
		s.bump()
	}, nil
}

// holdUntil acquires (or moves) a's holds not yet released until until
// (the zero time: forever). Errors are recorded on the holds and returned.
func (s *incident) holdUntil(ctx workflow.Context, a *applied, until time.Time) error {
	unlock, err := s.lockHolds(ctx, a)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, h := range a.Holds {
		if h.Released {
			continue
		}
		req := activities.HoldRequest{
			Key: h.Key, Measure: h.Measure, Holder: s.holder(a), Until: until, Changed: h.Changed, Inverse: h.Args,
			Now: workflow.Now(ctx),
		}
		res, err := s.callHold(ctx, activities.HoldAcquire, fmt.Sprintf("hold %s for %s until %s", h.Measure, a.Key, untilText(until)), req)
		if err != nil {
			if isCancel(ctx, err) {
				return err
			}
			h.Error = "hold registry: " + errMessage(err)
			s.logger.Warn("hold acquire failed", "incident", s.id, "step", a.Key, "key", h.Key, "error", h.Error)
			errs = append(errs, fmt.Errorf("hold %s: %s", h.Measure, h.Error))
			continue
		}
		h.Acquired, h.Until, h.Owned, h.Others, h.Error = true, until, res.Owned, res.Holders, ""
	}
	return errors.Join(errs...)
}

// holdsCover reports whether the registry holds every measure of a until
// at least at (the zero time: forever).
func (a *applied) holdsCover(at time.Time) bool {
	for _, h := range a.Holds {
		switch {
		case h.Released:
		case !h.Acquired:
			return false
		case h.Until.IsZero():
		case at.IsZero() || h.Until.Before(at):
			return false
		}
	}
	return true
}

// holdTarget is how long a's holds should last: until the revert's due
// time while it is scheduled, forever once kept or applied without a
// timer. ok is false once the revert came due.
func (a *applied) holdTarget() (until time.Time, ok bool) {
	switch a.Status {
	case RevertScheduled:
		return a.At, true
	case RevertKept, RevertApplied:
		return time.Time{}, true
	}
	return time.Time{}, false
}

// syncHolds brings a's holds in the registry to holdTarget in the
// background: the Updates that move a revert (extend, keep, every alert
// with extend_on_alert) do not wait for the registry. Changes arriving
// meanwhile are folded into the next acquire. A failure is recorded on the
// holds (the revert's note) and retried by the next change or run.
func (s *incident) syncHolds(a *applied) {
	if until, ok := a.holdTarget(); a.syncing || len(a.Holds) == 0 || !ok || a.holdsCover(until) {
		return
	}
	a.syncing = true
	s.inflight++
	workflow.Go(s.root, func(ctx workflow.Context) {
		defer func() {
			a.syncing = false
			s.inflight--
			s.bump()
		}()
		for {
			until, ok := a.holdTarget()
			if !ok || a.holdsCover(until) {
				return
			}
			if err := s.holdUntil(ctx, a, until); err != nil {
				return
			}
		}
	})
}

// releaseHolds releases a's holds not yet released and records the
// registry's answers.
func (s *incident) releaseHolds(ctx workflow.Context, a *applied) error {
	for _, h := range a.Holds {
		if h.Released {
			continue
		}
		req := activities.HoldRequest{
			Key: h.Key, Measure: h.Measure, Holder: s.holder(a), Changed: h.Changed, Inverse: h.Args, Now: workflow.Now(ctx),
		}
		res, err := s.callHold(ctx, activities.HoldRelease, fmt.Sprintf("release %s for %s", h.Measure, a.Key), req)
		if err != nil {
			if !isCancel(ctx, err) {
				h.Error = "hold registry: " + errMessage(err)
			}
			return err
		}
		h.Released, h.Undo, h.Inverse, h.Owned, h.Others, h.Error = true, res.Undo, res.Inverse, res.Owned, res.Holders, ""
	}
	return nil
}

// undoInput is the inverse input of the holds the registry says to undo,
// with the first changer's recorded values; nil when none is. The groups
// of a block by instance to undo are listed in security_group_ids and
// rule_ids (see groupsUndoInput).
func undoInput(a *applied) map[string]any {
	if groupHolds(a) {
		return groupsUndoInput(a)
	}
	param, _ := holdSplit(a.Inverse)
	var in map[string]any
	var list []any
	for _, src := range undoSources(a) {
		if in == nil {
			in = make(map[string]any, len(src)+1)
			for _, k := range workflow.DeterministicKeys(src) {
				in[k] = src[k]
			}
		}
		if param == "" {
			break
		}
		if l, ok := src[param].([]any); ok {
			for _, e := range l {
				if !slices.Contains(list, e) {
					list = append(list, e)
				}
			}
		}
	}
	if in != nil && param != "" {
		in[param] = list
	}
	return in
}

// undoSources are the recorded inverse inputs (else hold arguments) of the
// holds of a that were released with the undo falling to this incident, in
// hold order.
func undoSources(a *applied) []map[string]any {
	var srcs []map[string]any
	for _, h := range a.Holds {
		if !h.Released || !h.Undo {
			continue
		}
		src := h.Inverse
		if len(src) == 0 {
			src = h.Args
		}
		srcs = append(srcs, src)
	}
	return srcs
}

// groupHolds reports whether a is a block by instance held per group (see
// groupUnits; not one recorded before perGroupHoldsChange).
func groupHolds(a *applied) bool {
	if a.Inverse != activities.ECSUnblockIP || len(stringList(a.Output["security_group_ids"])) == 0 || len(a.Holds) == 0 {
		return false
	}
	_, whole := a.Holds[0].Args["security_group_ids"]
	return !whole
}

// groupsUndoInput is undoInput for the per-group holds of a block by
// instance: one ecs.unblock_ip with the groups to undo in
// security_group_ids and, at the same index, their rule_ids (empty: found
// by content), each from the group's first changer; security_group_id and
// rule_id are the first group's.
func groupsUndoInput(a *applied) map[string]any {
	srcs := undoSources(a)
	if len(srcs) == 0 {
		return nil
	}
	in := make(map[string]any, len(srcs[0])+2)
	for _, k := range workflow.DeterministicKeys(srcs[0]) {
		in[k] = srcs[0][k]
	}
	groups, rules := make([]any, len(srcs)), make([]any, len(srcs))
	for i, src := range srcs {
		groups[i], rules[i] = src["security_group_id"], ""
		if r, ok := src["rule_id"].(string); ok {
			rules[i] = r
		}
	}
	in["security_group_ids"], in["rule_ids"] = groups, rules
	return in
}

// undo runs when a's revert comes due (its timer, the revert Update, a
// rollback); the caller has set a.Status to reverting. Actions recorded
// before the registry run their inverse. Otherwise it releases the holds
// and runs the inverse only for the measures whose last holder this
// incident was, of a target soar changed; else the revert ends released
// (still held elsewhere) or unchanged (soar never changed it).
func (s *incident) undo(ctx workflow.Context, a *applied) error {
	if len(a.Holds) == 0 {
		fwd, _ := activities.Lookup(a.Action)
		return s.runInverse(ctx, a, inverseInput(fwd.InverseArgs, a.Input, a.Output))
	}
	unlock, err := s.lockHolds(ctx, a)
	if err != nil {
		a.Status = RevertApplied
		s.touch(ctx)
		return err
	}
	defer unlock()
	if err := s.releaseHolds(ctx, a); err != nil {
		if isCancel(ctx, err) {
			a.Status = RevertApplied
			s.touch(ctx)
			return err
		}
		a.Status, a.Error = RevertFailed, "hold registry: "+errMessage(err)
		s.noteFailedRevert(ctx)
		s.publish(eventStepFailed, a.Step, map[string]any{"key": a.Key, "revert": true, "action": activities.HoldRelease, "error": a.Error})
		s.logger.Warn("hold release failed", "incident", s.id, "step", a.Key, "error", a.Error)
		s.touch(ctx)
		return fmt.Errorf("revert %s: %s", a.Key, a.Error)
	}
	if in := undoInput(a); in != nil {
		return s.runInverse(ctx, a, in)
	}
	// Still held elsewhere, or released after another holder undid it:
	// released. Nobody ever changed it: unchanged.
	a.Status, a.Error = RevertUnchanged, ""
	held := heldBy(a)
	if len(held) > 0 || a.owned() {
		a.Status = RevertReleased
	}
	s.publish(eventReleased, a.Step, map[string]any{
		"key": a.Key, "action": a.Inverse, "target": a.Target, "held_by": held, "owned": a.owned(), "status": a.Status,
	})
	s.logger.Info("revert released", "incident", s.id, "step", a.Key, "status", a.Status, "held_by", held)
	s.touch(ctx)
	return nil
}

// owned reports whether the registry said soar changed a's target.
func (a *applied) owned() bool {
	for _, h := range a.Holds {
		if h.Owned || h.Changed {
			return true
		}
	}
	return false
}

// heldBy lists the other holds the registry reported, as "<holder> until
// <time>" or "<holder> forever".
func heldBy(a *applied) []string {
	var out []string
	for _, h := range a.Holds {
		for _, o := range h.Others {
			if w := o.Holder + " " + untilText(o.Until); !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

func untilText(t time.Time) string {
	if t.IsZero() {
		return "forever"
	}
	return "until " + fmtTime(t)
}

// holdNote says in words what the registry decided about a.
func holdNote(a *applied) string {
	if len(a.Holds) == 0 {
		if a.Status == RevertUnchanged {
			return "the target already was in that state: soar never undoes what it did not do"
		}
		return ""
	}
	var notes []string
	held := strings.Join(heldBy(a), ", ")
	switch a.Status {
	case RevertReleased:
		if held == "" {
			notes = append(notes, "released after the measure's last holder undid it")
		} else {
			notes = append(notes, "still held by "+held+"; the last holder undoes it")
		}
	case RevertUnchanged:
		notes = append(notes, "no incident changed the target (it already was in that state), so soar leaves it as it is")
	case RevertReverted, RevertFailed, RevertReverting:
		if held != "" {
			notes = append(notes, "partly still held by "+held)
		}
		for _, h := range a.Holds {
			if h.Undo && !h.Changed {
				notes = append(notes, "undone as the last holder of a change another incident made")
				break
			}
		}
	case RevertScheduled, RevertApplied, RevertKept:
		if held != "" {
			notes = append(notes, "shared with "+held+": the revert releases this incident's hold, the last holder undoes it")
		}
	}
	for _, h := range a.Holds {
		if h.Error != "" {
			notes = append(notes, h.Error)
			break
		}
	}
	return strings.Join(notes, "; ")
}

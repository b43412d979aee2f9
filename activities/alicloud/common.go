package alicloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
)

// clientToken derives an idempotency token (ClientToken) from the run and
// step that execute the action and what it acts on: a retry of the same
// step sends the same token, so the cloud answers with the first call's
// result instead of acting twice. run is the workflow run (see runID):
// the workflow ID alone is reused by a later incident on the same host,
// which must act again rather than get the earlier incident's answer.
// Tokens are at most 64 ASCII characters (the API limit), so the parts are
// hashed.
func clientToken(run string, meta activities.Meta, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{"soar", run, meta.Incident, meta.Step}, parts...) {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "soar-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// runID is the Temporal run of the workflow executing the activity, the
// per-incident part of idempotency keys: ingest starts a new run with the
// same workflow ID (the dedup key) for a later incident on the same host
// once the earlier one closed, while every retry of an activity stays in
// its run. "" outside an activity.
func runID(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	return activity.GetInfo(ctx).WorkflowExecution.RunID
}

// shortHash is a stable short name fragment for s.
func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])[:12]
}

// description is the text soar writes on the cloud resources it creates, so
// that they can be told apart from an operator's (and traced back to the
// incident): "soar:<incident>/<step>", at most max characters.
func description(meta activities.Meta, limit int) string {
	d := "soar"
	if meta.Incident != "" {
		d += ":" + meta.Incident
	}
	if meta.Step != "" {
		d += "/" + meta.Step
	}
	if len(d) > limit {
		d = d[:limit]
	}
	return d
}

// canonicalIP checks a block target with the guardrails and returns it as
// a canonical CIDR (203.0.113.7 → 203.0.113.7/32). A refusal is a
// non-retryable GuardDenied error.
func (a *Activities) canonicalBlock(target string) (string, error) {
	if err := a.guard.CheckBlock(target); err != nil {
		return "", denied(err)
	}
	c, err := guard.CanonicalTarget(target)
	if err != nil {
		return "", invalidInput("%q is not an IP address or CIDR: %v", target, err)
	}
	return c, nil
}

// canonicalTarget parses an unblock target (no guardrail: removing a block
// is always allowed).
func canonicalTarget(target string) (string, error) {
	c, err := guard.CanonicalTarget(target)
	if err != nil {
		return "", invalidInput("%q is not an IP address or CIDR: %v", target, err)
	}
	return c, nil
}

// sameAddress compares two addresses or CIDRs as the clouds store them
// (203.0.113.7 equals 203.0.113.7/32).
func sameAddress(a, b string) bool {
	ca, err1 := guard.CanonicalTarget(a)
	cb, err2 := guard.CanonicalTarget(b)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return ca == cb
}

// containsAddress reports whether list holds addr (see sameAddress).
func containsAddress(list []string, addr string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return sameAddress(s, addr) })
}

// plainAddress writes a single-address CIDR as the bare address (the form
// WAF, Cloud Firewall and Anti-DDoS lists use); real CIDRs stay as they are.
func plainAddress(cidr string) string {
	if strings.HasSuffix(cidr, "/32") || strings.HasSuffix(cidr, "/128") {
		return cidr[:strings.LastIndexByte(cidr, '/')]
	}
	return cidr
}

// pollUntil calls check every poll interval until it reports done or fails,
// recording a heartbeat with details between polls (so that Temporal can
// tell a live poll from a dead worker, and a retried attempt can resume).
func (a *Activities) pollUntil(ctx context.Context, what string, details any, check func() (bool, error)) error {
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, details)
		}
		t := time.NewTimer(a.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctxErr(ctx, "wait for "+what)
		case <-t.C:
		}
	}
}

// heartbeat records details now (before a change whose outcome a retried
// attempt must know).
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}

// previousDetails loads the heartbeat details of an earlier attempt of this
// activity into d and reports whether there were any.
func previousDetails(ctx context.Context, d any) bool {
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return false
	}
	return activity.GetHeartbeatDetails(ctx, d) == nil
}

// keyedMutex serializes read-modify-write updates of one shared cloud
// object (an address book, a WAF rule, a domain's blacklist) inside this
// worker, so that parallel foreach items do not overwrite each other's
// additions. Across workers the actions re-read after writing.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	ch   chan struct{}
	refs int
}

func newKeyedMutex() *keyedMutex {
	return &keyedMutex{locks: map[string]*keyedLock{}}
}

// lock takes the lock of key, or fails when ctx ends first. The returned
// function releases it.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctxErr(ctx, "wait for lock "+key)
	}
}

// outcome is the Outcome of an action that changed something (or, on
// dry-run, would have).
func outcome(meta activities.Meta, changed bool, plan []string) activities.Outcome {
	if meta.DryRun {
		return activities.Outcome{Changed: false, DryRun: true, Plan: plan}
	}
	return activities.Outcome{Changed: changed, Plan: plan}
}

func planf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

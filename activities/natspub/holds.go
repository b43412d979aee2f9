package natspub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
)

// DefaultHoldBucket is the KeyValue bucket of the hold registry.
const DefaultHoldBucket = "SOAR_HOLDS"

// maxHoldConflicts bounds the compare-and-set retries of one acquire or
// release.
const maxHoldConflicts = 1000

// holdKeyRE is what a KeyValue key may hold.
var holdKeyRE = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// holdEntry is the value of one hold key: the measure's live holds and
// whether soar changed the target.
type holdEntry struct {
	Measure string `json:"measure,omitempty"`
	// Owned is true once an acquirer (or releaser) reported changing the
	// target.
	Owned bool `json:"owned,omitempty"`
	// Inverse is the first changer's input of the inverse action.
	Inverse map[string]any `json:"inverse,omitempty"`
	// Holds maps each holder to its Until; the zero time means forever.
	Holds map[string]time.Time `json:"holds"`
	// Done is set once the last hold was released: the entry is then a
	// tombstone that answers a retried release of the same holder the
	// same way, and the next acquire starts a fresh entry.
	Done *holdDone `json:"done,omitempty"`
}

// holdDone records the release of the last hold.
type holdDone struct {
	Holder string    `json:"holder"`
	Undo   bool      `json:"undo"`
	At     time.Time `json:"at"`
}

// live reports whether a hold with until still counts at now.
func live(until, now time.Time) bool {
	return until.IsZero() || until.After(now)
}

// prune drops the expired holds, except keep's.
func (e *holdEntry) prune(now time.Time, keep string) {
	for h, until := range e.Holds {
		if h != keep && !live(until, now) {
			delete(e.Holds, h)
		}
	}
}

// others lists the live holds other than holder's, ordered by holder.
func (e *holdEntry) others(holder string, now time.Time) []activities.Hold {
	var out []activities.Hold
	for h, until := range e.Holds {
		if h != holder && live(until, now) {
			out = append(out, activities.Hold{Holder: h, Until: until})
		}
	}
	slices.SortFunc(out, func(a, b activities.Hold) int { return strings.Compare(a.Holder, b.Holder) })
	return out
}

// own records that req's holder reported on the change: a changer makes
// the measure soar's, and the first changer's inverse input is kept.
func (e *holdEntry) own(req activities.HoldRequest) {
	if e.Measure == "" {
		e.Measure = req.Measure
	}
	if req.Changed {
		if !e.Owned || e.Inverse == nil {
			e.Inverse = req.Inverse
		}
		e.Owned = true
	}
}

// AcquireHold implements soar.hold.acquire: it records that req.Holder
// relies on the measure req.Key until req.Until (zero: forever), in the
// JetStream KeyValue bucket [DefaultHoldBucket] shared by every worker
// (created when missing, without TTL). It is idempotent per holder: a
// repeat only moves the hold's Until later. req.Changed marks the measure
// as soar's. The result lists the other live holds.
//
// Updates are compare-and-set on the key's revision, retried on conflict,
// as [Activities.TakeBudget] does. Expired holds are dropped on the way.
func (a *Activities) AcquireHold(ctx context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	return a.updateHold(ctx, "acquire", req, acquireRule(req))
}

// holdRule decides an acquire or release on the entry of its key (found
// false: no entry yet) at now: the result, and whether the entry changed
// and must be written. The rules are the registry's whatever stores it
// (the KeyValue bucket, or [MemoryHolds]).
type holdRule func(e *holdEntry, found bool, now time.Time) (activities.HoldResult, bool)

// acquireRule is the rule of [Activities.AcquireHold].
func acquireRule(req activities.HoldRequest) holdRule {
	return func(e *holdEntry, found bool, now time.Time) (activities.HoldResult, bool) {
		if !found || e.Done != nil {
			*e = holdEntry{}
		}
		if e.Holds == nil {
			e.Holds = map[string]time.Time{}
		}
		e.own(req)
		e.prune(now, req.Holder)
		if until, ok := e.Holds[req.Holder]; !ok || (!until.IsZero() && (req.Until.IsZero() || req.Until.After(until))) {
			e.Holds[req.Holder] = req.Until.UTC()
		}
		return activities.HoldResult{Owned: e.Owned, Holders: e.others(req.Holder, now)}, true
	}
}

// ReleaseHold implements soar.hold.release: it removes req.Holder's hold
// on req.Key. When no other live hold remains, the entry ends (it becomes a
// tombstone) and the result says Undo if soar changed the target at some
// point, with the first changer's inverse input; otherwise the result
// lists who still holds the measure. req.Changed marks the measure as
// soar's first (a holder whose acquire failed). A retried release answers
// as the first one did.
//
// A key the registry does not know (no acquire ever reached it) is the
// caller's alone: Undo is req.Changed.
func (a *Activities) ReleaseHold(ctx context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	return a.updateHold(ctx, "release", req, releaseRule(req))
}

// releaseRule is the rule of [Activities.ReleaseHold].
func releaseRule(req activities.HoldRequest) holdRule {
	return func(e *holdEntry, found bool, now time.Time) (activities.HoldResult, bool) {
		switch {
		case !found:
			return activities.HoldResult{Undo: req.Changed, Owned: req.Changed, Inverse: req.Inverse}, false
		case e.Done != nil && e.Done.Holder == req.Holder:
			res := activities.HoldResult{Undo: e.Done.Undo, Owned: e.Owned}
			if res.Undo {
				res.Inverse = e.Inverse
			}
			return res, false
		case e.Done != nil:
			// Another holder was the last and undid the measure, or left
			// it as nobody's; this holder's change (if any) was not known
			// then.
			undo := req.Changed && !e.Done.Undo
			res := activities.HoldResult{Undo: undo, Owned: e.Owned || req.Changed}
			if undo {
				res.Inverse = req.Inverse
			}
			return res, false
		}
		if e.Holds == nil {
			e.Holds = map[string]time.Time{}
		}
		delete(e.Holds, req.Holder)
		e.own(req)
		e.prune(now, "")
		if others := e.others(req.Holder, now); len(others) > 0 {
			return activities.HoldResult{Owned: e.Owned, Holders: others}, true
		}
		e.Done = &holdDone{Holder: req.Holder, Undo: e.Owned, At: now.UTC()}
		res := activities.HoldResult{Undo: e.Owned, Owned: e.Owned}
		if res.Undo {
			res.Inverse = e.Inverse
		}
		return res, true
	}
}

// updateHold reads the entry of req.Key, lets change decide the result and
// whether to write, and writes with compare-and-set, retrying on conflict.
func (a *Activities) updateHold(ctx context.Context, op string, req activities.HoldRequest, change holdRule) (activities.HoldResult, error) {
	if err := checkHoldRequest(op, req); err != nil {
		return activities.HoldResult{}, err
	}
	now := req.Now
	if now.IsZero() {
		now = a.now()
	}
	kv, err := a.holdBucket(ctx)
	if err != nil {
		return activities.HoldResult{}, err
	}
	for range maxHoldConflicts {
		var e holdEntry
		var rev uint64
		entry, err := kv.Get(ctx, req.Key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return activities.HoldResult{}, fmt.Errorf("hold %s %s: read: %w", op, req.Key, err)
		default:
			rev = entry.Revision()
			if err := json.Unmarshal(entry.Value(), &e); err != nil {
				return activities.HoldResult{}, fmt.Errorf("hold %s %s: decode revision %d: %w", op, req.Key, rev, err)
			}
		}
		res, write := change(&e, rev != 0, now)
		if !write {
			a.logHold(ctx, op, req, res)
			return res, nil
		}
		value, err := json.Marshal(e)
		if err != nil {
			return activities.HoldResult{}, fmt.Errorf("hold %s %s: encode: %w", op, req.Key, err)
		}
		if rev == 0 {
			_, err = kv.Create(ctx, req.Key, value)
		} else {
			_, err = kv.Update(ctx, req.Key, value, rev)
		}
		switch {
		case err == nil:
			a.logHold(ctx, op, req, res)
			return res, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			a.log.DebugContext(ctx, "hold update conflict, retrying", "key", req.Key, "revision", rev)
			if ctx.Err() != nil {
				return activities.HoldResult{}, fmt.Errorf("hold %s %s: %w", op, req.Key, ctx.Err())
			}
		default:
			return activities.HoldResult{}, fmt.Errorf("hold %s %s: write: %w", op, req.Key, err)
		}
	}
	return activities.HoldResult{}, fmt.Errorf("hold %s %s: still conflicting after %d attempts", op, req.Key, maxHoldConflicts)
}

// checkHoldRequest refuses a request without a valid key or a holder.
func checkHoldRequest(op string, req activities.HoldRequest) error {
	switch {
	case req.Key == "":
		return nonRetryable(activities.ErrTypeInvalidInput, "hold %s: key is required", op)
	case !holdKeyRE.MatchString(req.Key):
		return nonRetryable(activities.ErrTypeInvalidInput, "hold %s: key %q is not a KeyValue key", op, req.Key)
	case req.Holder == "":
		return nonRetryable(activities.ErrTypeInvalidInput, "hold %s %s: holder is required", op, req.Key)
	}
	return nil
}

func (a *Activities) logHold(ctx context.Context, op string, req activities.HoldRequest, res activities.HoldResult) {
	holders := make([]string, len(res.Holders))
	for i, h := range res.Holders {
		holders[i] = h.Holder
	}
	a.log.InfoContext(ctx, "hold "+op, "key", req.Key, "measure", req.Measure, "holder", req.Holder,
		"changed", req.Changed, "owned", res.Owned, "undo", res.Undo, "others", holders)
}

// holdBucket opens the hold registry's bucket, creating it when missing:
// no TTL (a hold may last forever; the last release ends an entry), one
// revision a key.
func (a *Activities) holdBucket(ctx context.Context) (jetstream.KeyValue, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.holdKV != nil {
		return a.holdKV, nil
	}
	js, err := a.jetStream()
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, a.holdBucketName)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: a.holdBucketName, Description: "soar holds on temporary measures shared by incidents (soar.hold.acquire, soar.hold.release)",
			History: 1, Storage: jetstream.FileStorage, Replicas: a.replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, a.holdBucketName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open hold bucket %s: %w", a.holdBucketName, err)
	}
	a.holdKV = kv
	return kv, nil
}

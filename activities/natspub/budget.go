package natspub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
)

const (
	// minBudgetTTL is the shortest TTL the budget bucket is created with.
	minBudgetTTL = 24 * time.Hour
	// maxBudgetConflicts bounds the compare-and-set retries of one take.
	maxBudgetConflicts = 1000
)

// budgetState is the value of one budget key: the tokens counted in the
// window, in the order they were taken.
type budgetState struct {
	Tokens []string `json:"tokens"`
}

// TakeBudget implements soar.budget.take: it counts one run of req.Action
// against a budget of req.Max runs per req.Window, shared by every worker.
//
// The count lives in the JetStream KeyValue bucket [Options.BudgetBucket]
// (created when missing, with a TTL of at least twice the window), one key
// per action, window length and window start, the window being
// floor(req.Now / req.Window). The value lists the tokens counted; updates
// are compare-and-set on the key's revision, retried on conflict, so
// concurrent workers never over-count. A token already counted is allowed
// again without counting twice (an activity retry). When the budget is
// exhausted the result has Allowed false; that is not an error.
func (a *Activities) TakeBudget(ctx context.Context, req activities.BudgetRequest) (activities.BudgetResult, error) {
	res := activities.BudgetResult{Max: req.Max}
	switch {
	case req.Action == "":
		return res, nonRetryable(activities.ErrTypeInvalidInput, "budget: action is required")
	case req.Max < 1:
		return res, nonRetryable(activities.ErrTypeInvalidInput, "budget %s: max is %d, want at least 1", req.Action, req.Max)
	case req.Window < time.Millisecond:
		return res, nonRetryable(activities.ErrTypeInvalidInput, "budget %s: window %v, want at least 1ms", req.Action, req.Window)
	case req.Token == "":
		return res, nonRetryable(activities.ErrTypeInvalidInput, "budget %s: token is required", req.Action)
	}
	now := req.Now
	if now.IsZero() {
		now = a.now()
	}
	start := windowStart(now, req.Window)
	res.WindowEnds = start.Add(req.Window)
	kv, err := a.budgetBucket(ctx, req.Window)
	if err != nil {
		return res, err
	}
	key := budgetKey(req.Action, req.Window, start)

	for range maxBudgetConflicts {
		var st budgetState
		var rev uint64
		entry, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return res, fmt.Errorf("budget %s: read %s: %w", req.Action, key, err)
		default:
			rev = entry.Revision()
			if err := json.Unmarshal(entry.Value(), &st); err != nil {
				return res, fmt.Errorf("budget %s: decode %s revision %d: %w", req.Action, key, rev, err)
			}
		}
		res.Used = len(st.Tokens)
		if slices.Contains(st.Tokens, req.Token) {
			res.Allowed = true
			return res, nil
		}
		if len(st.Tokens) >= req.Max {
			a.log.InfoContext(ctx, "budget exhausted", "action", req.Action, "used", res.Used, "max", req.Max,
				"window_ends", res.WindowEnds, "token", req.Token)
			return res, nil
		}
		st.Tokens = append(st.Tokens, req.Token)
		value, err := json.Marshal(st)
		if err != nil {
			return res, fmt.Errorf("budget %s: encode: %w", req.Action, err)
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, value)
		} else {
			_, err = kv.Update(ctx, key, value, rev)
		}
		switch {
		case err == nil:
			res.Allowed = true
			res.Used = len(st.Tokens)
			return res, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			// Another worker counted first: read again.
			a.log.DebugContext(ctx, "budget update conflict, retrying", "key", key, "revision", rev)
			if ctx.Err() != nil {
				return res, fmt.Errorf("budget %s: %w", req.Action, ctx.Err())
			}
			continue
		default:
			return res, fmt.Errorf("budget %s: write %s: %w", req.Action, key, err)
		}
	}
	return res, fmt.Errorf("budget %s: %s still conflicting after %d attempts", req.Action, key, maxBudgetConflicts)
}

// windowStart is the start of the window of length w holding t:
// floor(t / w) * w, counted from the Unix epoch so every worker agrees.
func windowStart(t time.Time, w time.Duration) time.Time {
	n := t.UnixNano()
	start := n - n%int64(w)
	if n%int64(w) < 0 {
		start -= int64(w)
	}
	return time.Unix(0, start).UTC()
}

// budgetKey is the KeyValue key of one budget window:
// <action>.<window ms>.<window start, Unix ms>. The catch-all action "*" is
// spelled ALL (action names are lower case).
func budgetKey(action string, w time.Duration, start time.Time) string {
	var toks []string
	if action == "*" {
		toks = []string{"ALL"}
	} else {
		for _, t := range strings.Split(action, ".") {
			toks = append(toks, token(t))
		}
	}
	return strings.Join(toks, ".") + "." + strconv.FormatInt(w.Milliseconds(), 10) + "." + strconv.FormatInt(start.UnixMilli(), 10)
}

// budgetBucket opens the budget bucket, creating it when missing, and
// makes sure its TTL outlives a window of length w: entries expire TTL
// after their last write, so a TTL shorter than the window would refill a
// budget early.
func (a *Activities) budgetBucket(ctx context.Context, w time.Duration) (jetstream.KeyValue, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kv != nil && (a.kvTTL == 0 || a.kvTTL >= 2*w) {
		return a.kv, nil
	}
	js, err := a.jetStream()
	if err != nil {
		return nil, err
	}
	want := max(2*w, minBudgetTTL)
	kv, err := js.KeyValue(ctx, a.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: a.bucket, Description: "soar guardrail budgets (soar.budget.take)",
			History: 1, TTL: want, Storage: jetstream.FileStorage, Replicas: a.replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Another worker created it first.
			kv, err = js.KeyValue(ctx, a.bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open budget bucket %s: %w", a.bucket, err)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("budget bucket %s: status: %w", a.bucket, err)
	}
	ttl := status.TTL()
	if ttl != 0 && ttl < 2*w {
		// Only ever lengthen the TTL: other budgets may need the old one.
		si, ok := status.(*jetstream.KeyValueBucketStatus)
		if !ok {
			return nil, fmt.Errorf("budget bucket %s: TTL %v is shorter than twice the window %v", a.bucket, ttl, w)
		}
		cfg := si.Config()
		cfg.TTL = want
		kv, err = js.UpdateKeyValue(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("budget bucket %s: lengthen TTL to %v: %w", a.bucket, want, err)
		}
		ttl = want
		a.log.InfoContext(ctx, "budget bucket TTL lengthened", "bucket", a.bucket, "ttl", want)
	}
	a.kv, a.kvTTL = kv, ttl
	return kv, nil
}

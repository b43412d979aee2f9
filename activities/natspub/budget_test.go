package natspub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
)

// take runs soar.budget.take through the test activity environment.
func take(t *testing.T, a natspub.Options, req activities.BudgetRequest) activities.BudgetResult {
	t.Helper()
	val, err := activityEnv(a).ExecuteActivity(activities.BudgetTake, req)
	if err != nil {
		t.Fatalf("TakeBudget(%s) error: %v", req.Token, err)
	}
	var res activities.BudgetResult
	if err := val.Get(&res); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return res
}

// TestTakeBudgetConcurrent races ten workers, each with its own connection,
// for a budget of three.
func TestTakeBudgetConcurrent(t *testing.T) {
	s := runJetStream(t)
	const workers, budget = 10, 3
	now := time.Date(2026, 3, 4, 5, 30, 0, 0, time.UTC)
	results := make([]activities.BudgetResult, workers)
	errs := make([]error, workers)
	acts := make([]*natspub.Activities, workers)
	for i := range acts {
		acts[i] = natspub.New(natspub.Options{JetStream: connect(t, s)})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = acts[i].TakeBudget(t.Context(), activities.BudgetRequest{
				Action: "alicloud.ecs.isolate_instance", Max: budget, Window: time.Hour,
				Token: fmt.Sprintf("incident-%d/isolate", i), Now: now,
			})
		})
	}
	close(start)
	wg.Wait()

	var allowed, used []int
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("worker %d: TakeBudget() error: %v", i, errs[i])
		}
		if r.Max != budget || !r.WindowEnds.Equal(time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)) {
			t.Errorf("worker %d: Max %d WindowEnds %v, want %d and 06:00", i, r.Max, r.WindowEnds, budget)
		}
		if r.Allowed {
			allowed = append(allowed, i)
			used = append(used, r.Used)
		} else if r.Used != budget {
			t.Errorf("worker %d: denied with Used %d, want %d", i, r.Used, budget)
		}
	}
	if len(allowed) != budget {
		t.Fatalf("%d of %d takes allowed (%v), want exactly %d", len(allowed), workers, allowed, budget)
	}
	slices.Sort(used)
	if diff := cmp.Diff([]int{1, 2, 3}, used); diff != "" {
		t.Errorf("Used of the allowed takes mismatch (-want +got):\n%s", diff)
	}

	// The bucket holds exactly the allowed tokens.
	js := connect(t, s)
	kv, err := js.KeyValue(context.Background(), natspub.DefaultBudgetBucket)
	if err != nil {
		t.Fatalf("open bucket: %v", err)
	}
	keys, err := kv.Keys(context.Background())
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	if len(keys) != 1 {
		t.Fatalf("bucket keys = %v, want one", keys)
	}
	e, err := kv.Get(context.Background(), keys[0])
	if err != nil {
		t.Fatalf("get %s: %v", keys[0], err)
	}
	var st struct{ Tokens []string }
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		t.Fatalf("decode %s: %v", e.Value(), err)
	}
	var want []string
	for _, i := range allowed {
		want = append(want, fmt.Sprintf("incident-%d/isolate", i))
	}
	slices.Sort(st.Tokens)
	if diff := cmp.Diff(want, st.Tokens); diff != "" {
		t.Errorf("counted tokens mismatch (-want +got):\n%s", diff)
	}
}

func TestTakeBudgetSequence(t *testing.T) {
	s := runJetStream(t)
	opts := natspub.Options{JetStream: connect(t, s)}
	w := time.Hour
	t0 := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	end0, end1 := t0.Add(w), t0.Add(2*w)
	type step struct {
		action string
		token  string
		now    time.Time
		want   activities.BudgetResult
	}
	steps := []step{
		{"alicloud.waf.block_ip", "a", t0.Add(time.Minute), activities.BudgetResult{Allowed: true, Used: 1, Max: 2, WindowEnds: end0}},
		{"alicloud.waf.block_ip", "a", t0.Add(2 * time.Minute), activities.BudgetResult{Allowed: true, Used: 1, Max: 2, WindowEnds: end0}},
		{"alicloud.waf.block_ip", "b", t0.Add(3 * time.Minute), activities.BudgetResult{Allowed: true, Used: 2, Max: 2, WindowEnds: end0}},
		{"alicloud.waf.block_ip", "c", t0.Add(4 * time.Minute), activities.BudgetResult{Allowed: false, Used: 2, Max: 2, WindowEnds: end0}},
		// A retry of a counted take is still allowed, and counts nothing.
		{"alicloud.waf.block_ip", "b", t0.Add(59 * time.Minute), activities.BudgetResult{Allowed: true, Used: 2, Max: 2, WindowEnds: end0}},
		// Other actions have their own budget; "*" is the catch-all.
		{"alicloud.ecs.block_ip", "c", t0.Add(5 * time.Minute), activities.BudgetResult{Allowed: true, Used: 1, Max: 2, WindowEnds: end0}},
		{"*", "c", t0.Add(5 * time.Minute), activities.BudgetResult{Allowed: true, Used: 1, Max: 2, WindowEnds: end0}},
		// The next window refills.
		{"alicloud.waf.block_ip", "c", t0.Add(w), activities.BudgetResult{Allowed: true, Used: 1, Max: 2, WindowEnds: end1}},
		{"alicloud.waf.block_ip", "d", t0.Add(w + 30*time.Minute), activities.BudgetResult{Allowed: true, Used: 2, Max: 2, WindowEnds: end1}},
		{"alicloud.waf.block_ip", "e", t0.Add(2*w - time.Nanosecond), activities.BudgetResult{Allowed: false, Used: 2, Max: 2, WindowEnds: end1}},
	}
	for i, st := range steps {
		got := take(t, opts, activities.BudgetRequest{Action: st.action, Max: 2, Window: w, Token: st.token, Now: st.now})
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("step %d: take(%s, %s, %v) mismatch (-want +got):\n%s", i, st.action, st.token, st.now.Format(time.TimeOnly), diff)
		}
	}
}

func TestTakeBudgetInvalid(t *testing.T) {
	s := runJetStream(t)
	opts := natspub.Options{JetStream: connect(t, s)}
	ok := activities.BudgetRequest{Action: "alicloud.waf.block_ip", Max: 1, Window: time.Hour, Token: "t", Now: fixedNow}
	tests := []struct {
		name     string
		opts     natspub.Options
		mod      func(*activities.BudgetRequest)
		wantType string
	}{
		{"no action", opts, func(r *activities.BudgetRequest) { r.Action = "" }, activities.ErrTypeInvalidInput},
		{"max 0", opts, func(r *activities.BudgetRequest) { r.Max = 0 }, activities.ErrTypeInvalidInput},
		{"no window", opts, func(r *activities.BudgetRequest) { r.Window = 0 }, activities.ErrTypeInvalidInput},
		{"no token", opts, func(r *activities.BudgetRequest) { r.Token = "" }, activities.ErrTypeInvalidInput},
		{"no connection", natspub.Options{}, func(*activities.BudgetRequest) {}, activities.ErrTypeNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.mod(&req)
			_, err := activityEnv(tc.opts).ExecuteActivity(activities.BudgetTake, req)
			appErr := appError(t, err)
			if appErr.Type() != tc.wantType || !appErr.NonRetryable() {
				t.Errorf("error type %q non-retryable %v, want %q non-retryable", appErr.Type(), appErr.NonRetryable(), tc.wantType)
			}
		})
	}
}

// TestTakeBudgetBucketTTL checks that the bucket is created with a TTL of
// at least twice the window, and that an existing bucket with a shorter
// TTL is lengthened rather than refilling budgets early.
func TestTakeBudgetBucketTTL(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	ctx := context.Background()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "SHORT", TTL: time.Hour, History: 1}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	tests := []struct {
		bucket  string
		window  time.Duration
		wantTTL time.Duration
	}{
		{"FRESH", time.Hour, 24 * time.Hour},
		{"LONG", 48 * time.Hour, 96 * time.Hour},
		{"SHORT", 2 * time.Hour, 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.bucket, func(t *testing.T) {
			got := take(t, natspub.Options{JetStream: js, BudgetBucket: tc.bucket},
				activities.BudgetRequest{Action: "x", Max: 1, Window: tc.window, Token: "t", Now: fixedNow})
			if !got.Allowed {
				t.Errorf("take = %+v, want allowed", got)
			}
			kv, err := js.KeyValue(ctx, tc.bucket)
			if err != nil {
				t.Fatalf("open bucket: %v", err)
			}
			st, err := kv.Status(ctx)
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			if st.TTL() != tc.wantTTL {
				t.Errorf("bucket %s TTL = %v, want %v", tc.bucket, st.TTL(), tc.wantTTL)
			}
		})
	}
}

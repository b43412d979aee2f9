package natspub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
)

// holdOp runs soar.hold.acquire or soar.hold.release through the test
// activity environment.
func holdOp(t *testing.T, opts natspub.Options, name string, req activities.HoldRequest) activities.HoldResult {
	t.Helper()
	val, err := activityEnv(opts).ExecuteActivity(name, req)
	if err != nil {
		t.Fatalf("%s(%s, %s) error: %v", name, req.Key, req.Holder, err)
	}
	var res activities.HoldResult
	if err := val.Get(&res); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return res
}

const poolKey = "alicloud.cloudfw.unblock_ip.0123456789abcdef"

// unblock is the inverse input both incidents record.
func unblock(ip string) map[string]any {
	return map[string]any{"ip": ip, "direction": "out", "account": "prod", "region": "cn-hangzhou"}
}

// TestHoldSequence walks the registry through the shared-block stories
// (DESIGN §7): two incidents on one pool address with different due times,
// a block soar never made, a kept block, an incident terminated without
// releasing, retried calls.
func TestHoldSequence(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	miner, host, intel := "crypto-miner.i-db01/block_pool#0", "compromised-host.i-db01/block_c2#0", "threat-intel-c2.x/block#0"
	inv := unblock("198.51.100.9/32")
	type step struct {
		name string
		op   string
		req  activities.HoldRequest
		want activities.HoldResult
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"the first release leaves the block, the last undoes it", []step{
			{"host blocks for 72h", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(72 * time.Hour), Changed: true, Inverse: inv, Now: t0},
				activities.HoldResult{Owned: true}},
			{"miner finds it blocked, holds 7d", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: miner, Until: at(168 * time.Hour), Inverse: inv, Now: at(time.Second)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: host, Until: at(72 * time.Hour)}}}},
			{"miner again (an activity retry)", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: miner, Until: at(168 * time.Hour), Inverse: inv, Now: at(2 * time.Second)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: host, Until: at(72 * time.Hour)}}}},
			{"host's revert is due", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Changed: true, Inverse: inv, Now: at(72 * time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: miner, Until: at(168 * time.Hour)}}}},
			{"miner's revert is due: the last holder undoes", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: miner, Inverse: unblock("ignored"), Now: at(168 * time.Hour)},
				activities.HoldResult{Undo: true, Owned: true, Inverse: inv}},
			{"miner's release retried: the same answer", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: miner, Now: at(168*time.Hour + time.Second)},
				activities.HoldResult{Undo: true, Owned: true, Inverse: inv}},
			{"a late release of host: nothing left to undo", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Changed: true, Now: at(169 * time.Hour)},
				activities.HoldResult{Owned: true}},
		}},
		{"a block soar never made is never undone", []step{
			{"found blocked", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(time.Hour), Inverse: inv, Now: t0},
				activities.HoldResult{}},
			{"released last", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Now: at(time.Hour)},
				activities.HoldResult{}},
		}},
		{"a kept block outlives every other release", []step{
			{"host blocks for 72h", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(72 * time.Hour), Changed: true, Inverse: inv, Now: t0},
				activities.HoldResult{Owned: true}},
			{"miner holds 7d", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: miner, Until: at(168 * time.Hour), Now: t0},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: host, Until: at(72 * time.Hour)}}}},
			{"host is kept", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Changed: true, Inverse: inv, Now: at(time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: miner, Until: at(168 * time.Hour)}}}},
			{"an extension never shortens forever", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(96 * time.Hour), Changed: true, Now: at(2 * time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: miner, Until: at(168 * time.Hour)}}}},
			{"miner releases long after", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: miner, Now: at(1000 * time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: host}}}},
		}},
		{"an extension moves the due time; an expired hold stops counting", []step{
			{"intel blocks for 7d", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: intel, Until: at(168 * time.Hour), Changed: true, Inverse: inv, Now: t0},
				activities.HoldResult{Owned: true}},
			{"host holds 72h", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(72 * time.Hour), Now: t0},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: intel, Until: at(168 * time.Hour)}}}},
			{"host extended by 200h", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(272 * time.Hour), Now: at(time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: intel, Until: at(168 * time.Hour)}}}},
			{"an older extension arriving late changes nothing", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(100 * time.Hour), Now: at(time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: intel, Until: at(168 * time.Hour)}}}},
			// intel was terminated and never releases: past its 7 days it
			// no longer counts, and host is the last holder.
			{"host's revert is due", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Now: at(272 * time.Hour)},
				activities.HoldResult{Undo: true, Owned: true, Inverse: inv}},
		}},
		{"a releaser that changed the target owns it even if its acquire was lost", []step{
			{"miner finds it blocked", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: miner, Until: at(168 * time.Hour), Now: t0},
				activities.HoldResult{}},
			{"host, whose acquire failed, releases", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Changed: true, Inverse: inv, Now: at(72 * time.Hour)},
				activities.HoldResult{Owned: true, Holders: []activities.Hold{{Holder: miner, Until: at(168 * time.Hour)}}}},
			{"miner is last", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: miner, Now: at(168 * time.Hour)},
				activities.HoldResult{Undo: true, Owned: true, Inverse: inv}},
		}},
		{"a key the registry never saw is the releaser's alone", []step{
			{"changed", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Changed: true, Inverse: inv, Now: t0},
				activities.HoldResult{Undo: true, Owned: true, Inverse: inv}},
		}},
		{"a measure undone and applied again starts afresh", []step{
			{"host blocks", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: host, Until: at(time.Hour), Changed: true, Inverse: inv, Now: t0},
				activities.HoldResult{Owned: true}},
			{"host undoes", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: host, Changed: true, Now: at(time.Hour)},
				activities.HoldResult{Undo: true, Owned: true, Inverse: inv}},
			{"miner finds it unblocked again and blocks", activities.HoldAcquire,
				activities.HoldRequest{Key: poolKey, Holder: miner, Until: at(3 * time.Hour), Changed: true, Inverse: unblock("198.51.100.9"), Now: at(2 * time.Hour)},
				activities.HoldResult{Owned: true}},
			{"miner undoes with its own record", activities.HoldRelease,
				activities.HoldRequest{Key: poolKey, Holder: miner, Changed: true, Now: at(3 * time.Hour)},
				activities.HoldResult{Undo: true, Owned: true, Inverse: unblock("198.51.100.9")}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := runJetStream(t)
			opts := natspub.Options{JetStream: connect(t, s)}
			for _, st := range tc.steps {
				got := holdOp(t, opts, st.op, st.req)
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("%s: %s mismatch (-want +got):\n%s", st.name, st.op, diff)
				}
			}
		})
		// The in-memory registry of soar test follows the same rules.
		t.Run(tc.name+"/in memory", func(t *testing.T) {
			m := natspub.NewMemoryHolds()
			op := map[string]func(context.Context, activities.HoldRequest) (activities.HoldResult, error){
				activities.HoldAcquire: m.Acquire, activities.HoldRelease: m.Release,
			}
			for _, st := range tc.steps {
				got, err := op[st.op](context.Background(), st.req)
				if err != nil {
					t.Fatalf("%s: %s: %v", st.name, st.op, err)
				}
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("%s: %s mismatch (-want +got):\n%s", st.name, st.op, diff)
				}
			}
		})
	}
}

// TestHoldConcurrentReleases races holders, each on its own connection, that
// all release at once: exactly one of them is the last and undoes.
func TestHoldConcurrentReleases(t *testing.T) {
	s := runJetStream(t)
	const holders = 8
	now := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	acts := make([]*natspub.Activities, holders)
	for i := range acts {
		acts[i] = natspub.New(natspub.Options{JetStream: connect(t, s)})
	}
	holder := func(i int) string { return fmt.Sprintf("incident-%d/block", i) }
	var wg sync.WaitGroup
	errs := make([]error, holders)
	for i := range holders {
		wg.Go(func() {
			_, errs[i] = acts[i].AcquireHold(t.Context(), activities.HoldRequest{
				Key: poolKey, Holder: holder(i), Until: now.Add(time.Hour), Changed: i == 3, Inverse: unblock("198.51.100.9/32"), Now: now,
			})
		})
	}
	wg.Wait()
	results := make([]activities.HoldResult, holders)
	start := make(chan struct{})
	for i := range holders {
		if errs[i] != nil {
			t.Fatalf("acquire %d: %v", i, errs[i])
		}
		wg.Go(func() {
			<-start
			results[i], errs[i] = acts[i].ReleaseHold(t.Context(), activities.HoldRequest{Key: poolKey, Holder: holder(i), Now: now.Add(time.Minute)})
		})
	}
	close(start)
	wg.Wait()
	var undos []int
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("release %d: %v", i, errs[i])
		}
		if r.Undo {
			undos = append(undos, i)
			if diff := cmp.Diff(unblock("198.51.100.9/32"), r.Inverse); diff != "" {
				t.Errorf("release %d: inverse mismatch (-want +got):\n%s", i, diff)
			}
		} else if len(r.Holders) == 0 {
			t.Errorf("release %d = %+v: neither the last nor held by others", i, r)
		}
	}
	if len(undos) != 1 {
		t.Errorf("releases that undo = %v, want exactly one", undos)
	}
}

func TestHoldInvalid(t *testing.T) {
	s := runJetStream(t)
	opts := natspub.Options{JetStream: connect(t, s)}
	ok := activities.HoldRequest{Key: poolKey, Holder: "i/s", Now: fixedNow}
	tests := []struct {
		name     string
		opts     natspub.Options
		mod      func(*activities.HoldRequest)
		wantType string
	}{
		{"no key", opts, func(r *activities.HoldRequest) { r.Key = "" }, activities.ErrTypeInvalidInput},
		{"key with a space", opts, func(r *activities.HoldRequest) { r.Key = "a b" }, activities.ErrTypeInvalidInput},
		{"key with an empty token", opts, func(r *activities.HoldRequest) { r.Key = "a..b" }, activities.ErrTypeInvalidInput},
		{"no holder", opts, func(r *activities.HoldRequest) { r.Holder = "" }, activities.ErrTypeInvalidInput},
		{"no connection", natspub.Options{}, func(*activities.HoldRequest) {}, activities.ErrTypeNotConfigured},
	}
	for _, tc := range tests {
		for _, op := range []string{activities.HoldAcquire, activities.HoldRelease} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				req := ok
				tc.mod(&req)
				_, err := activityEnv(tc.opts).ExecuteActivity(op, req)
				appErr := appError(t, err)
				if appErr.Type() != tc.wantType || !appErr.NonRetryable() {
					t.Errorf("error type %q non-retryable %v, want %q non-retryable", appErr.Type(), appErr.NonRetryable(), tc.wantType)
				}
			})
		}
	}
}

// TestHoldBucket checks the bucket the registry creates: named by the
// options, no TTL (a hold may last forever), and the entry it writes.
func TestHoldBucket(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	opts := natspub.Options{JetStream: js, HoldBucket: "HOLDS_TEST"}
	holdOp(t, opts, activities.HoldAcquire, activities.HoldRequest{
		Key: poolKey, Measure: "alicloud.cloudfw.unblock_ip 198.51.100.9/32", Holder: "a/b", Changed: true, Now: fixedNow,
	})
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, "HOLDS_TEST")
	if err != nil {
		t.Fatalf("open bucket: %v", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.TTL() != 0 {
		t.Errorf("bucket TTL = %v, want none", st.TTL())
	}
	e, err := kv.Get(ctx, poolKey)
	if err != nil {
		t.Fatalf("get %s: %v", poolKey, err)
	}
	want := `{"measure":"alicloud.cloudfw.unblock_ip 198.51.100.9/32","owned":true,"holds":{"a/b":"0001-01-01T00:00:00Z"}}`
	if got := string(e.Value()); got != want {
		t.Errorf("entry = %s, want %s", got, want)
	}
	if _, err := js.KeyValue(ctx, natspub.DefaultHoldBucket); err == nil {
		t.Errorf("bucket %s exists, want only HOLDS_TEST", natspub.DefaultHoldBucket)
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("open %s: %v, want ErrBucketNotFound", natspub.DefaultHoldBucket, err)
	}
}

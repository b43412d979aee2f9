package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/sandbox"
)

// snapshotDisk sends CreateSnapshot of disk (with a ClientToken unless
// token is empty) and returns the snapshot ID.
func snapshotDisk(t *testing.T, c *ecs.Client, disk, desc, token string) (string, error) {
	t.Helper()
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId, req.Description, req.ClientToken = disk, desc, token
	resp, err := c.CreateSnapshot(req)
	if err != nil {
		return "", err
	}
	return resp.SnapshotId, nil
}

// runKill sends RunCommand on web-01 with a ClientToken and returns
// CommandId and InvokeId.
func runKill(t *testing.T, c *ecs.Client, token string) [2]string {
	t.Helper()
	req := ecs.CreateRunCommandRequest()
	req.InstanceId = &[]string{webID}
	req.Type, req.CommandContent, req.ClientToken = "RunShellScript", "kill -9 {{pid}}", token
	req.EnableParameter, req.Parameters = "true", map[string]interface{}{"pid": "31337"}
	resp, err := c.RunCommand(req)
	mustNoErr(t, "RunCommand", err)
	return [2]string{resp.CommandId, resp.InvokeId}
}

// roundTrip encodes cp as JSON and decodes it, as a file would.
func roundTrip(t *testing.T, cp sandbox.Checkpoint) sandbox.Checkpoint {
	t.Helper()
	data, err := json.Marshal(cp)
	mustNoErr(t, "encode checkpoint", err)
	var out sandbox.Checkpoint
	mustNoErr(t, "decode checkpoint", json.Unmarshal(data, &out))
	return out
}

// sbxNumber is the counter number of a sandbox-made ID.
func sbxNumber(t *testing.T, id string) int {
	t.Helper()
	_, num, ok := strings.Cut(id, "-sbx")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		t.Fatalf("ID %q is not a sandbox-made ID", id)
	}
	return n
}

// TestCheckpoint_Restart takes a checkpoint of a sandbox with a snapshot
// and a Cloud Assistant command in flight, restores it through JSON into a
// new server, and retries the same calls there: they are replays.
func TestCheckpoint_Restart(t *testing.T) {
	t.Parallel()
	const (
		sysDisk  = "d-bp1sandboxweb01s"
		dataDisk = "d-bp1sandboxweb01d"
	)
	e1 := newEnv(t, sandbox.Options{})
	c1 := e1.ecs(t)
	firstSnap, err := snapshotDisk(t, c1, sysDisk, "evidence for inc-1", "inc-1-evidence-s")
	mustNoErr(t, "CreateSnapshot", err)
	firstRun := runKill(t, c1, "inc-1-kill")
	// A snapshot made and deleted: its ID is in no state, yet must not be
	// handed out again.
	scratch, err := snapshotDisk(t, c1, "d-bp1sandboxdb001d", "scratch", "")
	mustNoErr(t, "CreateSnapshot", err)
	del := ecs.CreateDeleteSnapshotRequest()
	del.SnapshotId, del.Force = scratch, "true"
	_, err = c1.DeleteSnapshot(del)
	mustNoErr(t, "DeleteSnapshot", err)
	resp, err := http.Post(e1.url+"/_sandbox/webhooks/secops", "application/json", strings.NewReader(`{"msgtype":"text"}`))
	mustNoErr(t, "POST webhook", err)
	resp.Body.Close()
	e1.srv.InjectFault(sandbox.Fault{Action: "DescribeInstances", Count: -1, Code: "Throttling"})

	cp := e1.srv.Checkpoint()
	if len(cp.ClientTokens) != 2 || cp.Version != sandbox.CheckpointVersion {
		t.Fatalf("checkpoint version %d with %d client tokens, want version %d and 2 (CreateSnapshot, RunCommand)",
			cp.Version, len(cp.ClientTokens), sandbox.CheckpointVersion)
	}
	decoded := roundTrip(t, cp)
	if diff := cmp.Diff(cp, decoded); diff != "" {
		t.Fatalf("checkpoint after a JSON round trip (-taken +decoded):\n%s", diff)
	}

	e2 := newEnv(t, sandbox.Options{})
	mustNoErr(t, "Restore", e2.srv.Restore(decoded))
	restoredCalls := len(e2.srv.Calls())
	c2 := e2.ecs(t)

	// The retries after the restart get the first answers.
	again, err := snapshotDisk(t, c2, sysDisk, "evidence for inc-1", "inc-1-evidence-s")
	mustNoErr(t, "CreateSnapshot replay", err)
	if again != firstSnap {
		t.Errorf("CreateSnapshot replayed after a restore = %s, want the first answer %s", again, firstSnap)
	}
	if got := runKill(t, c2, "inc-1-kill"); got != firstRun {
		t.Errorf("RunCommand replayed after a restore = %v, want the first answer %v", got, firstRun)
	}
	st := e2.srv.State()
	if got := st.ECS.SnapshotsOf(sysDisk); len(got) != 1 || got[0].ID != firstSnap {
		t.Errorf("snapshots of %s = %+v, want only %s", sysDisk, got, firstSnap)
	}
	if len(st.ECS.Invocations) != 1 || st.ECS.Invocations[0].InvokeID != firstRun[1] {
		t.Errorf("invocations = %+v, want only %s", st.ECS.Invocations, firstRun[1])
	}

	// The same token with other parameters is refused.
	_, err = snapshotDisk(t, c2, sysDisk, "another description", "inc-1-evidence-s")
	wantServerError(t, err, "IdempotentParameterMismatch", 400)

	// Counters continue: a new resource gets a number above every earlier
	// one, the deleted snapshot's included.
	fresh, err := snapshotDisk(t, c2, dataDisk, "evidence for inc-2", "inc-2-evidence-d")
	mustNoErr(t, "CreateSnapshot", err)
	used := []string{firstSnap, firstRun[0], firstRun[1], scratch}
	for _, id := range used {
		if sbxNumber(t, fresh) <= sbxNumber(t, id) {
			t.Errorf("new snapshot %s after a restore does not number above %s", fresh, id)
		}
	}

	// The call log continues where it was, in sequence.
	calls := e2.srv.Calls()
	if diff := cmp.Diff(cp.Calls, calls[:restoredCalls]); diff != "" {
		t.Errorf("restored call log (-checkpoint +restored):\n%s", diff)
	}
	type logged struct {
		Seq      int
		Action   string
		Replayed bool
		Error    string
	}
	var after []logged
	for _, c := range calls[restoredCalls:] {
		after = append(after, logged{c.Seq, c.Action, c.Replayed, c.Error})
	}
	last := cp.Counters.Call
	wantAfter := []logged{
		{last + 1, "CreateSnapshot", true, ""},
		{last + 2, "RunCommand", true, ""},
		{last + 3, "CreateSnapshot", false, "IdempotentParameterMismatch"},
		{last + 4, "CreateSnapshot", false, ""},
	}
	if diff := cmp.Diff(wantAfter, after); diff != "" {
		t.Errorf("calls after the restore (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(e1.srv.Webhooks(), e2.srv.Webhooks()); diff != "" || len(e2.srv.Webhooks()) != 1 {
		t.Errorf("restored webhooks (-before +after):\n%s", diff)
	}
	if f := e2.srv.Faults(); len(f) != 0 {
		t.Errorf("faults after a restore = %+v, want none (faults are not part of a checkpoint)", f)
	}
}

// TestCheckpoint_TimeAndNonces restores with a fake clock: ClientToken
// answers keep their absolute expiry (the restoring server's longer TTL
// does not extend them), expired entries are dropped, and a signed request
// replayed after a restore is still a used nonce.
func TestCheckpoint_TimeAndNonces(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	type clock struct {
		mu  sync.Mutex
		now time.Time
	}
	newServer := func(c *clock, ttl time.Duration) *testEnv {
		return newEnv(t, sandbox.Options{ClockSkew: -1, IdempotencyTTL: ttl, Now: func() time.Time {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.now
		}})
	}
	set := func(c *clock, at time.Time) {
		c.mu.Lock()
		c.now = at
		c.mu.Unlock()
	}
	createGroup := func(e *testEnv) string {
		req := ecs.CreateCreateSecurityGroupRequest()
		req.VpcId, req.SecurityGroupName, req.ClientToken = vpcID, "soar-q", "inc-1-quarantine"
		resp, err := e.ecs(t).CreateSecurityGroup(req)
		mustNoErr(t, "CreateSecurityGroup", err)
		return resp.SecurityGroupId
	}

	c1 := &clock{now: t0}
	e1 := newServer(c1, time.Hour)
	first := createGroup(e1)
	var captured *http.Request
	cl := e1.ecs(t)
	cl.SetTransport(rewrite(func(r *http.Request) { captured = r.Clone(r.Context()) }))
	_, err := cl.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	mustNoErr(t, "DescribeInstances", err)
	cp := roundTrip(t, e1.srv.Checkpoint())
	if got := cp.ClientTokens[0]; !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("client token created %s expires %s, want %s and an hour later", got.CreatedAt, got.ExpiresAt, t0)
	}

	tests := []struct {
		name      string
		restoreAt time.Time
		callAt    time.Time
		kept      int  // client tokens the restore keeps
		nonceUsed bool // the captured request is refused as a replayed nonce
		replayed  bool // the group call is answered from the restored token
	}{
		{"within the nonce window", t0.Add(5 * time.Minute), t0.Add(12 * time.Minute), 1, true, true},
		{"after the nonce window", t0.Add(5 * time.Minute), t0.Add(30 * time.Minute), 1, false, true},
		{"restored in time, called after the absolute expiry", t0.Add(10 * time.Minute), t0.Add(61 * time.Minute), 1, false, false},
		{"restored after the expiry", t0.Add(2 * time.Hour), t0.Add(2 * time.Hour), 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c2 := &clock{now: tt.restoreAt}
			e2 := newServer(c2, 24*time.Hour)
			mustNoErr(t, "Restore", e2.srv.Restore(cp))
			if kept := len(e2.srv.Checkpoint().ClientTokens); kept != tt.kept {
				t.Errorf("client tokens kept by a restore at %s = %d, want %d", tt.restoreAt, kept, tt.kept)
			}
			set(c2, tt.callAt)

			resp, err := http.Post(e2.url+"/?"+captured.URL.RawQuery, "application/x-www-form-urlencoded", nil)
			mustNoErr(t, "replay the signed request", err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if used := strings.Contains(string(body), `"Code":"SignatureNonceUsed"`); used != tt.nonceUsed {
				t.Errorf("signed request replayed at %s = %d %s, want SignatureNonceUsed %v", tt.callAt, resp.StatusCode, body, tt.nonceUsed)
			}

			got := createGroup(e2)
			if (got == first) != tt.replayed {
				t.Errorf("CreateSecurityGroup at %s = %s (first answer %s), want replayed %v", tt.callAt, got, first, tt.replayed)
			}
			groups := 0
			for _, g := range e2.srv.State().ECS.SecurityGroups {
				if g.Name == "soar-q" {
					groups++
				}
			}
			want := 2
			if tt.replayed {
				want = 1
			}
			if groups != want {
				t.Errorf("%d groups named soar-q, want %d", groups, want)
			}
		})
	}
}

// TestCheckpoint_RestoreRefuses covers checkpoints Restore refuses; the
// server is left as it was.
func TestCheckpoint_RestoreRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	_, err := snapshotDisk(t, e.ecs(t), "d-bp1sandboxweb01s", "evidence", "tok-1")
	mustNoErr(t, "CreateSnapshot", err)
	good := e.srv.Checkpoint()
	token := func(mod func(r *sandbox.ClientTokenRecord)) sandbox.Checkpoint {
		cp := roundTrip(t, good)
		mod(&cp.ClientTokens[0])
		return cp
	}
	tests := []struct {
		name string
		cp   sandbox.Checkpoint
		want string
	}{
		{"no version", func() sandbox.Checkpoint { cp := roundTrip(t, good); cp.Version = 0; return cp }(), "it has no version"},
		{"newer version", func() sandbox.Checkpoint { cp := roundTrip(t, good); cp.Version = 2; return cp }(), "version 2 is not supported (this sandbox reads version 1)"},
		{"response not an object", token(func(r *sandbox.ClientTokenRecord) { r.Response = json.RawMessage(`[1]`) }), "response is not a JSON object"},
		{"null response", token(func(r *sandbox.ClientTokenRecord) { r.Response = json.RawMessage(`null`) }), "response is not a JSON object"},
		{"no hash", token(func(r *sandbox.ClientTokenRecord) { r.ParamsHash = "" }), "params_hash is empty"},
		{"no token", token(func(r *sandbox.ClientTokenRecord) { r.Token = "" }), "must all be set"},
		{"no times", token(func(r *sandbox.ClientTokenRecord) { r.CreatedAt, r.ExpiresAt = time.Time{}, time.Time{} }), "neither created_at nor expires_at"},
		{"twice", func() sandbox.Checkpoint {
			cp := roundTrip(t, good)
			cp.ClientTokens = append(cp.ClientTokens, cp.ClientTokens[0])
			return cp
		}(), "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{})
			before := srv.Checkpoint()
			err := srv.Restore(tt.cp)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want an error containing %q", err, tt.want)
			}
			after := srv.Checkpoint()
			if diff := cmp.Diff(before.State, after.State); diff != "" || len(after.ClientTokens) != 0 || len(after.Calls) != 0 {
				t.Errorf("a refused Restore changed the server: %d tokens, %d calls, state diff:\n%s", len(after.ClientTokens), len(after.Calls), diff)
			}
		})
	}
}

// TestCheckpoint_Bounds restores a checkpoint larger than the server keeps:
// the newest calls and webhooks stay, and numbering continues after them.
func TestCheckpoint_Bounds(t *testing.T) {
	t.Parallel()
	cp := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{}).Checkpoint()
	for i := 1; i <= 30; i++ {
		cp.Calls = append(cp.Calls, sandbox.Call{Seq: i, Action: "DescribeInstances", Status: 200})
		cp.Webhooks = append(cp.Webhooks, sandbox.Webhook{Seq: i, Channel: "secops", Headers: map[string]string{}})
	}
	// Counters behind the entries (a hand-made checkpoint) are raised.
	cp.Counters = sandbox.Counters{Call: 3, Webhook: 3}
	e := newEnv(t, sandbox.Options{MaxCalls: 10, MaxWebhooks: 5})
	mustNoErr(t, "Restore", e.srv.Restore(cp))
	_, err := e.ecs(t).DescribeInstances(ecs.CreateDescribeInstancesRequest())
	mustNoErr(t, "DescribeInstances", err)
	resp, err := http.Post(e.url+"/_sandbox/webhooks/secops", "text/plain", strings.NewReader("hi"))
	mustNoErr(t, "POST webhook", err)
	resp.Body.Close()

	var callSeqs, hookSeqs []int
	for _, c := range e.srv.Calls() {
		callSeqs = append(callSeqs, c.Seq)
	}
	for _, h := range e.srv.Webhooks() {
		hookSeqs = append(hookSeqs, h.Seq)
	}
	// MaxCalls 10: the restore keeps 21..30; the new call drops room for
	// itself and a tenth more (two).
	if want := []int{23, 24, 25, 26, 27, 28, 29, 30, 31}; !slices.Equal(callSeqs, want) {
		t.Errorf("call seqs = %v, want %v", callSeqs, want)
	}
	if want := []int{27, 28, 29, 30, 31}; !slices.Equal(hookSeqs, want) {
		t.Errorf("webhook seqs = %v, want %v", hookSeqs, want)
	}
}

// TestCheckpoint_Revision checks that the revision moves with what a
// checkpoint holds and stays put otherwise.
func TestCheckpoint_Revision(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	steps := []struct {
		name  string
		do    func()
		moves bool
	}{
		{"checkpoint", func() { e.srv.Checkpoint() }, false},
		{"state read", func() { e.srv.State() }, false},
		{"api call", func() {
			_, err := e.ecs(t).DescribeInstances(ecs.CreateDescribeInstancesRequest())
			mustNoErr(t, "DescribeInstances", err)
		}, true},
		{"mutate", func() { e.srv.Mutate(func(st *sandbox.State) { st.ECS.Instances[0].Status = "Stopped" }) }, true},
		{"webhook", func() {
			resp, err := http.Post(e.url+"/_sandbox/webhooks/secops", "text/plain", strings.NewReader("hi"))
			mustNoErr(t, "POST webhook", err)
			resp.Body.Close()
		}, true},
		{"restore", func() { mustNoErr(t, "Restore", e.srv.Restore(e.srv.Checkpoint())) }, true},
		{"reset", e.srv.Reset, true},
	}
	for _, s := range steps {
		before := e.srv.Revision()
		s.do()
		if moved := e.srv.Revision() != before; moved != s.moves {
			t.Errorf("%s: revision moved %v, want %v", s.name, moved, s.moves)
		}
	}
}

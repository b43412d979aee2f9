package alicloud

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/sandbox"
)

// The default sandbox world's fixtures the tests use.
const (
	webID      = "i-bp1sandboxweb01"
	dbID       = "i-bp1sandboxdb001"
	sgWeb      = "sg-bp1sandboxweb"
	sgQ        = "sg-bp1quarantine"
	aliceKey   = "LTAI5tSandboxAlice0001"
	wafID      = "waf_v3prepaid_public_cn-sandbox01"
	ddosDomain = "www.example.com"
	attacker   = "203.0.113.7"
)

// testCloud is the sandbox cloud served over HTTP, the activities pointed
// at it with the engine's sandbox credentials, and a Temporal test
// activity environment with every action registered.
type testCloud struct {
	t    testing.TB
	srv  *sandbox.Server
	host string
	acts *Activities
	env  *testsuite.TestActivityEnvironment
}

type cloudOption func(*Options, *sandbox.Options, *guard.Policy)

// newTestCloud starts a sandbox of the default world. The guard protects
// instances tagged role=db (db-01) besides the defaults.
func newTestCloud(t testing.TB, opts ...cloudOption) *testCloud {
	t.Helper()
	o := Options{
		Accounts: map[string]config.Account{"default": {
			Region: "cn-hangzhou", Scheme: "http",
			AccessKeyIDEnv: "SOAR_TEST_AK", AccessKeySecretEnv: "SOAR_TEST_SK", SecurityTokenEnv: "SOAR_TEST_TOKEN",
			ForensicsCIDR: "10.0.0.0/8",
		}},
		DefaultAccount: "default",
		Commands:       config.DefaultCommands(),
		Getenv:         envMap(map[string]string{"SOAR_TEST_AK": sandbox.DefaultAccessKeyID, "SOAR_TEST_SK": sandbox.DefaultAccessKeySecret}),
		PollInterval:   2 * time.Millisecond,
	}
	so := sandbox.Options{}
	policy := guard.Policy{ProtectedInstances: []string{"tag:role=db"}}
	for _, opt := range opts {
		opt(&o, &so, &policy)
	}
	srv := sandbox.New(sandbox.DefaultWorld(), so)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	host := strings.TrimPrefix(ts.URL, "http://")
	for name, acct := range o.Accounts {
		if acct.Endpoint == "" {
			acct.Endpoint = host
		}
		o.Accounts[name] = acct
	}
	g, err := guard.New(policy, sandbox.DefaultAccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	o.Guard = g
	acts, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCloud{t: t, srv: srv, host: host, acts: acts}
	c.env = c.newEnv()
	return c
}

func (c *testCloud) newEnv() *testsuite.TestActivityEnvironment {
	env := testSuite().NewTestActivityEnvironment()
	c.acts.Register(env)
	return env
}

// run executes the action by its catalog name with in (a typed input or a
// map, as the workflow sends it) and decodes the result into out.
func (c *testCloud) run(name string, in, out any) error {
	c.t.Helper()
	return runIn(c.env, name, in, out)
}

func runIn(env *testsuite.TestActivityEnvironment, name string, in, out any) error {
	val, err := env.ExecuteActivity(name, in)
	if err != nil {
		return err
	}
	if out != nil {
		if err := val.Get(out); err != nil {
			return err
		}
	}
	return nil
}

// mustRun is run failing the test on error.
func (c *testCloud) mustRun(name string, in, out any) {
	c.t.Helper()
	if err := c.run(name, in, out); err != nil {
		c.t.Fatalf("%s: %v", name, err)
	}
}

func (c *testCloud) state() sandbox.State { return c.srv.State() }

// callCount is the length of the call log, to look at the calls after it.
func (c *testCloud) callCount() int { return len(c.srv.Calls()) }

// mutatingCalls returns the calls after the first n that are not reads.
func (c *testCloud) mutatingCalls(n int) []string {
	var out []string
	for _, call := range c.srv.Calls()[n:] {
		if !isRead(call.Action) {
			out = append(out, call.Action)
		}
	}
	return out
}

// calls returns the calls of one action after the first n.
func (c *testCloud) calls(n int, action string) []sandbox.Call {
	var out []sandbox.Call
	for _, call := range c.srv.Calls()[n:] {
		if call.Action == action {
			out = append(out, call)
		}
	}
	return out
}

func isRead(action string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Lookup", "Query"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// stateDiff compares two sandbox states, ignoring the bookkeeping every
// signed call updates (access keys' LastUsed).
func stateDiff(want, got sandbox.State) string {
	return cmp.Diff(want, got, cmpopts.IgnoreFields(sandbox.AccessKey{}, "LastUsed"), cmpopts.EquateEmpty())
}

// meta is the Meta of a test step.
func meta(step string) activities.Meta {
	return activities.Meta{Incident: "test-incident", Playbook: "test", Step: step}
}

func dryRun(m activities.Meta) activities.Meta {
	m.DryRun = true
	return m
}

// toMap turns an input or output struct into the JSON map the workflow
// handles.
func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// inverseInput builds the inverse action's input from the catalog's
// InverseArgs, the forward input and the forward output, as the workflow
// does when it reverts a step.
func inverseInput(t *testing.T, action string, in, out any) (string, map[string]any) {
	t.Helper()
	spec, ok := activities.Lookup(action)
	if !ok || spec.Inverse == "" {
		t.Fatalf("%s has no inverse in the catalog", action)
	}
	im, om := toMap(t, in), toMap(t, out)
	inv := map[string]any{}
	for param, src := range spec.InverseArgs {
		from, key, _ := strings.Cut(src, ".")
		m := om
		if from == "input" {
			m = im
		}
		if v, ok := m[key]; ok && v != nil {
			inv[param] = v
		}
	}
	m, _ := im["meta"].(map[string]any)
	m["revert"] = true
	m["step"] = "revert-" + m["step"].(string)
	inv["meta"] = m
	return spec.Inverse, inv
}

// wantAppError checks that err is a non-retryable application error of
// errType whose message contains every string of contains.
func wantAppError(t *testing.T, err error, errType string, contains ...string) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want a non-retryable %s application error", err, err, errType)
	}
	if !ae.NonRetryable() || ae.Type() != errType {
		t.Fatalf("error = %s (type %s, non-retryable %v), want non-retryable %s", ae.Error(), ae.Type(), ae.NonRetryable(), errType)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err.Error(), s)
		}
	}
}

// outcomeOf extracts the Outcome of a decoded output map.
func outcomeOf(t *testing.T, out map[string]any) activities.Outcome {
	t.Helper()
	var o activities.Outcome
	b, _ := json.Marshal(out)
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// withoutOutcome drops the Outcome fields of an output map (and any
// fields named in extra), leaving the IDs a repeat must reproduce.
func withoutOutcome(out map[string]any, extra ...string) map[string]any {
	m := map[string]any{}
	for k, v := range out {
		switch k {
		case "changed", "dry_run", "plan":
			continue
		}
		m[k] = v
	}
	for _, k := range extra {
		delete(m, k)
	}
	return m
}

// testSuite is a Temporal test suite that logs nowhere.
func testSuite() *testsuite.WorkflowTestSuite {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	return &s
}

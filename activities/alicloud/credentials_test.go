package alicloud

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/sandbox"
)

const responderRole = "acs:ram::1234567890123456:role/soar-responder"

// fakeMetadata is an ECS instance metadata service (IMDSv2) serving the
// credentials of one RAM role.
type fakeMetadata struct {
	role string

	mu    sync.Mutex
	creds map[string]string // AccessKeyId, AccessKeySecret, SecurityToken
	gets  int
}

func (m *fakeMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const token = "imds-session-token"
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		if r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds") == "" {
			http.Error(w, "ttl header missing", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(token))
	case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/ram/security-credentials/"+m.role:
		if r.Header.Get("X-aliyun-ecs-metadata-token") != token {
			http.Error(w, "no session token", http.StatusUnauthorized)
			return
		}
		m.mu.Lock()
		m.gets++
		body := map[string]string{"Code": "Success", "Expiration": "2099-01-01T00:00:00Z", "LastUpdated": "2026-01-01T00:00:00Z"}
		for k, v := range m.creds {
			body[k] = v
		}
		m.mu.Unlock()
		_ = json.NewEncoder(w).Encode(body)
	default:
		http.NotFound(w, r)
	}
}

// assumeRole gets temporary credentials from the sandbox's STS, as the
// instance's RAM role would have.
func assumeRole(t *testing.T, host string) map[string]string {
	t.Helper()
	c, err := sts.NewClientWithOptions("cn-hangzhou", sdk.NewConfig().WithScheme("HTTP"),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = host
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn, req.RoleSessionName = responderRole, "ecs-instance-role"
	resp, err := c.AssumeRole(req)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"AccessKeyId": resp.Credentials.AccessKeyId, "AccessKeySecret": resp.Credentials.AccessKeySecret,
		"SecurityToken": resp.Credentials.SecurityToken}
}

// TestECSInstanceRoleCredentials: without an access key, the default
// account signs with the ECS instance RAM role named by
// ALIBABA_CLOUD_ECS_METADATA, read once (IMDSv2) from the metadata service
// and cached; a role the instance does not have is NotConfigured.
func TestECSInstanceRoleCredentials(t *testing.T) {
	md := &fakeMetadata{role: "soar-ecs-role"}
	mdSrv := httptest.NewServer(md)
	t.Cleanup(mdSrv.Close)
	env := map[string]string{envECSRole: "soar-ecs-role"}
	c := newTestCloud(t, func(o *Options, _ *sandbox.Options, _ *guard.Policy) {
		o.Getenv = envMap(env)
		o.MetadataURL = mdSrv.URL
	})
	creds := assumeRole(t, c.host)
	md.mu.Lock()
	md.creds = creds
	md.mu.Unlock()

	n := c.callCount()
	for range 2 {
		var out activities.ECSStartInstanceOutput
		c.mustRun(activities.ECSStartInstance, activities.ECSStartInstanceInput{Meta: meta("start"), InstanceID: webID}, &out)
		if out.Status != "Running" {
			t.Errorf("start = %+v, want Running", out)
		}
	}
	calls := c.calls(n, "DescribeInstances")
	if len(calls) == 0 {
		t.Fatal("no DescribeInstances call reached the sandbox")
	}
	for _, call := range calls {
		if call.AccessKeyID != creds["AccessKeyId"] || call.PrincipalType != "assumed-role" {
			t.Errorf("DescribeInstances signed by %s (%s), want the instance role's key %s", call.AccessKeyID, call.PrincipalType, creds["AccessKeyId"])
		}
	}
	md.mu.Lock()
	gets := md.gets
	md.mu.Unlock()
	if gets != 1 {
		t.Errorf("metadata credential reads = %d, want 1 (cached)", gets)
	}

	c2 := newTestCloud(t, func(o *Options, _ *sandbox.Options, _ *guard.Policy) {
		o.Getenv = envMap(map[string]string{envECSRole: "another-role"})
		o.MetadataURL = mdSrv.URL
	})
	err := c2.run(activities.ECSStartInstance, activities.ECSStartInstanceInput{Meta: meta("start"), InstanceID: webID}, nil)
	wantAppError(t, err, activities.ErrTypeNotConfigured, "another-role")
}

// TestRoleFromStandardEnv: ALIBABA_CLOUD_ROLE_ARN and
// ALIBABA_CLOUD_ROLE_SESSION_NAME give the default account (no role_arn in
// soar.yaml) a role, assumed with its access key.
func TestRoleFromStandardEnv(t *testing.T) {
	c := newTestCloud(t, func(o *Options, _ *sandbox.Options, _ *guard.Policy) {
		o.Getenv = envMap(map[string]string{"SOAR_TEST_AK": sandbox.DefaultAccessKeyID, "SOAR_TEST_SK": sandbox.DefaultAccessKeySecret,
			envRoleARN: responderRole, envRoleSessionName: "soar-from-env"})
	})
	c.mustRun(activities.ECSStartInstance, activities.ECSStartInstanceInput{Meta: meta("start"), InstanceID: webID}, nil)
	if got := len(c.calls(0, "AssumeRole")); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
	for _, call := range c.calls(0, "DescribeInstances") {
		if call.PrincipalType != "assumed-role" || call.Principal != "soar-responder/soar-from-env" {
			t.Errorf("DescribeInstances signed by %s (%s), want soar-responder/soar-from-env", call.Principal, call.PrincipalType)
		}
	}
}

// TestECSInstanceRoleIgnoresProxy: the metadata service is plain HTTP, so
// the instance role's credentials never go through HTTP_PROXY. The base
// transport here proxies every request to HTTP_PROXY, read per request
// (http.ProxyFromEnvironment reads it once per process and exempts
// loopback addresses, so the local server standing in for 100.100.100.200
// would not show the difference); the proxy records what reaches it.
func TestECSInstanceRoleIgnoresProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		http.Error(w, "proxy: no", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(os.Getenv("HTTP_PROXY")) }
	t.Cleanup(base.CloseIdleConnections)

	md := &fakeMetadata{role: "soar-ecs-role", creds: map[string]string{"AccessKeyId": "STS.metadata", "AccessKeySecret": "secret", "SecurityToken": "token"}}
	mdSrv := httptest.NewServer(md)
	t.Cleanup(mdSrv.Close)
	a, err := New(Options{
		Accounts:       map[string]config.Account{"default": {Region: "cn-hangzhou"}},
		DefaultAccount: "default",
		Getenv:         envMap(map[string]string{envECSRole: "soar-ecs-role"}),
		HTTPTransport:  base,
		MetadataURL:    mdSrv.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := a.credential(t.Context(), "default", a.accounts["default"])
	if err != nil {
		t.Fatalf("credential with HTTP_PROXY=%s: %v", proxy.URL, err)
	}
	if sts, ok := cred.(*credentials.StsTokenCredential); !ok || sts.AccessKeyId != "STS.metadata" || sts.AccessKeyStsToken != "token" {
		t.Errorf("credential = %#v, want the instance role's STS.metadata", cred)
	}
	md.mu.Lock()
	gets := md.gets
	md.mu.Unlock()
	if gets != 1 {
		t.Errorf("metadata credential reads = %d, want 1", gets)
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("%d metadata request(s) went through the proxy, want none", n)
	}
}

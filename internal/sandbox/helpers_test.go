package sandbox_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cloudfw"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ddoscoo"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sas"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/opensoar/soar/internal/sandbox"
)

// The default world's fixtures the tests use.
const (
	webID      = "i-bp1sandboxweb01"
	dbID       = "i-bp1sandboxdb001"
	sgWeb      = "sg-bp1sandboxweb"
	sgDB       = "sg-bp1sandboxdb0"
	sgQ        = "sg-bp1quarantine"
	vpcID      = "vpc-bp1sandbox000001"
	aliceKey   = "LTAI5tSandboxAlice0001"
	aliceSec   = "alice-sandbox-secret"
	region     = "cn-hangzhou"
	wafID      = "waf_v3prepaid_public_cn-sandbox01"
	ddosDomain = "www.example.com"
)

func TestMain(m *testing.M) {
	// The service packages fill their endpoint maps lazily; doing it once
	// here keeps parallel client construction race-free (reference §7.5).
	ecs.GetEndpointMap()
	sts.GetEndpointMap()
	ram.GetEndpointMap()
	sas.GetEndpointMap()
	cloudfw.GetEndpointMap()
	ddoscoo.GetEndpointMap()
	actiontrail.GetEndpointMap()
	os.Exit(m.Run())
}

// testEnv is a sandbox served over HTTP for one test.
type testEnv struct {
	srv  *sandbox.Server
	host string // host:port for client.Domain
	url  string
}

func newEnv(t testing.TB, opts sandbox.Options) *testEnv {
	t.Helper()
	return newEnvWorld(t, sandbox.DefaultWorld(), opts)
}

func newEnvWorld(t testing.TB, w sandbox.World, opts sandbox.Options) *testEnv {
	t.Helper()
	srv := sandbox.New(w, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{srv: srv, host: strings.TrimPrefix(ts.URL, "http://"), url: ts.URL}
}

func (e *testEnv) ecs(t testing.TB) *ecs.Client {
	return e.ecsAs(t, sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret)
}

func (e *testEnv) ecsAs(t testing.TB, ak, secret string) *ecs.Client {
	t.Helper()
	c, err := ecs.NewClientWithOptions(region, sdk.NewConfig(), credentials.NewAccessKeyCredential(ak, secret))
	if err != nil {
		t.Fatalf("ecs.NewClientWithOptions() error: %v", err)
	}
	c.Domain = e.host
	return c
}

func (e *testEnv) sts(t testing.TB) *sts.Client {
	t.Helper()
	c, err := sts.NewClientWithOptions(region, sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	if err != nil {
		t.Fatalf("sts.NewClientWithOptions() error: %v", err)
	}
	c.Domain = e.host
	return c
}

// core returns a product-less client for CommonRequest calls.
func (e *testEnv) core(t testing.TB) *sdk.Client {
	t.Helper()
	c, err := sdk.NewClientWithOptions(region, sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	if err != nil {
		t.Fatalf("sdk.NewClientWithOptions() error: %v", err)
	}
	return c
}

// common builds a POST CommonRequest aimed at the sandbox.
func (e *testEnv) common(product, version, action string, query map[string]string) *requests.CommonRequest {
	r := requests.NewCommonRequest()
	r.Method = "POST"
	r.Scheme = "http"
	r.Domain = e.host
	r.Product, r.Version, r.ApiName = product, version, action
	for k, v := range query {
		r.QueryParams[k] = v
	}
	return r
}

// call runs a CommonRequest and decodes the JSON body.
func (e *testEnv) call(t testing.TB, r *requests.CommonRequest) map[string]any {
	t.Helper()
	resp, err := e.core(t).ProcessCommonRequest(r)
	if err != nil {
		t.Fatalf("%s: %v", r.ApiName, err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &out); err != nil {
		t.Fatalf("%s: decode %s: %v", r.ApiName, resp.GetHttpContentString(), err)
	}
	return out
}

// wantServerError checks that err is the SDK's ServerError with code and
// HTTP status, and returns it.
func wantServerError(t testing.TB, err error, code string, status int) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want ServerError %s", err, err, code)
	}
	if se.ErrorCode() != code || se.HttpStatus() != status {
		t.Fatalf("ServerError = %s/%d (%s), want %s/%d", se.ErrorCode(), se.HttpStatus(), se.Message(), code, status)
	}
	if se.RequestId() == "" || se.HostId() == "" {
		t.Errorf("ServerError RequestId=%q HostId=%q, want both set", se.RequestId(), se.HostId())
	}
	return se
}

func mustNoErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

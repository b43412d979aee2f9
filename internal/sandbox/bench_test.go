package sandbox_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/internal/sandbox"
)

// BenchmarkSDKDescribeInstances is a full round trip: the real SDK signs,
// sends over loopback HTTP, the sandbox verifies and answers, the SDK
// decodes.
func BenchmarkSDKDescribeInstances(b *testing.B) {
	e := newEnv(b, sandbox.Options{})
	c := e.ecs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSDKAuthorizeRevoke is the write path of ecs.block_ip/unblock_ip.
func BenchmarkSDKAuthorizeRevoke(b *testing.B) {
	e := newEnv(b, sandbox.Options{})
	c := e.ecs(b)
	b.ReportAllocs()
	for b.Loop() {
		auth := ecs.CreateAuthorizeSecurityGroupRequest()
		auth.SecurityGroupId = sgWeb
		auth.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{Policy: "drop", IpProtocol: "ALL", SourceCidrIp: "203.0.113.7/32"}}
		if _, err := c.AuthorizeSecurityGroup(auth); err != nil {
			b.Fatal(err)
		}
		rev := ecs.CreateRevokeSecurityGroupRequest()
		rev.SecurityGroupId = sgWeb
		rev.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{Policy: "drop", IpProtocol: "ALL", SourceCidrIp: "203.0.113.7/32"}}
		if _, err := c.RevokeSecurityGroup(rev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeDescribeInstances is the sandbox alone: one signed request
// (captured from the SDK) replayed into ServeHTTP, nonce reuse allowed.
func BenchmarkServeDescribeInstances(b *testing.B) {
	srv := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{AllowNonceReuse: true, MaxCalls: 1000})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var query string
	c := (&testEnv{srv: srv, host: strings.TrimPrefix(ts.URL, "http://")}).ecs(b)
	c.SetTransport(rewrite(func(r *http.Request) { query = r.URL.RawQuery }))
	if _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/?"+query, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

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

// checkpointWithCalls is the default world's checkpoint with a full call
// log (10,000 calls of 16 parameters) and 100 ClientToken answers, as a
// busy soar dev saves it.
func checkpointWithCalls(b *testing.B) sandbox.Checkpoint {
	b.Helper()
	srv := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{})
	cp := srv.Checkpoint()
	for i := 1; i <= 10000; i++ {
		params := map[string]string{"Action": "DescribeInstances", "Version": "2014-05-26", "RegionId": region,
			"InstanceIds": `["` + webID + `"]`, "Format": "JSON", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
			"SignatureNonce": "0f8fad5b-d9cb-469f-a165-70867728950e", "Timestamp": "2025-06-01T12:00:00Z",
			"AccessKeyId": sandbox.DefaultAccessKeyID, "PageSize": "100", "PageNumber": "1", "SignatureType": "",
			"x": "1", "y": "2", "z": "3"}
		cp.Calls = append(cp.Calls, sandbox.Call{Seq: i, Time: cp.TakenAt, Product: "Ecs", Version: "2014-05-26",
			Action: "DescribeInstances", Params: params, AccessKeyID: sandbox.DefaultAccessKeyID, Principal: "soar-engine",
			PrincipalType: "ram-user", SourceIP: "127.0.0.1", UserAgent: "AlibabaCloud (linux; amd64) Go/1.25 Core/1.63.107",
			Status: 200, RequestID: "6C5C7C4E-4C7B-4B4B-9F1E-5A0B8C1D2E3F"})
	}
	for i := range 100 {
		cp.ClientTokens = append(cp.ClientTokens, sandbox.ClientTokenRecord{AccessKeyID: sandbox.DefaultAccessKeyID,
			Action: "CreateSnapshot", Token: "inc-" + strconv.Itoa(i), ParamsHash: strings.Repeat("ab", 32),
			Response: []byte(`{"SnapshotId":"s-sbx0000000001"}`), CreatedAt: cp.TakenAt, ExpiresAt: cp.TakenAt.Add(24 * time.Hour)})
	}
	if err := srv.Restore(cp); err != nil {
		b.Fatal(err)
	}
	return srv.Checkpoint()
}

// BenchmarkCheckpointSave is what soar dev does once a second after a
// change: take a checkpoint of a sandbox with a full call log and encode
// it. It reports the encoded size.
func BenchmarkCheckpointSave(b *testing.B) {
	cp := checkpointWithCalls(b)
	srv := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{})
	if err := srv.Restore(cp); err != nil {
		b.Fatal(err)
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(srv.Checkpoint())
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size)/1e6, "MB/checkpoint")
}

// BenchmarkCheckpointRestore is soar dev's start: decode a checkpoint with
// a full call log and restore it into a new server.
func BenchmarkCheckpointRestore(b *testing.B) {
	data, err := json.Marshal(checkpointWithCalls(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var cp sandbox.Checkpoint
		if err := json.Unmarshal(data, &cp); err != nil {
			b.Fatal(err)
		}
		if err := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{}).Restore(cp); err != nil {
			b.Fatal(err)
		}
	}
}

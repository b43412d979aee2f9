package sandbox_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/internal/sandbox"
)

// TestTLS drives the unchanged SDK, configured for HTTPS as for the live
// cloud, against the sandbox served over TLS with its test CA: a client
// trusting the CA is answered with the world's state; one that does not
// is refused by the TLS handshake, never downgraded.
func TestTLS(t *testing.T) {
	ca, err := sandbox.NewTestCA([]string{"sandbox.internal"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(ca.CAPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("CAPEM is not a PEM certificate: %q", ca.CAPEM)
	}
	caCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !caCert.IsCA {
		t.Fatalf("CA certificate: IsCA=%v, err=%v", caCert != nil && caCert.IsCA, err)
	}
	leaf, err := x509.ParseCertificate(ca.Server.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "sandbox.internal", "127.0.0.1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("server certificate does not cover %s: %v", name, err)
		}
	}

	ts := httptest.NewUnstartedServer(sandbox.New(sandbox.DefaultWorld(), sandbox.Options{}))
	ts.TLS = ca.TLSConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	host := strings.TrimPrefix(ts.URL, "https://")

	client := func(roots *x509.CertPool) *ecs.Client {
		c, err := ecs.NewClientWithOptions(region, sdk.NewConfig().WithScheme("HTTPS"),
			credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
		if err != nil {
			t.Fatal(err)
		}
		c.Domain = host
		c.SetTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
		return c
	}

	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = `["` + webID + `"]`
	resp, err := client(ca.CertPool()).DescribeInstances(req)
	if err != nil {
		t.Fatalf("DescribeInstances over TLS: %v", err)
	}
	if got := resp.Instances.Instance; len(got) != 1 || got[0].InstanceId != webID || len(got[0].SecurityGroupIds.SecurityGroupId) == 0 {
		t.Errorf("DescribeInstances over TLS = %+v; want %s with its security groups", got, webID)
	}

	_, err = client(x509.NewCertPool()).DescribeInstances(req)
	var unknown x509.UnknownAuthorityError
	if err == nil || !(errors.As(err, &unknown) || strings.Contains(err.Error(), "certificate signed by unknown authority")) {
		t.Errorf("a client that does not trust the sandbox CA: err = %v, want an unknown-authority TLS error", err)
	}
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSandboxTLS runs soar sandbox with --tls-addr: the CA it writes is
// what a client needs to reach the same emulator over HTTPS, and a
// client without it is refused.
func TestSandboxTLS(t *testing.T) {
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	stdout := newWatchWriter("\nstate: ")
	e := &env{stdin: strings.NewReader(""), stdout: stdout, stderr: &strings.Builder{}, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, []string{"sandbox", "--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--tls-ca", caPath})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("soar sandbox: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("soar sandbox did not stop")
		}
	}()
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("soar sandbox exited: %v\n%s", err, stdout.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("soar sandbox did not start:\n%s", stdout.String())
	}
	m := regexp.MustCompile(`HTTPS on (https://\S+) `).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("soar sandbox --tls-addr did not print its HTTPS address:\n%s", stdout.String())
	}
	pemBytes, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatalf("the test CA was not written: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no PEM certificate", caPath)
	}

	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := trusting.Get(m[1] + "/_sandbox/state")
	if err != nil {
		t.Fatalf("GET /_sandbox/state over TLS: %v", err)
	}
	defer resp.Body.Close()
	var state struct {
		AccountID string `json:"account_id"`
		ECS       struct {
			Instances []struct {
				ID string `json:"id"`
			} `json:"instances"`
		} `json:"ecs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_sandbox/state over TLS: status %d, decode: %v", resp.StatusCode, err)
	}
	if state.AccountID == "" || len(state.ECS.Instances) == 0 {
		t.Errorf("the state over TLS has no account or instances: %+v", state)
	}

	stranger := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if resp, err := stranger.Get(m[1] + "/_sandbox/state"); err == nil {
		resp.Body.Close()
		t.Error("a client that does not trust the test CA reached the sandbox over TLS")
	}
}

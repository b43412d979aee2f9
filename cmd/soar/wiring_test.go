package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/config"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger(config.Log{Level: "warn", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "alert_id", "a-1")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) || !strings.Contains(out, `"alert_id":"a-1"`) {
		t.Errorf("json logger at warn wrote %q", out)
	}
	for _, bad := range []config.Log{{Level: "loud"}, {Format: "xml"}} {
		if _, err := newLogger(bad, &buf); err == nil {
			t.Errorf("newLogger(%+v) accepted it", bad)
		}
	}
}

func TestTemporalTLS(t *testing.T) {
	if c, err := temporalTLS(config.TLS{}); c != nil || err != nil {
		t.Errorf("temporalTLS(off) = %v, %v; want nil", c, err)
	}
	c, err := temporalTLS(config.TLS{Enabled: true, ServerName: "temporal.example.com"})
	if err != nil || c == nil || c.ServerName != "temporal.example.com" {
		t.Errorf("temporalTLS(enabled) = %+v, %v", c, err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []config.TLS{
		{Enabled: true, CertFile: filepath.Join(dir, "missing.crt"), KeyFile: filepath.Join(dir, "missing.key")},
		{Enabled: true, CAFile: notPEM},
		{Enabled: true, CAFile: filepath.Join(dir, "missing.pem")},
	} {
		if _, err := temporalTLS(tc); err == nil {
			t.Errorf("temporalTLS(%+v) accepted it", tc)
		}
	}
}

func TestDialTemporal_APIKeyMustBeSet(t *testing.T) {
	_, err := dialTemporal(context.Background(), config.Temporal{Address: "127.0.0.1:1", Namespace: "default", APIKeyEnv: "SOAR_TEST_TEMPORAL_KEY"}, func(string) string { return "" }, nil)
	if err == nil || !strings.Contains(err.Error(), "SOAR_TEST_TEMPORAL_KEY, which is not set") {
		t.Errorf("dialTemporal without the API key: %v", err)
	}
}

func TestDialNATS_Errors(t *testing.T) {
	n := config.Default().NATS
	n.CredsFile = filepath.Join(t.TempDir(), "missing.creds")
	if _, err := dialNATS(n, "test", nil); err == nil || !strings.Contains(err.Error(), "nats.creds_file") {
		t.Errorf("dialNATS with a missing creds file: %v", err)
	}
	n = config.Default().NATS
	n.URL = "nats://127.0.0.1:1"
	if _, err := dialNATS(n, "test", nil); err == nil || !strings.Contains(err.Error(), "connect to NATS at nats://127.0.0.1:1") {
		t.Errorf("dialNATS to a closed port: %v", err)
	}
}

func TestLoadPlaybooks(t *testing.T) {
	env, err := newCELEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	pbs, reports := loadPlaybooks(&cfg, env)
	var names []string
	for _, p := range pbs {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, "compromised-host") || len(reports) != 0 {
		t.Errorf("embedded playbooks = %v, reports %v", names, reports)
	}
	cfg.Playbooks.Dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Playbooks.Dir, "bad.yaml"), []byte("name: Bad Name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pbs, reports = loadPlaybooks(&cfg, env)
	if len(pbs) != 0 || len(reports) != 1 || !reports[0].Diagnostics.HasErrors() {
		t.Errorf("a directory with one bad file: %d playbooks, reports %v", len(pbs), reports)
	}
}

// TestConnFlags checks the shared flags of soar ingest and soar worker:
// a flag that is set wins over soar.yaml and the environment, one left
// unset keeps what they say.
func TestConnFlags(t *testing.T) {
	yaml := filepath.Join(t.TempDir(), "soar.yaml")
	if err := os.WriteFile(yaml, []byte("temporal:\n  address: temporal.internal:7233\n  namespace: soar-prod\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type conn struct{ Address, Namespace, NATSURL string }
	def := config.Default()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want conn
	}{
		{"defaults", nil, nil, conn{def.Temporal.Address, def.Temporal.Namespace, def.NATS.URL}},
		{"config file", []string{"--config", yaml}, nil, conn{"temporal.internal:7233", "soar-prod", def.NATS.URL}},
		{"environment", nil, map[string]string{"SOAR_NATS_URL": "nats://nats.internal:4222"}, conn{def.Temporal.Address, def.Temporal.Namespace, "nats://nats.internal:4222"}},
		{"flags over file and environment", []string{"--config", yaml, "--temporal-addr", "10.0.0.1:7233", "--namespace", "blue", "--nats-url", "nats://10.0.0.2:4222"},
			map[string]string{"SOAR_NATS_URL": "nats://nats.internal:4222"}, conn{"10.0.0.1:7233", "blue", "nats://10.0.0.2:4222"}},
		{"one flag", []string{"--config", yaml, "--namespace", "blue"}, nil, conn{"temporal.internal:7233", "blue", def.NATS.URL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cf := addConnFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := cf.load(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			got := conn{cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.NATS.URL}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("load (-want +got):\n%s", diff)
			}
		})
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cf := addConnFlags(fs)
	if err := fs.Parse([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.load(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("load of a missing --config: %v, want a read error", err)
	}
}

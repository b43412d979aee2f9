package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/sandbox"
)

func TestSandboxConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Cloud.Accounts["prod"] = config.Account{Region: "cn-shanghai", Endpoint: "", Scheme: "https", RoleARN: "acs:ram::1:role/soar",
		AccessKeyIDEnv: "PROD_AK", AccessKeySecretEnv: "PROD_SK", SecurityTokenEnv: "PROD_TOKEN"}
	cfg.Notify["dingtalk"] = config.Channel{Kind: config.ChannelDingTalk, URLEnv: "DINGTALK_URL"}
	world := sandbox.DefaultWorld()
	getenv, err := sandboxConfig(&cfg, "127.0.0.1:28080", world, func(k string) string { return "env:" + k })
	if err != nil {
		t.Fatal(err)
	}

	def := cfg.Cloud.Accounts["default"]
	if def.Endpoint != "127.0.0.1:28080" || def.Scheme != "http" || def.ID != world.AccountID {
		t.Errorf("default account = endpoint %q scheme %q id %q, want the sandbox at 127.0.0.1:28080 over http with id %s",
			def.Endpoint, def.Scheme, def.ID, world.AccountID)
	}
	prod := cfg.Cloud.Accounts["prod"]
	if prod.Endpoint != "127.0.0.1:28080" || prod.Scheme != "http" || prod.STSEndpoint != "127.0.0.1:28080" || prod.ID != "" {
		t.Errorf("prod account = %+v, want the sandbox for every API and STS, and no ID", prod)
	}
	if got, want := cfg.Notify["secops"].URL, "http://127.0.0.1:28080/_sandbox/webhooks/secops"; got != want {
		t.Errorf("secops channel URL = %q, want %q", got, want)
	}
	if got := cfg.Notify["dingtalk"]; got.URL != "" || got.URLEnv != "DINGTALK_URL" {
		t.Errorf("dingtalk channel = %+v, want it unchanged", got)
	}

	id, secret, _ := world.EngineCredentials()
	for k, want := range map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID": id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret, "ALIBABA_CLOUD_SECURITY_TOKEN": "",
		"PROD_AK": id, "PROD_SK": secret, "PROD_TOKEN": "", "DINGTALK_URL": "env:DINGTALK_URL",
		"ALIBABA_CLOUD_ROLE_ARN": "", "ALIBABA_CLOUD_ROLE_SESSION_NAME": "", "ALIBABA_CLOUD_ECS_METADATA": "",
	} {
		if got := getenv(k); got != want {
			t.Errorf("getenv(%s) = %q, want %q", k, got, want)
		}
	}
}

func TestLiveCloudConfig(t *testing.T) {
	cfg := config.Default()
	err := liveCloudConfig(&cfg, func(string) string { return "" })
	if err == nil {
		t.Fatal("liveCloudConfig without credentials: no error")
	}
	for _, want := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID (account default)", "ALIBABA_CLOUD_ACCESS_KEY_SECRET (account default)", "--cloud sandbox"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("liveCloudConfig error %q lacks %q", err, want)
		}
	}

	cfg = config.Default()
	env := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIx", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
	if err := liveCloudConfig(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if a := cfg.Cloud.Accounts["default"]; a.Endpoint != "" || a.Scheme != "https" {
		t.Errorf("default account = endpoint %q scheme %q, want the SDK's endpoints over https", a.Endpoint, a.Scheme)
	}
}

func TestDevSandboxPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	logger := slog.New(slog.DiscardHandler)

	// An earlier run left a call in the file's record.
	earlier := sandbox.Call{Seq: 7, Action: "CreateSnapshot", Changed: true}
	d, err := listenSandbox("127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(path); err != nil {
		t.Fatal(err)
	}
	d.prevCalls = []sandbox.Call{earlier}
	d.srv.Mutate(func(st *sandbox.State) { st.ECS.Instances[0].Status = "Stopped" })
	d.close(context.Background())
	want := d.srv.State()

	d2, err := listenSandbox("127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.start(path); err != nil {
		t.Fatal(err)
	}
	defer d2.close(context.Background())
	if diff := cmp.Diff(want, d2.srv.State()); diff != "" {
		t.Errorf("restored state (-saved +restored):\n%s", diff)
	}
	if d2.srv.State().ECS.Instances[0].Status != "Stopped" {
		t.Errorf("restored instance status %s, want Stopped", d2.srv.State().ECS.Instances[0].Status)
	}
	if diff := cmp.Diff([]sandbox.Call{earlier}, d2.prevCalls); diff != "" {
		t.Errorf("call record (-want +got):\n%s", diff)
	}

	// A changed state is saved by the periodic saver.
	d2.srv.Mutate(func(st *sandbox.State) { st.ECS.Instances[0].Status = "Running" })
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f sandboxFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f.State.ECS.Instances[0].Status == "Running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the changed sandbox state was not saved")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDevSandboxUnreadableState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := listenSandbox("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close(context.Background())
	err = d.start(path)
	if err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Errorf("start with a corrupt state file = %v, want an error saying what to do", err)
	}
}

// TestDevStartErrors covers what soar dev refuses before starting anything
// heavy: busy ports (named by their flag), the live cloud without
// credentials, an unknown --cloud.
func TestDevStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := freePorts(t, 4)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sandbox port busy", []string{"--sandbox-addr", busy.Addr().String()}, "use --sandbox-addr"},
		{"temporal port busy", []string{"--temporal-addr", busy.Addr().String()}, "use --temporal-addr"},
		{"ui port busy", []string{"--ui-addr", busy.Addr().String()}, "use --ui-addr"},
		{"nats port busy", []string{"--nats-addr", busy.Addr().String()}, "use --nats-addr"},
		{"live cloud without credentials", []string{"--cloud", "alibaba"}, "needs its credentials in the environment"},
		{"unknown cloud", []string{"--cloud", "aws"}, `unknown --cloud "aws"`},
		{"missing playbook dir", []string{"--playbooks", filepath.Join(t.TempDir(), "nope")}, "playbook directory"},
		{"no nats listener", []string{"--nats-addr", "-"}, "needs a NATS listener"},
		{"retention under an hour", []string{"--retention", "10m"}, "retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"dev", "--data-dir", t.TempDir(), "--nats-addr", free[0], "--temporal-addr", free[1],
				"--ui-addr", free[2], "--sandbox-addr", free[3]}
			args = append(args, tt.args...)
			var out, errOut bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run(ctx, e, args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("soar %v = %v, want an error containing %q", args, err, tt.want)
			}
			if strings.Contains(out.String(), "ready") {
				t.Errorf("soar dev printed ready:\n%s", out.String())
			}
		})
	}
}

// freePorts returns n distinct free loopback addresses.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	addrs, err := freeLoopbackAddrs(n)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// TestDevLiveCloud starts soar dev on the live cloud with (fake)
// credentials: no sandbox runs, the banner says so and warns that the
// default channel posts to the absent sandbox; nothing calls the cloud
// until an alert arrives.
func TestDevLiveCloud(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole engine")
	}
	ports := freePorts(t, 4)
	stdout, stderr := newWatchWriter("\nready\n"), newWatchWriter("")
	creds := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIfake", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "fake-secret"}
	e := &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(k string) string { return creds[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, []string{"dev", "--cloud", "alibaba", "--data-dir", t.TempDir(), "--nats-addr", ports[0],
			"--temporal-addr", ports[1], "--ui-addr", ports[2], "--sandbox-addr", ports[3]})
	}()
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("soar dev --cloud alibaba exited before ready: %v\n%s", err, stderr.tail(4000))
	case <-time.After(3 * time.Minute):
		t.Fatalf("soar dev --cloud alibaba not ready\n%s", stderr.tail(4000))
	}
	out := stdout.String()
	for _, want := range []string{"  cloud      alibaba: the LIVE cloud (account default)", "warning    channel secops posts to the sandbox's webhook receiver"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "_sandbox/state") {
		t.Errorf("banner names a sandbox with --cloud alibaba:\n%s", out)
	}
	if strings.Contains(out, "--sample") || strings.Contains(out, "i-bp1sandboxweb01") {
		t.Errorf("banner suggests a sandbox sample alert for the live cloud:\n%s", out)
	}
	if conn, err := net.DialTimeout("tcp", ports[3], time.Second); err == nil {
		conn.Close()
		t.Errorf("something listens on the sandbox address %s with --cloud alibaba", ports[3])
	}
	if strings.Contains(stderr.String(), "fake-secret") || strings.Contains(out, "fake-secret") {
		t.Error("soar dev printed the access key secret")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("soar dev --cloud alibaba: %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("soar dev --cloud alibaba did not stop")
	}
}

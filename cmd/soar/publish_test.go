package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
)

// alertServer starts a JetStream server on a free loopback port with the
// alert stream of the default config, and returns its URL.
func alertServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	n := config.Default().NATS
	if _, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{Name: n.Stream, Subjects: n.Subjects, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return s, s.ClientURL()
}

// soarIn runs the command line with stdin and returns its output and exit
// status (or the error of a usage problem as stderr, status -1).
func soarIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	err := run(context.Background(), e, args)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		return out.String(), err.Error(), -1
	}
	return out.String(), errOut.String(), code
}

// streamMsgs returns the messages of the alert stream.
func streamMsgs(t *testing.T, url string) []*jetstream.RawStreamMsg {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	st, err := js.Stream(ctx, config.Default().NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestPublish_Sample(t *testing.T) {
	_, url := alertServer(t)
	out, errOut, code := soarIn(t, "", "publish", "--nats-url", url, "--sample", "waf-sqli-blacklist")
	if code != 0 {
		t.Fatalf("publish --sample: exit %d: %s", code, errOut)
	}
	_, a := mustSample(t, "waf-sqli-blacklist")
	if !strings.Contains(out, "alert "+a.ID+" stored stream SOAR_ALERTS seq 1") || !strings.Contains(out, "1 stored, 0 duplicate(s), 0 failed") {
		t.Errorf("output:\n%s", out)
	}
	// The same alert again is dropped by the stream's duplicate window.
	out, _, code = soarIn(t, "", "publish", "--nats-url", url, "--sample", "waf-sqli-blacklist")
	if code != 0 || !strings.Contains(out, "dropped as a duplicate of stream SOAR_ALERTS seq 1") || !strings.Contains(out, "0 stored, 1 duplicate(s)") {
		t.Errorf("second publish: exit %d, output:\n%s", code, out)
	}
	msgs := streamMsgs(t, url)
	if len(msgs) != 1 || msgs[0].Subject != "alerts.waf.sqli" || msgs[0].Header.Get(jetstream.MsgIDHeader) != a.ID {
		t.Fatalf("stream holds %d messages; first %+v", len(msgs), msgs)
	}
}

func TestPublish_Storm(t *testing.T) {
	_, url := alertServer(t)
	out, errOut, code := soarIn(t, "", "publish", "--nats-url", url, "--sample", "ssh-bruteforce", "--count", "6", "--distinct-ips", "3", "--rate", "1000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "published 6 alert(s) to alerts.sas.brute_force") || !strings.Contains(out, "6 stored, 0 duplicate(s)") {
		t.Errorf("output:\n%s", out)
	}
	var ids, ips []string
	for _, m := range streamMsgs(t, url) {
		a, err := alert.Decode(m.Subject, m.Data, alert.DecodeOptions{})
		if err != nil {
			t.Fatalf("stored copy does not decode: %v", err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) != a.ID {
			t.Errorf("Nats-Msg-Id %q != alert ID %q", m.Header.Get(jetstream.MsgIDHeader), a.ID)
		}
		ids = append(ids, a.ID)
		ips = append(ips, a.SourceIP)
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 6 {
		t.Errorf("IDs are not distinct: %v", ids)
	}
	slices.Sort(ips)
	if got := slices.Compact(ips); !slices.Equal(got, []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}) {
		t.Errorf("source IPs = %v, want 3 distinct", got)
	}
}

// TestPublish_StormTwice: a storm repeated within the duplicate window is
// stored again (its copies carry a per-run nonce), while a single alert
// repeated is still dropped as a duplicate.
func TestPublish_StormTwice(t *testing.T) {
	_, url := alertServer(t)
	for run := range 2 {
		out, errOut, code := soarIn(t, "", "publish", "--nats-url", url, "--sample", "ssh-bruteforce", "--count", "5")
		if code != 0 || !strings.Contains(out, "5 stored, 0 duplicate(s)") {
			t.Fatalf("storm run %d: exit %d, output:\n%s%s", run+1, code, out, errOut)
		}
	}
	_, a := mustSample(t, "ssh-bruteforce")
	msgs := streamMsgs(t, url)
	if len(msgs) != 10 {
		t.Fatalf("stream holds %d messages after two storms of 5, want 10", len(msgs))
	}
	runs := map[string]int{}
	for _, m := range msgs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		run, n, ok := strings.Cut(strings.TrimPrefix(id, a.ID+"-"), "-")
		if !strings.HasPrefix(id, a.ID+"-") || !ok || len(run) != 8 || n < "1" || n > "5" {
			t.Errorf("copy ID %q, want %s-<run>-<1..5>", id, a.ID)
		}
		runs[run]++
	}
	if len(runs) != 2 {
		t.Errorf("copies by run nonce = %v, want 2 runs of 5", runs)
	}
	// A single publish keeps the alert's own ID.
	for run, want := range []string{"1 stored, 0 duplicate(s)", "0 stored, 1 duplicate(s)"} {
		out, _, code := soarIn(t, "", "publish", "--nats-url", url, "--sample", "ssh-bruteforce")
		if code != 0 || !strings.Contains(out, "alert "+a.ID+" ") || !strings.Contains(out, want) {
			t.Errorf("single publish %d: exit %d, output:\n%s; want %s under ID %s", run+1, code, out, want, a.ID)
		}
	}
}

func TestBuildCopies(t *testing.T) {
	s, a := mustSample(t, "waf-sqli-blacklist")
	single, _ := buildCopies(s.Subject, s.Payload, 1, 0, "n0nce123")
	if len(single) != 1 || single[0].id != a.ID || string(single[0].data) != string(s.Payload) {
		t.Errorf("buildCopies(count 1) = %q, want the payload under its own ID %s", single[0].id, a.ID)
	}
	storm, _ := buildCopies(s.Subject, s.Payload, 3, 2, "n0nce123")
	for i, m := range storm {
		want := fmt.Sprintf("%s-n0nce123-%d", a.ID, i+1)
		got, err := alert.Decode(s.Subject, m.data, alert.DecodeOptions{})
		if err != nil || m.id != want || got.ID != want {
			t.Errorf("copy %d: Nats-Msg-Id %q, alert ID %q (%v); want both %s", i+1, m.id, got.ID, err, want)
		}
	}
	bad, warning := buildCopies("alerts.waf.sqli", []byte(`{"not json`), 2, 0, "n0nce123")
	if len(bad) != 2 || !strings.HasSuffix(bad[0].id, "-n0nce123-1") || !strings.HasSuffix(bad[1].id, "-n0nce123-2") || warning == "" {
		t.Errorf("copies of a bad payload: %+v, warning %q", bad, warning)
	}
	if a, b := runNonce(), runNonce(); a == b || len(a) != 8 {
		t.Errorf("runNonce() = %q, %q: want two different 8-character tags", a, b)
	}
}

func TestPublish_FileAndStdin(t *testing.T) {
	_, url := alertServer(t)
	dir := t.TempDir()
	sampleFile, err := os.ReadFile("../../internal/alert/samples/threat-intel-c2.json")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c2.json")
	if err := os.WriteFile(file, sampleFile, 0o644); err != nil {
		t.Fatal(err)
	}
	// A sample file carries its subject.
	if out, errOut, code := soarIn(t, "", "publish", "--nats-url", url, file); code != 0 || !strings.Contains(out, "to alerts.cloudfw.c2_connection") {
		t.Errorf("publish FILE: exit %d, out %s, err %s", code, out, errOut)
	}
	// A plain payload on stdin needs --subject; one that will be
	// dead-lettered is published with a warning.
	if _, errOut, code := soarIn(t, `{"type":"x"}`, "publish", "--nats-url", url, "-"); code != -1 || !strings.Contains(errOut, "--subject is required") {
		t.Errorf("publish - without --subject: code %d, %s", code, errOut)
	}
	out, errOut, code := soarIn(t, `{"not json`, "publish", "--nats-url", url, "--subject", "alerts.waf.sqli", "-")
	if code != 0 || !strings.Contains(errOut, "will be dead-lettered on soar.dlq.invalid_json") || !strings.Contains(out, "1 stored") {
		t.Errorf("publish a bad payload: exit %d, out %s, err %s", code, out, errOut)
	}
}

func TestPublish_Errors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"publish", "--sample", "waf-sqli-blacklst"}, `unknown sample "waf-sqli-blacklst" (did you mean "waf-sqli-blacklist"?); the samples are: compromised-host,`},
		{[]string{"publish"}, "give FILE, - for stdin, or --sample NAME (samples: compromised-host"},
		{[]string{"publish", "--sample", "crypto-miner", "x.json"}, "give --sample or FILE, not both"},
		{[]string{"publish", "--subject", "alerts.>", "--sample", "crypto-miner"}, `--subject "alerts.>" is not a subject to publish on`},
		{[]string{"publish", "--count", "0", "--sample", "crypto-miner"}, "--count must be at least 1"},
		{[]string{"publish", "--nats-url", "nats://127.0.0.1:1", "--sample", "crypto-miner"}, "connect to NATS at nats://127.0.0.1:1"},
	}
	for _, tt := range tests {
		_, errOut, code := soarIn(t, "", tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("soar %v: code %d, stderr %q; want it to contain %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestPublish_NoStream(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	defer s.Shutdown()
	_, errOut, code := soarIn(t, "", "publish", "--nats-url", s.ClientURL(), "--sample", "crypto-miner", "--timeout", "5s")
	if code == 0 || !strings.Contains(errOut, "no JetStream stream captures alerts.sas.miner") {
		t.Errorf("publish without a stream: code %d, stderr %q", code, errOut)
	}
}

func TestStormIP(t *testing.T) {
	for i, want := range map[int]string{0: "203.0.113.1", 253: "203.0.113.254", 254: "198.18.0.0", 255: "198.18.0.1", 254 + 65536 + 258: "198.19.1.2"} {
		if got := stormIP(i); got != want {
			t.Errorf("stormIP(%d) = %s, want %s", i, got, want)
		}
	}
}

func mustSample(t *testing.T, name string) (alert.Sample, alert.Alert) {
	t.Helper()
	s, ok := alert.SampleByName(name)
	if !ok {
		t.Fatalf("no sample %s", name)
	}
	a, err := alert.Decode(s.Subject, s.Payload, alert.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

var _ = io.Discard

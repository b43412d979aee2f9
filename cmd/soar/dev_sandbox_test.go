package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/sandbox"
)

// startDevSandbox starts soar dev's sandbox on a free port with its file at
// path, logging into log.
func startDevSandbox(t *testing.T, path string, log *bytes.Buffer) *devSandbox {
	t.Helper()
	d, err := listenSandbox("127.0.0.1:0", slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.start(path); err != nil {
		d.close(context.Background())
		t.Fatal(err)
	}
	return d
}

// evidenceSnapshot sends the CreateSnapshot soar's snapshot action sends
// for web-01's system disk, with its ClientToken, as the real SDK does.
func evidenceSnapshot(t *testing.T, d *devSandbox, desc string) (string, error) {
	t.Helper()
	ecs.GetEndpointMap() // filled lazily; once here, before the client
	c, err := ecs.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = d.addr()
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId, req.Description, req.ClientToken = "d-bp1sandboxweb01s", desc, "restart-drill-evidence-s"
	resp, err := c.CreateSnapshot(req)
	if err != nil {
		return "", err
	}
	return resp.SnapshotId, nil
}

func readSandboxFile(t *testing.T, path string) sandboxFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f sandboxFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func callSeqs(calls []sandbox.Call) []int {
	seqs := []int{}
	for _, c := range calls {
		seqs = append(seqs, c.Seq)
	}
	return seqs
}

// TestDevSandboxRestartReplays restarts soar dev's sandbox between an
// action and its retry with the same ClientToken: the retry gets the first
// answer and makes no second snapshot; a changed replay is refused; the
// file's call record spans both runs with distinct numbers.
func TestDevSandboxRestartReplays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	var log bytes.Buffer
	d := startDevSandbox(t, path, &log)
	first, err := evidenceSnapshot(t, d, "evidence for restart-drill")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+d.addr()+"/_sandbox/webhooks/secops", "application/json", strings.NewReader(`{"msgtype":"text"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runOne := d.srv.Calls()
	d.close(context.Background())

	f := readSandboxFile(t, path)
	if f.Format != sandboxFormat || f.Version != sandbox.CheckpointVersion || len(f.ClientTokens) != 1 || len(f.Webhooks) != 1 {
		t.Fatalf("saved file: format %q version %d, %d client tokens, %d webhooks; want %q version %d with 1 and 1",
			f.Format, f.Version, len(f.ClientTokens), len(f.Webhooks), sandboxFormat, sandbox.CheckpointVersion)
	}

	d2 := startDevSandbox(t, path, &log)
	again, err := evidenceSnapshot(t, d2, "evidence for restart-drill")
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("CreateSnapshot retried after a restart = %s, want the first answer %s", again, first)
	}
	if snaps := d2.srv.State().ECS.SnapshotsOf("d-bp1sandboxweb01s"); len(snaps) != 1 {
		t.Errorf("snapshots of the disk after the retry = %+v, want the one from before the restart", snaps)
	}
	_, err = evidenceSnapshot(t, d2, "some other description")
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) || se.ErrorCode() != "IdempotentParameterMismatch" {
		t.Errorf("a changed replay after a restart = %v, want IdempotentParameterMismatch", err)
	}
	if got := d2.srv.Webhooks(); len(got) != 1 || got[0].Channel != "secops" {
		t.Errorf("webhooks after a restart = %+v, want the secops one from before", got)
	}
	runTwo := d2.srv.Calls()
	if len(runTwo) != 2 || !runTwo[0].Replayed || runTwo[0].Seq != runOne[len(runOne)-1].Seq+1 {
		t.Errorf("this run's calls = %+v, want the replay numbered after the first run's %v, then the refusal", runTwo, callSeqs(runOne))
	}
	d2.close(context.Background())

	f = readSandboxFile(t, path)
	if diff := cmp.Diff(callSeqs(append(runOne, runTwo...)), callSeqs(f.Calls)); diff != "" {
		t.Errorf("the file's call record (-both runs +file):\n%s", diff)
	}
}

// TestDevSandboxOldFormat starts from a file written before checkpoints
// (the state and a call record): the state comes back, the record is kept
// and numbering goes on after it, a warning says idempotency records were
// missing, and the next save writes the current format.
func TestDevSandboxOldFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	st := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{}).State()
	st.ECS.Instances[0].Status = "Stopped"
	old := map[string]any{
		"format":   "soar-dev-sandbox/1",
		"saved_at": time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		"state":    st,
		// Two earlier runs, each numbered from 1.
		"calls": []sandbox.Call{{Seq: 1, Action: "CreateSnapshot"}, {Seq: 2, Action: "RunCommand"}, {Seq: 1, Action: "DescribeInstances"}},
	}
	data, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	d := startDevSandbox(t, path, &log)
	if diff := cmp.Diff(st, d.srv.State()); diff != "" {
		t.Errorf("state restored from the old file (-file +restored):\n%s", diff)
	}
	if !strings.Contains(log.String(), "holds no idempotency records") {
		t.Errorf("log lacks the warning about missing idempotency records:\n%s", log.String())
	}
	if _, err := evidenceSnapshot(t, d, "evidence"); err != nil {
		t.Fatal(err)
	}
	d.close(context.Background())

	f := readSandboxFile(t, path)
	if f.Format != sandboxFormat || f.Version != sandbox.CheckpointVersion || len(f.ClientTokens) != 1 {
		t.Errorf("file after a save: format %q version %d with %d client tokens, want %q version %d with 1",
			f.Format, f.Version, len(f.ClientTokens), sandboxFormat, sandbox.CheckpointVersion)
	}
	if diff := cmp.Diff([]int{1, 2, 1, 3}, callSeqs(f.Calls)); diff != "" {
		t.Errorf("call record seqs (-want +got):\n%s", diff)
	}
	if f.State.ECS.Instances[0].Status != "Stopped" {
		t.Errorf("saved instance status %s, want Stopped", f.State.ECS.Instances[0].Status)
	}
}

// TestDevSandboxRefusedFiles covers files soar dev does not start from: it
// says what is wrong and what to do.
func TestDevSandboxRefusedFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{"unknown checkpoint version", `{"format":"soar-dev-sandbox/2","version":9,"state":{}}`, "version 9 is not supported"},
		{"unknown format", `{"format":"soar-dev-sandbox/7"}`, `format "soar-dev-sandbox/7"`},
		{"no format", `{"state":{}}`, `format ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sandbox.json")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := listenSandbox("127.0.0.1:0", slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer d.close(context.Background())
			err = d.start(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "move it away") {
				t.Errorf("start = %v, want an error containing %q and what to do", err, tt.want)
			}
		})
	}
}

// TestDevSandboxSavesOnlyChanges checks the periodic save's test: nothing
// is written while the sandbox is idle, and any change (here a webhook,
// which does not touch the state) is.
func TestDevSandboxSavesOnlyChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	var log bytes.Buffer
	d := startDevSandbox(t, path, &log)
	d.stopSaver() // the test calls save itself
	<-d.saverDone
	defer d.close(context.Background())

	if err := d.save(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an idle sandbox was saved (stat: %v)", err)
	}
	resp, err := http.Post("http://"+d.addr()+"/_sandbox/webhooks/secops", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := d.save(false); err != nil {
		t.Fatal(err)
	}
	if f := readSandboxFile(t, path); len(f.Webhooks) != 1 || f.Webhooks[0].Body != "hello" {
		t.Errorf("saved webhooks = %+v, want the one received", f.Webhooks)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left behind (stat: %v)", err)
	}
}

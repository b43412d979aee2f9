package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// TestReplay_RecordedHistories replays every history recorded on a real
// server (internal/e2e/record_histories_test.go, `go test -tags record`)
// against the current workflow code: a change that breaks determinism for
// running incidents fails here. Record a new history whenever the
// interpreter's behaviour changes on purpose (and version the change).
// pre_holds_*.json were recorded before the cross-incident hold registry
// (change "cross-incident-holds"): they keep the unversioned path honest
// while such incidents may still be running.
func TestReplay_RecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no recorded histories in testdata/histories")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			RegisterWorkflow(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(testLogger(t), f); err != nil {
				t.Errorf("replay %s: %v", f, err)
			}
		})
	}
}

package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/playbooks"
)

// TestSamplesTriggerTheirPlaybooks: `soar publish --sample NAME` fires the
// shipped playbook NAME.
func TestSamplesTriggerTheirPlaybooks(t *testing.T) {
	env := testEnv(t)
	cfg := config.Default()
	set, reports := playbook.LoadDir(playbooks.FS(), ".", playbook.Options{Env: env, Config: &cfg})
	for _, r := range reports {
		if r.Diagnostics.HasErrors() {
			t.Fatalf("shipped playbook %s: %s", r.File, r.Diagnostics.Render())
		}
	}
	m := newMatcher(t, set.Playbooks()...)
	for _, pb := range set.Playbooks() {
		t.Run(pb.Name, func(t *testing.T) {
			s, ok := alert.SampleByName(pb.Name)
			if !ok {
				t.Skipf("no built-in sample for playbook %s", pb.Name)
			}
			alerts, err := alert.DecodeAll(s.Subject, s.Payload, alert.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range alerts {
				var names []string
				for _, mt := range m.Match(context.Background(), s.Subject, &a, time.Now()) {
					names = append(names, mt.Playbook.Name)
				}
				found := false
				for _, n := range names {
					found = found || n == pb.Name
				}
				if !found {
					t.Errorf("sample %s on %s (type %s, severity %d) triggers %v, not %s", s.Name, s.Subject, a.Type, a.Severity, names, pb.Name)
				}
			}
		})
	}
}

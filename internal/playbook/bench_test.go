package playbook_test

import (
	"os"
	"testing"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

// BenchmarkParse parses and validates the largest shipped playbook with a
// shared expression environment, as a reload does (its compile cache
// warm).
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../../playbooks/compromised-host.yaml")
	if err != nil {
		b.Fatal(err)
	}
	opts := MustOptions(b)
	b.ReportAllocs()
	for b.Loop() {
		if pb, diags := playbook.Parse("compromised-host.yaml", data, opts); pb == nil {
			b.Fatal(diags.Render())
		}
	}
}

// BenchmarkParseColdCache is BenchmarkParse with a fresh environment per
// parse: every expression is compiled and type-checked (what `soar
// validate` does once per process).
func BenchmarkParseColdCache(b *testing.B) {
	data, err := os.ReadFile("../../playbooks/compromised-host.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		env, err := expr.NewEnv(expr.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if pb, diags := playbook.Parse("compromised-host.yaml", data, playbook.Options{Env: env, Config: &cfg}); pb == nil {
			b.Fatal(diags.Render())
		}
	}
}

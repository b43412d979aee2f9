package expr

import (
	"context"
	"net/netip"
	"testing"

	"github.com/opensoar/soar/activities"
)

func benchTrigger(b *testing.B, src string) {
	env := MustEnv(b, Options{})
	p, err := env.CompileBool(src, TriggerScope())
	if err != nil {
		b.Fatal(err)
	}
	act := Activation{Alert: testAlert(), Now: evalNow}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ok, err := p.EvalBool(ctx, act)
		if err != nil || !ok {
			b.Fatalf("EvalBool() = %v, %v", ok, err)
		}
	}
}

// BenchmarkTrigger is the ingest hot path: a compiled trigger.when.
func BenchmarkTrigger(b *testing.B) {
	benchTrigger(b, `alert.type in ["webshell", "trojan"] && alert.severity >= 3`)
}

func BenchmarkTriggerCIDR(b *testing.B) {
	benchTrigger(b, `alert.type in ["webshell", "trojan"] && alert.severity >= 3 && !cidr("10.0.0.0/8").containsIP(alert.source_ip)`)
}

// BenchmarkTriggerTracked has a cost that depends on input size, so it runs
// with runtime cost tracking.
func BenchmarkTriggerTracked(b *testing.B) {
	benchTrigger(b, `alert.severity >= 3 && alert.iocs.ips.exists(i, i == "10.2.3.4")`)
}

// BenchmarkEnvEvalCached is Env.Eval on a source already in the cache.
func BenchmarkEnvEvalCached(b *testing.B) {
	env := MustEnv(b, Options{})
	act := Activation{Alert: testAlert(), Now: evalNow}
	ctx := context.Background()
	src := `alert.type in ["webshell", "trojan"] && alert.severity >= 3`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Eval(ctx, src, TriggerScope(), act); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile is a cache miss: parse, check, estimate, plan.
func BenchmarkCompile(b *testing.B) {
	env := MustEnv(b, Options{})
	src := `alert.type in ["webshell", "trojan"] && alert.severity >= 3 && !cidr("10.0.0.0/8").containsIP(alert.source_ip)`
	b.ReportAllocs()
	for b.Loop() {
		if c := env.build(src, TriggerScope()); c.prg == nil {
			b.Fatal(c.checked.Issues)
		}
	}
}

// BenchmarkEvaluator is one ExprEval local activity with a condition and a
// template, decoding the context as the activity does.
func BenchmarkEvaluator(b *testing.B) {
	env := MustEnv(b, Options{})
	ev := NewEvaluator(env)
	act := foreachActivation("198.51.100.9", 0)
	al, err := jsonMarshal(act.Alert)
	if err != nil {
		b.Fatal(err)
	}
	req := activities.EvalRequest{
		Context: activities.EvalContext{Alert: al, Incident: act.Incident, Vars: act.Vars, Steps: act.Steps,
			HasItem: true, Item: act.Item, Now: act.Now},
		Items: []activities.EvalItem{
			{Name: "if", CEL: `steps.isolate.status == "succeeded" && alert.process.pid > 0`},
			{Name: "with", IsTemplate: true, Template: map[string]any{"ip": "${{ item }}", "text": "block ${{ item }} on ${{ vars.instance }}"}},
		},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Eval(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTriggerNativeBaseline is the baseline of BenchmarkTrigger and
// BenchmarkTriggerCIDR: the same conditions written in Go, as if every
// playbook were compiled into the binary. The ratio is what CEL's
// flexibility costs per alert.
func BenchmarkTriggerNativeBaseline(b *testing.B) {
	a := testAlert()
	private := netip.MustParsePrefix("10.0.0.0/8")
	b.ReportAllocs()
	for b.Loop() {
		ok := (a.Type == "webshell" || a.Type == "trojan") && a.Severity >= 3
		if ip, err := netip.ParseAddr(a.SourceIP); err == nil {
			ok = ok && !private.Contains(ip)
		}
		if !ok {
			b.Fatal("the condition is false for the test alert")
		}
	}
}

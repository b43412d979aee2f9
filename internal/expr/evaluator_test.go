package expr

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
)

// roundTrip marshals v to JSON and decodes it into a new T, as Temporal's
// JSON payload converter does between the workflow and the activity.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
	return out
}

// evalContext builds the EvalContext the workflow sends, from Go values.
func evalContext(t *testing.T, act Activation) activities.EvalContext {
	t.Helper()
	al, err := json.Marshal(act.Alert)
	if err != nil {
		t.Fatal(err)
	}
	return activities.EvalContext{
		Alert: al, Incident: act.Incident, Vars: act.Vars, Steps: act.Steps,
		HasItem: act.HasItem, Item: act.Item, Index: act.Index, Now: act.Now,
		Action: act.Action, Params: act.Params,
	}
}

func TestEvaluator_JSONRoundTrip(t *testing.T) {
	ev := NewEvaluator(MustEnv(t, Options{}))
	act := foreachActivation("198.51.100.9", 1)
	// Integers as the workflow holds them before they cross history.
	act.Vars["threshold"] = 3
	act.Steps["kill"] = activities.StepState{Status: activities.StatusSucceeded, Output: map[string]any{"exit_code": 0}}
	req := activities.EvalRequest{
		Context: evalContext(t, act),
		Items: []activities.EvalItem{
			{Name: "steps.block_c2.if", CEL: "size(alert.iocs.ips) > 0 && ip(item).isGlobalUnicast()"},
			{Name: "steps.block_c2.with", IsTemplate: true, Template: map[string]any{
				"ip": "${{ item }}", "direction": "out", "note": "ioc ${{ index + 1 }} of ${{ size(alert.iocs.ips) }}",
				"count": "${{ alert.count }}", "ports": "${{ alert.raw.detail.ports }}",
			}},
			{Name: "steps.kill.if", CEL: "steps.kill.output.exit_code == 0 && vars.threshold + 1 == 4 && incident.alert_count >= 100"},
			{Name: "steps.isolate.if", CEL: "vars.foo == 1"},
			{Name: "steps.typo.if", CEL: "alert.sorce_ip == ''"},
			{Name: "steps.page.with", IsTemplate: true, Template: nil},
			{Name: "vars.instance", IsTemplate: true, Template: "${{ alert.resource.instance_id }}"},
			{Name: "steps.odd.if"},
		},
	}
	res, err := ev.Eval(context.Background(), roundTrip(t, req))
	if err != nil {
		t.Fatalf("Eval() error: %v", err)
	}
	got := roundTrip(t, res)
	want := activities.EvalResult{Values: []activities.EvalValue{
		{Name: "steps.block_c2.if", Value: true},
		{Name: "steps.block_c2.with", Value: map[string]any{
			"ip": "198.51.100.9", "direction": "out", "note": "ioc 2 of 2", "count": float64(3),
			"ports": []any{float64(22), float64(3389)},
		}},
		{Name: "steps.kill.if", Value: true},
		{Name: "steps.isolate.if", Error: `steps.isolate.if: evaluate "vars.foo == 1": no such key: foo`},
		{Name: "steps.typo.if", Error: `steps.typo.if: compile "alert.sorce_ip == ''": 1:7: undefined field 'sorce_ip' (did you mean "source_ip"?) [cel-type]`},
		{Name: "steps.page.with"},
		{Name: "vars.instance", Value: "i-bp1abc"},
		{Name: "steps.odd.if", Error: "steps.odd.if: empty item: set cel or template"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Eval() result after JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestEvaluator_ScopeFromContext(t *testing.T) {
	ev := NewEvaluator(MustEnv(t, Options{}))
	items := []activities.EvalItem{
		{Name: "item", CEL: "item"},
		{Name: "policy", CEL: "action.startsWith('alicloud.') && params.ip == alert.source_ip"},
	}
	tests := []struct {
		name string
		act  Activation
		want []activities.EvalValue
	}{
		{"outside foreach and policy", testActivation(), []activities.EvalValue{
			{Name: "item", Error: "item: compile \"item\": 1:1: item is only available inside foreach (in the step's with and if) [cel-scope]"},
			{Name: "policy", Error: "policy: compile \"action.startsWith('alicloud.') && params.ip == alert.source_ip\": " +
				"1:1: action is only available in guardrail require_approval rules [cel-scope]; " +
				"1:35: params is only available in guardrail require_approval rules [cel-scope]"},
		}},
		{"inside foreach, with an action", func() Activation {
			a := foreachActivation("x", 0)
			a.Action, a.Params = "alicloud.waf.block_ip", map[string]any{"ip": "203.0.113.7"}
			return a
		}(), []activities.EvalValue{{Name: "item", Value: "x"}, {Name: "policy", Value: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ev.Eval(context.Background(), activities.EvalRequest{Context: evalContext(t, tt.act), Items: items})
			if err != nil {
				t.Fatalf("Eval() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, res.Values); diff != "" {
				t.Errorf("Eval() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluator_MalformedRequest(t *testing.T) {
	ev := NewEvaluator(MustEnv(t, Options{}))
	req := activities.EvalRequest{
		Context: activities.EvalContext{Alert: json.RawMessage(`{"severity": "high"}`)},
		Items:   []activities.EvalItem{{Name: "x", CEL: "true"}},
	}
	_, err := ev.Eval(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "decode alert") {
		t.Errorf("Eval(bad alert) error = %v, want a decode error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ev.Eval(ctx, activities.EvalRequest{Items: []activities.EvalItem{{Name: "x", CEL: "true"}}})
	if err == nil {
		t.Error("Eval(cancelled) = nil error, want the context's error: a cancellation is no decision to record")
	}
}

func TestActivationFrom_Numbers(t *testing.T) {
	c := activities.EvalContext{
		Alert: json.RawMessage(`{"severity": 4, "raw": {"big": 9007199254740993, "f": 2.5, "i": 7, "e": 1e3}}`),
		Vars:  map[string]any{"n": float64(3), "l": []any{float64(1), 1.5}},
		Steps: map[string]activities.StepState{"s": {Output: map[string]any{"code": float64(0)},
			Items: []activities.StepState{{Output: map[string]any{"x": float64(2)}}}}},
		Item:   float64(4),
		Params: map[string]any{"port": float64(22)},
	}
	a, err := ActivationFrom(c)
	if err != nil {
		t.Fatalf("ActivationFrom() error: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"raw", a.Alert.Raw, map[string]any{"big": int64(9007199254740993), "f": 2.5, "i": int64(7), "e": int64(1000)}},
		{"vars", a.Vars, map[string]any{"n": int64(3), "l": []any{int64(1), 1.5}}},
		{"steps output", a.Steps["s"].Output, map[string]any{"code": int64(0)}},
		{"steps items", a.Steps["s"].Items[0].Output, map[string]any{"x": int64(2)}},
		{"item", a.Item, int64(4)},
		{"params", a.Params, map[string]any{"port": int64(22)}},
		{"severity", a.Alert.Severity, 4},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("ActivationFrom() %s mismatch (-want +got):\n%s", c.name, diff)
		}
	}
	if c.Vars["n"] != float64(3) {
		t.Error("ActivationFrom() modified the context's maps, want a copy")
	}
}

func TestEval_JSONNumberRaw(t *testing.T) {
	// internal/alert decodes vendor payloads with json.Number.
	env := MustEnv(t, Options{})
	act := testActivation()
	act.Alert.Raw = map[string]any{"port": json.Number("22"), "score": json.Number("0.5")}
	got, err := env.Eval(context.Background(), "alert.raw.port + 1 == 23 && alert.raw.score < 1 && alert.raw.port in [22, 3389]", TriggerScope(), act)
	if err != nil || got != true {
		t.Errorf("Eval() = %v, %v, want true", got, err)
	}
	v, err := env.EvalTemplate(context.Background(), "${{ alert.raw }}", TriggerScope(), act)
	if diff := cmp.Diff(map[string]any{"port": int64(22), "score": 0.5}, v); err != nil || diff != "" {
		t.Errorf("EvalTemplate(alert.raw) = %v, %v; mismatch (-want +got):\n%s", v, err, diff)
	}
}

// TestConcurrentEval runs the same and different expressions from many
// goroutines, with a cache small enough to evict, under -race.
func TestConcurrentEval(t *testing.T) {
	env := MustEnv(t, Options{CacheSize: 8})
	ev := NewEvaluator(env)
	trigger, err := env.CompileBool("alert.type in ['webshell', 'trojan'] && alert.severity >= 3 && !cidr('10.0.0.0/8').containsIP(alert.source_ip)", TriggerScope())
	if err != nil {
		t.Fatal(err)
	}
	req := activities.EvalRequest{
		Context: evalContext(t, foreachActivation("198.51.100.9", 0)),
		Items: []activities.EvalItem{
			{Name: "if", CEL: "steps.kill.output.exit_code == 0"},
			{Name: "with", IsTemplate: true, Template: map[string]any{"ip": "${{ item }}", "n": "${{ index }}"}},
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			act := testActivation()
			for i := range 200 {
				ok, err := trigger.EvalBool(context.Background(), act)
				if err != nil || !ok {
					errs <- fmt.Errorf("trigger EvalBool() = %v, %v", ok, err)
					return
				}
				src := fmt.Sprintf("alert.severity + %d", (g*200+i)%20)
				v, err := env.Eval(context.Background(), src, TriggerScope(), act)
				if want := int64(4 + (g*200+i)%20); err != nil || v != want {
					errs <- fmt.Errorf("Eval(%q) = %v, %v, want %d", src, v, err, want)
					return
				}
				res, err := ev.Eval(context.Background(), req)
				if err != nil || res.Values[0].Value != true || res.Values[1].Error != "" {
					errs <- fmt.Errorf("Evaluator.Eval() = %+v, %v", res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := env.cache.len(); n > 8 {
		t.Errorf("cache holds %d programs, want at most 8", n)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

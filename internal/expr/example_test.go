package expr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/expr"
)

// A typo in a field of the typed alert is a compile error, with its position.
func ExampleEnv_Check() {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		panic(err)
	}
	c := env.Check(`alert.severity >= 3 && alert.resource.instnace_id != ""`, expr.TriggerScope())
	for _, is := range c.Issues {
		fmt.Println(is)
	}
	c = env.Check(`steps.isolate.status == "succeeded" && item != ""`, expr.StepScope(false))
	fmt.Println(c.Issues[0])
	fmt.Println(c.StepRefs)

	c = env.Check(`steps.kill.output.exit_code == 0`, expr.StepScope(false))
	fmt.Println(c.Type, c.OK())
	// Output:
	// 1:39: undefined field 'instnace_id' (did you mean "instance_id"?) [cel-type]
	// 1:40: item is only available inside foreach (in the step's with and if) [cel-scope]
	// [{isolate 1 7}]
	// bool true
}

// Trigger conditions are compiled once and evaluated for every alert.
func ExampleEnv_CompileBool() {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		panic(err)
	}
	when, err := env.CompileBool(
		`alert.type in ["webshell", "trojan"] && alert.severity >= 3 && !cidr("10.0.0.0/8").containsIP(alert.source_ip)`,
		expr.TriggerScope())
	if err != nil {
		panic(err)
	}
	for _, ip := range []string{"203.0.113.7", "10.1.2.3"} {
		a := &alert.Alert{Type: "webshell", Severity: alert.SeverityHigh, SourceIP: ip}
		match, err := when.EvalBool(context.Background(), expr.Activation{Alert: a, Now: time.Now()})
		fmt.Println(ip, match, err)
	}
	// Output:
	// 203.0.113.7 true <nil>
	// 10.1.2.3 false <nil>
}

// A value that is exactly one ${{ }} keeps its type; embedded ones interpolate.
func ExampleEnv_EvalTemplate() {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		panic(err)
	}
	act := expr.Activation{
		Alert: &alert.Alert{Title: "webshell in index.php", Severity: 4,
			IOCs: alert.IOCs{IPs: []string{"198.51.100.9", "203.0.113.7"}}},
		Vars: map[string]any{"instance": "i-bp1abc"},
	}
	with := map[string]any{
		"ips":      "${{ alert.iocs.ips }}",
		"severity": "${{ alert.severity }}",
		"text":     "挂马 on ${{ vars.instance }}: ${{ alert.title }} (${{ size(alert.iocs.ips) }} IOCs: ${{ alert.iocs.ips }})",
		"literal":  "write $${{ expr }} for a template",
	}
	out, err := env.EvalTemplate(context.Background(), with, expr.StepScope(false), act)
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "ips": [
	//     "198.51.100.9",
	//     "203.0.113.7"
	//   ],
	//   "literal": "write ${{ expr }} for a template",
	//   "severity": 4,
	//   "text": "挂马 on i-bp1abc: webshell in index.php (2 IOCs: [\"198.51.100.9\",\"203.0.113.7\"])"
	// }
}

func ExampleParseTemplate() {
	t, err := expr.ParseTemplate("block ${{ item }} for ${{ vars.instance }}")
	if err != nil {
		panic(err)
	}
	for _, s := range t.Exprs() {
		fmt.Printf("%q at byte %d\n", s.Expr, s.Offset)
	}
	fmt.Println(t.Whole())

	_, err = expr.ParseTemplate("oops ${{ alert.type")
	fmt.Println(err)
	// Output:
	// "item" at byte 10
	// "vars.instance" at byte 26
	// false
	// template offset 5: unterminated "${{": missing "}}"
}

// The workflow calls the Evaluator as the local activity activities.ExprEval;
// each item succeeds or fails on its own.
func ExampleEvaluator_Eval() {
	env, err := expr.NewEnv(expr.Options{})
	if err != nil {
		panic(err)
	}
	ev := expr.NewEvaluator(env)
	req := activities.EvalRequest{
		Context: activities.EvalContext{
			Alert: json.RawMessage(`{"type": "webshell", "process": {"pid": 4242}}`),
			Steps: map[string]activities.StepState{
				"isolate": {Status: activities.StatusSucceeded},
			},
		},
		Items: []activities.EvalItem{
			{Name: "steps.kill.if", CEL: `steps.isolate.status == "succeeded" && alert.process.pid > 0`},
			{Name: "steps.kill.with", IsTemplate: true, Template: map[string]any{"pid": "${{ alert.process.pid }}"}},
			{Name: "steps.page.if", CEL: `vars.channel == "secops"`},
		},
	}
	res, err := ev.Eval(context.Background(), req)
	if err != nil {
		panic(err)
	}
	for _, v := range res.Values {
		fmt.Printf("%s: value=%v error=%q\n", v.Name, v.Value, v.Error)
	}
	// Output:
	// steps.kill.if: value=true error=""
	// steps.kill.with: value=map[pid:4242] error=""
	// steps.page.if: value=<nil> error="steps.page.if: evaluate \"vars.channel == \\\"secops\\\"\": no such key: channel"
}

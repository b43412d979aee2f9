package expr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
)

var (
	alertTime = time.Date(2026, 5, 1, 3, 4, 5, 0, time.UTC)
	evalNow   = alertTime.Add(90 * time.Minute)
)

// testAlert is a webshell alert as ingest produces it, with a raw vendor
// payload decoded by encoding/json (float64 numbers).
func testAlert() *alert.Alert {
	a := &alert.Alert{
		ID: "sas-1", Source: alert.SourceSAS, Type: "webshell", Severity: alert.SeverityHigh,
		Title: "webshell in index.php", Time: alertTime, Account: "prod", Region: "cn-hangzhou",
		SourceIP: "203.0.113.7",
		Resource: alert.Resource{InstanceID: "i-bp1abc", InternetIP: "47.1.2.3", IntranetIP: "10.0.1.5",
			SecurityGroupIDs: []string{"sg-1"}, Tags: map[string]string{"env": "prod"}},
		Process: alert.Process{PID: 4242, Name: "php-fpm", Path: "/usr/sbin/php-fpm"},
		File:    alert.File{Path: "/var/www/index.php", SHA256: "ab12"},
		IOCs:    alert.IOCs{IPs: []string{"198.51.100.9", "10.2.3.4"}, Domains: []string{"evil.example"}},
		Count:   3,
		Labels:  map[string]string{"team": "web"},
		Raw: map[string]any{
			"detail": map[string]any{"port": float64(443), "score": 1.5, "ports": []any{float64(22), float64(3389)}},
			"vendor": "sas",
		},
	}
	return a
}

func testActivation() Activation {
	return Activation{
		Alert: testAlert(),
		Incident: activities.IncidentInfo{ID: "compromised-host.i-bp1abc", Playbook: "compromised-host",
			AlertCount: 120, FirstSeen: alertTime, LastSeen: evalNow},
		Vars: map[string]any{"instance": "i-bp1abc", "threshold": float64(3)},
		Steps: map[string]activities.StepState{
			"isolate": {Status: activities.StatusSucceeded, ApprovedBy: []string{"alice"},
				Output: map[string]any{"previous_groups": []any{"sg-1"}}},
			"kill": {Status: activities.StatusSucceeded, Output: map[string]any{"exit_code": float64(0), "stdout": "killed"}},
			"block": {Status: activities.StatusFailed, Error: "throttled", Items: []activities.StepState{
				{Status: activities.StatusSucceeded, Output: map[string]any{"rule_id": float64(22215)}},
				{Status: activities.StatusFailed, Error: "throttled"},
			}},
		},
		Now: evalNow,
	}
}

func foreachActivation(item any, index int) Activation {
	a := testActivation()
	a.HasItem, a.Item, a.Index = true, item, index
	return a
}

func TestEval_Values(t *testing.T) {
	env := MustEnv(t, Options{})
	step := StepScope(false)
	tests := []struct {
		src   string
		scope Scope
		act   Activation
		want  any
	}{
		{"alert.severity", TriggerScope(), testActivation(), int64(4)},
		{"alert.time", TriggerScope(), testActivation(), "2026-05-01T03:04:05Z"},
		{"alert.iocs.ips", TriggerScope(), testActivation(), []any{"198.51.100.9", "10.2.3.4"}},
		{"alert.labels", TriggerScope(), testActivation(), map[string]any{"team": "web"}},
		{"alert.resource.tags.env", TriggerScope(), testActivation(), "prod"},
		{"alert.type in ['webshell', 'trojan'] && alert.severity >= 3", TriggerScope(), testActivation(), true},
		{"alert.raw.vendor", TriggerScope(), testActivation(), "sas"},
		{"alert.raw.detail.port", TriggerScope(), testActivation(), int64(443)},
		{"alert.raw.detail.port + 1", TriggerScope(), testActivation(), int64(444)},
		{"alert.raw.detail.score", TriggerScope(), testActivation(), 1.5},
		{"alert.raw.detail.score * 2.0", TriggerScope(), testActivation(), 3.0},
		{"22 in alert.raw.detail.ports", TriggerScope(), testActivation(), true},
		{"alert.raw.?missing.orValue('none')", TriggerScope(), testActivation(), "none"},
		{"alert.raw.?missing", TriggerScope(), testActivation(), nil},
		{"has(alert.raw.detail) && !has(alert.raw.nope)", TriggerScope(), testActivation(), true},
		{"now - alert.time", TriggerScope(), testActivation(), "1h30m0s"},
		{"now - alert.time > duration('1h')", TriggerScope(), testActivation(), true},
		{"alert.resource", TriggerScope(), testActivation(), map[string]any{
			"instance_id": "i-bp1abc", "internet_ip": "47.1.2.3", "intranet_ip": "10.0.1.5", "hostname": "",
			"security_group_ids": []any{"sg-1"}, "tags": map[string]any{"env": "prod"},
		}},
		{"cidr('10.0.0.0/8').containsIP(alert.source_ip)", TriggerScope(), testActivation(), false},
		{"cidr('10.0.0.0/8').containsIP(alert.resource.intranet_ip)", TriggerScope(), testActivation(), true},
		{"ip(alert.source_ip).isGlobalUnicast()", TriggerScope(), testActivation(), true},
		{"alert.iocs.ips.filter(i, !cidr('10.0.0.0/8').containsIP(i))", TriggerScope(), testActivation(), []any{"198.51.100.9"}},
		{"ip(alert.source_ip)", TriggerScope(), testActivation(), "203.0.113.7"},
		{"b'abc'", TriggerScope(), testActivation(), "YWJj"},
		{"{'a': 1, 'b': [1.5, 'x', null]}", TriggerScope(), testActivation(), map[string]any{"a": int64(1), "b": []any{1.5, "x", nil}}},
		{"incident.alert_count >= 100", step, testActivation(), true},
		{"incident.first_seen", step, testActivation(), "2026-05-01T03:04:05Z"},
		{"vars.instance", step, testActivation(), "i-bp1abc"},
		{"vars.threshold + 1", step, testActivation(), int64(4)},
		{"steps.kill.output.exit_code == 0", step, testActivation(), true},
		{"steps.kill.output.exit_code", step, testActivation(), int64(0)},
		{"steps.isolate.status == 'succeeded' && alert.process.pid > 0", step, testActivation(), true},
		{"'alice' in steps.isolate.approved_by", step, testActivation(), true},
		{"steps.block.items[0].output.rule_id", step, testActivation(), int64(22215)},
		{"steps.block.items.filter(i, i.status == 'failed').size()", step, testActivation(), int64(1)},
		{"has(steps.kill.output.stdout)", step, testActivation(), true},
		{"has(steps.isolate.output.stdout)", step, testActivation(), false},
		{"steps.?nostep.hasValue()", step, testActivation(), false},
		{"item > 3", StepScope(true), foreachActivation(float64(5), 0), true},
		{"item + 1", StepScope(true), foreachActivation(float64(5), 0), int64(6)},
		{"index", StepScope(true), foreachActivation("x", 2), int64(2)},
		{"ip(item).isLoopback() && !ip(item).isGlobalUnicast()", StepScope(true), foreachActivation("127.0.0.1", 1), true},
		{"item.port == 22", StepScope(true), foreachActivation(map[string]any{"port": float64(22)}, 1), true},
		{"action == 'alicloud.ecs.isolate_instance' && params.instance_id.startsWith('i-')", PolicyScope(),
			Activation{Action: "alicloud.ecs.isolate_instance", Params: map[string]any{"instance_id": "i-1"}}, true},
		{"alert.severity", TriggerScope(), Activation{}, int64(0)},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := env.Eval(context.Background(), tt.src, tt.scope, tt.act)
			if err != nil {
				t.Fatalf("Eval(%q) error: %v", tt.src, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestEval_Errors(t *testing.T) {
	env := MustEnv(t, Options{})
	tests := []struct {
		src     string
		scope   Scope
		message string // substring of the error
		compile bool   // an *IssuesError rather than an *EvalError
	}{
		{"vars.foo == 1", StepScope(false), `evaluate "vars.foo == 1": no such key: foo`, false},
		{"steps.nostep.status == 'succeeded'", StepScope(false), "no such key: nostep", false},
		{"alert.raw.vendor + 1 == 2", TriggerScope(), "no such overload", false},
		{"ip(alert.file.sha256).isLoopback()", TriggerScope(), "parse error", false},
		{"int(alert.title) > 1", TriggerScope(), "type conversion error", false},
		{"int('twelve') > 1", TriggerScope(), "type conversion error", true}, // constant: folded when planned
		{"alert.sorce_ip == 'x'", TriggerScope(), "undefined field 'sorce_ip'", true},
		{"item == 1", StepScope(false), "item is only available inside foreach", true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := env.Eval(context.Background(), tt.src, tt.scope, testActivation())
			if err == nil {
				t.Fatalf("Eval(%q) = nil error, want %q", tt.src, tt.message)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Eval(%q) error = %q, want it to contain %q", tt.src, err, tt.message)
			}
			var ie *IssuesError
			var ee *EvalError
			switch {
			case tt.compile && !errors.As(err, &ie):
				t.Errorf("Eval(%q) error is %T, want *IssuesError", tt.src, err)
			case !tt.compile && !errors.As(err, &ee):
				t.Errorf("Eval(%q) error is %T, want *EvalError", tt.src, err)
			case !tt.compile && ee.Expr != tt.src:
				t.Errorf("EvalError.Expr = %q, want %q", ee.Expr, tt.src)
			}
		})
	}
}

func TestEval_CostLimit(t *testing.T) {
	// The estimate assumes lists of MaxListSize (1000) items: 3,000-odd, well
	// under MaxCost. At run time the list holds 100,000 items.
	env := MustEnv(t, Options{CostLimit: 10_000})
	src := "item.exists(x, x < 0)"
	if c := env.Check(src, StepScope(true)); !c.OK() || c.MaxCost > DefaultMaxCost {
		t.Fatalf("Check(%q) = %+v, want no issue", src, c)
	}
	big := make([]any, 100_000)
	for i := range big {
		big[i] = float64(i)
	}
	_, err := env.Eval(context.Background(), src, StepScope(true), foreachActivation(big, 0))
	if !errors.Is(err, ErrCostLimit) {
		t.Fatalf("Eval(%q) over 100,000 items error = %v, want ErrCostLimit", src, err)
	}
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Expr != src {
		t.Errorf("Eval(%q) error = %#v, want an *EvalError naming the expression", src, err)
	}
	// The same expression over a small list runs.
	got, err := env.Eval(context.Background(), src, StepScope(true), foreachActivation([]any{float64(1), float64(-1)}, 0))
	if err != nil || got != true {
		t.Errorf("Eval(%q) over 2 items = %v, %v, want true", src, got, err)
	}
}

func TestEval_PathologicalRefusedAtCompileTime(t *testing.T) {
	env := MustEnv(t, Options{})
	src := "alert.iocs.ips.map(a, alert.iocs.ips.map(b, alert.iocs.ips.map(c, a + b + c)))"
	_, err := env.Eval(context.Background(), src, TriggerScope(), testActivation())
	var ie *IssuesError
	if !errors.As(err, &ie) || len(ie.Issues) != 1 || ie.Issues[0].Code != CodeCost {
		t.Fatalf("Eval(%q) error = %v, want an *IssuesError with one %s issue", src, err, CodeCost)
	}
}

func TestEval_ContextCancelled(t *testing.T) {
	env := MustEnv(t, Options{CostLimit: 1 << 40})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := make([]any, 10_000)
	for i := range big {
		big[i] = float64(i)
	}
	_, err := env.Eval(ctx, "item.all(x, x >= 0)", StepScope(true), foreachActivation(big, 0))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Eval() with a cancelled context error = %v, want context.Canceled", err)
	}
}

func TestCompileTyped(t *testing.T) {
	env := MustEnv(t, Options{})
	ctx := context.Background()
	act := testActivation()

	t.Run("CompileBool", func(t *testing.T) {
		p, err := env.CompileBool("alert.severity >= 3", TriggerScope())
		if err != nil {
			t.Fatalf("CompileBool() error: %v", err)
		}
		if got, err := p.EvalBool(ctx, act); err != nil || !got {
			t.Errorf("EvalBool() = %v, %v, want true", got, err)
		}
		if p.Type() != "bool" || p.Source() != "alert.severity >= 3" {
			t.Errorf("Type(), Source() = %q, %q", p.Type(), p.Source())
		}
	})
	t.Run("CompileBool refuses an int", func(t *testing.T) {
		_, err := env.CompileBool("alert.severity", TriggerScope())
		var ie *IssuesError
		if !errors.As(err, &ie) || ie.Issues[0].Code != CodeType || !strings.Contains(ie.Issues[0].Message, "want a bool expression, got int") {
			t.Errorf("CompileBool(int) error = %v, want a %s issue", err, CodeType)
		}
	})
	t.Run("EvalBool on a dyn that is not a bool", func(t *testing.T) {
		p, err := env.CompileBool("alert.raw.vendor", TriggerScope())
		if err != nil {
			t.Fatalf("CompileBool(dyn) error: %v", err)
		}
		_, err = p.EvalBool(ctx, act)
		var ee *EvalError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "want a bool, got string") {
			t.Errorf("EvalBool() error = %v, want an *EvalError about the type", err)
		}
	})
	t.Run("CompileString", func(t *testing.T) {
		for src, want := range map[string]string{
			"alert.resource.instance_id":         "i-bp1abc",
			"alert.process.pid":                  "4242",
			"alert.source_ip + '/' + alert.type": "203.0.113.7/webshell",
			"alert.raw.detail.port":              "443",
		} {
			p, err := env.CompileString(src, TriggerScope())
			if err != nil {
				t.Fatalf("CompileString(%q) error: %v", src, err)
			}
			if got, err := p.EvalString(ctx, act); err != nil || got != want {
				t.Errorf("EvalString(%q) = %q, %v, want %q", src, got, err, want)
			}
		}
		if _, err := env.CompileString("alert.iocs.ips", TriggerScope()); err == nil {
			t.Error("CompileString(list) = nil error, want an issue")
		}
	})
	t.Run("CompileInt", func(t *testing.T) {
		for src, want := range map[string]int64{
			"alert.severity":              4,
			"alert.severity + 1":          5,
			"alert.raw.detail.port":       443,
			"alert.raw.?level.orValue(2)": 2,
		} {
			p, err := env.CompileInt(src, TriggerScope())
			if err != nil {
				t.Fatalf("CompileInt(%q) error: %v", src, err)
			}
			if got, err := p.EvalInt(ctx, act); err != nil || got != want {
				t.Errorf("EvalInt(%q) = %d, %v, want %d", src, got, err, want)
			}
		}
		p, err := env.CompileInt("alert.raw.detail.score", TriggerScope())
		if err != nil {
			t.Fatalf("CompileInt(dyn) error: %v", err)
		}
		if _, err := p.EvalInt(ctx, act); err == nil {
			t.Error("EvalInt(1.5) = nil error, want one")
		}
	})
}

package expr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/cel-go/checker"
	"github.com/google/go-cmp/cmp"
)

// MustEnv returns an Env with opts, failing the test if it cannot be built.
func MustEnv(tb testing.TB, opts Options) *Env {
	tb.Helper()
	env, err := NewEnv(opts)
	if err != nil {
		tb.Fatalf("NewEnv(%+v) error: %v", opts, err)
	}
	return env
}

// issuePos is an Issue without its wording: tests assert codes and
// positions, and check the message separately with a substring.
type issuePos struct {
	Line, Column int
	Code         string
}

func positions(issues []Issue) []issuePos {
	var out []issuePos
	for _, is := range issues {
		out = append(out, issuePos{is.Line, is.Column, is.Code})
	}
	return out
}

func TestCheck_Types(t *testing.T) {
	env := MustEnv(t, Options{})
	tests := []struct {
		src   string
		scope Scope
		want  string
	}{
		{"alert.severity", TriggerScope(), "int"},
		{"alert.time", TriggerScope(), "timestamp"},
		{"alert.labels", TriggerScope(), "map(string, string)"},
		{"alert.raw", TriggerScope(), "dyn"},
		{"alert.raw.detail.ports[0]", TriggerScope(), "dyn"},
		{"alert.iocs.ips", TriggerScope(), "list(string)"},
		{"alert.resource.security_group_ids", TriggerScope(), "list(string)"},
		{"alert.resource.tags", TriggerScope(), "map(string, string)"},
		{"alert.process.pid", TriggerScope(), "int"},
		{"alert.http.status", TriggerScope(), "int"},
		{"alert.resource", TriggerScope(), "alert.Resource"},
		{"alert.type in ['webshell', 'trojan'] && alert.severity >= 3", TriggerScope(), "bool"},
		{"alert.severity >= 2.5", TriggerScope(), "bool"},
		{"now - alert.time > duration('1h')", TriggerScope(), "bool"},
		{"incident.alert_count", StepScope(false), "int"},
		{"incident.first_seen", StepScope(false), "timestamp"},
		{"incident.error", StepScope(false), "string"},
		{"vars", StepScope(false), "map(string, dyn)"},
		{"vars.instance", StepScope(false), "dyn"},
		{"steps.kill.status", StepScope(false), "string"},
		{"steps.kill.output", StepScope(false), "map(string, dyn)"},
		{"steps.kill.output.exit_code == 0", StepScope(false), "bool"},
		{"steps.kill.approved_by", StepScope(false), "list(string)"},
		{"steps.kill.items[0].status", StepScope(false), "string"},
		{"item", StepScope(true), "dyn"},
		{"index + 1", StepScope(true), "int"},
		{"action", PolicyScope(), "string"},
		{"params.ip", PolicyScope(), "dyn"},
		{"alert.raw.?vendor.orValue('')", TriggerScope(), "dyn"},
		{"cidr('10.0.0.0/8').containsIP(alert.source_ip)", TriggerScope(), "bool"},
		{"ip(alert.source_ip).isGlobalUnicast()", TriggerScope(), "bool"},
		{"alert.iocs.ips.map(i, i + '/32')", TriggerScope(), "list(string)"},
		{"alert.title.lowerAscii().contains('shell')", TriggerScope(), "bool"},
		{"sets.intersects(alert.iocs.ips, ['1.2.3.4'])", TriggerScope(), "bool"},
		{"alert.iocs.ips.slice(0, 1)", TriggerScope(), "list(string)"},
		{"[3, 1, 3].distinct()", TriggerScope(), "list(int)"},
		{"math.greatest(1, 2)", TriggerScope(), "int"},
		{"base64.encode(b'x')", TriggerScope(), "string"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got := env.Check(tt.src, tt.scope)
			if len(got.Issues) != 0 {
				t.Fatalf("Check(%q) issues = %v, want none", tt.src, got.Issues)
			}
			if got.Type != tt.want {
				t.Errorf("Check(%q).Type = %q, want %q", tt.src, got.Type, tt.want)
			}
		})
	}
}

func TestCheck_Issues(t *testing.T) {
	env := MustEnv(t, Options{})
	tests := []struct {
		name    string
		src     string
		scope   Scope
		want    []issuePos
		message string // substring of the first issue's message
	}{
		{"top-level typo", `alert.sorce_ip == "1.2.3.4"`, TriggerScope(),
			[]issuePos{{1, 7, CodeType}}, `undefined field 'sorce_ip' (did you mean "source_ip"?)`},
		{"nested typo", `alert.resource.instnace_id != ""`, TriggerScope(),
			[]issuePos{{1, 16, CodeType}}, `undefined field 'instnace_id' (did you mean "instance_id"?)`},
		{"step field typo", `steps.kill.stauts == "succeeded"`, StepScope(false),
			[]issuePos{{1, 12, CodeType}}, `undefined field 'stauts' (did you mean "status"?)`},
		{"incident field typo", `incident.alertcount > 1`, StepScope(false),
			[]issuePos{{1, 10, CodeType}}, `undefined field 'alertcount' (did you mean "alert_count"?)`},
		{"typo on second line", "alert.severity >= 3 &&\n  alert.proces.pid > 0", TriggerScope(),
			[]issuePos{{2, 9, CodeType}}, `undefined field 'proces' (did you mean "process"?)`},
		{"type mismatch", `alert.severity > "high"`, TriggerScope(),
			[]issuePos{{1, 16, CodeType}}, "found no matching overload for '_>_' applied to '(int, string)'"},
		{"unknown variable", `alrt.type == "x"`, TriggerScope(),
			[]issuePos{{1, 1, CodeType}}, `undeclared reference to 'alrt' (did you mean "alert"?)`},
		{"field word of a longer name", `alert.resource.instance != ""`, TriggerScope(),
			[]issuePos{{1, 16, CodeType}}, `undefined field 'instance' (did you mean "instance_id"?)`},
		{"field typo through an index", `steps["kill"].outptu.pid > 0`, StepScope(false),
			[]issuePos{{1, 15, CodeType}}, `undefined field 'outptu' (did you mean "output"?)`},
		{"field typo on a comprehension variable", `steps.kill.items.exists(i, i.stauts == "failed")`, StepScope(false),
			[]issuePos{{1, 30, CodeType}}, `undefined field 'stauts' (did you mean "status"?)`},
		{"field typo through a map comprehension", `steps.exists(id, steps[id].eror != "")`, StepScope(false),
			[]issuePos{{1, 28, CodeType}}, `undefined field 'eror' (did you mean "error"?)`},
		{"no suggestion when nothing is near", `alert.zzzzzz`, TriggerScope(),
			[]issuePos{{1, 7, CodeType}}, "undefined field 'zzzzzz'"},
		{"unknown variable of the scope", `itme > 0`, StepScope(true),
			[]issuePos{{1, 1, CodeType}}, `undeclared reference to 'itme' (did you mean "item"?)`},
		{"unknown function", `sizee(alert.title) > 0`, TriggerScope(),
			[]issuePos{{1, 1, CodeType}}, `undeclared reference to 'sizee' (did you mean "size"?)`},
		{"unknown member function", `alert.title.lowerAscci() == ""`, TriggerScope(),
			[]issuePos{{1, 13, CodeType}}, `undeclared reference to 'lowerAscci' (did you mean "lowerAscii"?)`},
		{"syntax", `alert.severity >`, TriggerScope(),
			[]issuePos{{1, 17, CodeSyntax}}, "Syntax error"},
		{"item outside foreach", `item > 3`, StepScope(false),
			[]issuePos{{1, 1, CodeScope}}, "item is only available inside foreach"},
		{"index outside foreach", `vars.x[index]`, StepScope(false),
			[]issuePos{{1, 8, CodeScope}}, "index is only available inside foreach"},
		{"steps in trigger", `alert.severity > 3 && steps.x.status == "ok"`, TriggerScope(),
			[]issuePos{{1, 23, CodeScope}}, "steps is not available here"},
		{"vars and incident in trigger", `vars.a == incident.id`, TriggerScope(),
			[]issuePos{{1, 1, CodeScope}, {1, 11, CodeScope}}, "vars is not available here"},
		{"params outside policy", `params.ip == alert.source_ip`, StepScope(true),
			[]issuePos{{1, 1, CodeScope}}, "params is only available in guardrail"},
		{"scope and type issues together", `item.x == alert.nope`, StepScope(false),
			[]issuePos{{1, 1, CodeScope}, {1, 17, CodeType}}, "item is only available"},
		{"bad duration literal", `now - alert.time > duration("1x")`, TriggerScope(),
			[]issuePos{{1, 29, CodeType}}, "invalid duration"},
		{"bad regex literal", `alert.title.matches("(unclosed")`, TriggerScope(),
			[]issuePos{{1, 21, CodeType}}, "invalid matches argument"},
		{"comprehension variable named item is fine", `alert.iocs.ips.exists(item, item == "1.2.3.4")`, TriggerScope(),
			nil, ""},
		{"comprehension variable does not leak", `alert.iocs.ips.exists(item, item == "x") || item == 1`, TriggerScope(),
			[]issuePos{{1, 45, CodeScope}}, "item is only available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := env.Check(tt.src, tt.scope)
			if diff := cmp.Diff(tt.want, positions(got.Issues)); diff != "" {
				t.Fatalf("Check(%q) issues mismatch (-want +got):\n%s\nissues: %v", tt.src, diff, got.Issues)
			}
			if tt.message != "" && (!strings.Contains(got.Issues[0].Message, tt.message) ||
				!strings.Contains(tt.message, "did you mean") && strings.Contains(got.Issues[0].Message, "did you mean")) {
				t.Errorf("Check(%q).Issues[0].Message = %q, want it to contain %q", tt.src, got.Issues[0].Message, tt.message)
			}
			for _, is := range got.Issues {
				if strings.Contains(is.Message, "ERROR:") || strings.Contains(is.Message, "\n") {
					t.Errorf("Check(%q) issue message %q keeps cel-go's prefix or caret lines", tt.src, is.Message)
				}
			}
			if tt.want != nil && got.Type != "" && positions(got.Issues)[0].Code != CodeScope {
				t.Errorf("Check(%q).Type = %q, want empty for an expression that does not type-check", tt.src, got.Type)
			}
		})
	}
}

func TestCheck_Refs(t *testing.T) {
	env := MustEnv(t, Options{})
	src := "steps.isolate.status == \"succeeded\" &&\n" +
		"  vars.instance != \"\" && has(steps.kill.output.pid) &&\n" +
		"  steps[\"page\"].error == \"\" && steps.?snap.hasValue() &&\n" +
		"  vars.ips.exists(steps, steps.x == 1) && steps.\n    late.status == \"ok\""
	got := env.Check(src, StepScope(false))
	if len(got.Issues) != 0 {
		t.Fatalf("Check() issues = %v, want none", got.Issues)
	}
	wantSteps := []Ref{
		{"isolate", 1, 7},
		{"kill", 2, 36},
		{"page", 3, 9},
		{"snap", 3, 39},
		{"late", 5, 5},
	}
	if diff := cmp.Diff(wantSteps, got.StepRefs); diff != "" {
		t.Errorf("StepRefs mismatch (-want +got):\n%s", diff)
	}
	wantVars := []Ref{{"instance", 2, 8}, {"ips", 4, 8}}
	if diff := cmp.Diff(wantVars, got.VarRefs); diff != "" {
		t.Errorf("VarRefs mismatch (-want +got):\n%s", diff)
	}
}

func TestCheck_Cost(t *testing.T) {
	env := MustEnv(t, Options{})
	t.Run("nested comprehensions over alert data are refused", func(t *testing.T) {
		src := "alert.iocs.ips.map(a, alert.iocs.ips.map(b, alert.iocs.ips.map(c, a + b + c)))"
		got := env.Check(src, TriggerScope())
		if diff := cmp.Diff([]issuePos{{1, 1, CodeCost}}, positions(got.Issues)); diff != "" {
			t.Fatalf("Check() issues mismatch (-want +got):\n%s", diff)
		}
		if got.MaxCost <= DefaultMaxCost {
			t.Errorf("Check().MaxCost = %d, want above %d", got.MaxCost, DefaultMaxCost)
		}
	})
	t.Run("a simple condition is cheap", func(t *testing.T) {
		got := env.Check("alert.type in ['webshell', 'trojan'] && alert.severity >= 3", TriggerScope())
		if !got.OK() || got.MaxCost == 0 || got.MaxCost > 100 {
			t.Errorf("Check() = %+v, want no issue and a small non-zero MaxCost", got)
		}
	})
	t.Run("MaxListSize scales the estimate", func(t *testing.T) {
		src := "alert.iocs.ips.exists(i, i.startsWith('10.'))"
		small := MustEnv(t, Options{MaxListSize: 10}).Check(src, TriggerScope())
		large := env.Check(src, TriggerScope())
		if !small.OK() || !large.OK() || small.MaxCost >= large.MaxCost {
			t.Errorf("MaxCost with 10 items = %d, with 1000 = %d: want fewer items to cost less", small.MaxCost, large.MaxCost)
		}
	})
	t.Run("MaxCost option", func(t *testing.T) {
		strict := MustEnv(t, Options{MaxCost: 50})
		got := strict.Check("alert.iocs.ips.exists(i, i == '1.2.3.4')", TriggerScope())
		if diff := cmp.Diff([]issuePos{{1, 1, CodeCost}}, positions(got.Issues)); diff != "" {
			t.Errorf("Check() issues mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestCheck_ParserLimits(t *testing.T) {
	env := MustEnv(t, Options{})
	tests := []struct {
		name string
		src  string
	}{
		{"deep nesting", strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + " == 1"},
		{"huge source", "alert.title == '" + strings.Repeat("x", maxSourceSize) + "'"},
		{"too many nodes", "[" + strings.TrimSuffix(strings.Repeat("1,", maxNodes), ",") + "].size() > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := env.Check(tt.src, TriggerScope())
			if len(got.Issues) == 0 || got.Issues[0].Code != CodeSyntax {
				t.Errorf("Check(<%d bytes>) issues = %v, want a %s issue", len(tt.src), got.Issues, CodeSyntax)
			}
		})
	}
}

// TestEstimateCost_NilEstimatorPanics documents the cel-go trap the
// environment avoids: EstimateCost with a nil estimator panics, so Check
// always passes sizeEstimator.
func TestEstimateCost_NilEstimatorPanics(t *testing.T) {
	env := MustEnv(t, Options{})
	ast, iss := env.cel.Compile("alert.iocs.ips.exists(i, i == '1.2.3.4')")
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_, _ = env.cel.EstimateCost(ast, nil)
		return false
	}()
	if !panicked {
		t.Log("cel-go no longer panics on a nil estimator; sizeEstimator is still needed to bound sizes")
	}
	var _ checker.CostEstimator = sizeEstimator{}
	est, err := env.cel.EstimateCost(ast, sizeEstimator{max: 1000})
	if err != nil || est.Max == 0 || est.Max == ^uint64(0) {
		t.Errorf("EstimateCost(sizeEstimator) = %+v, %v: want a finite bound", est, err)
	}
}

func TestCheck_Cache(t *testing.T) {
	env := MustEnv(t, Options{CacheSize: 3})
	for i := range 10 {
		src := fmt.Sprintf("alert.severity >= %d", i)
		if c := env.Check(src, TriggerScope()); !c.OK() {
			t.Fatalf("Check(%q) issues = %v", src, c.Issues)
		}
	}
	if n := env.cache.len(); n != 3 {
		t.Errorf("cache holds %d programs, want the CacheSize 3", n)
	}
	a := env.compile("alert.severity >= 9", TriggerScope())
	b := env.compile("alert.severity >= 9", TriggerScope())
	if a != b {
		t.Error("compile() twice returned different entries, want the cached one")
	}
	if c := env.compile("alert.severity >= 9", StepScope(false)); c == a {
		t.Error("compile() in another scope returned the same entry, want one per scope")
	}
	// Callers may not corrupt the cache through the returned slices.
	got := env.Check("item > 1", StepScope(false))
	got.Issues[0].Message = "changed"
	if again := env.Check("item > 1", StepScope(false)); again.Issues[0].Message == "changed" {
		t.Error("Check() returned the cached Issues slice, want a copy")
	}
}

func TestNewEnv_Defaults(t *testing.T) {
	got := MustEnv(t, Options{}).Options()
	want := Options{CostLimit: DefaultCostLimit, MaxCost: DefaultMaxCost, MaxListSize: DefaultMaxListSize, CacheSize: DefaultCacheSize}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Options() mismatch (-want +got):\n%s", diff)
	}
}

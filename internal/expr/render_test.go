package expr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEvalTemplate(t *testing.T) {
	env := MustEnv(t, Options{})
	tree := map[string]any{
		"ips":      "${{ alert.iocs.ips }}",
		"count":    "${{ alert.count }}",
		"labels":   "${{ alert.labels }}",
		"resource": "  ${{ alert.resource.security_group_ids }}\n",
		"flag":     "${{ alert.severity >= 3 }}",
		"score":    "${{ alert.raw.detail.score }}",
		"whole":    "${{ 3.0 }}",
		"null":     "${{ alert.raw.?nothing }}",
		"text": "挂马 on ${{ vars.instance }}: sev ${{ alert.severity }}, score ${{ alert.raw.detail.score }}, " +
			"port ${{ alert.raw.detail.port }}, double ${{ 3.0 }}, tiny ${{ 0.0000001 }}, ips ${{ alert.iocs.ips }}, " +
			"map ${{ {'b': 1, 'a': '<x>'} }}, none=[${{ alert.raw.?nothing }}], ok=${{ true }}, at ${{ alert.time }}, " +
			"after ${{ now - alert.time }}",
		"escaped": "$${{ not evaluated }} but ${{ 1 + 1 }}",
		"literal": "no templates here",
		"nested": map[string]any{
			"list":  []any{"${{ incident.id }}", 3.0, 2.5, "lit", true, nil},
			"empty": map[string]any{},
		},
		"typed":  []string{"${{ alert.severity }}", "x"},
		"anykey": map[any]any{1: "${{ alert.severity }}", true: "x"},
		"number": 7,
	}
	want := map[string]any{
		"ips":      []any{"198.51.100.9", "10.2.3.4"},
		"count":    int64(3),
		"labels":   map[string]any{"team": "web"},
		"resource": []any{"sg-1"},
		"flag":     true,
		"score":    1.5,
		"whole":    3.0,
		"null":     nil,
		"text": "挂马 on i-bp1abc: sev 4, score 1.5, port 443, double 3, tiny 1e-07, ips [\"198.51.100.9\",\"10.2.3.4\"], " +
			"map {\"a\":\"<x>\",\"b\":1}, none=[], ok=true, at 2026-05-01T03:04:05Z, after 1h30m0s",
		"escaped": "${{ not evaluated }} but 2",
		"literal": "no templates here",
		"nested": map[string]any{
			"list":  []any{"compromised-host.i-bp1abc", int64(3), 2.5, "lit", true, nil},
			"empty": map[string]any{},
		},
		"typed":  []any{int64(4), "x"},
		"anykey": map[string]any{"1": int64(4), "true": "x"},
		"number": int64(7),
	}
	got, err := env.EvalTemplate(context.Background(), tree, StepScope(false), testActivation())
	if err != nil {
		t.Fatalf("EvalTemplate() error: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EvalTemplate() mismatch (-want +got):\n%s", diff)
	}
}

func TestEvalTemplate_Foreach(t *testing.T) {
	env := MustEnv(t, Options{})
	with := map[string]any{"ip": "${{ item }}", "direction": "out", "note": "ioc #${{ index + 1 }} of ${{ size(alert.iocs.ips) }}"}
	var got []any
	for i, ip := range testAlert().IOCs.IPs {
		v, err := env.EvalTemplate(context.Background(), with, StepScope(true), foreachActivation(ip, i))
		if err != nil {
			t.Fatalf("EvalTemplate(item %d) error: %v", i, err)
		}
		got = append(got, v)
	}
	want := []any{
		map[string]any{"ip": "198.51.100.9", "direction": "out", "note": "ioc #1 of 2"},
		map[string]any{"ip": "10.2.3.4", "direction": "out", "note": "ioc #2 of 2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EvalTemplate() per item mismatch (-want +got):\n%s", diff)
	}
}

func TestEvalTemplate_Errors(t *testing.T) {
	env := MustEnv(t, Options{})
	tests := []struct {
		name  string
		tree  any
		scope Scope
		want  []string // substrings of the error
		as    any      // pointer to the error type errors.As must find
	}{
		{"typo names the path", map[string]any{"params": map[string]any{"pid": "${{ alert.process.pidd }}"}},
			StepScope(false), []string{"params.pid: ", "undefined field 'pidd'"}, new(*IssuesError)},
		{"runtime error names the path and the expression", map[string]any{"list": []any{"ok", "x ${{ vars.nope }}"}},
			StepScope(false), []string{"list[1]: ", `evaluate "vars.nope": no such key: nope`}, new(*EvalError)},
		{"unterminated template", "text ${{ alert.type", StepScope(false),
			[]string{`offset 5: unterminated "${{"`}, new(*TemplateError)},
		{"item outside foreach", map[string]any{"ip": "${{ item }}"}, StepScope(false),
			[]string{"ip: ", "item is only available inside foreach"}, new(*IssuesError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.EvalTemplate(context.Background(), tt.tree, tt.scope, testActivation())
			if err == nil {
				t.Fatal("EvalTemplate() = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("EvalTemplate() error = %q, want it to contain %q", err, w)
				}
			}
			if !errors.As(err, tt.as) {
				t.Errorf("EvalTemplate() error is %T, want %T", err, tt.as)
			}
		})
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{3, "3"}, {-2, "-2"}, {0, "0"}, {1.5, "1.5"}, {0.1, "0.1"}, {1e20, "100000000000000000000"},
		{1e21, "1e+21"}, {1e-7, "1e-07"}, {123456.789, "123456.789"},
	}
	for _, tt := range tests {
		if got := formatFloat(tt.in); got != tt.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"

	"github.com/opensoar/soar/activities"
)

// fakeEval is a small stand-in for internal/expr's Evaluator, registered
// as the activities.ExprEval local activity: cel-go over dynamic
// variables, and `${{ }}` templates (a string that is exactly one template
// keeps the expression's type; others interpolate). It covers what these
// tests write, not the full language.
type fakeEval struct {
	env *cel.Env
}

func newFakeEval(tb testing.TB) *fakeEval {
	tb.Helper()
	env, err := cel.NewEnv(
		cel.Variable("alert", cel.DynType),
		cel.Variable("incident", cel.DynType),
		cel.Variable("vars", cel.DynType),
		cel.Variable("steps", cel.DynType),
		cel.Variable("item", cel.DynType),
		cel.Variable("index", cel.IntType),
		cel.Variable("now", cel.TimestampType),
		cel.Variable("action", cel.StringType),
		cel.Variable("params", cel.DynType),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		tb.Fatalf("cel.NewEnv: %v", err)
	}
	return &fakeEval{env: env}
}

// Eval implements the ExprEval contract: per-item errors, never a failed
// activity for a bad expression.
func (f *fakeEval) Eval(_ context.Context, req activities.EvalRequest) (activities.EvalResult, error) {
	vars, err := activation(req.Context)
	if err != nil {
		return activities.EvalResult{}, err
	}
	var res activities.EvalResult
	for _, it := range req.Items {
		var v any
		var err error
		if it.IsTemplate {
			v, err = f.render(it.Template, vars)
		} else {
			v, err = f.cel(it.CEL, vars)
		}
		ev := activities.EvalValue{Name: it.Name, Value: v}
		if err != nil {
			ev = activities.EvalValue{Name: it.Name, Error: fmt.Sprintf("%s: %v", it.Name, err)}
		}
		res.Values = append(res.Values, ev)
	}
	return res, nil
}

func activation(c activities.EvalContext) (map[string]any, error) {
	var alert map[string]any
	if err := json.Unmarshal(c.Alert, &alert); err != nil {
		return nil, fmt.Errorf("decode alert: %w", err)
	}
	vars := map[string]any{
		"alert":    alert,
		"incident": roundTrip(c.Incident),
		"vars":     orEmpty(c.Vars),
		"steps":    roundTrip(c.Steps),
		"item":     c.Item,
		"index":    int64(c.Index),
		"now":      c.Now,
		"action":   c.Action,
		"params":   orEmpty(c.Params),
	}
	return vars, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func roundTrip(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	if out == nil {
		return map[string]any{}
	}
	return out
}

func (f *fakeEval) cel(src string, vars map[string]any) (any, error) {
	ast, iss := f.env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	prg, err := f.env.Program(ast)
	if err != nil {
		return nil, err
	}
	out, _, err := prg.Eval(vars)
	if err != nil {
		return nil, err
	}
	return native(out), nil
}

var templateRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

func (f *fakeEval) render(t any, vars map[string]any) (any, error) {
	switch t := t.(type) {
	case string:
		m := templateRE.FindAllStringSubmatchIndex(t, -1)
		if len(m) == 1 && strings.TrimSpace(t[:m[0][0]]) == "" && strings.TrimSpace(t[m[0][1]:]) == "" {
			return f.cel(t[m[0][2]:m[0][3]], vars)
		}
		var err error
		out := templateRE.ReplaceAllStringFunc(t, func(seg string) string {
			v, e := f.cel(templateRE.FindStringSubmatch(seg)[1], vars)
			if e != nil {
				err = e
				return ""
			}
			return text(v)
		})
		return out, err
	case map[string]any:
		out := map[string]any{}
		for k, v := range t {
			r, err := f.render(v, vars)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			r, err := f.render(v, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return t, nil
}

func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if v == math.Trunc(v) {
			return fmt.Sprintf("%d", int64(v))
		}
	case map[string]any, []any:
		data, _ := json.Marshal(v)
		return string(data)
	}
	return fmt.Sprint(v)
}

func native(v ref.Val) any {
	switch v.Type() {
	case types.NullType:
		return nil
	case types.ListType:
		l := v.(traits.Lister)
		n := int(l.Size().(types.Int))
		out := make([]any, n)
		for i := range n {
			out[i] = native(l.Get(types.Int(i)))
		}
		return out
	case types.MapType:
		m := v.(traits.Mapper)
		out := map[string]any{}
		it := m.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			out[fmt.Sprint(k.Value())] = native(m.Get(k))
		}
		return out
	}
	return v.Value()
}

package expr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// ErrCostLimit is wrapped by the [EvalError] of an evaluation stopped by
// [Options.CostLimit].
var ErrCostLimit = errors.New("cost limit exceeded")

// EvalError is a runtime failure of one expression: a missing map key, a
// bad conversion, the cost limit, a cancelled context.
type EvalError struct {
	// Expr is the CEL source.
	Expr string
	Err  error
}

// Error implements error.
func (e *EvalError) Error() string {
	return fmt.Sprintf("evaluate %q: %v", e.Expr, e.Err)
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }

// Program is a compiled, checked expression ready to evaluate many times.
// It is safe for concurrent use.
type Program struct {
	env     *Env
	src     string
	checked Checked
	c       *compiled
}

// Source returns the CEL source of the program.
func (p *Program) Source() string { return p.src }

// Type returns the static result type, as [Checked.Type].
func (p *Program) Type() string { return p.checked.Type }

// Compile compiles src for scope, or returns an *[IssuesError]. The program
// is cached: compiling the same (scope, source) again is a map lookup.
func (e *Env) Compile(src string, scope Scope) (*Program, error) {
	c := e.compile(src, scope)
	if len(c.checked.Issues) > 0 {
		return nil, &IssuesError{Expr: src, Issues: slices.Clone(c.checked.Issues)}
	}
	return &Program{env: e, src: src, checked: c.checked, c: c}, nil
}

// CompileBool compiles a condition (trigger.when, if): its type must be bool
// or dyn. It returns an *[IssuesError] otherwise.
func (e *Env) CompileBool(src string, scope Scope) (*Program, error) {
	return e.compileTyped(src, scope, "a bool", "bool", "dyn")
}

// CompileString compiles a key (dedup.key): its type must be string, int,
// uint or dyn; [Program.EvalString] renders ints as decimal text.
func (e *Env) CompileString(src string, scope Scope) (*Program, error) {
	return e.compileTyped(src, scope, "a string", "string", "int", "uint", "dyn")
}

// CompileInt compiles an int expression (severity): its type must be int,
// uint or dyn.
func (e *Env) CompileInt(src string, scope Scope) (*Program, error) {
	return e.compileTyped(src, scope, "an int", "int", "uint", "dyn")
}

func (e *Env) compileTyped(src string, scope Scope, what string, allowed ...string) (*Program, error) {
	p, err := e.Compile(src, scope)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(allowed, p.checked.Type) {
		return nil, &IssuesError{Expr: src, Issues: []Issue{{Line: 1, Column: 1, Code: CodeType,
			Message: fmt.Sprintf("want %s expression, got %s", what, p.checked.Type)}}}
	}
	return p, nil
}

// Eval compiles (or finds in the cache) and evaluates one bare CEL
// expression. Compile problems are an *[IssuesError], runtime ones an
// *[EvalError].
func (e *Env) Eval(ctx context.Context, src string, scope Scope, act Activation) (any, error) {
	return e.eval(ctx, src, scope, &act)
}

func (e *Env) eval(ctx context.Context, src string, scope Scope, act *Activation) (any, error) {
	p, err := e.Compile(src, scope)
	if err != nil {
		return nil, err
	}
	return p.evalGo(ctx, act)
}

// Eval evaluates the program and returns a plain Go value (see the package
// documentation). Runtime problems are an *[EvalError].
func (p *Program) Eval(ctx context.Context, act Activation) (any, error) {
	return p.evalGo(ctx, &act)
}

func (p *Program) evalGo(ctx context.Context, act *Activation) (any, error) {
	v, err := p.evalVal(ctx, act)
	if err != nil {
		return nil, err
	}
	out, err := toGo(v)
	if err != nil {
		return nil, &EvalError{Expr: p.src, Err: err}
	}
	return out, nil
}

// EvalBool evaluates a condition. A dyn expression that yields something
// other than a bool is an *[EvalError].
func (p *Program) EvalBool(ctx context.Context, act Activation) (bool, error) {
	v, err := p.evalVal(ctx, &act)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, &EvalError{Expr: p.src, Err: fmt.Errorf("want a bool, got %s", v.Type().TypeName())}
	}
	return bool(b), nil
}

// EvalString evaluates a key: strings as they are, ints as decimal text.
func (p *Program) EvalString(ctx context.Context, act Activation) (string, error) {
	v, err := p.evalVal(ctx, &act)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case types.String:
		return string(x), nil
	case types.Int, types.Uint:
		return fmt.Sprint(x.Value()), nil
	}
	return "", &EvalError{Expr: p.src, Err: fmt.Errorf("want a string, got %s", v.Type().TypeName())}
}

// EvalInt evaluates an int expression; a whole double is accepted.
func (p *Program) EvalInt(ctx context.Context, act Activation) (int64, error) {
	v, err := p.evalVal(ctx, &act)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case types.Int:
		return int64(x), nil
	case types.Uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), nil
		}
	case types.Double:
		if i, ok := integral(float64(x)); ok {
			return i, nil
		}
	}
	return 0, &EvalError{Expr: p.src, Err: fmt.Errorf("want an int, got %s %v", v.Type().TypeName(), v.Value())}
}

func (p *Program) evalVal(ctx context.Context, act *Activation) (ref.Val, error) {
	var (
		out ref.Val
		err error
	)
	if ctx.Done() == nil {
		// Nothing can cancel: skip the interruptible frame ContextEval sets up.
		out, _, err = p.c.prg.Eval(newActivation(act))
	} else {
		out, _, err = p.c.prg.ContextEval(ctx, newActivation(act))
	}
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			err = fmt.Errorf("%w: the expression ran more than %d operations", ErrCostLimit, p.env.opts.CostLimit)
		}
		return nil, &EvalError{Expr: p.src, Err: err}
	}
	return out, nil
}

// EvalTemplate walks a value tree (maps, lists and scalars decoded from YAML
// or JSON) and renders every string as a template: a whole-value template
// keeps the expression's type, embedded ones interpolate as strings (see
// the package documentation). Map keys are not rendered. Numbers come back
// as int64 when whole. An error names the path of the failing value
// ("params.pid: evaluate …").
func (e *Env) EvalTemplate(ctx context.Context, v any, scope Scope, act Activation) (any, error) {
	return e.render(ctx, v, scope, &act, "")
}

func (e *Env) render(ctx context.Context, v any, scope Scope, act *Activation, path string) (any, error) {
	switch x := v.(type) {
	case string:
		out, err := e.renderString(ctx, x, scope, act)
		if err != nil && path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return out, err
	case map[string]any:
		out := make(map[string]any, len(x))
		// Sorted keys: the first error reported does not depend on map order.
		for _, k := range slices.Sorted(maps.Keys(x)) {
			r, err := e.render(ctx, x[k], scope, act, joinPath(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			r, err := e.render(ctx, el, scope, act, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[mapKey(it.Key().Interface())] = it.Value().Interface()
		}
		return e.render(ctx, m, scope, act, path)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return v, nil
		}
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return e.render(ctx, l, scope, act, path)
	}
	return normalizeJSON(v), nil
}

func (e *Env) renderString(ctx context.Context, s string, scope Scope, act *Activation) (any, error) {
	t, err := ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	if t.IsLiteral() {
		return t.Text(), nil
	}
	if t.Whole() {
		return e.eval(ctx, t.Exprs()[0].Expr, scope, act)
	}
	var b strings.Builder
	for _, seg := range t.Segments {
		if seg.Expr == "" {
			b.WriteString(seg.Literal)
			continue
		}
		v, err := e.eval(ctx, seg.Expr, scope, act)
		if err != nil {
			return nil, err
		}
		b.WriteString(interpolate(v))
	}
	return b.String(), nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

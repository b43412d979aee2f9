package workflows

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
)

// evalBatch collects the expressions of one ExprEval call. The workflow
// never evaluates CEL itself: every decision goes through the
// activities.ExprEval local activity, so its result is recorded in history
// and replay reads it back instead of evaluating again.
type evalBatch struct {
	items []activities.EvalItem
	// text is every expression source of the batch, used to decide which
	// parts of the context the evaluator needs (see evalContext).
	text strings.Builder
}

// cel adds a bare CEL expression.
func (b *evalBatch) cel(name, src string) {
	b.items = append(b.items, activities.EvalItem{Name: name, CEL: src})
	b.text.WriteString(src)
	b.text.WriteByte('\n')
}

// template adds a value that may hold `${{ }}` templates.
func (b *evalBatch) template(name string, v any) {
	b.items = append(b.items, activities.EvalItem{Name: name, Template: v, IsTemplate: true})
	collectText(&b.text, v)
}

func (b *evalBatch) empty() bool { return len(b.items) == 0 }

// collectText appends every string leaf of a template tree.
func collectText(sb *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		sb.WriteString(v)
		sb.WriteByte('\n')
	case map[string]any:
		for _, k := range workflow.DeterministicKeys(v) {
			collectText(sb, v[k])
		}
	case []any:
		for _, e := range v {
			collectText(sb, e)
		}
	}
}

// evalScope is the optional part of an expression context.
type evalScope struct {
	hasItem bool
	item    any
	index   int
	// action and params are bound for require_approval rules.
	action string
	params map[string]any
}

// values is an ExprEval result by item name.
type values map[string]activities.EvalValue

// eval runs one ExprEval local activity.
func (s *incident) eval(ctx workflow.Context, b *evalBatch, sc evalScope) (values, error) {
	if b.empty() {
		return values{}, nil
	}
	req := activities.EvalRequest{Context: s.evalContext(ctx, b.text.String(), sc), Items: b.items}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		Summary:             "evaluate " + b.items[0].Name,
	})
	var res activities.EvalResult
	s.inflight++
	err := workflow.ExecuteLocalActivity(lctx, activities.ExprEval, req).Get(lctx, &res)
	s.inflight--
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", b.items[0].Name, err)
	}
	out := make(values, len(res.Values))
	for _, v := range res.Values {
		out[v.Name] = v
	}
	return out, nil
}

// evalContext builds the expression context of DESIGN §5. To keep history
// small it leaves out what the batch cannot reference: the alert's raw
// vendor payload unless an expression mentions "raw", and the steps unless
// an expression mentions "steps" (then only the steps whose ID occurs in
// the text; over-inclusion is harmless, a referenced step is never left out).
func (s *incident) evalContext(ctx workflow.Context, text string, sc evalScope) activities.EvalContext {
	ec := activities.EvalContext{
		Alert:    s.alertSlim,
		Incident: s.Info,
		Vars:     s.Vars,
		Now:      workflow.Now(ctx),
		HasItem:  sc.hasItem,
		Item:     sc.item,
		Index:    sc.index,
		Action:   sc.action,
		Params:   sc.params,
	}
	if strings.Contains(text, "raw") {
		ec.Alert = s.alertFull
	}
	if strings.Contains(text, "steps") {
		ec.Steps = map[string]activities.StepState{}
		for _, id := range s.order {
			if strings.Contains(text, id) {
				ec.Steps[id] = s.stepState(s.Steps[id])
			}
		}
	}
	return ec
}

// stepState is what expressions see as steps.<id>. A foreach step's
// output is {"items": [item outputs in order]}.
func (s *incident) stepState(sr *stepRun) activities.StepState {
	st := activities.StepState{Status: sr.Status, Error: sr.Error, ApprovedBy: orNone(sr.ApprovedBy)}
	if !sr.Foreach {
		if len(sr.Units) == 1 {
			u := sr.Units[0]
			st.Output = u.Output
			st.ApprovedBy = mergeNames(st.ApprovedBy, u.ApprovedBy)
		}
		return st
	}
	outs := make([]any, len(sr.Units))
	for i, u := range sr.Units {
		outs[i] = u.Output
		st.Items = append(st.Items, activities.StepState{
			Status: u.Status, Output: u.Output, Error: u.Error, ApprovedBy: orNone(mergeNames(sr.ApprovedBy, u.ApprovedBy)),
		})
	}
	st.Output = map[string]any{"items": outs}
	return st
}

// orNone keeps a list non-nil, so that expressions see [] rather than null.
func orNone(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

// value returns the value of a named item, or its evaluation error.
func (v values) value(name string) (any, error) {
	ev, ok := v[name]
	if !ok {
		return nil, fmt.Errorf("%s: the evaluator returned no value", name)
	}
	if ev.Error != "" {
		return nil, errors.New(ev.Error)
	}
	return ev.Value, nil
}

// asBool converts a condition result.
func asBool(name string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: got %T, want a bool", name, v)
	}
	return b, nil
}

// asList converts a foreach result.
func asList(name string, v any) ([]any, error) {
	switch l := v.(type) {
	case []any:
		return l, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("%s: got %T, want a list", name, v)
}

// asInt converts a severity result (JSON numbers decode as float64).
func asInt(name string, v any) (int, error) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) {
			return 0, fmt.Errorf("%s: %v is not an integer", name, n)
		}
		return int(n), nil
	case int:
		return n, nil
	case int64:
		return int(n), nil
	}
	return 0, fmt.Errorf("%s: got %T, want an int", name, v)
}

// asMap converts a rendered `with`.
func asMap(name string, v any) (map[string]any, error) {
	switch m := v.(type) {
	case map[string]any:
		return m, nil
	case nil:
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("%s: got %T, want a map", name, v)
}

// asString renders a message result.
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// mergeNames returns a followed by the names of b it lacks. It never
// modifies a's backing array.
func mergeNames(a, b []string) []string {
	out := a
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(slices.Clip(out), n)
		}
	}
	return out
}

// startIncident evaluates vars (in order; a var may use the vars before
// it) and the playbook's severity, once, when the incident opens. A var
// error fails the playbook; a severity error keeps the alert's severity.
func (s *incident) startIncident(ctx workflow.Context) error {
	s.Vars = map[string]any{}
	vars := s.pb.Vars
	sevDone := s.pb.Severity == ""
	for start := 0; start < len(vars) || !sevDone; {
		// A batch ends before a var that mentions vars, so that it sees the
		// values of the vars before it.
		var b evalBatch
		end := start
		for end < len(vars) {
			if end > start && mentionsVars(vars[end].Value) {
				break
			}
			b.template("vars."+vars[end].Name, vars[end].Value)
			end++
		}
		if !sevDone {
			b.cel("severity", s.pb.Severity)
		}
		res, err := s.eval(ctx, &b, evalScope{})
		if err != nil {
			return err
		}
		for _, v := range vars[start:end] {
			val, err := res.value("vars." + v.Name)
			if err != nil {
				return err
			}
			s.Vars[v.Name] = val
		}
		if !sevDone {
			sevDone = true
			if val, err := res.value("severity"); err != nil {
				s.logger.Warn("severity expression failed; keeping the alert's", "error", err)
			} else if n, err := asInt("severity", val); err != nil {
				s.logger.Warn("severity expression failed; keeping the alert's", "error", err)
			} else {
				s.Severity = n
			}
		}
		start = end
	}
	return nil
}

func mentionsVars(v any) bool {
	var sb strings.Builder
	collectText(&sb, v)
	return strings.Contains(sb.String(), "vars")
}

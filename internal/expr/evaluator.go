package expr

import (
	"context"
	"errors"
	"fmt"

	"github.com/opensoar/soar/activities"
)

// Evaluator is the [activities.ExprEval] local activity: the Incident
// workflow sends it a step's expressions and the expression context, and
// the values it returns are recorded in history, so replay never evaluates
// CEL again. Register it under that name:
//
//	w.RegisterActivityWithOptions(ev.Eval, activity.RegisterOptions{Name: activities.ExprEval})
//
// It is safe for concurrent use; compiled programs are shared through the
// [Env] cache.
type Evaluator struct {
	env *Env
}

// NewEvaluator returns an Evaluator over env.
func NewEvaluator(env *Env) *Evaluator {
	return &Evaluator{env: env}
}

// Eval evaluates every item of req against req.Context, each independently:
// an item's compile or runtime error goes into its [activities.EvalValue]
// Error ("steps.kill.if: evaluate \"…\": no such key: pid") and never fails
// the others. The activity itself fails only on a malformed request (an
// undecodable alert) or a cancelled context, neither of which is a decision
// to record.
//
// The scope is taken from the context: incident, vars and steps are always
// bound; item and index when HasItem; action and params when Action is set.
func (v *Evaluator) Eval(ctx context.Context, req activities.EvalRequest) (activities.EvalResult, error) {
	act, err := ActivationFrom(req.Context)
	if err != nil {
		return activities.EvalResult{}, fmt.Errorf("%s: %w", activities.ExprEval, err)
	}
	scope := Scope{Incident: true, Item: act.HasItem, Action: act.Action != ""}
	res := activities.EvalResult{Values: make([]activities.EvalValue, 0, len(req.Items))}
	for _, it := range req.Items {
		out, err := v.evalItem(ctx, it, scope, &act)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return activities.EvalResult{}, fmt.Errorf("%s %s: %w", activities.ExprEval, it.Name, ctxErr)
		}
		val := activities.EvalValue{Name: it.Name}
		if err != nil {
			val.Error = fmt.Sprintf("%s: %v", it.Name, err)
		} else {
			val.Value = out
		}
		res.Values = append(res.Values, val)
	}
	return res, nil
}

func (v *Evaluator) evalItem(ctx context.Context, it activities.EvalItem, scope Scope, act *Activation) (any, error) {
	switch {
	case it.IsTemplate || it.Template != nil:
		return v.env.render(ctx, it.Template, scope, act, "")
	case it.CEL != "":
		return v.env.eval(ctx, it.CEL, scope, act)
	}
	return nil, errors.New("empty item: set cel or template")
}

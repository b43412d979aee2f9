package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/cel-go/interpreter"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
)

// Activation holds the values of the variables of one evaluation. Only the
// variables of the expression's [Scope] are read.
type Activation struct {
	// Alert is the incident's first alert; nil reads as an empty alert.
	Alert    *alert.Alert
	Incident activities.IncidentInfo
	Vars     map[string]any
	Steps    map[string]activities.StepState
	// HasItem is true inside foreach, where Item and Index are bound.
	HasItem bool
	Item    any
	Index   int
	// Now is the evaluation time: workflow.Now in the workflow, the receive
	// time in ingest.
	Now time.Time
	// Action and Params are bound for guardrail require_approval rules.
	Action string
	Params map[string]any
}

// celActivation resolves soar's variables for cel-go without building a
// map per evaluation.
type celActivation struct {
	a     Activation
	alert *alert.Alert
}

// newActivation copies a: one allocation per evaluation.
func newActivation(a *Activation) *celActivation {
	c := &celActivation{a: *a, alert: a.Alert}
	if c.alert == nil {
		c.alert = &alert.Alert{}
	}
	return c
}

// ResolveName implements [interpreter.Activation].
func (c *celActivation) ResolveName(name string) (any, bool) {
	switch name {
	case varAlert:
		return c.alert, true
	case varNow:
		return c.a.Now, true
	case varIncident:
		return &c.a.Incident, true
	case varVars:
		if c.a.Vars == nil {
			return map[string]any{}, true
		}
		return c.a.Vars, true
	case varSteps:
		if c.a.Steps == nil {
			return map[string]activities.StepState{}, true
		}
		return c.a.Steps, true
	case varItem:
		return c.a.Item, true
	case varIndex:
		return int64(c.a.Index), true
	case varAction:
		return c.a.Action, true
	case varParams:
		if c.a.Params == nil {
			return map[string]any{}, true
		}
		return c.a.Params, true
	}
	return nil, false
}

// Parent implements [interpreter.Activation].
func (c *celActivation) Parent() interpreter.Activation { return nil }

// ActivationFrom decodes an [activities.EvalContext], as the workflow sends
// it through history, into an Activation. The alert JSON is decoded with
// exact numbers; every number without a fractional part becomes an int64
// (workflow history is JSON, where 3 and 3.0 are the same number).
func ActivationFrom(c activities.EvalContext) (Activation, error) {
	a := Activation{
		Incident: c.Incident,
		Vars:     normalizeMap(c.Vars),
		Steps:    normalizeSteps(c.Steps),
		HasItem:  c.HasItem,
		Item:     normalizeJSON(c.Item),
		Index:    c.Index,
		Now:      c.Now,
		Action:   c.Action,
		Params:   normalizeMap(c.Params),
	}
	al := &alert.Alert{}
	if raw := bytes.TrimSpace(c.Alert); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(al); err != nil {
			return Activation{}, fmt.Errorf("decode alert: %w", err)
		}
		al.Raw = normalizeJSON(al.Raw)
	}
	a.Alert = al
	return a, nil
}

func normalizeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return normalizeJSON(m).(map[string]any)
}

func normalizeSteps(steps map[string]activities.StepState) map[string]activities.StepState {
	if steps == nil {
		return nil
	}
	out := make(map[string]activities.StepState, len(steps))
	for id, s := range steps {
		out[id] = normalizeStep(s)
	}
	return out
}

func normalizeStep(s activities.StepState) activities.StepState {
	s.Output = normalizeMap(s.Output)
	if s.Items != nil {
		items := make([]activities.StepState, len(s.Items))
		for i, it := range s.Items {
			items[i] = normalizeStep(it)
		}
		s.Items = items
	}
	return s
}

package activities

import (
	"encoding/json"
	"time"
)

// Step statuses, as playbooks read them in steps.<id>.status.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusWaiting   = "awaiting_approval"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
	StatusRejected  = "rejected"
	StatusTimedOut  = "timed_out"
	StatusPlanned   = "planned"
	StatusReverted  = "reverted"
)

// StepState is what an expression sees as steps.<id>.
type StepState struct {
	Status string         `json:"status"`
	Output map[string]any `json:"output"`
	Error  string         `json:"error"`
	// ApprovedBy lists the users who approved the step's gate.
	ApprovedBy []string `json:"approved_by"`
	// Items are the per-item states of a foreach step, in item order.
	Items []StepState `json:"items"`
}

// IncidentInfo is what an expression sees as incident.
type IncidentInfo struct {
	ID         string    `json:"id"`
	Playbook   string    `json:"playbook"`
	AlertCount int       `json:"alert_count"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	// Error is the error that failed the playbook (on_failure steps).
	Error string `json:"error"`
}

// EvalContext is the expression context: what playbook expressions see
// (alert, incident, vars, steps, item, index, now).
type EvalContext struct {
	// Alert is the incident's first alert, as the JSON of internal/alert.Alert.
	Alert    json.RawMessage      `json:"alert"`
	Incident IncidentInfo         `json:"incident"`
	Vars     map[string]any       `json:"vars,omitempty"`
	Steps    map[string]StepState `json:"steps,omitempty"`
	// Item and Index are bound inside foreach (HasItem true).
	HasItem bool `json:"has_item,omitempty"`
	Item    any  `json:"item,omitempty"`
	Index   int  `json:"index,omitempty"`
	// Now is the workflow time of the evaluation.
	Now time.Time `json:"now"`
	// Action and Params are bound for guardrail require_approval rules.
	Action string         `json:"action,omitempty"`
	Params map[string]any `json:"params,omitempty"`
}

// EvalItem is one expression to evaluate. Exactly one of CEL and Template is
// used: CEL for bare expressions (if, when, key, severity), Template for
// values that may hold `${{ }}` templates (with, vars, foreach, message).
type EvalItem struct {
	// Name labels the item in the result and in errors, e.g. "steps.kill.if".
	Name     string `json:"name"`
	CEL      string `json:"cel,omitempty"`
	Template any    `json:"template,omitempty"`
	// IsTemplate is true when Template is set (a nil template is valid).
	IsTemplate bool `json:"is_template,omitempty"`
}

// EvalRequest is the input of [ExprEval].
type EvalRequest struct {
	Context EvalContext `json:"context"`
	Items   []EvalItem  `json:"items"`
}

// EvalValue is the result of one [EvalItem].
type EvalValue struct {
	Name  string `json:"name"`
	Value any    `json:"value,omitempty"`
	// Error is set when the item failed to evaluate (a runtime CEL error,
	// the cost limit); Value is then nil.
	Error string `json:"error,omitempty"`
}

// EvalResult is the output of [ExprEval], in the order of the items.
type EvalResult struct {
	Values []EvalValue `json:"values"`
}

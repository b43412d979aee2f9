// Package workflows holds the Incident workflow: the interpreter of a
// playbook snapshot for one incident, with approvals, auto-revert timers,
// alert aggregation and guardrail approvals (DESIGN §6).
//
// It imports no cloud SDK, no NATS and no net/http: it calls activities by
// their catalog names with the contract types of package activities, and
// evaluates CEL only through the recorded activities.ExprEval local activity.
package workflows

import (
	"time"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/playbook"
)

// IncidentInput is the input of the Incident workflow. It is persisted in
// history: only add fields.
type IncidentInput struct {
	// IncidentID is the workflow ID (DESIGN §6), also incident.id in CEL.
	IncidentID string `json:"incident_id"`
	// Playbook is the validated playbook snapshot; editing the file never
	// changes a running incident.
	Playbook playbook.Playbook `json:"playbook"`
	// Approvers maps every approver group the playbook or the policy names to
	// its users, resolved from soar.yaml when the incident opened.
	Approvers map[string][]string `json:"approvers,omitempty"`
	// Policy is the guardrail policy in force when the incident opened.
	Policy guard.Policy `json:"policy"`
	// Alert is the first alert.
	Alert alert.Alert `json:"alert"`
	// DedupKey is the evaluated dedup key, empty without dedup.
	DedupKey string `json:"dedup_key,omitempty"`
	// Carry is the state carried over by continue-as-new; nil on a new
	// incident.
	Carry *Carry `json:"carry,omitempty"`
}

// Carry is the incident state that survives continue-as-new. Its shape is
// owned by the workflow implementation; it is opaque to callers.
type Carry struct {
	State map[string]any `json:"state"`
}

// AlertUpdate is the argument of the "alert" Update.
type AlertUpdate struct {
	Alert alert.Alert `json:"alert"`
}

// AlertAck is the result of the "alert" Update.
type AlertAck struct {
	// Incident is the workflow ID that absorbed the alert.
	Incident string `json:"incident"`
	// AlertCount is incident.alert_count after this alert.
	AlertCount int `json:"alert_count"`
	// Duplicate is true when this alert ID had been seen before.
	Duplicate bool `json:"duplicate,omitempty"`
}

// ApproveRequest is the argument of the "approve" Update; it is what an
// analyst types in the Temporal UI.
type ApproveRequest struct {
	// Step is the step ID (as shown in the incident's current details).
	Step string `json:"step"`
	// Decision is approve or reject.
	Decision string `json:"decision"`
	// By is the approving user.
	By      string `json:"by"`
	Comment string `json:"comment,omitempty"`
}

// Decisions of [ApproveRequest.Decision].
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// ApproveResult is the result of the "approve" Update.
type ApproveResult struct {
	Step string `json:"step"`
	// Approvals is the number of distinct approvals so far, Quorum the
	// number needed.
	Approvals int `json:"approvals"`
	Quorum    int `json:"quorum"`
	// Outcome is pending, approved or rejected.
	Outcome string `json:"outcome"`
}

// StepRequest is the argument of the "revert" and "keep" Updates.
type StepRequest struct {
	Step string `json:"step"`
	By   string `json:"by,omitempty"`
}

// ExtendRequest is the argument of the "extend" Update.
type ExtendRequest struct {
	Step string `json:"step"`
	// By is how much later the revert runs, a Go duration such as 24h.
	By string `json:"by"`
	// User is who asked.
	User string `json:"user,omitempty"`
}

// Status is the result of the "status" Query.
type Status struct {
	Incident   string          `json:"incident"`
	Playbook   string          `json:"playbook"`
	State      string          `json:"state"`
	DryRun     bool            `json:"dry_run,omitempty"`
	AlertCount int             `json:"alert_count"`
	FirstSeen  time.Time       `json:"first_seen"`
	LastSeen   time.Time       `json:"last_seen"`
	Steps      []StepStatus    `json:"steps"`
	Pending    []PendingGate   `json:"pending_approvals,omitempty"`
	Reverts    []PlannedRevert `json:"planned_reverts,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// StepStatus is one step's state in [Status].
type StepStatus struct {
	ID         string         `json:"id"`
	Action     string         `json:"action,omitempty"`
	Status     string         `json:"status"`
	Target     string         `json:"target,omitempty"`
	Error      string         `json:"error,omitempty"`
	ApprovedBy []string       `json:"approved_by,omitempty"`
	Output     map[string]any `json:"output,omitempty"`
	Items      int            `json:"items,omitempty"`
	StartedAt  time.Time      `json:"started_at,omitempty"`
	EndedAt    time.Time      `json:"ended_at,omitempty"`
}

// PendingGate is an approval waiting for analysts.
type PendingGate struct {
	Step      string    `json:"step"`
	Message   string    `json:"message"`
	Approvers []string  `json:"approvers"`
	Quorum    int       `json:"quorum"`
	Approvals []string  `json:"approvals,omitempty"`
	Deadline  time.Time `json:"deadline"`
	OnTimeout string    `json:"on_timeout"`
	// Reason says why the gate exists: playbook, policy:<rule>,
	// protected_instance or budget.
	Reason string `json:"reason"`
}

// PlannedRevert is an auto-revert waiting on its timer.
type PlannedRevert struct {
	Step   string    `json:"step"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	At     time.Time `json:"at"`
}

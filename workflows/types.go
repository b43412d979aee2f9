// Package workflows holds the Incident workflow: the interpreter of a
// playbook snapshot for one incident, with approvals, auto-revert timers,
// alert aggregation and guardrail approvals.
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
	// IncidentID is the workflow ID, also incident.id in CEL.
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
	// DefaultApprovers are the users or groups that approve policy gates
	// (protected instances, budgets) naming no approvers of their own: the
	// first approver group of soar.yaml. Empty means every group in
	// Approvers.
	DefaultApprovers []string `json:"default_approvers,omitempty"`
	// Hops counts the linkage alerts that led to this incident; it is
	// passed to actions as meta.hops (nats.publish stops loops with it).
	Hops int `json:"hops,omitempty"`
	// Limits bound one workflow run before it continues as new; the zero
	// value means the defaults.
	Limits Limits `json:"limits,omitzero"`
	// Cloud names soar.yaml's cloud accounts, so that the hold registry
	// keys a measure the same way whichever way an alert named its account
	// (see holdKey); nil on incidents opened before it existed.
	Cloud *CloudDirectory `json:"cloud,omitempty"`
}

// CloudDirectory is what an incident needs of soar.yaml's cloud accounts
// to tell when two actions act on the same account and region: the
// activities resolve an account by name or by UID, "" meaning the default
// account, and an empty region meaning the account's.
type CloudDirectory struct {
	// DefaultAccount is the name of the account used when none is named.
	DefaultAccount string `json:"default_account,omitempty"`
	// AccountIDs maps an account's UID to its name.
	AccountIDs map[string]string `json:"account_ids,omitempty"`
	// Regions maps every account's name to its region ("" when it has
	// none).
	Regions map[string]string `json:"regions,omitempty"`
}

// Limits bound one run of the Incident workflow. Past any of them the
// workflow continues as new at its next safe point (no activity in flight),
// carrying its whole state in [Carry]. Temporal's own suggestion
// (GetContinueAsNewSuggested) is always honoured as well.
type Limits struct {
	// MaxUpdates is the number of accepted Updates (alerts, approvals,
	// reverts) per run; the server refuses more than 2,000. Default 1,000.
	MaxUpdates int `json:"max_updates,omitempty"`
	// MaxHistoryEvents is the history length past which the run continues
	// as new. Default 8,000 (the server warns at 10,240).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
	// MaxSeenAlerts bounds the set of alert IDs kept for deduplication
	// (the most recent ones). Default 1,000.
	MaxSeenAlerts int `json:"max_seen_alerts,omitempty"`
}

// Defaults of [Limits].
const (
	DefaultMaxUpdates       = 1000
	DefaultMaxHistoryEvents = 8000
	DefaultMaxSeenAlerts    = 1000
)

func (l Limits) withDefaults() Limits {
	if l.MaxUpdates <= 0 {
		l.MaxUpdates = DefaultMaxUpdates
	}
	if l.MaxHistoryEvents <= 0 {
		l.MaxHistoryEvents = DefaultMaxHistoryEvents
	}
	if l.MaxSeenAlerts <= 0 {
		l.MaxSeenAlerts = DefaultMaxSeenAlerts
	}
	return l
}

// Carry is the incident state that survives continue-as-new. Its shape is
// owned by the workflow implementation; it is opaque to callers. State holds
// the JSON object of the workflow's internal snapshot (step states, gates
// with their votes and deadlines, applied actions with their revert times,
// seen alert IDs).
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

// Outcomes of [ApproveResult.Outcome].
const (
	OutcomePending  = "pending"
	OutcomeApproved = "approved"
	OutcomeRejected = "rejected"
	OutcomeTimedOut = "timed_out"
)

// Gate reasons of [PendingGate.Reason] and [StepStatus.Gates]; policy rules
// appear as ReasonPolicyPrefix + the rule name.
const (
	ReasonPlaybook          = "playbook"
	ReasonPolicyPrefix      = "policy:"
	ReasonProtectedInstance = "protected_instance"
	ReasonBudget            = "budget"
)

// StepRequest is the argument of the "revert" and "keep" Updates.
type StepRequest struct {
	Step string `json:"step"`
	By   string `json:"by,omitempty"`
}

// RevertResult is the result of the "revert", "extend" and "keep" Updates:
// the step's reverts after the change.
type RevertResult struct {
	Step    string          `json:"step"`
	Reverts []PlannedRevert `json:"reverts"`
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
	// Kind is the step kind: action, approval, parallel or wait.
	Kind string `json:"kind,omitempty"`
	// Gates are the reasons of the approval gates the step passed or, on
	// dry-run, would have waited for.
	Gates []string `json:"gates,omitempty"`
	// ItemStates are the per-item states of a foreach step, in item order.
	ItemStates []ItemStatus `json:"item_states,omitempty"`
}

// ItemStatus is one foreach item's state in [StepStatus].
type ItemStatus struct {
	Index      int            `json:"index"`
	Item       any            `json:"item,omitempty"`
	Status     string         `json:"status"`
	Target     string         `json:"target,omitempty"`
	Error      string         `json:"error,omitempty"`
	ApprovedBy []string       `json:"approved_by,omitempty"`
	Output     map[string]any `json:"output,omitempty"`
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
	Step string `json:"step"`
	// Action is the inverse action that runs.
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	At     time.Time `json:"at"`
	// Key is the step ID, or "<step>#<index>" for a foreach item; it is
	// what the revert, extend and keep Updates accept besides the step ID.
	Key string `json:"key,omitempty"`
	// Status is scheduled (timer running), applied (no timer: revert only
	// on request or rollback), reverting, reverted, kept, failed (the
	// inverse failed; send revert to retry, or keep to leave the measure:
	// the incident stays open until then), released (the revert came due
	// but other incidents still hold the measure: the last holder undoes
	// it), unchanged (soar never changed the target, so nothing is undone)
	// or planned (dry-run).
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// HeldBy are the other incidents' holds on the measure, as
	// "<incident>/<step> until <time>" (or "forever"): when the revert came
	// due (released), else when this incident took its hold.
	HeldBy []string `json:"held_by,omitempty"`
	// Note says in words what the hold registry decided or why a revert
	// did not run.
	Note string `json:"note,omitempty"`
}

// Revert statuses of [PlannedRevert.Status].
const (
	RevertScheduled = "scheduled"
	RevertApplied   = "applied"
	RevertReverting = "reverting"
	RevertReverted  = "reverted"
	RevertKept      = "kept"
	RevertFailed    = "failed"
	RevertPlanned   = "planned"
	// RevertUnchanged: no incident's action changed the target (each
	// found it already in the wanted state, output changed: false), so
	// soar never undoes it: soar undoes only what it did.
	RevertUnchanged = "unchanged"
	// RevertReleased: the revert came due and released this incident's
	// hold, but other incidents still hold the measure (HeldBy); the last
	// holder undoes it.
	RevertReleased = "released"
)

// Result is the outcome of an Incident run: its final status. A failed
// playbook also returns an error of type [ErrTypePlaybookFailed].
type Result struct {
	Status
	ClosedAt time.Time `json:"closed_at"`
}

// ErrTypePlaybookFailed is the application error type of an incident whose
// playbook failed (after on_failure and rollback ran).
const ErrTypePlaybookFailed = "PlaybookFailed"

// ErrTypeIncidentClosing is the application error type with which the
// "alert" Update's validator refuses a new alert while the incident closes
// (its dedup window is over; the closed event and the last handlers are
// still running). Retrying helps: once the run has completed, the same
// delivery opens a new incident.
const ErrTypeIncidentClosing = "IncidentClosing"

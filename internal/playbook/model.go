package playbook

import "time"

// Modes of [Playbook.Mode].
const (
	ModeEnforce = "enforce"
	ModeDryRun  = "dry_run"
)

// Step kinds of [Step.Kind].
const (
	KindAction   = "action"
	KindApproval = "approval"
	KindParallel = "parallel"
	KindWait     = "wait"
)

// Values of [Step.OnError].
const (
	OnErrorFail     = "fail"
	OnErrorContinue = "continue"
)

// Values of [Approval.OnTimeout].
const (
	OnTimeoutApprove = "approve"
	OnTimeoutReject  = "reject"
)

// Defaults applied by the parser when a field is absent.
const (
	DefaultTimeout         = time.Minute
	DefaultMaxParallel     = 10
	DefaultApprovalTimeout = 24 * time.Hour
	DefaultQuorum          = 1
)

// Playbook is one validated playbook. It is the snapshot an Incident
// workflow receives as input, so it must stay JSON-serializable and every
// field name is persisted in history: only add fields.
//
// Expressions are kept as source text: CEL fields (When, If, Key) as bare
// CEL, value fields (Vars, With, Foreach, Message) as values that may hold
// `${{ }}` templates. They are compiled by internal/expr where they are
// evaluated.
type Playbook struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Mode is enforce or dry_run.
	Mode    string  `json:"mode"`
	Enabled bool    `json:"enabled"`
	Trigger Trigger `json:"trigger"`
	// Dedup is nil when every alert is its own incident.
	Dedup *Dedup `json:"dedup,omitempty"`
	// Severity is a CEL int expression; empty means alert.severity.
	Severity string `json:"severity,omitempty"`
	// Vars are evaluated in order once, when the incident opens; a var may
	// use the vars before it.
	Vars      []Var  `json:"vars,omitempty"`
	Steps     []Step `json:"steps"`
	OnFailure []Step `json:"on_failure,omitempty"`
	// RollbackOnFailure runs the inverse of every applied revertible action,
	// in reverse order, when the playbook fails or is cancelled.
	RollbackOnFailure bool     `json:"rollback_on_failure,omitempty"`
	Tags              []string `json:"tags,omitempty"`

	// File is the path the playbook was loaded from.
	File string `json:"file,omitempty"`
	// Hash is the hex SHA-256 of the file's bytes.
	Hash string `json:"hash,omitempty"`
}

// Trigger decides which alerts open an incident.
type Trigger struct {
	// Subjects are NATS subject patterns (wildcards * and >).
	Subjects []string `json:"subjects"`
	// When is a CEL bool expression over alert; empty means always.
	When string `json:"when,omitempty"`
}

// Dedup folds repeat alerts into one open incident.
type Dedup struct {
	// Key is a CEL expression; its string value names the incident.
	Key string `json:"key"`
	// Window is how long after the last alert the incident keeps absorbing
	// repeats.
	Window time.Duration `json:"window"`
}

// Var is one named value.
type Var struct {
	Name string `json:"name"`
	// Value is a literal or a `${{ }}` template (see [Step.With]).
	Value any `json:"value"`
}

// Step is one step of a playbook; Kind says which of its fields apply.
type Step struct {
	// ID is unique in the playbook; empty only on parallel blocks.
	ID string `json:"id,omitempty"`
	// Name is shown in the Temporal UI as the activity summary.
	Name string `json:"name,omitempty"`
	// Kind is action, approval, parallel or wait.
	Kind string `json:"kind"`

	// Action is the catalog name of the action (Kind action).
	Action string `json:"action,omitempty"`
	// With are the action's parameters: a tree of maps, lists and scalars
	// decoded from YAML, whose strings may hold `${{ }}` templates. A string
	// that is exactly one template keeps the expression's type.
	With map[string]any `json:"with,omitempty"`

	// Parallel are the steps of a parallel block (Kind parallel).
	Parallel []Step `json:"parallel,omitempty"`
	// Wait is the pause of a wait step (Kind wait).
	Wait time.Duration `json:"wait,omitempty"`

	// If is a CEL bool expression; false skips the step.
	If string `json:"if,omitempty"`
	// Foreach is a template yielding a list; the step runs once per item with
	// item and index bound.
	Foreach     string `json:"foreach,omitempty"`
	MaxParallel int    `json:"max_parallel,omitempty"`
	// Timeout bounds one attempt of the action.
	Timeout time.Duration `json:"timeout,omitempty"`
	Retry   *Retry        `json:"retry,omitempty"`
	// OnError is fail or continue.
	OnError string `json:"on_error,omitempty"`
	// Approval gates the step (Kind approval, or an action with a gate).
	Approval *Approval `json:"approval,omitempty"`
	// RevertAfter runs the action's catalog inverse after this long; zero
	// means never.
	RevertAfter time.Duration `json:"revert_after,omitempty"`
	// ExtendOnAlert pushes the auto-revert back to revert_after after each
	// repeat alert (a block lasts as long as the attack, plus revert_after).
	ExtendOnAlert bool `json:"extend_on_alert,omitempty"`
}

// Retry is the retry policy of an action step.
type Retry struct {
	MaxAttempts     int           `json:"max_attempts"`
	InitialInterval time.Duration `json:"initial_interval"`
	Backoff         float64       `json:"backoff"`
	MaxInterval     time.Duration `json:"max_interval"`
}

// DefaultRetry is the retry policy of a step without one.
func DefaultRetry() Retry {
	return Retry{MaxAttempts: 5, InitialInterval: time.Second, Backoff: 2, MaxInterval: time.Minute}
}

// Approval is a human gate.
type Approval struct {
	// Approvers are user names or group names from soar.yaml.
	Approvers []string `json:"approvers"`
	// Quorum is how many distinct approvals pass the gate.
	Quorum  int           `json:"quorum"`
	Timeout time.Duration `json:"timeout"`
	// OnTimeout is approve or reject.
	OnTimeout string `json:"on_timeout"`
	// Message is a template shown to the approvers.
	Message string `json:"message,omitempty"`
}

// StepIDs returns the IDs of every step in order, descending into parallel
// blocks, then the on_failure steps.
func (p *Playbook) StepIDs() []string {
	var ids []string
	var walk func([]Step)
	walk = func(steps []Step) {
		for _, s := range steps {
			if s.ID != "" {
				ids = append(ids, s.ID)
			}
			walk(s.Parallel)
		}
	}
	walk(p.Steps)
	walk(p.OnFailure)
	return ids
}

package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// Phases of an incident run, in order. A run resumed by continue-as-new
// starts again at its carried phase.
const (
	phaseStart     = ""           // vars and severity not yet evaluated
	phaseSteps     = "steps"      // interpreting the playbook's steps
	phaseOnFailure = "on_failure" // the playbook failed: on_failure steps
	phaseRollback  = "rollback"   // rollback_on_failure
	phaseDone      = "done"       // steps over: reverts and the dedup window
)

// snapshotVersion is the format of [snapshot]; bump it (and keep reading
// the old one) when the shape changes incompatibly.
const snapshotVersion = 1

// snapshot is everything an incident carries across continue-as-new. It is
// serialized into [Carry.State]. Invariant: at a continue-as-new point no
// activity is in flight and no Update handler runs, so every unit of work is
// either finished (terminal status recorded), parked at a gate or a wait
// (gate or wait-until recorded), or not started (pending); resuming from the
// snapshot therefore never reruns or loses an action.
type snapshot struct {
	Version    int                     `json:"version"`
	Phase      string                  `json:"phase"`
	Info       activities.IncidentInfo `json:"info"`
	Vars       map[string]any          `json:"vars,omitempty"`
	Severity   int                     `json:"severity"`
	Target     string                  `json:"target,omitempty"`
	Failed     bool                    `json:"failed,omitempty"`
	RolledBack bool                    `json:"rolled_back,omitempty"`
	Steps      map[string]*stepRun     `json:"steps"`
	Gates      map[string]*gate        `json:"gates,omitempty"`
	Applied    []*applied              `json:"applied,omitempty"`
	// Seen are the most recent alert IDs, oldest first (bounded by
	// Limits.MaxSeenAlerts).
	Seen []string `json:"seen,omitempty"`
	// Runs counts the runs of this incident (continue-as-new increments it).
	Runs int `json:"runs"`
}

// stepRun is the state of one playbook step.
type stepRun struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Action string `json:"action,omitempty"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Evaluated is true once if, foreach, with and the approval message
	// have been evaluated (once: what the approver sees is what runs).
	Evaluated bool   `json:"evaluated,omitempty"`
	Message   string `json:"message,omitempty"`
	Foreach   bool   `json:"foreach,omitempty"`
	// Units are the action executions: one, or one per foreach item.
	Units []*unitRun `json:"units,omitempty"`
	// GatePassed is true once the playbook's own approval gate passed.
	GatePassed bool `json:"gate_passed,omitempty"`
	// GateTimedOut is true when that gate passed because it timed out with
	// on_timeout approve: no quorum of analysts approved the step.
	GateTimedOut bool     `json:"gate_timed_out,omitempty"`
	ApprovedBy   []string `json:"approved_by,omitempty"`
	// Gates are the reasons of every gate passed or (dry-run) planned.
	Gates     []string  `json:"gates,omitempty"`
	WaitUntil time.Time `json:"wait_until,omitzero"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// unitRun is one execution of an action: a step, or one foreach item.
type unitRun struct {
	// Key is the step ID, or "<step>#<index>" for a foreach item.
	Key   string `json:"key"`
	Index int    `json:"index"`
	Item  any    `json:"item,omitempty"`
	// Status is one of the activities.Status* values.
	Status string `json:"status"`
	// Rendered is true once Params holds the evaluated `with`, with
	// account and region defaulted from the alert for cloud actions.
	Rendered bool           `json:"rendered,omitempty"`
	Params   map[string]any `json:"params,omitempty"`
	Target   string         `json:"target,omitempty"`
	// PolicyChecked is true once Needs holds the policy gates.
	PolicyChecked bool   `json:"policy_checked,omitempty"`
	Needs         []need `json:"needs,omitempty"`
	// BudgetChecked is true once the budgets were taken (a denial adds a
	// budget need).
	BudgetChecked bool           `json:"budget_checked,omitempty"`
	Passed        []string       `json:"passed,omitempty"`
	Approved      bool           `json:"approved,omitempty"`
	ApprovedBy    []string       `json:"approved_by,omitempty"`
	Output        map[string]any `json:"output,omitempty"`
	Error         string         `json:"error,omitempty"`
	StartedAt     time.Time      `json:"started_at,omitzero"`
	EndedAt       time.Time      `json:"ended_at,omitzero"`
}

// need is a gate a unit must pass before its action runs.
type need struct {
	Reason    string        `json:"reason"`
	Approvers []string      `json:"approvers"`
	Quorum    int           `json:"quorum"`
	Timeout   time.Duration `json:"timeout"`
	OnTimeout string        `json:"on_timeout"`
	Message   string        `json:"message"`
}

// gate is an approval waiting for (or just given) its decision.
type gate struct {
	Key       string    `json:"key"`
	Step      string    `json:"step"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message"`
	Approvers []string  `json:"approvers"`
	Quorum    int       `json:"quorum"`
	OpenedAt  time.Time `json:"opened_at"`
	Deadline  time.Time `json:"deadline"`
	OnTimeout string    `json:"on_timeout"`
	Votes     []vote    `json:"votes,omitempty"`
	// Outcome is empty while pending, then approved, rejected or timed_out.
	Outcome string `json:"outcome,omitempty"`
}

// vote is one analyst's decision on a gate.
type vote struct {
	By       string    `json:"by"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// applied is a revertible action that ran (or, on dry-run, would run).
type applied struct {
	Key     string `json:"key"`
	Step    string `json:"step"`
	Action  string `json:"action"`
	Inverse string `json:"inverse"`
	Target  string `json:"target,omitempty"`
	// Input and Output are the recorded forward call: the inverse's input
	// is built from them with the catalog's InverseArgs.
	Input         map[string]any `json:"input"`
	Output        map[string]any `json:"output,omitempty"`
	RevertAfter   time.Duration  `json:"revert_after,omitempty"`
	ExtendOnAlert bool           `json:"extend_on_alert,omitempty"`
	// At is when the auto-revert runs (zero without revert_after).
	At     time.Time `json:"at,omitzero"`
	Status string    `json:"status"`
	Error  string    `json:"error,omitempty"`
	// InverseOutput is the inverse action's output once reverted.
	InverseOutput map[string]any `json:"inverse_output,omitempty"`
	RevertedAt    time.Time      `json:"reverted_at,omitzero"`
	// Holds are the action's holds in the cross-incident registry (one,
	// or one per address of a blacklist edit). Empty on dry-run and for
	// actions recorded before the registry existed, whose revert runs the
	// inverse at once when they changed the target.
	Holds []*hold `json:"holds,omitempty"`

	// busy is set while a hold operation of the action runs (see
	// lockHolds); syncing while syncHolds runs. Neither is carried: both
	// count as in-flight work, so no continue-as-new happens meanwhile.
	busy, syncing bool
}

// incident is one run of the Incident workflow: the input, the carried
// snapshot and the run's transient counters. Workflow code only: every
// field is read and written from workflow coroutines, which never run in
// parallel, so no locking is needed.
type incident struct {
	snapshot

	in     IncidentInput
	pb     *playbook.Playbook
	id     string
	dryRun bool
	limits Limits
	logger log.Logger
	// alertFull and alertSlim are the first alert's JSON with and without
	// its raw vendor payload (sent to ExprEval only when an expression
	// mentions raw).
	alertFull json.RawMessage
	alertSlim json.RawMessage
	// specs maps step IDs to their playbook steps; order lists the IDs of
	// the steps, then the on_failure steps, in playbook order.
	specs map[string]*playbook.Step
	order []string
	seen  map[string]bool

	// root is the workflow's context: goroutines that must outlive a
	// cancelled parallel branch (revert timers) run on it. events is the
	// context events are published on (root, then a disconnected context
	// once the incident is cancelled).
	root   workflow.Context
	events workflow.Context

	// gen changes on every state change; the main loop waits on it.
	gen int
	// inflight counts activities and local activities in flight.
	inflight int
	// updates counts the Updates accepted by this run.
	updates       int
	interpStarted bool
	interpDone    bool
	// final is closed or failed once the incident ends.
	final string
	// openOnFailedRevert is true once a revert failed on a run at
	// failedRevertChange or later: failed reverts then keep it open.
	openOnFailedRevert bool
	// sa* are the search attribute values last upserted.
	saState    string
	saSeverity int
	saTarget   string
}

// newIncident builds the run's state from its input: fresh, or restored
// from the carried snapshot.
func newIncident(ctx workflow.Context, in IncidentInput) (*incident, error) {
	s := &incident{
		in:     in,
		pb:     &in.Playbook,
		id:     in.IncidentID,
		dryRun: in.Playbook.Mode == playbook.ModeDryRun,
		limits: in.Limits.withDefaults(),
		logger: workflow.GetLogger(ctx),
		specs:  map[string]*playbook.Step{},
		seen:   map[string]bool{},
		root:   ctx,
		events: ctx,
	}
	if s.id == "" {
		s.id = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	full, err := json.Marshal(in.Alert)
	if err != nil {
		return nil, fmt.Errorf("encode alert %s: %w", in.Alert.ID, err)
	}
	slim := in.Alert
	slim.Raw = nil
	s.alertFull = full
	if s.alertSlim, err = json.Marshal(slim); err != nil {
		return nil, fmt.Errorf("encode alert %s: %w", in.Alert.ID, err)
	}
	s.indexSteps(in.Playbook.Steps)
	s.indexSteps(in.Playbook.OnFailure)

	if in.Carry != nil {
		if err := s.restore(in.Carry); err != nil {
			return nil, err
		}
	} else {
		now := workflow.Now(ctx)
		s.snapshot = snapshot{
			Version: snapshotVersion,
			Phase:   phaseStart,
			Info: activities.IncidentInfo{
				ID: s.id, Playbook: in.Playbook.Name, AlertCount: 1, FirstSeen: now, LastSeen: now,
			},
			Severity: in.Alert.Severity,
			Target:   defaultTarget(in),
			Steps:    map[string]*stepRun{},
			Gates:    map[string]*gate{},
			Runs:     1,
		}
		for _, id := range s.order {
			st := s.specs[id]
			s.Steps[id] = &stepRun{ID: id, Kind: st.Kind, Action: st.Action, Status: activities.StatusPending}
		}
		if in.Alert.ID != "" {
			s.Seen = []string{in.Alert.ID}
		}
	}
	if s.Gates == nil {
		s.Gates = map[string]*gate{}
	}
	for _, id := range s.Seen {
		s.seen[id] = true
	}
	return s, nil
}

// indexSteps records every step with an ID, descending into parallel
// blocks, in playbook order.
func (s *incident) indexSteps(steps []playbook.Step) {
	for i := range steps {
		st := &steps[i]
		if st.ID != "" {
			s.specs[st.ID] = st
			s.order = append(s.order, st.ID)
		}
		s.indexSteps(st.Parallel)
	}
}

// restore loads the carried snapshot.
func (s *incident) restore(c *Carry) error {
	data, err := json.Marshal(c.State)
	if err != nil {
		return fmt.Errorf("encode carried state: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("decode carried state: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("carried state version %d, want %d", snap.Version, snapshotVersion)
	}
	s.snapshot = snap
	s.Runs++
	for _, id := range s.order {
		if _, ok := s.Steps[id]; !ok {
			st := s.specs[id]
			s.Steps[id] = &stepRun{ID: id, Kind: st.Kind, Action: st.Action, Status: activities.StatusPending}
		}
	}
	return nil
}

// carry serializes the snapshot for continue-as-new.
func (s *incident) carry() (*Carry, error) {
	data, err := json.Marshal(s.snapshot)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	return &Carry{State: m}, nil
}

// defaultTarget is the incident's main target for SoarTarget: the dedup
// key, else the alert's instance, else its source IP.
func defaultTarget(in IncidentInput) string {
	switch {
	case in.DedupKey != "":
		return in.DedupKey
	case in.Alert.Resource.InstanceID != "":
		return in.Alert.Resource.InstanceID
	}
	return in.Alert.SourceIP
}

// bump records a state change: the main loop and revert timers re-check
// their conditions.
func (s *incident) bump() { s.gen++ }

// touch records a state change and refreshes what analysts see: the
// current details and the SoarState search attribute.
func (s *incident) touch(ctx workflow.Context) {
	s.gen++
	s.refreshDetails(ctx)
	s.syncState(ctx)
}

// terminal reports whether a unit or step status is final.
func terminal(status string) bool {
	switch status {
	case activities.StatusSucceeded, activities.StatusFailed, activities.StatusSkipped,
		activities.StatusRejected, activities.StatusTimedOut, activities.StatusPlanned,
		activities.StatusReverted:
		return true
	}
	return false
}

// markSeen records an alert ID in the bounded seen-set.
func (s *incident) markSeen(id string) {
	s.seen[id] = true
	s.Seen = append(s.Seen, id)
	if over := len(s.Seen) - s.limits.MaxSeenAlerts; over > 0 {
		for _, old := range s.Seen[:over] {
			delete(s.seen, old)
		}
		s.Seen = slices.Clone(s.Seen[over:])
	}
}

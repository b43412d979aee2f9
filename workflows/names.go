package workflows

// Wire names of the Incident workflow. They are persisted in history and
// used by clients (ingest, the CLI, the Temporal UI): never rename one.
const (
	// IncidentWorkflow is the workflow type.
	IncidentWorkflow = "Incident"
	// TaskQueue is the default task queue.
	TaskQueue = "soar"

	// UpdateAlert delivers an alert to its incident (UpdateWithStart from
	// ingest; UpdateID = alert id). Argument [AlertUpdate].
	UpdateAlert = "alert"
	// UpdateApprove decides a pending approval. Argument [ApproveRequest].
	UpdateApprove = "approve"
	// UpdateRevert reverts an applied revertible step now. Argument [StepRequest].
	UpdateRevert = "revert"
	// UpdateExtend postpones a step's auto-revert. Argument [ExtendRequest].
	UpdateExtend = "extend"
	// UpdateKeep cancels a step's auto-revert. Argument [StepRequest].
	UpdateKeep = "keep"

	// QueryStatus returns [Status].
	QueryStatus = "status"
)

// Search attributes the workflow keeps current. internal/devstack registers
// them; a production cluster needs them created once (see the README,
// "Scaling out").
const (
	SearchAttrPlaybook  = "SoarPlaybook"  // Keyword
	SearchAttrState     = "SoarState"     // Keyword: one of the State* values
	SearchAttrSeverity  = "SoarSeverity"  // Int
	SearchAttrTarget    = "SoarTarget"    // Keyword: the main target (IP, instance)
	SearchAttrAlertType = "SoarAlertType" // Keyword
)

// Incident states, the values of SoarState.
const (
	StateRunning          = "running"
	StateAwaitingApproval = "awaiting_approval"
	StateReverting        = "reverting"
	StateClosed           = "closed"
	StateFailed           = "failed"
)

// PrincipalHeader is the Update header in which the Temporal frontend stamps
// the authenticated caller (internal/devstack's interceptor). When present,
// an approval's `by` must equal it.
const PrincipalHeader = "soar-principal"

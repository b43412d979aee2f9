package playbooktest

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/playbook"
)

// spec is one parsed test file.
type spec struct {
	// file is the test file's path; playbookPath the playbook it tests.
	file         string
	playbookPath string
	cases        []*testCase
}

// testCase is one case of a test file.
type testCase struct {
	name string
	pos  playbook.Position
	// start is the workflow clock at offset 0.
	start time.Time
	// mode overrides the playbook's mode when set.
	mode      string
	config    caseConfig
	alerts    []alertIn
	mocks     map[string][]*mock
	approvals []approvalIn
	updates   []updateIn
	expect    expectation
}

// caseConfig overrides the run's soar.yaml for one case.
type caseConfig struct {
	// approvers replace the groups they name.
	approvers map[string][]string
	// guardrails are decoded in order over the base guardrails (the file's,
	// then the case's): the fields they name replace the base's.
	guardrails []*yaml.Node
	// defaultApprovers are the users or groups approving policy gates that
	// name none (IncidentInput.DefaultApprovers).
	defaultApprovers []string
	pos              playbook.Position
}

// alertIn is one alert sent to the playbook.
type alertIn struct {
	at  time.Duration
	pos playbook.Position
	// Exactly one of envelope, sample and payload is set.
	envelope *alert.Alert
	sample   string
	payload  []byte
	// subject is the NATS subject; derived for envelopes when empty.
	subject string
	// hops is the linkage hop count of the alert (IncidentInput.Hops).
	hops int
	// repeat more copies follow, every apart, each with a fresh id.
	repeat int
	every  time.Duration
}

// mock answers calls of one action.
type mock struct {
	pos  playbook.Position
	when *pattern
	// output is the action's output; nil means {changed: true}.
	output map[string]any
	err    *mockError
	used   bool
}

// mockError is an error a mocked action returns.
type mockError struct {
	typ     string
	message string
}

// approvalIn is one vote sent through the approve Update.
type approvalIn struct {
	at       time.Duration
	pos      playbook.Position
	step     string
	by       string
	decision string
	comment  string
	// refused, when set, expects the validator to refuse the vote with a
	// reason matching it.
	refused *pattern
}

// updateIn is one revert, extend or keep Update.
type updateIn struct {
	at   time.Duration
	pos  playbook.Position
	kind string // revert, extend or keep
	step string
	// by is the user (revert, keep) or, for extend, the duration.
	by string
	// user is, for extend, the user (one of the incident's approvers).
	user    string
	refused *pattern
}

// expectation is what a case expects.
type expectation struct {
	// triggered false expects the first alert not to open an incident.
	triggered *bool
	calls     []callExpect
	hasCalls  bool
	notCalled []nameAt
	steps     []stepExpect
	reverts   []callExpect
	// hasReverts distinguishes "reverts: []" (none) from no expectation.
	hasReverts bool
	state      string
	errText    *pattern
	status     *pattern
	during     []checkpoint
}

// nameAt is a name with its position in the test file.
type nameAt struct {
	name string
	pos  playbook.Position
}

// callExpect is one expected action call.
type callExpect struct {
	pos    playbook.Position
	action string
	with   *pattern
	// step is meta.step: the step ID, "<step>#<index>" for foreach items.
	step string
	// at, when set, is the expected offset of the call.
	at    *time.Duration
	error *pattern
}

// stepExpect is a step's expected final state.
type stepExpect struct {
	pos        playbook.Position
	id         string
	status     string
	err        *pattern
	approvedBy *pattern
	output     *pattern
}

// checkpoint is a status query at an offset.
type checkpoint struct {
	pos    playbook.Position
	at     time.Duration
	status *pattern
}

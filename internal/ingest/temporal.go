package ingest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// TemporalOptions configures [NewTemporalStarter].
type TemporalOptions struct {
	// TaskQueue of the Incident workflow; default workflows.TaskQueue.
	TaskQueue string
	// Approvers are soar.yaml's approver groups; each incident gets only
	// the groups its playbook and the policy name.
	Approvers map[string][]string
	// Policy is the guardrail policy snapshotted into new incidents.
	Policy guard.Policy
	// Cloud is soar.yaml's cloud accounts; each incident gets their
	// directory (see [CloudDirectoryOf]).
	Cloud config.Cloud
}

// TemporalStarter delivers alerts with UpdateWithStart: it
// starts the incident workflow if none is running under the workflow ID
// (conflict policy USE_EXISTING; a closed incident's ID may be reused, so a
// new alert after the window opens a new incident) and sends the "alert"
// Update with the delivery's UpdateID, waiting until it completed. Temporal
// answers a repeated UpdateID with the first outcome, which makes
// redelivery harmless.
type TemporalStarter struct {
	c    client.Client
	opts TemporalOptions
}

// NewTemporalStarter returns a Starter over c.
func NewTemporalStarter(c client.Client, opts TemporalOptions) *TemporalStarter {
	if opts.TaskQueue == "" {
		opts.TaskQueue = workflows.TaskQueue
	}
	return &TemporalStarter{c: c, opts: opts}
}

var _ Starter = (*TemporalStarter)(nil)

// Deliver implements [Starter]. Errors are classified by [classifyTemporal].
func (s *TemporalStarter) Deliver(ctx context.Context, d Delivery) (workflows.AlertAck, error) {
	in := s.Input(d)
	op := s.c.NewWithStartWorkflowOperation(s.StartOptions(d), workflows.IncidentWorkflow, in)
	handle, err := s.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     d.UpdateID,
			UpdateName:   workflows.UpdateAlert,
			Args:         []any{workflows.AlertUpdate{Alert: d.Alert}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return workflows.AlertAck{}, classifyTemporal(fmt.Errorf("update-with-start %s: %w", d.WorkflowID, err))
	}
	var ack workflows.AlertAck
	if err := handle.Get(ctx, &ack); err != nil {
		return workflows.AlertAck{}, classifyTemporal(fmt.Errorf("alert update %s on %s: %w", d.UpdateID, d.WorkflowID, err))
	}
	return ack, nil
}

// StartOptions are the options of the incident's start: ID, task queue,
// USE_EXISTING, ALLOW_DUPLICATE reuse, search attributes and a one-line
// summary for the Temporal UI.
func (s *TemporalStarter) StartOptions(d Delivery) client.StartWorkflowOptions {
	sev := d.Severity
	if sev == 0 {
		sev = d.Alert.Severity
	}
	summary := fmt.Sprintf("%s: %s", d.Playbook.Name, d.Alert.Title)
	if len(summary) > 200 {
		summary = truncateUTF8(summary, 197) + "..."
	}
	return client.StartWorkflowOptions{
		ID:                       d.WorkflowID,
		TaskQueue:                s.opts.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrPlaybook).ValueSet(d.Playbook.Name),
			temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrState).ValueSet(workflows.StateRunning),
			temporal.NewSearchAttributeKeyInt64(workflows.SearchAttrSeverity).ValueSet(int64(sev)),
			temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrAlertType).ValueSet(d.Alert.Type),
			temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrTarget).ValueSet(target(d)),
		),
		StaticSummary: summary,
	}
}

// Input is the workflow input of the incident d would open: the approver
// groups of [ApproversFor] plus the default group (the first in name
// order), which approves policy gates naming no approvers (protected
// instances, budgets), and the linkage hop count of the alert
// (Labels[HopsLabel], from the Soar-Hops header), and the cloud directory
// of [CloudDirectoryOf].
func (s *TemporalStarter) Input(d Delivery) workflows.IncidentInput {
	approvers := ApproversFor(d.Playbook, s.opts.Policy, s.opts.Approvers)
	var defaults []string
	if def := defaultGroup(s.opts.Approvers); def != "" {
		defaults = []string{def}
		if approvers == nil {
			approvers = map[string][]string{}
		}
		approvers[def] = append([]string(nil), s.opts.Approvers[def]...)
	}
	hops, _ := strconv.Atoi(d.Alert.Labels[HopsLabel])
	return workflows.IncidentInput{
		IncidentID:       d.WorkflowID,
		Playbook:         *d.Playbook,
		Approvers:        approvers,
		Policy:           s.opts.Policy,
		Alert:            d.Alert,
		DedupKey:         d.DedupKey,
		DefaultApprovers: defaults,
		Hops:             max(hops, 0),
		Cloud:            CloudDirectoryOf(s.opts.Cloud),
	}
}

// CloudDirectoryOf returns the accounts of c as an incident needs them to
// key the measures it holds (the default account, UIDs and regions by
// name), or nil when c names no account.
func CloudDirectoryOf(c config.Cloud) *workflows.CloudDirectory {
	if len(c.Accounts) == 0 && c.DefaultAccount == "" {
		return nil
	}
	dir := &workflows.CloudDirectory{DefaultAccount: c.DefaultAccount, Regions: make(map[string]string, len(c.Accounts))}
	for name, a := range c.Accounts {
		dir.Regions[name] = a.Region
		if a.ID != "" {
			if dir.AccountIDs == nil {
				dir.AccountIDs = map[string]string{}
			}
			dir.AccountIDs[a.ID] = name
		}
	}
	return dir
}

// target is the incident's SoarTarget, the workflow's own rule: the dedup
// key, else the instance, else the source IP.
func target(d Delivery) string {
	switch {
	case d.DedupKey != "":
		return d.DedupKey
	case d.Alert.Resource.InstanceID != "":
		return d.Alert.Resource.InstanceID
	}
	return d.Alert.SourceIP
}

// ApproversFor returns the approver groups the playbook's approvals and the
// policy's rules and budgets name, with their users from groups. A budget
// without approvers uses the policy's default group, the first group in
// name order. Names that are users rather than groups are left to the
// workflow.
func ApproversFor(pb *playbook.Playbook, policy guard.Policy, groups map[string][]string) map[string][]string {
	names := map[string]bool{}
	var walk func([]playbook.Step)
	walk = func(steps []playbook.Step) {
		for _, st := range steps {
			if st.Approval != nil {
				for _, n := range st.Approval.Approvers {
					names[n] = true
				}
			}
			walk(st.Parallel)
		}
	}
	walk(pb.Steps)
	walk(pb.OnFailure)
	for _, r := range policy.RequireApproval {
		for _, n := range r.Approvers {
			names[n] = true
		}
	}
	for _, b := range policy.Budgets {
		if len(b.Approvers) == 0 {
			if def := defaultGroup(groups); def != "" {
				names[def] = true
			}
		}
		for _, n := range b.Approvers {
			names[n] = true
		}
	}
	out := map[string][]string{}
	for n := range names {
		if users, ok := groups[n]; ok {
			out[n] = append([]string(nil), users...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func defaultGroup(groups map[string][]string) string {
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// classifyTemporal marks err transient unless retrying cannot help: the
// request is invalid (a payload over Temporal's size limit, a malformed
// ID), or the incident's Update handler or validator rejected the alert.
// Unavailable frontends, timeouts, overload (too many in-flight Updates on
// one incident), a closing incident (the validator's
// workflows.ErrTypeIncidentClosing: once that run has completed the
// redelivery opens a new incident), a missing namespace (a configuration
// being fixed) are all transient: at worst they exhaust MaxDeliver and
// reach the max_deliveries dead letter.
func classifyTemporal(err error) error {
	if err == nil {
		return nil
	}
	var multi *serviceerror.MultiOperationExecution
	if errors.As(err, &multi) {
		for _, op := range multi.OperationErrors() {
			var aborted *serviceerror.MultiOperationAborted
			if op != nil && !errors.As(op, &aborted) && permanentTemporal(op) {
				return err
			}
		}
		return Transient(err)
	}
	if permanentTemporal(err) {
		return err
	}
	return Transient(err)
}

func permanentTemporal(err error) bool {
	var (
		invalid  *serviceerror.InvalidArgument
		appErr   *temporal.ApplicationError
		canceled *temporal.CanceledError
	)
	switch {
	case errors.As(err, &canceled):
		return false
	case errors.As(err, &invalid):
		return true
	case errors.As(err, &appErr):
		// The workflow's alert validator or handler refused the alert,
		// unless only because the incident is closing.
		return appErr.Type() != workflows.ErrTypeIncidentClosing
	}
	return false
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

package activities

import "time"

// Meta is the part of every action input that the Incident workflow fills in;
// playbook authors never set it (the validator refuses a `meta` parameter).
// Implementations use it for idempotency keys (ClientToken, rule names),
// descriptions on cloud resources, and dry-run.
type Meta struct {
	// Incident is the incident (workflow) ID.
	Incident string `json:"incident"`
	// Playbook is the playbook name.
	Playbook string `json:"playbook"`
	// Step is the step ID; foreach items append "#<index>".
	Step string `json:"step"`
	// DryRun asks the action to return its plan and change nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Revert is true when the action runs as the inverse of an earlier one.
	Revert bool `json:"revert,omitempty"`
	// Hops counts the linkage alerts that led to this incident (nats.publish
	// refuses to go past the configured limit).
	Hops int `json:"hops,omitempty"`
	// Approved is true when an analyst approved this step; actions that the
	// guardrails reserve for approved steps (protected instances) check it.
	Approved bool `json:"approved,omitempty"`
}

// Cloud selects the Alibaba Cloud account and region of an action. Both are
// optional: the workflow fills them from the alert, the action falls back to
// soar.yaml.
type Cloud struct {
	// Account is an account name from soar.yaml.
	Account string `json:"account,omitempty"`
	// Region is a region ID such as cn-hangzhou.
	Region string `json:"region,omitempty"`
}

// Outcome is embedded in every action output.
type Outcome struct {
	// Changed is false when the target already was in the wanted state (a
	// repeat of an applied action) or on dry-run.
	Changed bool `json:"changed"`
	// DryRun is true when nothing was changed on purpose.
	DryRun bool `json:"dry_run,omitempty"`
	// Plan lists, in words, what the action changed or (dry-run) would change.
	Plan []string `json:"plan,omitempty"`
}

// WAFBlockIPInput is the input of [WAFBlockIP].
type WAFBlockIPInput struct {
	Meta Meta `json:"meta"`
	Cloud
	IP string `json:"ip"`
	// InstanceID is the WAF 3.0 instance; empty means the one in soar.yaml,
	// else the account's only instance.
	InstanceID string `json:"instance_id,omitempty"`
}

// WAFBlockIPOutput is the output of [WAFBlockIP].
type WAFBlockIPOutput struct {
	Outcome
	IP         string `json:"ip"`
	InstanceID string `json:"instance_id"`
	TemplateID string `json:"template_id"`
	RuleID     string `json:"rule_id"`
}

// WAFUnblockIPInput is the input of [WAFUnblockIP].
type WAFUnblockIPInput struct {
	Meta Meta `json:"meta"`
	Cloud
	IP         string `json:"ip"`
	InstanceID string `json:"instance_id,omitempty"`
	// RuleID narrows the search to one rule (from the block's output).
	RuleID string `json:"rule_id,omitempty"`
}

// WAFUnblockIPOutput is the output of [WAFUnblockIP].
type WAFUnblockIPOutput struct {
	Outcome
	IP         string `json:"ip"`
	InstanceID string `json:"instance_id"`
	// RuleID is the rule the IP was removed from; empty if it was on none.
	RuleID string `json:"rule_id,omitempty"`
	// RuleDeleted is true when the IP was the rule's last and the rule went.
	RuleDeleted bool `json:"rule_deleted,omitempty"`
}

// ECSBlockIPInput is the input of [ECSBlockIP]. One of SecurityGroupID
// and InstanceID names where the rule goes; SecurityGroupID wins.
type ECSBlockIPInput struct {
	Meta Meta `json:"meta"`
	Cloud
	SecurityGroupID string `json:"security_group_id"`
	// InstanceID, without SecurityGroupID, blocks on each security group
	// of the instance (DescribeInstances).
	InstanceID string `json:"instance_id,omitempty"`
	IP         string `json:"ip"`
	// Protocol is all (default), tcp, udp or icmp.
	Protocol string `json:"protocol,omitempty"`
	// PortRange is "a/b"; default -1/-1.
	PortRange string `json:"port_range,omitempty"`
	// Direction is in (default, an ingress rule) or out (an egress rule).
	Direction string `json:"direction,omitempty"`
}

// ECSBlockIPOutput is the output of [ECSBlockIP].
type ECSBlockIPOutput struct {
	Outcome
	SecurityGroupID string `json:"security_group_id"`
	IP              string `json:"ip"`
	Protocol        string `json:"protocol"`
	PortRange       string `json:"port_range"`
	Direction       string `json:"direction"`
	// SecurityGroupID and RuleID are the (first) group and its rule.
	RuleID string `json:"rule_id"`
	// InstanceID, SecurityGroupIDs and RuleIDs are set on a block by
	// instance: the instance, each of its groups (of every network
	// interface) and, at the same index, the drop rule in it (the inverse
	// revokes exactly those). ChangedSecurityGroupIDs are the groups this
	// call added its rule to; in the others it found the rule in place.
	// Each group is a measure of its own for the revert's holds, shared
	// with a block by security_group_id on that group.
	InstanceID              string   `json:"instance_id,omitempty"`
	SecurityGroupIDs        []string `json:"security_group_ids,omitempty"`
	RuleIDs                 []string `json:"rule_ids,omitempty"`
	ChangedSecurityGroupIDs []string `json:"changed_security_group_ids,omitempty"`
}

// ECSUnblockIPInput is the input of [ECSUnblockIP]. SecurityGroupIDs, when
// given, replaces SecurityGroupID and RuleID.
type ECSUnblockIPInput struct {
	Meta Meta `json:"meta"`
	Cloud
	SecurityGroupID string `json:"security_group_id"`
	IP              string `json:"ip"`
	Protocol        string `json:"protocol,omitempty"`
	PortRange       string `json:"port_range,omitempty"`
	Direction       string `json:"direction,omitempty"`
	// RuleID is the rule to revoke (from the block's output); without it the
	// rule is found by its content.
	RuleID string `json:"rule_id,omitempty"`
	// SecurityGroupIDs and RuleIDs (same index, optional) are the groups
	// and rules of a block by instance.
	SecurityGroupIDs []string `json:"security_group_ids,omitempty"`
	RuleIDs          []string `json:"rule_ids,omitempty"`
}

// ECSUnblockIPOutput is the output of [ECSUnblockIP].
type ECSUnblockIPOutput struct {
	Outcome
	SecurityGroupID string `json:"security_group_id"`
	IP              string `json:"ip"`
	RuleID          string `json:"rule_id,omitempty"`
	// SecurityGroupIDs and RuleIDs are set when several groups were named:
	// the groups and every rule revoked.
	SecurityGroupIDs []string `json:"security_group_ids,omitempty"`
	RuleIDs          []string `json:"rule_ids,omitempty"`
}

// InterfaceGroups is the security-group set of one network interface.
type InterfaceGroups struct {
	NetworkInterfaceID string   `json:"network_interface_id"`
	Primary            bool     `json:"primary"`
	SecurityGroupIDs   []string `json:"security_group_ids"`
}

// ECSIsolateInstanceInput is the input of [ECSIsolateInstance].
type ECSIsolateInstanceInput struct {
	Meta Meta `json:"meta"`
	Cloud
	InstanceID string `json:"instance_id"`
	// QuarantineGroupID is the group that replaces the instance's groups;
	// empty means the one in soar.yaml, else a soar-quarantine group in the
	// instance's VPC, created when missing.
	QuarantineGroupID string `json:"quarantine_group_id,omitempty"`
}

// ECSIsolateInstanceOutput is the output of [ECSIsolateInstance].
type ECSIsolateInstanceOutput struct {
	Outcome
	InstanceID        string `json:"instance_id"`
	QuarantineGroupID string `json:"quarantine_group_id"`
	// OriginalGroups is every interface's group set before isolation; the
	// restore action puts it back.
	OriginalGroups []InterfaceGroups `json:"original_groups"`
}

// ECSRestoreInstanceInput is the input of [ECSRestoreInstance].
type ECSRestoreInstanceInput struct {
	Meta Meta `json:"meta"`
	Cloud
	InstanceID        string `json:"instance_id"`
	QuarantineGroupID string `json:"quarantine_group_id,omitempty"`
	// OriginalGroups is the isolate action's output of the same name.
	OriginalGroups []InterfaceGroups `json:"original_groups,omitempty"`
}

// ECSRestoreInstanceOutput is the output of [ECSRestoreInstance].
type ECSRestoreInstanceOutput struct {
	Outcome
	InstanceID     string            `json:"instance_id"`
	RestoredGroups []InterfaceGroups `json:"restored_groups"`
}

// ECSSnapshotInstanceInput is the input of [ECSSnapshotInstance].
type ECSSnapshotInstanceInput struct {
	Meta Meta `json:"meta"`
	Cloud
	InstanceID string `json:"instance_id"`
	// Reason goes into each snapshot's description.
	Reason string `json:"reason,omitempty"`
}

// DiskSnapshot is one disk's evidence snapshot.
type DiskSnapshot struct {
	DiskID     string `json:"disk_id"`
	DiskType   string `json:"disk_type"`
	SnapshotID string `json:"snapshot_id"`
	Status     string `json:"status"`
}

// ECSSnapshotInstanceOutput is the output of [ECSSnapshotInstance].
type ECSSnapshotInstanceOutput struct {
	Outcome
	InstanceID  string         `json:"instance_id"`
	SnapshotIDs []string       `json:"snapshot_ids"`
	Disks       []DiskSnapshot `json:"disks"`
}

// ECSStopInstanceInput is the input of [ECSStopInstance].
type ECSStopInstanceInput struct {
	Meta Meta `json:"meta"`
	Cloud
	InstanceID string `json:"instance_id"`
	// Force is a hard power-off.
	Force bool `json:"force,omitempty"`
}

// ECSStopInstanceOutput is the output of [ECSStopInstance].
type ECSStopInstanceOutput struct {
	Outcome
	InstanceID     string `json:"instance_id"`
	PreviousStatus string `json:"previous_status"`
	Status         string `json:"status"`
}

// ECSStartInstanceInput is the input of [ECSStartInstance].
type ECSStartInstanceInput struct {
	Meta Meta `json:"meta"`
	Cloud
	InstanceID string `json:"instance_id"`
}

// ECSStartInstanceOutput is the output of [ECSStartInstance].
type ECSStartInstanceOutput struct {
	Outcome
	InstanceID     string `json:"instance_id"`
	PreviousStatus string `json:"previous_status"`
	Status         string `json:"status"`
}

// ECSRunCommandInput is the input of [ECSRunCommand].
type ECSRunCommandInput struct {
	Meta Meta `json:"meta"`
	Cloud
	InstanceID string `json:"instance_id"`
	// Template names an allow-listed command template in soar.yaml.
	Template string `json:"template"`
	// Params are the template's parameters; values are sent as strings and
	// never spliced into the shell script.
	Params map[string]any `json:"params,omitempty"`
}

// ECSRunCommandOutput is the output of [ECSRunCommand].
type ECSRunCommandOutput struct {
	Outcome
	InstanceID string `json:"instance_id"`
	Template   string `json:"template"`
	InvokeID   string `json:"invoke_id"`
	CommandID  string `json:"command_id"`
	// Status is the invocation status, e.g. Success or Failed.
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	// Output is the decoded command output, truncated to 16 KiB.
	Output string `json:"output"`
}

// CloudFWBlockIPInput is the input of [CloudFWBlockIP].
type CloudFWBlockIPInput struct {
	Meta Meta `json:"meta"`
	Cloud
	IP string `json:"ip"`
	// Direction is in (default: traffic from the IP) or out (traffic to it).
	Direction string `json:"direction,omitempty"`
}

// CloudFWBlockIPOutput is the output of [CloudFWBlockIP].
type CloudFWBlockIPOutput struct {
	Outcome
	IP        string `json:"ip"`
	Direction string `json:"direction"`
	// AddressBook is the name of the address book holding the blocked IPs.
	AddressBook string `json:"address_book"`
	// AddressBookID is its GroupUuid.
	AddressBookID string `json:"address_book_id"`
	// PolicyID is the AclUuid of the drop policy referencing the book.
	PolicyID string `json:"policy_id"`
}

// CloudFWUnblockIPInput is the input of [CloudFWUnblockIP].
type CloudFWUnblockIPInput struct {
	Meta Meta `json:"meta"`
	Cloud
	IP        string `json:"ip"`
	Direction string `json:"direction,omitempty"`
}

// CloudFWUnblockIPOutput is the output of [CloudFWUnblockIP].
type CloudFWUnblockIPOutput struct {
	Outcome
	IP        string `json:"ip"`
	Direction string `json:"direction"`
}

// RAMAccessKeyInput is the input of [RAMDisableAccessKey] and [RAMEnableAccessKey].
type RAMAccessKeyInput struct {
	Meta Meta `json:"meta"`
	Cloud
	AccessKeyID string `json:"access_key_id"`
	// UserName owns the key; empty means it is looked up from the key.
	UserName string `json:"user_name,omitempty"`
}

// RAMAccessKeyOutput is the output of [RAMDisableAccessKey] and [RAMEnableAccessKey].
type RAMAccessKeyOutput struct {
	Outcome
	AccessKeyID    string `json:"access_key_id"`
	UserName       string `json:"user_name"`
	PreviousStatus string `json:"previous_status"`
	Status         string `json:"status"`
}

// SASHandleEventInput is the input of [SASHandleEvent].
type SASHandleEventInput struct {
	Meta Meta `json:"meta"`
	Cloud
	EventIDs []string `json:"event_ids"`
	// Operation is a Security Center operation code, e.g. offline_handled,
	// kill_and_quara, block_ip, mark_mis_info.
	Operation string `json:"operation"`
	// OperationParams is passed to Security Center as JSON.
	OperationParams map[string]any `json:"operation_params,omitempty"`
}

// SASHandleEventOutput is the output of [SASHandleEvent].
type SASHandleEventOutput struct {
	Outcome
	TaskID string `json:"task_id,omitempty"`
	// Status is the task status (Success, Failure) or "already_handled".
	Status string `json:"status"`
	// Handled lists the events this call handled; events already handled
	// are left out.
	Handled []string `json:"handled"`
}

// DDoSBlacklistInput is the input of [DDoSBlacklistIP] and [DDoSUnblacklistIP].
type DDoSBlacklistInput struct {
	Meta Meta `json:"meta"`
	Cloud
	// Domain is a website protected by Anti-DDoS Pro/Premium.
	Domain string   `json:"domain"`
	IPs    []string `json:"ips"`
}

// DDoSBlacklistOutput is the output of [DDoSBlacklistIP] and [DDoSUnblacklistIP].
type DDoSBlacklistOutput struct {
	Outcome
	Domain string `json:"domain"`
	// Changed lists the IPs this call added (or removed); the inverse of a
	// blacklist removes only these.
	ChangedIPs []string `json:"changed_ips"`
	// Blacklist is the domain's whole blacklist afterwards.
	Blacklist []string `json:"blacklist"`
	// Warning says why the blacklist does not act yet (the website's
	// black/white list switch is off), empty when it does.
	Warning string `json:"warning,omitempty"`
}

// DDoSCCModeInput is the input of [DDoSSetCCMode] and [DDoSRestoreCCMode].
type DDoSCCModeInput struct {
	Meta Meta `json:"meta"`
	Cloud
	Domain string `json:"domain"`
	// Mode is the CC protection template of ddoscoo ConfigWebCCTemplate:
	// default (normal), gf_under_attack (emergency), gf_sos_verify (strict)
	// or gf_sos_enhance (super strict).
	Mode string `json:"mode"`
}

// DDoSCCModeOutput is the output of [DDoSSetCCMode] and [DDoSRestoreCCMode].
type DDoSCCModeOutput struct {
	Outcome
	Domain       string `json:"domain"`
	Mode         string `json:"mode"`
	PreviousMode string `json:"previous_mode"`
}

// ActionTrailLookupEventsInput is the input of [ActionTrailLookupEvents].
// Exactly one of AccessKeyID, InstanceID and IP selects the trail.
type ActionTrailLookupEventsInput struct {
	Meta Meta `json:"meta"`
	Cloud
	AccessKeyID string `json:"access_key_id,omitempty"`
	InstanceID  string `json:"instance_id,omitempty"`
	IP          string `json:"ip,omitempty"`
	// Since is how far back to look, a duration such as 24h (the default).
	Since string `json:"since,omitempty"`
}

// TrailEvent is one ActionTrail event, reduced to what an analyst reads.
type TrailEvent struct {
	EventID     string `json:"event_id"`
	Time        string `json:"time"`
	Name        string `json:"name"`
	Source      string `json:"source"`
	SourceIP    string `json:"source_ip"`
	UserName    string `json:"user_name"`
	AccessKeyID string `json:"access_key_id"`
	ReadWrite   string `json:"read_write"`
	ErrorCode   string `json:"error_code,omitempty"`
}

// ActionTrailLookupEventsOutput is the output of [ActionTrailLookupEvents].
type ActionTrailLookupEventsOutput struct {
	Outcome
	Count  int          `json:"count"`
	Events []TrailEvent `json:"events"`
	// Truncated is true when more events matched than were kept (500).
	Truncated bool `json:"truncated,omitempty"`
	// SourceIPs and EventNames are the distinct values, for playbook logic.
	SourceIPs  []string `json:"source_ips"`
	EventNames []string `json:"event_names"`
}

// NotifyWebhookInput is the input of [NotifyWebhook].
type NotifyWebhookInput struct {
	Meta Meta `json:"meta"`
	// Channel names a notification channel in soar.yaml.
	Channel string `json:"channel"`
	Text    string `json:"text"`
	Title   string `json:"title,omitempty"`
}

// NotifyWebhookOutput is the output of [NotifyWebhook].
type NotifyWebhookOutput struct {
	Outcome
	Channel string `json:"channel"`
	// Kind is dingtalk, wecom, slack or generic.
	Kind       string `json:"kind"`
	StatusCode int    `json:"status_code"`
}

// NATSPublishInput is the input of [NATSPublish].
type NATSPublishInput struct {
	Meta Meta `json:"meta"`
	// Subject must be under alerts.
	Subject string `json:"subject"`
	// Alert is the new alert in the envelope's shape.
	Alert map[string]any `json:"alert"`
}

// NATSPublishOutput is the output of [NATSPublish].
type NATSPublishOutput struct {
	Outcome
	Subject string `json:"subject"`
	AlertID string `json:"alert_id"`
	// Sequence is the JetStream stream sequence of the published alert.
	Sequence  uint64 `json:"sequence"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Hops      int    `json:"hops"`
}

// IncidentEvent is the input of [PublishEvent]: one state change of an
// incident, published to soar.events.<playbook>.<event>.
type IncidentEvent struct {
	// Event is opened, step_started, step_succeeded, step_failed,
	// step_skipped, step_rejected, step_timed_out, approval_requested,
	// approval_decided, reverted, released (a due revert left the measure
	// to its other holders) or closed.
	Event    string         `json:"event"`
	Incident string         `json:"incident"`
	Playbook string         `json:"playbook"`
	Step     string         `json:"step,omitempty"`
	Time     string         `json:"time"`
	Detail   map[string]any `json:"detail,omitempty"`
}

// BudgetRequest is the input of [BudgetTake].
type BudgetRequest struct {
	// Action is the budget's action ("*" for the catch-all budget).
	Action string        `json:"action"`
	Max    int           `json:"max"`
	Window time.Duration `json:"window"`
	// Token identifies the run (incident/step/item) so that a retried take
	// is counted once.
	Token string `json:"token"`
	// Now is the workflow time, which picks the window.
	Now time.Time `json:"now"`
}

// BudgetResult is the output of [BudgetTake].
type BudgetResult struct {
	// Allowed is false when the budget is exhausted for this window.
	Allowed bool `json:"allowed"`
	Used    int  `json:"used"`
	Max     int  `json:"max"`
	// WindowEnds is when the budget refills.
	WindowEnds time.Time `json:"window_ends"`
}

// HoldRequest is the input of [HoldAcquire] and [HoldRelease]: one
// incident's hold on a temporary measure that several incidents may rely
// on (two playbooks blocking the same C&C address, for different times).
// The measure is undone only when its last live hold is released, and only
// if soar changed the target at some point.
type HoldRequest struct {
	// Key identifies the measure's undo: the inverse action and its
	// canonical input (account and region included; meta and the state
	// recorded before the change, such as a previous mode, excluded),
	// hashed to a KeyValue-safe key ([-/_=.a-zA-Z0-9]).
	Key string `json:"key"`
	// Measure describes the measure for humans reading the registry, e.g.
	// "alicloud.cloudfw.unblock_ip 198.51.100.1/32".
	Measure string `json:"measure,omitempty"`
	// Holder identifies the hold: "<incident>/<step key>".
	Holder string `json:"holder"`
	// Until is when the hold stops counting if it is never released (the
	// incident was terminated): the revert's due time. The zero time means
	// forever: a measure kept, or applied without revert_after. An acquire
	// only ever moves a hold's Until later. Release ignores it.
	Until time.Time `json:"until,omitzero"`
	// Changed is true when this incident's action changed the target
	// (output changed: true): soar owns the change from then on.
	Changed bool `json:"changed,omitempty"`
	// Inverse is the inverse action's input that undoes the measure, as
	// this incident recorded it. The registry keeps the first changer's:
	// the last holder undoes with it.
	Inverse map[string]any `json:"inverse,omitempty"`
	// Now is the workflow time: holds whose Until is not after it have
	// expired.
	Now time.Time `json:"now"`
}

// HoldResult is the output of [HoldAcquire] and [HoldRelease].
type HoldResult struct {
	// Undo (release only) is true when the caller released the last live
	// hold of a measure soar changed: the caller runs the inverse now, with
	// Inverse when set.
	Undo bool `json:"undo,omitempty"`
	// Owned is true once any holder reported changing the target.
	Owned bool `json:"owned,omitempty"`
	// Holders are the other live holds, ordered by holder.
	Holders []Hold `json:"holders,omitempty"`
	// Inverse is the input that undoes the measure, recorded by the first
	// holder that changed the target; set with Undo.
	Inverse map[string]any `json:"inverse,omitempty"`
}

// Hold is one live hold in a [HoldResult].
type Hold struct {
	Holder string `json:"holder"`
	// Until is when it stops counting; the zero time means forever.
	Until time.Time `json:"until,omitzero"`
}

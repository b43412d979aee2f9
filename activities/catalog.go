package activities

import (
	"slices"
	"strings"
)

// Parameter and field types, as the playbook validator checks them. They
// name CEL types so that validation can compare them with the static type of
// a `${{ }}` expression.
const (
	TypeString     = "string"
	TypeInt        = "int"
	TypeBool       = "bool"
	TypeStringList = "list(string)"
	TypeMap        = "map(string, dyn)"
	TypeList       = "list(dyn)"
	// TypeDuration is a string in Go duration syntax ("24h", "90m").
	TypeDuration = "duration"
)

// Categories group actions by the four steps of incident response.
const (
	CategoryContain  = "contain"  // 断链: cut the attacker's links
	CategoryIsolate  = "isolate"  // 隔离: isolate the host
	CategoryDispose  = "dispose"  // 处置: kill, quarantine, disable
	CategoryTrace    = "trace"    // 溯源: evidence and trail
	CategoryNotify   = "notify"   // tell humans
	CategoryLinkage  = "linkage"  // raise alerts for other playbooks
	CategoryRecovery = "recovery" // inverse actions
)

// Param is one input parameter of an action.
type Param struct {
	Name string `json:"name"`
	// Type is one of the Type* constants.
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description"`
	// Default is the value used when the parameter is absent, in words.
	Default string `json:"default,omitempty"`
	// Enum lists the allowed values of a string parameter, if closed.
	Enum []string `json:"enum,omitempty"`
}

// Field is one output field of an action.
type Field struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
}

// ActionSpec describes one action for validation, documentation and
// `soar actions`.
type ActionSpec struct {
	// Name is the wire name, e.g. alicloud.waf.block_ip.
	Name string `json:"name"`
	// Summary is one line for tables and activity summaries.
	Summary  string `json:"summary"`
	Category string `json:"category"`
	// Cloud is true for alicloud.* actions, which also take the optional
	// account and region parameters.
	Cloud bool `json:"cloud,omitempty"`
	// Mutating is false for actions that only read or notify; dry-run still
	// runs them without side effects on the cloud.
	Mutating bool    `json:"mutating"`
	Params   []Param `json:"params"`
	Outputs  []Field `json:"outputs"`
	// Target names the parameter that identifies what the action acts on
	// (shown in activity summaries and the SoarTarget search attribute).
	Target string `json:"target,omitempty"`
	// Inverse is the action that undoes this one, "" if none.
	Inverse string `json:"inverse,omitempty"`
	// InverseArgs builds the inverse's input: inverse parameter name →
	// "input.<param>" or "output.<field>" of the recorded forward call.
	InverseArgs map[string]string `json:"inverse_args,omitempty"`
	// Permissions are the RAM actions the engine's identity needs.
	Permissions []string `json:"permissions,omitempty"`
	// Example is a playbook step using the action, in YAML.
	Example string `json:"example"`
}

// Param returns the parameter called name, including the common cloud
// parameters account and region.
func (s ActionSpec) Param(name string) (Param, bool) {
	for _, p := range s.AllParams() {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// AllParams returns Params plus, for cloud actions, account and region.
func (s ActionSpec) AllParams() []Param {
	if !s.Cloud {
		return s.Params
	}
	return append(slices.Clip(s.Params), cloudParams...)
}

// Output returns the output field called name.
func (s ActionSpec) Output(name string) (Field, bool) {
	for _, f := range s.Outputs {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Revertible reports whether the action has an inverse.
func (s ActionSpec) Revertible() bool { return s.Inverse != "" }

var cloudParams = []Param{
	{Name: "account", Type: TypeString, Description: "account name from soar.yaml", Default: "the alert's account, then the default account"},
	{Name: "region", Type: TypeString, Description: "region ID, e.g. cn-hangzhou", Default: "the alert's region, then the account's region"},
}

// outcomeFields are the output fields every action has.
var outcomeFields = []Field{
	{Name: "changed", Type: TypeBool, Description: "false when nothing had to change (a repeat) or on dry-run"},
	{Name: "dry_run", Type: TypeBool, Description: "true when the action only planned"},
	{Name: "plan", Type: TypeStringList, Description: "what changed, or would change on dry-run, in words"},
}

// Lookup returns the action called name.
func Lookup(name string) (ActionSpec, bool) {
	for _, s := range catalog() {
		if s.Name == name {
			return s, true
		}
	}
	return ActionSpec{}, false
}

// Catalog returns every playbook action, sorted by name. The slice is a
// fresh copy on each call.
func Catalog() []ActionSpec {
	c := catalog()
	slices.SortFunc(c, func(a, b ActionSpec) int { return strings.Compare(a.Name, b.Name) })
	return c
}

// Names returns every action name, sorted.
func Names() []string {
	c := Catalog()
	names := make([]string, len(c))
	for i, s := range c {
		names[i] = s.Name
	}
	return names
}

func outputs(fields ...Field) []Field {
	return append(slices.Clip(outcomeFields), fields...)
}

func catalog() []ActionSpec {
	return []ActionSpec{
		{
			Name: WAFBlockIP, Summary: "add an IP to a WAF 3.0 IP-blacklist rule", Category: CategoryContain,
			Cloud: true, Mutating: true, Target: "ip",
			Params: []Param{
				{Name: "ip", Type: TypeString, Required: true, Description: "IPv4/IPv6 address or CIDR to block; protected networks are refused"},
				{Name: "instance_id", Type: TypeString, Description: "WAF 3.0 instance ID", Default: "waf_instance_id of the account in soar.yaml, else the account's only instance"},
			},
			Outputs: outputs(
				Field{"ip", TypeString, "the blocked address"},
				Field{"instance_id", TypeString, "the WAF instance"},
				Field{"template_id", TypeString, "the ip_blacklist defense template holding the rule"},
				Field{"rule_id", TypeString, "the defense rule holding the IP"},
			),
			Inverse:     WAFUnblockIP,
			InverseArgs: map[string]string{"ip": "output.ip", "instance_id": "output.instance_id", "rule_id": "output.rule_id", "account": "input.account", "region": "input.region"},
			Permissions: []string{"yundun-waf:DescribeInstance", "yundun-waf:DescribeDefenseTemplates", "yundun-waf:CreateDefenseTemplate", "yundun-waf:ModifyTemplateResources", "yundun-waf:DescribeDefenseResources", "yundun-waf:DescribeDefenseRules", "yundun-waf:CreateDefenseRule", "yundun-waf:ModifyDefenseRule"},
			Example: `- id: block_attacker
  action: alicloud.waf.block_ip
  with: { ip: "${{ alert.source_ip }}" }
  revert_after: 24h`,
		},
		{
			Name: WAFUnblockIP, Summary: "remove an IP from soar's WAF 3.0 blacklist rules", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "ip",
			Params: []Param{
				{Name: "ip", Type: TypeString, Required: true, Description: "address or CIDR to unblock"},
				{Name: "instance_id", Type: TypeString, Description: "WAF 3.0 instance ID", Default: "as for alicloud.waf.block_ip"},
				{Name: "rule_id", Type: TypeString, Description: "the rule holding the IP; a rule soar did not create is left alone", Default: "every soar rule holding it"},
			},
			Outputs: outputs(
				Field{"ip", TypeString, "the unblocked address"},
				Field{"instance_id", TypeString, "the WAF instance"},
				Field{"rule_id", TypeString, "the rule the IP was removed from"},
				Field{"rule_deleted", TypeBool, "true when the rule became empty and was deleted"},
			),
			Permissions: []string{"yundun-waf:DescribeInstance", "yundun-waf:DescribeDefenseTemplates", "yundun-waf:DescribeDefenseRules", "yundun-waf:ModifyDefenseRule", "yundun-waf:DeleteDefenseRule"},
			Example: `- id: unblock
  action: alicloud.waf.unblock_ip
  with: { ip: 203.0.113.7 }`,
		},
		{
			Name: ECSBlockIP, Summary: "drop an IP with a security-group rule (in a group, or in each group of an instance)", Category: CategoryContain,
			Cloud: true, Mutating: true, Target: "ip",
			Params: []Param{
				{Name: "security_group_id", Type: TypeString, Description: "the security group to add the drop rule to; give it or instance_id", Default: "each group of instance_id"},
				{Name: "instance_id", Type: TypeString, Description: "an ECS instance: the drop rule goes into each security group of each of its network interfaces — while soar has it isolated, into the groups it will be restored to; ignored when security_group_id is given"},
				{Name: "ip", Type: TypeString, Required: true, Description: "address or CIDR to drop; protected networks are refused"},
				{Name: "protocol", Type: TypeString, Description: "IP protocol", Default: "all", Enum: []string{"all", "tcp", "udp", "icmp"}},
				{Name: "port_range", Type: TypeString, Description: "port range a/b", Default: "-1/-1"},
				{Name: "direction", Type: TypeString, Description: "in drops traffic from the IP, out drops traffic to it", Default: "in", Enum: []string{"in", "out"}},
			},
			Outputs: outputs(
				Field{"security_group_id", TypeString, "the group"},
				Field{"ip", TypeString, "the dropped address as a CIDR"},
				Field{"protocol", TypeString, "the rule's protocol"},
				Field{"port_range", TypeString, "the rule's port range"},
				Field{"direction", TypeString, "in or out"},
				Field{"rule_id", TypeString, "the SecurityGroupRuleId of the drop rule (in the first group)"},
				Field{"instance_id", TypeString, "the instance whose groups were used; empty when security_group_id was given"},
				Field{"security_group_ids", TypeStringList, "by instance: each group of the instance"},
				Field{"rule_ids", TypeStringList, "by instance: the drop rule in each group, at the same index"},
				Field{"changed_security_group_ids", TypeStringList, "by instance: the groups this call added its rule to (in the others the rule was in place)"},
			),
			Inverse: ECSUnblockIP,
			InverseArgs: map[string]string{"security_group_id": "output.security_group_id", "ip": "output.ip", "protocol": "output.protocol",
				"port_range": "output.port_range", "direction": "output.direction", "rule_id": "output.rule_id",
				"security_group_ids": "output.security_group_ids", "rule_ids": "output.rule_ids", "account": "input.account", "region": "input.region"},
			Permissions: []string{"ecs:DescribeInstances", "ecs:DescribeNetworkInterfaces", "ecs:DescribeSecurityGroupAttribute", "ecs:AuthorizeSecurityGroup", "ecs:AuthorizeSecurityGroupEgress",
				"ecs:RevokeSecurityGroup", "ecs:RevokeSecurityGroupEgress"},
			Example: `- id: block_ssh_source
  action: alicloud.ecs.block_ip
  with:
    instance_id: ${{ alert.resource.instance_id }}   # or security_group_id
    ip: ${{ alert.source_ip }}
    protocol: tcp
    port_range: 22/22
  revert_after: 4h`,
		},
		{
			Name: ECSUnblockIP, Summary: "revoke soar's security-group drop rule for an IP", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "ip",
			Params: []Param{
				{Name: "security_group_id", Type: TypeString, Description: "the security group; give it or security_group_ids"},
				{Name: "ip", Type: TypeString, Required: true, Description: "the dropped address or CIDR"},
				{Name: "protocol", Type: TypeString, Description: "IP protocol", Default: "all", Enum: []string{"all", "tcp", "udp", "icmp"}},
				{Name: "port_range", Type: TypeString, Description: "port range a/b", Default: "-1/-1"},
				{Name: "direction", Type: TypeString, Description: "in or out", Default: "in", Enum: []string{"in", "out"}},
				{Name: "rule_id", Type: TypeString, Description: "the rule to revoke", Default: "found by content"},
				{Name: "security_group_ids", Type: TypeStringList, Description: "several groups (a block by instance); replaces security_group_id and rule_id"},
				{Name: "rule_ids", Type: TypeStringList, Description: "the rule to revoke in each of security_group_ids, at the same index", Default: "found by content"},
			},
			Outputs: outputs(
				Field{"security_group_id", TypeString, "the (first) group"},
				Field{"ip", TypeString, "the address"},
				Field{"rule_id", TypeString, "the (first) revoked rule, empty if none existed"},
				Field{"security_group_ids", TypeStringList, "with security_group_ids: the groups"},
				Field{"rule_ids", TypeStringList, "with security_group_ids: every rule revoked"},
			),
			Permissions: []string{"ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup", "ecs:RevokeSecurityGroupEgress"},
			Example: `- id: unblock
  action: alicloud.ecs.unblock_ip
  with: { security_group_id: sg-bp1example, ip: 203.0.113.7 }`,
		},
		{
			Name: ECSIsolateInstance, Summary: "swap an instance's security groups for the quarantine group", Category: CategoryIsolate,
			Cloud: true, Mutating: true, Target: "instance_id",
			Params: []Param{
				{Name: "instance_id", Type: TypeString, Required: true, Description: "the ECS instance to isolate"},
				{Name: "quarantine_group_id", Type: TypeString, Description: "the quarantine security group", Default: "quarantine_group_id of the account in soar.yaml, else a soar-quarantine group in the instance's VPC"},
			},
			Outputs: outputs(
				Field{"instance_id", TypeString, "the instance"},
				Field{"quarantine_group_id", TypeString, "the quarantine group now attached"},
				Field{"original_groups", TypeList, "every network interface's groups before isolation: {network_interface_id, primary, security_group_ids}"},
			),
			Inverse: ECSRestoreInstance,
			InverseArgs: map[string]string{"instance_id": "output.instance_id", "quarantine_group_id": "output.quarantine_group_id",
				"original_groups": "output.original_groups", "account": "input.account", "region": "input.region"},
			Permissions: []string{"ecs:DescribeInstances", "ecs:DescribeNetworkInterfaces", "ecs:DescribeSecurityGroups", "ecs:CreateSecurityGroup", "ecs:AuthorizeSecurityGroup", "ecs:AuthorizeSecurityGroupEgress", "ecs:ModifySecurityGroupPolicy", "ecs:ModifyInstanceAttribute", "ecs:ModifyNetworkInterfaceAttribute", "ecs:TagResources"},
			Example: `- id: isolate
  approval: { approvers: [secops], timeout: 30m, on_timeout: reject }
  action: alicloud.ecs.isolate_instance
  with: { instance_id: "${{ alert.resource.instance_id }}" }`,
		},
		{
			Name: ECSRestoreInstance, Summary: "put an isolated instance's security groups back", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "instance_id",
			Params: []Param{
				{Name: "instance_id", Type: TypeString, Required: true, Description: "the isolated instance"},
				{Name: "quarantine_group_id", Type: TypeString, Description: "the quarantine group to remove", Default: "as for alicloud.ecs.isolate_instance"},
				{Name: "original_groups", Type: TypeList, Description: "the isolate action's original_groups output", Default: "filled in when soar reverts its own isolation"},
			},
			Outputs: outputs(
				Field{"instance_id", TypeString, "the instance"},
				Field{"restored_groups", TypeList, "the group sets put back"},
			),
			Permissions: []string{"ecs:DescribeInstances", "ecs:DescribeNetworkInterfaces", "ecs:ModifyInstanceAttribute", "ecs:ModifyNetworkInterfaceAttribute", "ecs:UntagResources"},
			Example: `- id: restore
  action: alicloud.ecs.restore_instance
  with:
    instance_id: ${{ alert.resource.instance_id }}
    original_groups: ${{ steps.isolate.output.original_groups }}`,
		},
		{
			Name: ECSSnapshotInstance, Summary: "snapshot every disk of an instance and wait until done (evidence)", Category: CategoryTrace,
			Cloud: true, Mutating: true, Target: "instance_id",
			Params: []Param{
				{Name: "instance_id", Type: TypeString, Required: true, Description: "the instance whose disks to snapshot"},
				{Name: "reason", Type: TypeString, Description: "written into each snapshot's description"},
			},
			Outputs: outputs(
				Field{"instance_id", TypeString, "the instance"},
				Field{"snapshot_ids", TypeStringList, "one snapshot per disk"},
				Field{"disks", TypeList, "per disk: {disk_id, disk_type, snapshot_id, status}"},
			),
			Permissions: []string{"ecs:DescribeDisks", "ecs:CreateSnapshot", "ecs:DescribeSnapshots", "ecs:TagResources"},
			Example: `- id: evidence
  action: alicloud.ecs.snapshot_instance
  with: { instance_id: "${{ alert.resource.instance_id }}", reason: "evidence for ${{ incident.id }}" }`,
		},
		{
			Name: ECSStopInstance, Summary: "stop an instance and wait until it is stopped", Category: CategoryIsolate,
			Cloud: true, Mutating: true, Target: "instance_id",
			Params: []Param{
				{Name: "instance_id", Type: TypeString, Required: true, Description: "the instance to stop"},
				{Name: "force", Type: TypeBool, Description: "hard power-off", Default: "false"},
			},
			Outputs: outputs(
				Field{"instance_id", TypeString, "the instance"},
				Field{"previous_status", TypeString, "status before the call"},
				Field{"status", TypeString, "status afterwards (Stopped)"},
			),
			Inverse:     ECSStartInstance,
			InverseArgs: map[string]string{"instance_id": "output.instance_id", "account": "input.account", "region": "input.region"},
			Permissions: []string{"ecs:DescribeInstances", "ecs:StopInstance"},
			Example: `- id: stop
  approval: { approvers: [secops] }
  action: alicloud.ecs.stop_instance
  with: { instance_id: "${{ alert.resource.instance_id }}" }`,
		},
		{
			Name: ECSStartInstance, Summary: "start an instance and wait until it is running", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "instance_id",
			Params: []Param{
				{Name: "instance_id", Type: TypeString, Required: true, Description: "the instance to start"},
			},
			Outputs: outputs(
				Field{"instance_id", TypeString, "the instance"},
				Field{"previous_status", TypeString, "status before the call"},
				Field{"status", TypeString, "status afterwards (Running)"},
			),
			Permissions: []string{"ecs:DescribeInstances", "ecs:StartInstance"},
			Example: `- id: start
  action: alicloud.ecs.start_instance
  with: { instance_id: i-bp1example }`,
		},
		{
			Name: ECSRunCommand, Summary: "run an allow-listed Cloud Assistant command template and wait for its result", Category: CategoryDispose,
			Cloud: true, Mutating: true, Target: "instance_id",
			Params: []Param{
				{Name: "instance_id", Type: TypeString, Required: true, Description: "the instance to run on"},
				{Name: "template", Type: TypeString, Required: true, Description: "a command template named in soar.yaml (commands:)"},
				{Name: "params", Type: TypeMap, Description: "the template's parameters, passed as Cloud Assistant parameters, never spliced into the script"},
			},
			Outputs: outputs(
				Field{"instance_id", TypeString, "the instance"},
				Field{"template", TypeString, "the template run"},
				Field{"invoke_id", TypeString, "the Cloud Assistant invocation"},
				Field{"command_id", TypeString, "the Cloud Assistant command"},
				Field{"status", TypeString, "invocation status, e.g. Success"},
				Field{"exit_code", TypeInt, "the script's exit code"},
				Field{"output", TypeString, "the decoded output, at most 16 KiB"},
			),
			Permissions: []string{"ecs:DescribeInstances", "ecs:RunCommand", "ecs:DescribeInvocationResults"},
			Example: `- id: kill
  action: alicloud.ecs.run_command
  with:
    instance_id: ${{ alert.resource.instance_id }}
    template: kill_and_quarantine
    params: { pid: "${{ alert.process.pid }}", path: "${{ alert.file.path }}" }`,
		},
		{
			Name: CloudFWBlockIP, Summary: "block an IP at the Cloud Firewall (address book + drop policy)", Category: CategoryContain,
			Cloud: true, Mutating: true, Target: "ip",
			Params: []Param{
				{Name: "ip", Type: TypeString, Required: true, Description: "address or CIDR; protected networks are refused"},
				{Name: "direction", Type: TypeString, Description: "in blocks traffic from the IP, out blocks traffic to it (C&C)", Default: "in", Enum: []string{"in", "out"}},
			},
			Outputs: outputs(
				Field{"ip", TypeString, "the blocked address"},
				Field{"direction", TypeString, "in or out"},
				Field{"address_book", TypeString, "the address book holding soar's blocked IPs"},
				Field{"address_book_id", TypeString, "its GroupUuid"},
				Field{"policy_id", TypeString, "the AclUuid of the drop policy"},
			),
			Inverse:     CloudFWUnblockIP,
			InverseArgs: map[string]string{"ip": "output.ip", "direction": "output.direction", "account": "input.account", "region": "input.region"},
			Permissions: []string{"yundun-cloudfirewall:DescribeAddressBook", "yundun-cloudfirewall:AddAddressBook", "yundun-cloudfirewall:ModifyAddressBook", "yundun-cloudfirewall:DescribeControlPolicy", "yundun-cloudfirewall:AddControlPolicy"},
			Example: `- id: block_c2
  foreach: ${{ alert.iocs.ips }}
  action: alicloud.cloudfw.block_ip
  with: { ip: "${{ item }}", direction: out }
  revert_after: 72h`,
		},
		{
			Name: CloudFWUnblockIP, Summary: "remove an IP from soar's Cloud Firewall address book", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "ip",
			Params: []Param{
				{Name: "ip", Type: TypeString, Required: true, Description: "the blocked address or CIDR"},
				{Name: "direction", Type: TypeString, Description: "in or out", Default: "in", Enum: []string{"in", "out"}},
			},
			Outputs: outputs(
				Field{"ip", TypeString, "the unblocked address"},
				Field{"direction", TypeString, "in or out"},
			),
			Permissions: []string{"yundun-cloudfirewall:DescribeAddressBook", "yundun-cloudfirewall:ModifyAddressBook", "yundun-cloudfirewall:DeleteAddressBook", "yundun-cloudfirewall:DescribeControlPolicy", "yundun-cloudfirewall:DeleteControlPolicy"},
			Example: `- id: unblock
  action: alicloud.cloudfw.unblock_ip
  with: { ip: 198.51.100.23, direction: out }`,
		},
		{
			Name: RAMDisableAccessKey, Summary: "disable a RAM user's access key (never the engine's own)", Category: CategoryDispose,
			Cloud: true, Mutating: true, Target: "access_key_id",
			Params: []Param{
				{Name: "access_key_id", Type: TypeString, Required: true, Description: "the leaked access key"},
				{Name: "user_name", Type: TypeString, Description: "the RAM user owning the key", Default: "looked up from the key"},
			},
			Outputs: outputs(
				Field{"access_key_id", TypeString, "the key"},
				Field{"user_name", TypeString, "its owner"},
				Field{"previous_status", TypeString, "Active or Inactive"},
				Field{"status", TypeString, "Inactive"},
			),
			Inverse:     RAMEnableAccessKey,
			InverseArgs: map[string]string{"access_key_id": "output.access_key_id", "user_name": "output.user_name", "account": "input.account", "region": "input.region"},
			Permissions: []string{"ram:ListUsers", "ram:ListAccessKeys", "ram:UpdateAccessKey"},
			Example: `- id: disable_key
  approval: { approvers: [secops] }
  action: alicloud.ram.disable_access_key
  with: { access_key_id: "${{ alert.labels.access_key_id }}" }`,
		},
		{
			Name: RAMEnableAccessKey, Summary: "re-enable a RAM user's access key", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "access_key_id",
			Params: []Param{
				{Name: "access_key_id", Type: TypeString, Required: true, Description: "the key"},
				{Name: "user_name", Type: TypeString, Description: "the RAM user owning the key", Default: "looked up from the key"},
			},
			Outputs: outputs(
				Field{"access_key_id", TypeString, "the key"},
				Field{"user_name", TypeString, "its owner"},
				Field{"previous_status", TypeString, "Active or Inactive"},
				Field{"status", TypeString, "Active"},
			),
			Permissions: []string{"ram:ListUsers", "ram:ListAccessKeys", "ram:UpdateAccessKey"},
			Example: `- id: enable_key
  action: alicloud.ram.enable_access_key
  with: { access_key_id: LTAI5texample, user_name: alice }`,
		},
		{
			Name: SASHandleEvent, Summary: "handle Security Center events (mark handled, quarantine, block)", Category: CategoryDispose,
			Cloud: true, Mutating: true, Target: "event_ids",
			Params: []Param{
				{Name: "event_ids", Type: TypeStringList, Required: true, Description: "Security Center event IDs"},
				{Name: "operation", Type: TypeString, Required: true, Description: "Security Center operation code",
					Enum: []string{"offline_handled", "kill_and_quara", "virus_quara", "block_ip", "mark_mis_info", "deal", "ignore"}},
				{Name: "operation_params", Type: TypeMap, Description: "the operation's parameters, e.g. {subOperation: killAndQuaraFileByMd5andPath}"},
			},
			Outputs: outputs(
				Field{"task_id", TypeString, "the Security Center task"},
				Field{"status", TypeString, "task status: Success, Failure, or already_handled"},
				Field{"handled", TypeStringList, "the events this call handled"},
			),
			Permissions: []string{"yundun-sas:DescribeSuspEvents", "yundun-sas:DescribeSecurityEventOperations", "yundun-sas:HandleSecurityEvents", "yundun-sas:DescribeSecurityEventOperationStatus"},
			Example: `- id: mark_handled
  action: alicloud.sas.handle_event
  with: { event_ids: ["${{ alert.labels.sas_event_id }}"], operation: offline_handled }`,
		},
		{
			Name: DDoSBlacklistIP, Summary: "add IPs to an Anti-DDoS Pro/Premium domain's blacklist", Category: CategoryContain,
			Cloud: true, Mutating: true, Target: "domain",
			Params: []Param{
				{Name: "domain", Type: TypeString, Required: true, Description: "a website protected by Anti-DDoS Pro/Premium (ddoscoo)"},
				{Name: "ips", Type: TypeStringList, Required: true, Description: "addresses or CIDRs; protected networks are refused"},
			},
			Outputs: outputs(
				Field{"domain", TypeString, "the domain"},
				Field{"changed_ips", TypeStringList, "the IPs this call added"},
				Field{"blacklist", TypeStringList, "the whole blacklist afterwards"},
				Field{"warning", TypeString, "why the blacklist does not act yet (the website's black/white list switch is off); empty when it does"},
			),
			Inverse:     DDoSUnblacklistIP,
			InverseArgs: map[string]string{"domain": "output.domain", "ips": "output.changed_ips", "account": "input.account", "region": "input.region"},
			Permissions: []string{"yundun-ddoscoo:DescribeWebRules", "yundun-ddoscoo:DescribeWebCcProtectSwitch", "yundun-ddoscoo:ConfigWebIpSet"},
			Example: `- id: blacklist_sources
  action: alicloud.ddos.blacklist_ip
  with: { domain: "${{ alert.http.host }}", ips: "${{ alert.iocs.ips }}" }
  revert_after: 2h`,
		},
		{
			Name: DDoSUnblacklistIP, Summary: "remove IPs from an Anti-DDoS Pro/Premium domain's blacklist", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "domain",
			Params: []Param{
				{Name: "domain", Type: TypeString, Required: true, Description: "the protected website"},
				{Name: "ips", Type: TypeStringList, Required: true, Description: "addresses or CIDRs to remove"},
			},
			Outputs: outputs(
				Field{"domain", TypeString, "the domain"},
				Field{"changed_ips", TypeStringList, "the IPs this call removed"},
				Field{"blacklist", TypeStringList, "the whole blacklist afterwards"},
			),
			Permissions: []string{"yundun-ddoscoo:DescribeWebRules", "yundun-ddoscoo:ConfigWebIpSet"},
			Example: `- id: unblacklist
  action: alicloud.ddos.unblacklist_ip
  with: { domain: www.example.com, ips: [203.0.113.7] }`,
		},
		{
			Name: DDoSSetCCMode, Summary: "switch an Anti-DDoS Pro/Premium domain's CC protection to a stricter mode", Category: CategoryContain,
			Cloud: true, Mutating: true, Target: "domain",
			Params: []Param{
				{Name: "domain", Type: TypeString, Required: true, Description: "the protected website"},
				{Name: "mode", Type: TypeString, Required: true, Description: "CC protection template, from the weakest: default < gf_under_attack < gf_sos_verify < gf_sos_enhance; a site already at a stricter mode keeps it (changed false)",
					Enum: []string{"default", "gf_under_attack", "gf_sos_verify", "gf_sos_enhance"}},
			},
			Outputs: outputs(
				Field{"domain", TypeString, "the domain"},
				Field{"mode", TypeString, "the mode now set"},
				Field{"previous_mode", TypeString, "the mode before; the inverse restores it"},
			),
			Inverse:     DDoSRestoreCCMode,
			InverseArgs: map[string]string{"domain": "output.domain", "mode": "output.previous_mode", "account": "input.account", "region": "input.region"},
			Permissions: []string{"yundun-ddoscoo:DescribeWebRules", "yundun-ddoscoo:ConfigWebCCTemplate"},
			Example: `- id: strict_cc
  action: alicloud.ddos.set_cc_mode
  with: { domain: "${{ alert.http.host }}", mode: gf_sos_verify }
  revert_after: 2h`,
		},
		{
			Name: DDoSRestoreCCMode, Summary: "set an Anti-DDoS Pro/Premium domain's CC protection mode back", Category: CategoryRecovery,
			Cloud: true, Mutating: true, Target: "domain",
			Params: []Param{
				{Name: "domain", Type: TypeString, Required: true, Description: "the protected website"},
				{Name: "mode", Type: TypeString, Required: true, Description: "the mode to restore",
					Enum: []string{"default", "gf_under_attack", "gf_sos_verify", "gf_sos_enhance"}},
			},
			Outputs: outputs(
				Field{"domain", TypeString, "the domain"},
				Field{"mode", TypeString, "the mode now set"},
				Field{"previous_mode", TypeString, "the mode before"},
			),
			Permissions: []string{"yundun-ddoscoo:DescribeWebRules", "yundun-ddoscoo:ConfigWebCCTemplate"},
			Example: `- id: normal_cc
  action: alicloud.ddos.restore_cc_mode
  with: { domain: www.example.com, mode: default }`,
		},
		{
			Name: ActionTrailLookupEvents, Summary: "collect the ActionTrail audit trail of a key, instance or IP (read-only)", Category: CategoryTrace,
			Cloud: true, Mutating: false, Target: "access_key_id",
			Params: []Param{
				{Name: "access_key_id", Type: TypeString, Description: "events made with this access key"},
				{Name: "instance_id", Type: TypeString, Description: "events on this instance"},
				{Name: "ip", Type: TypeString, Description: "events from this source IP"},
				{Name: "since", Type: TypeDuration, Description: "how far back to look", Default: "24h"},
			},
			Outputs: outputs(
				Field{"count", TypeInt, "events found"},
				Field{"events", TypeList, "per event: {event_id, time, name, source, source_ip, user_name, access_key_id, read_write, error_code}"},
				Field{"truncated", TypeBool, "more events matched than the 500 kept"},
				Field{"source_ips", TypeStringList, "distinct source IPs"},
				Field{"event_names", TypeStringList, "distinct API names"},
			),
			Permissions: []string{"actiontrail:LookupEvents"},
			Example: `- id: trail
  action: alicloud.actiontrail.lookup_events
  with: { access_key_id: "${{ alert.labels.access_key_id }}", since: 72h }`,
		},
		{
			Name: NotifyWebhook, Summary: "post a message to a notification channel (DingTalk, WeCom, Slack, generic)", Category: CategoryNotify,
			Mutating: false, Target: "channel",
			Params: []Param{
				{Name: "channel", Type: TypeString, Required: true, Description: "a channel named in soar.yaml (notify:)"},
				{Name: "text", Type: TypeString, Required: true, Description: "the message, markdown where the channel supports it"},
				{Name: "title", Type: TypeString, Description: "a title", Default: "the playbook name"},
			},
			Outputs: outputs(
				Field{"channel", TypeString, "the channel"},
				Field{"kind", TypeString, "dingtalk, wecom, slack or generic"},
				Field{"status_code", TypeInt, "the receiver's HTTP status"},
			),
			Example: `- id: page
  action: notify.webhook
  with: { channel: secops, text: "挂马 on ${{ alert.resource.instance_id }}: ${{ alert.title }}" }`,
		},
		{
			Name: NATSPublish, Summary: "raise a linkage alert for another playbook (hop-limited)", Category: CategoryLinkage,
			Mutating: false, Target: "subject",
			Params: []Param{
				{Name: "subject", Type: TypeString, Required: true, Description: "an alerts.<source>.<type> subject"},
				{Name: "alert", Type: TypeMap, Required: true, Description: "the new alert, in the envelope's shape"},
			},
			Outputs: outputs(
				Field{"subject", TypeString, "the subject published to"},
				Field{"alert_id", TypeString, "the new alert's id (its Nats-Msg-Id)"},
				Field{"sequence", TypeInt, "the JetStream sequence"},
				Field{"duplicate", TypeBool, "the alert had been published before"},
				Field{"hops", TypeInt, "the new alert's hop count"},
			),
			Example: `- id: escalate
  action: nats.publish
  with:
    subject: alerts.soar.ddos
    alert: { type: ddos, severity: 4, title: "flood on ${{ alert.http.host }}", http: { host: "${{ alert.http.host }}" } }`,
		},
	}
}

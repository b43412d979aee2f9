package sandbox

import "time"

// State is everything the sandbox cloud holds: one account in one region.
// [Server.State] returns a deep copy; [World] has the same shape and seeds it.
//
// Field values use the spelling the cloud APIs return (Running, Accept,
// TCP, progressing, Active), so tests can compare them with API responses.
// The JSON and YAML names are snake_case and identical; world files use them.
type State struct {
	// AccountID is the Alibaba Cloud account (UID) owning everything.
	AccountID string `json:"account_id" yaml:"account_id"`
	// Region is the one region of the sandbox, e.g. cn-hangzhou. Requests
	// may name any RegionId; it is accepted and ignored.
	Region string `json:"region" yaml:"region"`
	// EngineUser is the RAM user whose access key soar uses (soar-engine,
	// with sandbox-ak, in the default world). soar sandbox prints its key.
	EngineUser string `json:"engine_user,omitempty" yaml:"engine_user,omitempty"`
	// Epoch, in a world, is the time the world's timestamps are written
	// against: when a server starts (or resets), every timestamp of the
	// world is shifted by now − Epoch, so "ten minutes before the epoch"
	// becomes "ten minutes ago". Zero means timestamps are kept as written.
	Epoch time.Time `json:"epoch,omitzero" yaml:"epoch,omitempty"`

	ECS         ECSState         `json:"ecs" yaml:"ecs"`
	WAF         WAFState         `json:"waf" yaml:"waf"`
	CloudFW     CloudFWState     `json:"cloudfw" yaml:"cloudfw"`
	RAM         RAMState         `json:"ram" yaml:"ram"`
	STS         STSState         `json:"sts" yaml:"sts"`
	SAS         SASState         `json:"sas" yaml:"sas"`
	DDoS        DDoSState        `json:"ddos" yaml:"ddos"`
	ActionTrail ActionTrailState `json:"actiontrail" yaml:"actiontrail"`
}

// Pending marks a resource in a transitional status (Stopping, Starting,
// progressing, Running, Processing). The operation finishes when a read API
// has returned the resource Polls more times, or when [Options.AsyncDelay]
// has passed since Since. A transitional status without Pending finishes on
// the next read.
type Pending struct {
	Polls int       `json:"polls" yaml:"polls"`
	Since time.Time `json:"since,omitzero" yaml:"since,omitempty"`
}

// ECSState holds the Elastic Compute Service resources.
type ECSState struct {
	VPCs           []VPC           `json:"vpcs" yaml:"vpcs"`
	Instances      []Instance      `json:"instances" yaml:"instances"`
	SecurityGroups []SecurityGroup `json:"security_groups" yaml:"security_groups"`
	Disks          []Disk          `json:"disks" yaml:"disks"`
	Snapshots      []Snapshot      `json:"snapshots" yaml:"snapshots"`
	Invocations    []Invocation    `json:"invocations" yaml:"invocations"`
}

// VPC is a virtual private cloud; instances and security groups live in one.
type VPC struct {
	ID        string `json:"id" yaml:"id"`
	Name      string `json:"name,omitempty" yaml:"name,omitempty"`
	CIDRBlock string `json:"cidr_block,omitempty" yaml:"cidr_block,omitempty"`
}

// Instance is an ECS instance.
type Instance struct {
	ID           string `json:"id" yaml:"id"`
	Name         string `json:"name" yaml:"name"`
	Hostname     string `json:"hostname,omitempty" yaml:"hostname,omitempty"`
	Description  string `json:"description,omitempty" yaml:"description,omitempty"`
	InstanceType string `json:"instance_type,omitempty" yaml:"instance_type,omitempty"`
	// Status is Running, Stopping, Stopped or Starting.
	Status string `json:"status" yaml:"status"`
	// StoppedMode is what the last StopInstance asked for (KeepCharging,
	// StopCharging); ForceStopped records ForceStop.
	StoppedMode  string `json:"stopped_mode,omitempty" yaml:"stopped_mode,omitempty"`
	ForceStopped bool   `json:"force_stopped,omitempty" yaml:"force_stopped,omitempty"`
	ZoneID       string `json:"zone_id,omitempty" yaml:"zone_id,omitempty"`
	VpcID        string `json:"vpc_id" yaml:"vpc_id"`
	VSwitchID    string `json:"vswitch_id,omitempty" yaml:"vswitch_id,omitempty"`
	// OSType is linux (default) or windows.
	OSType string `json:"os_type,omitempty" yaml:"os_type,omitempty"`
	OSName string `json:"os_name,omitempty" yaml:"os_name,omitempty"`
	// PublicIP is the instance's own public address; EIP an elastic IP
	// bound to it. Either may be empty.
	PublicIP string `json:"public_ip,omitempty" yaml:"public_ip,omitempty"`
	EIP      string `json:"eip,omitempty" yaml:"eip,omitempty"`
	// NetworkInterfaces are the instance's ENIs; the one of Type Primary
	// comes first. Each carries its own security-group set.
	NetworkInterfaces []NetworkInterface `json:"network_interfaces" yaml:"network_interfaces"`
	Tags              map[string]string  `json:"tags,omitempty" yaml:"tags,omitempty"`
	// CloudAssistant is online (default) or offline; RunCommand on an
	// offline agent fails with ClientNotRunning.
	CloudAssistant string `json:"cloud_assistant,omitempty" yaml:"cloud_assistant,omitempty"`
	// Command scripts what RunCommand reports on this instance; nil means
	// Success, exit code 0 and the rendered script as output.
	Command      *CommandResult `json:"command,omitempty" yaml:"command,omitempty"`
	CreationTime time.Time      `json:"creation_time,omitzero" yaml:"creation_time,omitempty"`
	Pending      *Pending       `json:"pending,omitempty" yaml:"pending,omitempty"`
}

// NetworkInterface is an elastic network interface attached to an instance.
type NetworkInterface struct {
	ID string `json:"id" yaml:"id"`
	// Type is Primary or Secondary.
	Type             string   `json:"type" yaml:"type"`
	Name             string   `json:"name,omitempty" yaml:"name,omitempty"`
	PrimaryIP        string   `json:"primary_ip" yaml:"primary_ip"`
	MAC              string   `json:"mac,omitempty" yaml:"mac,omitempty"`
	SecurityGroupIDs []string `json:"security_group_ids" yaml:"security_group_ids"`
}

// CommandResult is the scripted outcome of a Cloud Assistant command on one
// instance.
type CommandResult struct {
	// Status is the final InvocationStatus: Success (default), Failed,
	// Timeout, Error, ….
	Status   string `json:"status,omitempty" yaml:"status,omitempty"`
	ExitCode int    `json:"exit_code,omitempty" yaml:"exit_code,omitempty"`
	// Output is the plain-text output; empty means the rendered script.
	Output    string `json:"output,omitempty" yaml:"output,omitempty"`
	ErrorCode string `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorInfo string `json:"error_info,omitempty" yaml:"error_info,omitempty"`
}

// SecurityGroup is an ECS security group and its rules.
type SecurityGroup struct {
	ID          string `json:"id" yaml:"id"`
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	VpcID       string `json:"vpc_id" yaml:"vpc_id"`
	// Type is normal (default) or enterprise.
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// InnerAccessPolicy is Accept or Drop (traffic between members).
	InnerAccessPolicy string            `json:"inner_access_policy,omitempty" yaml:"inner_access_policy,omitempty"`
	Tags              map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Rules             []Rule            `json:"rules" yaml:"rules"`
	CreationTime      time.Time         `json:"creation_time,omitzero" yaml:"creation_time,omitempty"`
}

// Rule is one security-group rule. Values are stored normalized: Policy
// Accept or Drop, IPProtocol upper case, Priority a number.
type Rule struct {
	ID string `json:"id" yaml:"id"`
	// Direction is ingress or egress.
	Direction        string    `json:"direction" yaml:"direction"`
	Policy           string    `json:"policy" yaml:"policy"`
	Priority         int       `json:"priority" yaml:"priority"`
	IPProtocol       string    `json:"ip_protocol" yaml:"ip_protocol"`
	PortRange        string    `json:"port_range" yaml:"port_range"`
	SourceCidrIP     string    `json:"source_cidr_ip,omitempty" yaml:"source_cidr_ip,omitempty"`
	DestCidrIP       string    `json:"dest_cidr_ip,omitempty" yaml:"dest_cidr_ip,omitempty"`
	Ipv6SourceCidrIP string    `json:"ipv6_source_cidr_ip,omitempty" yaml:"ipv6_source_cidr_ip,omitempty"`
	Ipv6DestCidrIP   string    `json:"ipv6_dest_cidr_ip,omitempty" yaml:"ipv6_dest_cidr_ip,omitempty"`
	SourceGroupID    string    `json:"source_group_id,omitempty" yaml:"source_group_id,omitempty"`
	DestGroupID      string    `json:"dest_group_id,omitempty" yaml:"dest_group_id,omitempty"`
	SourcePortRange  string    `json:"source_port_range,omitempty" yaml:"source_port_range,omitempty"`
	NicType          string    `json:"nic_type,omitempty" yaml:"nic_type,omitempty"`
	Description      string    `json:"description,omitempty" yaml:"description,omitempty"`
	CreateTime       time.Time `json:"create_time,omitzero" yaml:"create_time,omitempty"`
}

// Disk is a cloud disk.
type Disk struct {
	ID         string `json:"id" yaml:"id"`
	Name       string `json:"name,omitempty" yaml:"name,omitempty"`
	InstanceID string `json:"instance_id,omitempty" yaml:"instance_id,omitempty"`
	// Type is system or data.
	Type     string `json:"type" yaml:"type"`
	Category string `json:"category,omitempty" yaml:"category,omitempty"`
	// Size is in GiB.
	Size   int    `json:"size,omitempty" yaml:"size,omitempty"`
	Device string `json:"device,omitempty" yaml:"device,omitempty"`
	// Status is In_use or Available.
	Status       string            `json:"status,omitempty" yaml:"status,omitempty"`
	ZoneID       string            `json:"zone_id,omitempty" yaml:"zone_id,omitempty"`
	Tags         map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	CreationTime time.Time         `json:"creation_time,omitzero" yaml:"creation_time,omitempty"`
}

// Snapshot is a disk snapshot.
type Snapshot struct {
	ID          string `json:"id" yaml:"id"`
	Name        string `json:"name,omitempty" yaml:"name,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	DiskID      string `json:"disk_id" yaml:"disk_id"`
	// DiskType is the source disk's type, system or data.
	DiskType string `json:"disk_type,omitempty" yaml:"disk_type,omitempty"`
	DiskSize int    `json:"disk_size,omitempty" yaml:"disk_size,omitempty"`
	// Status is progressing, accomplished or failed; Progress "0%"–"100%".
	Status        string            `json:"status" yaml:"status"`
	Progress      string            `json:"progress,omitempty" yaml:"progress,omitempty"`
	RetentionDays int               `json:"retention_days,omitempty" yaml:"retention_days,omitempty"`
	Tags          map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	CreationTime  time.Time         `json:"creation_time,omitzero" yaml:"creation_time,omitempty"`
	Pending       *Pending          `json:"pending,omitempty" yaml:"pending,omitempty"`
}

// Invocation is one RunCommand call.
type Invocation struct {
	InvokeID  string `json:"invoke_id" yaml:"invoke_id"`
	CommandID string `json:"command_id" yaml:"command_id"`
	Name      string `json:"name,omitempty" yaml:"name,omitempty"`
	// Type is RunShellScript, RunBatScript or RunPowerShellScript.
	Type string `json:"type" yaml:"type"`
	// Content is the script as run, decoded from Base64 if it was sent so.
	Content string `json:"content" yaml:"content"`
	// Parameters are the custom parameters (EnableParameter=true).
	Parameters   map[string]string  `json:"parameters,omitempty" yaml:"parameters,omitempty"`
	Timeout      int                `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	Username     string             `json:"username,omitempty" yaml:"username,omitempty"`
	WorkingDir   string             `json:"working_dir,omitempty" yaml:"working_dir,omitempty"`
	CreationTime time.Time          `json:"creation_time,omitzero" yaml:"creation_time,omitempty"`
	Results      []InvocationResult `json:"results" yaml:"results"`
}

// InvocationResult is an invocation's outcome on one instance.
type InvocationResult struct {
	InstanceID string `json:"instance_id" yaml:"instance_id"`
	// Status is the InvocationStatus: Running, then Success, Failed, ….
	Status   string `json:"status" yaml:"status"`
	ExitCode int    `json:"exit_code" yaml:"exit_code"`
	// Output is plain text (the API returns it Base64-encoded).
	Output       string    `json:"output" yaml:"output"`
	ErrorCode    string    `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorInfo    string    `json:"error_info,omitempty" yaml:"error_info,omitempty"`
	StartTime    time.Time `json:"start_time,omitzero" yaml:"start_time,omitempty"`
	FinishedTime time.Time `json:"finished_time,omitzero" yaml:"finished_time,omitempty"`
	Pending      *Pending  `json:"pending,omitempty" yaml:"pending,omitempty"`
}

// WAFState holds the WAF 3.0 resources.
type WAFState struct {
	Instances []WAFInstance `json:"instances" yaml:"instances"`
	Templates []WAFTemplate `json:"templates" yaml:"templates"`
	Rules     []WAFRule     `json:"rules" yaml:"rules"`
}

// WAFInstance is a WAF 3.0 instance.
type WAFInstance struct {
	ID      string `json:"id" yaml:"id"`
	Edition string `json:"edition,omitempty" yaml:"edition,omitempty"`
	// Status is 1 when the instance is in service.
	Status int `json:"status" yaml:"status"`
	// Resources are the protected objects, e.g. www.example.com-waf.
	Resources []string `json:"resources,omitempty" yaml:"resources,omitempty"`
}

// WAFTemplate is a protection (defense) template.
type WAFTemplate struct {
	ID         int64  `json:"id" yaml:"id"`
	InstanceID string `json:"instance_id" yaml:"instance_id"`
	Name       string `json:"name" yaml:"name"`
	// Scene is the defense scene, e.g. ip_blacklist.
	Scene string `json:"scene" yaml:"scene"`
	// Type is user_default or user_custom; Origin custom or system.
	Type        string `json:"type" yaml:"type"`
	Origin      string `json:"origin,omitempty" yaml:"origin,omitempty"`
	Status      int    `json:"status" yaml:"status"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Resources and ResourceGroups are the protected objects (groups) the
	// template applies to.
	Resources      []string  `json:"resources,omitempty" yaml:"resources,omitempty"`
	ResourceGroups []string  `json:"resource_groups,omitempty" yaml:"resource_groups,omitempty"`
	GmtModified    time.Time `json:"gmt_modified,omitzero" yaml:"gmt_modified,omitempty"`
}

// WAFRule is a defense rule. For the ip_blacklist scene the rule's
// configuration is Name, RemoteAddr and Action; other keys of the rule JSON
// are kept in Extra.
type WAFRule struct {
	ID         int64  `json:"id" yaml:"id"`
	InstanceID string `json:"instance_id" yaml:"instance_id"`
	TemplateID int64  `json:"template_id" yaml:"template_id"`
	Scene      string `json:"scene" yaml:"scene"`
	Name       string `json:"name" yaml:"name"`
	// Status is 1 (on) or 0 (off).
	Status int `json:"status" yaml:"status"`
	// Action is block or monitor.
	Action string `json:"action,omitempty" yaml:"action,omitempty"`
	// RemoteAddr are the blocked IPs and CIDRs.
	RemoteAddr  []string       `json:"remote_addr" yaml:"remote_addr"`
	Extra       map[string]any `json:"extra,omitempty" yaml:"extra,omitempty"`
	GmtModified time.Time      `json:"gmt_modified,omitzero" yaml:"gmt_modified,omitempty"`
}

// CloudFWState holds the Cloud Firewall resources.
type CloudFWState struct {
	AddressBooks []AddressBook `json:"address_books" yaml:"address_books"`
	// Policies are the Internet-border access-control policies; Order is
	// 1-based within a direction.
	Policies []ControlPolicy `json:"policies" yaml:"policies"`
}

// AddressBook is a Cloud Firewall address book.
type AddressBook struct {
	UUID string `json:"uuid" yaml:"uuid"`
	Name string `json:"name" yaml:"name"`
	// Type is ip, ipv6, domain, port or tag.
	Type        string   `json:"type" yaml:"type"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Addresses   []string `json:"addresses" yaml:"addresses"`
}

// ControlPolicy is a Cloud Firewall access-control policy.
type ControlPolicy struct {
	UUID string `json:"uuid" yaml:"uuid"`
	// Direction is in or out.
	Direction string `json:"direction" yaml:"direction"`
	Order     int    `json:"order" yaml:"order"`
	// Action is accept, drop or log.
	Action string `json:"action" yaml:"action"`
	Source string `json:"source" yaml:"source"`
	// SourceType is net, group or location.
	SourceType      string    `json:"source_type" yaml:"source_type"`
	Destination     string    `json:"destination" yaml:"destination"`
	DestinationType string    `json:"destination_type" yaml:"destination_type"`
	Proto           string    `json:"proto" yaml:"proto"`
	ApplicationName string    `json:"application_name,omitempty" yaml:"application_name,omitempty"`
	DestPortType    string    `json:"dest_port_type,omitempty" yaml:"dest_port_type,omitempty"`
	DestPort        string    `json:"dest_port,omitempty" yaml:"dest_port,omitempty"`
	DestPortGroup   string    `json:"dest_port_group,omitempty" yaml:"dest_port_group,omitempty"`
	Description     string    `json:"description" yaml:"description"`
	Release         bool      `json:"release" yaml:"release"`
	IPVersion       int       `json:"ip_version,omitempty" yaml:"ip_version,omitempty"`
	HitTimes        int64     `json:"hit_times,omitempty" yaml:"hit_times,omitempty"`
	CreateTime      time.Time `json:"create_time,omitzero" yaml:"create_time,omitempty"`
}

// RAMState holds RAM users, their access keys, and roles.
type RAMState struct {
	Users []RAMUser `json:"users" yaml:"users"`
	Roles []RAMRole `json:"roles" yaml:"roles"`
}

// RAMUser is a RAM user.
type RAMUser struct {
	Name        string      `json:"name" yaml:"name"`
	ID          string      `json:"id" yaml:"id"`
	DisplayName string      `json:"display_name,omitempty" yaml:"display_name,omitempty"`
	Comments    string      `json:"comments,omitempty" yaml:"comments,omitempty"`
	CreateDate  time.Time   `json:"create_date,omitzero" yaml:"create_date,omitempty"`
	AccessKeys  []AccessKey `json:"access_keys" yaml:"access_keys"`
}

// AccessKey is a RAM user's permanent access key. The signature verifier
// reads the same store: a key whose Status is Inactive is refused.
type AccessKey struct {
	ID     string `json:"id" yaml:"id"`
	Secret string `json:"secret" yaml:"secret"`
	// Status is Active or Inactive.
	Status     string    `json:"status" yaml:"status"`
	CreateDate time.Time `json:"create_date,omitzero" yaml:"create_date,omitempty"`
	// LastUsed is the time of the last accepted call signed with the key.
	LastUsed time.Time `json:"last_used,omitzero" yaml:"last_used,omitempty"`
}

// RAMRole is a RAM role STS AssumeRole can assume.
type RAMRole struct {
	Name        string `json:"name" yaml:"name"`
	ID          string `json:"id" yaml:"id"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// STSState holds the temporary credentials AssumeRole minted.
type STSState struct {
	Credentials []TempCredential `json:"credentials" yaml:"credentials"`
}

// TempCredential is an STS credential: an STS.-prefixed key, its secret and
// security token.
type TempCredential struct {
	AccessKeyID   string    `json:"access_key_id" yaml:"access_key_id"`
	Secret        string    `json:"secret" yaml:"secret"`
	SecurityToken string    `json:"security_token" yaml:"security_token"`
	RoleName      string    `json:"role_name" yaml:"role_name"`
	SessionName   string    `json:"session_name" yaml:"session_name"`
	Expiration    time.Time `json:"expiration" yaml:"expiration"`
}

// SASState holds Security Center events and handling tasks.
type SASState struct {
	Events []SASEvent `json:"events" yaml:"events"`
	Tasks  []SASTask  `json:"tasks" yaml:"tasks"`
}

// SASEvent is a Security Center alert event (DescribeSuspEvents).
type SASEvent struct {
	ID           int64  `json:"id" yaml:"id"`
	UniqueInfo   string `json:"unique_info,omitempty" yaml:"unique_info,omitempty"`
	UUID         string `json:"uuid,omitempty" yaml:"uuid,omitempty"`
	InstanceID   string `json:"instance_id,omitempty" yaml:"instance_id,omitempty"`
	InstanceName string `json:"instance_name,omitempty" yaml:"instance_name,omitempty"`
	InternetIP   string `json:"internet_ip,omitempty" yaml:"internet_ip,omitempty"`
	IntranetIP   string `json:"intranet_ip,omitempty" yaml:"intranet_ip,omitempty"`
	// Level is serious, suspicious or remind.
	Level      string `json:"level" yaml:"level"`
	Name       string `json:"name" yaml:"name"`
	Type       string `json:"type,omitempty" yaml:"type,omitempty"`
	SubType    string `json:"sub_type,omitempty" yaml:"sub_type,omitempty"`
	DataSource string `json:"data_source,omitempty" yaml:"data_source,omitempty"`
	// Status is the EventStatus: 1 pending, 2 ignored, 8 false positive,
	// 16 handling, 32 handled, 64 expired.
	Status         int               `json:"status" yaml:"status"`
	OccurrenceTime time.Time         `json:"occurrence_time,omitzero" yaml:"occurrence_time,omitempty"`
	LastTime       time.Time         `json:"last_time,omitzero" yaml:"last_time,omitempty"`
	Stages         []string          `json:"stages,omitempty" yaml:"stages,omitempty"`
	Tactics        map[string]string `json:"tactics,omitempty" yaml:"tactics,omitempty"`
	Details        []SASDetail       `json:"details,omitempty" yaml:"details,omitempty"`
	// Operations are the operation codes offered for the event; empty
	// means every standard one.
	Operations []string `json:"operations,omitempty" yaml:"operations,omitempty"`
	// HandleError, when set, makes HandleSecurityEvents fail on this event
	// with this error code.
	HandleError      string    `json:"handle_error,omitempty" yaml:"handle_error,omitempty"`
	OperateErrorCode string    `json:"operate_error_code,omitempty" yaml:"operate_error_code,omitempty"`
	OperateMsg       string    `json:"operate_msg,omitempty" yaml:"operate_msg,omitempty"`
	OperateTime      time.Time `json:"operate_time,omitzero" yaml:"operate_time,omitempty"`
}

// SASDetail is one row of an event's details.
type SASDetail struct {
	Name     string `json:"name" yaml:"name"`
	Value    string `json:"value" yaml:"value"`
	Type     string `json:"type,omitempty" yaml:"type,omitempty"`
	InfoType string `json:"info_type,omitempty" yaml:"info_type,omitempty"`
}

// SASTask is one HandleSecurityEvents call.
type SASTask struct {
	ID        int64  `json:"id" yaml:"id"`
	Operation string `json:"operation" yaml:"operation"`
	Params    string `json:"params,omitempty" yaml:"params,omitempty"`
	// Status is Processing, Success or Failure.
	Status       string          `json:"status" yaml:"status"`
	Events       []SASTaskResult `json:"events" yaml:"events"`
	CreationTime time.Time       `json:"creation_time,omitzero" yaml:"creation_time,omitempty"`
	Pending      *Pending        `json:"pending,omitempty" yaml:"pending,omitempty"`
}

// SASTaskResult is a task's outcome on one event.
type SASTaskResult struct {
	EventID int64 `json:"event_id" yaml:"event_id"`
	// Status is Processing, Success or Failure.
	Status    string `json:"status" yaml:"status"`
	ErrorCode string `json:"error_code,omitempty" yaml:"error_code,omitempty"`
}

// DDoSState holds Anti-DDoS Pro/Premium (ddoscoo) website configurations.
type DDoSState struct {
	Domains []DDoSDomain `json:"domains" yaml:"domains"`
}

// DDoSDomain is a website protected by Anti-DDoS Pro/Premium.
type DDoSDomain struct {
	Domain      string   `json:"domain" yaml:"domain"`
	InstanceIDs []string `json:"instance_ids,omitempty" yaml:"instance_ids,omitempty"`
	Cname       string   `json:"cname,omitempty" yaml:"cname,omitempty"`
	RealServers []string `json:"real_servers,omitempty" yaml:"real_servers,omitempty"`
	CCEnabled   bool     `json:"cc_enabled" yaml:"cc_enabled"`
	// CCTemplate is the CC protection mode: default, gf_under_attack,
	// gf_sos_verify or gf_sos_enhance.
	CCTemplate string `json:"cc_template" yaml:"cc_template"`
	// BlackWhiteListEnabled is the switch that makes the lists effective.
	BlackWhiteListEnabled bool     `json:"black_white_list_enabled" yaml:"black_white_list_enabled"`
	BlackList             []string `json:"black_list" yaml:"black_list"`
	WhiteList             []string `json:"white_list" yaml:"white_list"`
}

// ActionTrailState holds the seeded ActionTrail events. LookupEvents also
// returns events derived from the sandbox's own call log.
type ActionTrailState struct {
	Events []TrailEvent `json:"events" yaml:"events"`
}

// TrailEvent is one ActionTrail event.
type TrailEvent struct {
	ID   string    `json:"id" yaml:"id"`
	Time time.Time `json:"time" yaml:"time"`
	// Name is the API (eventName), e.g. CreateAccessKey.
	Name string `json:"name" yaml:"name"`
	// Service is the product (serviceName), e.g. Ram; Source its host
	// (eventSource); both are derived from each other when one is empty.
	Service string `json:"service" yaml:"service"`
	Source  string `json:"source,omitempty" yaml:"source,omitempty"`
	// ReadWrite is Read or Write; Type ApiCall, ConsoleOperation or
	// ConsoleSignin.
	ReadWrite string `json:"read_write,omitempty" yaml:"read_write,omitempty"`
	Type      string `json:"type,omitempty" yaml:"type,omitempty"`
	SourceIP  string `json:"source_ip,omitempty" yaml:"source_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty" yaml:"user_agent,omitempty"`
	// UserType is ram-user, root-account, assumed-role or system.
	UserType    string `json:"user_type,omitempty" yaml:"user_type,omitempty"`
	UserName    string `json:"user_name,omitempty" yaml:"user_name,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty" yaml:"access_key_id,omitempty"`
	// Resources are the referenced resources, by type (ACS::ECS::Instance).
	Resources    map[string][]string `json:"resources,omitempty" yaml:"resources,omitempty"`
	Request      map[string]any      `json:"request,omitempty" yaml:"request,omitempty"`
	ErrorCode    string              `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorMessage string              `json:"error_message,omitempty" yaml:"error_message,omitempty"`
}

// Package alicloud implements every alicloud.* action of the catalog
// (activities.Catalog) on the classic Alibaba Cloud SDK,
// github.com/aliyun/alibaba-cloud-sdk-go v1.63.107, against the live cloud
// or the sandbox cloud (internal/sandbox).
//
// [New] builds an [Activities] from the accounts, command templates and
// guardrails of soar.yaml; [Activities.Register] registers each action
// under its catalog name. Every action is idempotent (a repeat succeeds
// with changed false and the same IDs), supports dry-run (a plan from real
// reads, no mutating call), enforces the guardrails itself, and returns
// what its inverse needs. Cloud errors go through one classifier,
// classify: throttling, 5xx, in-flight conflicts, timeouts and transport
// failures are retryable (Temporal's RetryPolicy backs off); everything
// else is a non-retryable application error whose type is one of
// activities.ErrType* and whose message carries the API's code and request
// ID.
//
// # Clients
//
// A new SDK client per invocation (a shared client is a data race in
// DoActionWithSigner); each service's GetEndpointMap is warmed once; the
// client's transport applies the activity context (the SDK has no context
// support) over one shared base transport; the read timeout stays below
// the activity's deadline; AutoRetry is off. The live cloud is HTTPS; an
// account with an endpoint (the sandbox) sets client.Domain and may use
// plain HTTP. Credentials come from the variables the account names (an
// access key, with a security token when set); for the default account
// without an access key on an ECS instance, from the instance RAM role
// named by ALIBABA_CLOUD_ECS_METADATA (metadata service, IMDSv2 with an
// IMDSv1 fallback unless ALIBABA_CLOUD_IMDSV1_DISABLED is true). With
// role_arn (for the default account also ALIBABA_CLOUD_ROLE_ARN and
// ALIBABA_CLOUD_ROLE_SESSION_NAME), a small provider of this package
// assumes the role through STS AssumeRole over the account's endpoint and
// scheme (the SDK's own provider is HTTPS only). Temporary credentials are
// cached until five minutes before they expire. OIDC (RRSA) and
// credential files are not supported.
//
// # API facts relied on
//
// ECS (2014-05-26): AuthorizeSecurityGroup(Egress) answers no rule ID, so
// the rule is read back by content; soar's rules carry the description
// "soar:<incident>/<step>" and unblock revokes only those. block_ip with
// instance_id instead of a group blocks in each group DescribeInstances
// lists for the instance (its primary interface's) and records the groups
// and rule IDs (security_group_ids, rule_ids) for its inverse. ModifyInstance-
// Attribute(SecurityGroupIds) replaces the primary interface's groups,
// ModifyNetworkInterfaceAttribute(SecurityGroupId) a secondary's; the
// per-interface sets come from DescribeNetworkInterfaces. Isolation records
// the original sets in its heartbeat (for retries) and in instance tags
// soar:isolated:<eni-id> = "sg-a,sg-b" and soar:quarantine = <group> (for
// repeats and for restore without input); tag values hold at most 128
// characters. restore_instance changes only an instance carrying that
// record, and only interfaces still in the recorded quarantine group: a
// different quarantine_group_id is refused, and original_groups other than
// the recorded ones pass the protected-instance guard. The quarantine
// group soar creates drops all outbound traffic (IPv4 and IPv6, ::/0)
// but TCP 80 and 443 to 100.100.0.0/16, Alibaba Cloud's internal service
// network: the Cloud Assistant agent reads the metadata server
// (http://100.100.100.200) and polls its service at
// https://<region>.axt.aliyun.com (aliyun/aliyun_assist_client,
// agent/util/hostfinder.go), and a kill after isolation needs it; it also
// keeps DNS (UDP and TCP 53) to the VPC resolvers 100.100.2.136 and
// 100.100.2.138 (Alibaba Cloud's ECS private DNS documentation), which
// resolve that name — they recurse, so a DNS tunnel from the isolated host
// stays possible.
//
// Those paths reach more than Cloud Assistant. The metadata service in
// 100.100.0.0/16 hands out the temporary credentials of the instance's RAM
// role, and the range typically also holds the VPC endpoints of Alibaba
// Cloud's APIs: an attacker on an isolated host whose instance has a RAM
// role can still take that role's credentials and call cloud APIs with
// them, within the role's permissions. Isolation cuts the host off from
// the network, not from the role. A team that cannot accept that gives
// hosts that face attackers no instance RAM role, or names its own
// quarantine group (quarantine_group_id) without these accept rules and
// gives up run_command (kill, forensics) after isolation.
//
// soar's own quarantine group (named soar-quarantine and tagged
// soar:quarantine) is checked by every isolation, and completed before an
// interface moves in: drop-all outbound (0.0.0.0/0 and ::/0), the accept rules above,
// InnerAccessPolicy Drop, SSH from forensics_cidr; an attempt that died
// half-way through creating it would otherwise leave a group that lets
// everything out. A group named by quarantine_group_id is not edited;
// isolation warns in its plan when it lacks the Cloud Assistant way out or
// the IPv6 drop-all rule.
//
// Snapshots are named soar-evidence-<hash(run, incident, step, disk)>
// (names must not start with "auto") and created with a ClientToken.
// RunCommand gets the template with {{name}} placeholders,
// EnableParameter and the shell-quoted values as Parameters; Output is
// Base64. ClientTokens are at most 64 ASCII characters.
//
// Idempotency keys (ClientTokens, snapshot names) hash the workflow run ID
// with the incident and step: the workflow ID is the alert dedup key and a
// later incident on the same host reuses it once the earlier run closed,
// while every retry of an activity stays in its run. A cloud remembers a
// ClientToken's first answer, so a block whose rule an unblock removed
// since is answered "done" without a rule: block_ip then sends it again
// under a fresh token.
//
// WAF 3.0 (waf-openapi 2021-10-01) has no package in the classic SDK:
// CommonRequest, POST, Rules in the form body. soar keeps one
// ip_blacklist template, soar-blocklist, bound at creation to every
// protected object (DescribeDefenseResources, ModifyTemplateResources
// with BindResources as a JSON array), and rules soar-blocklist-<n> of at
// most 200 addresses. The template stays when its last rule goes: a
// template without rules blocks nothing, while deleting it
// (DeleteDefenseTemplate) would race with a block in another worker that
// has just put its rule in it and read it back (the per-instance lock
// only serialises one worker), losing that block without anyone noticing;
// so after the first block the last unblock leaves the WAF as it was plus
// that empty template. Unblock never edits a rule soar did not create,
// even when rule_id names it (block_ip reports an operator's rule that
// already lists the IP). ModifyDefenseRule replaces a rule's configuration,
// so the whole configuration (with "id") is sent back. DescribeDefenseRules
// takes Query as JSON ({"scene":…,"templateId":…}) and returns Config as
// a JSON string.
//
// Cloud Firewall (2017-12-07): address books soar-blocklist-in and
// soar-blocklist-out (-v6 for IPv6, a book type of its own) with one drop
// control policy per direction at the top (NewOrder 1), found by its
// Source/Destination book. ModifyAddressBook's ModifyMode (Append,
// Delete), missing from the SDK struct, is sent through CommonRequest so
// that concurrent blocks cannot overwrite each other; unblocking the last
// address deletes the policy and the book.
//
// RAM (2015-05-01): UpdateAccessKey with UserName always (without it the
// caller's own key is meant); the owner is found with ListUsers and
// ListAccessKeys when not given. The engine's own keys are refused.
//
// Security Center (Sas 2018-12-03): DescribeSuspEvents(Id) gives
// EventStatus (1 pending; anything else is dealt with);
// DescribeSecurityEventOperations says whether an operation is offered;
// HandleSecurityEvents (≤ 100 events) answers a TaskId that
// DescribeSecurityEventOperationStatus reports Processing, Success or
// Failure with per-event codes.
//
// Anti-DDoS Pro/Premium (ddoscoo 2020-01-01; endpoints
// ddoscoo.cn-hangzhou.aliyuncs.com for the mainland and
// ddoscoo.ap-southeast-1.aliyuncs.com outside): DescribeWebRules(Domain)
// returns a website's BlackList, WhiteList, CcEnabled and CcTemplate.
// ConfigWebIpSet(Domain, BlackList.N, WhiteList.N; N ≤ 200) replaces both
// lists, so both are read and sent back whole (an empty list is sent by
// leaving it out). The lists only act while the website's black/white list
// switch is on (DescribeWebCcProtectSwitch BlackWhiteListEnable;
// ModifyWebIpSetSwitch, not touched by soar): blacklist_ip says so in its
// warning output and plan when it is off. ConfigWebCCTemplate(Domain,
// Template) sets the CC mode, from the weakest: default, gf_under_attack
// (emergency), gf_sos_verify (strict), gf_sos_enhance (super strict).
// set_cc_mode never weakens: a current mode at least as strict as the
// one asked for is kept (changed false, previous_mode that mode); its
// inverse, restore_cc_mode, sets the recorded previous mode whatever it
// is.
//
// ActionTrail (2020-07-06): LookupEvents(StartTime, EndTime in UTC ISO 8601,
// MaxResults ≤ 50, NextToken, LookupAttribute.1.Key/Value) keeps 90 days
// and takes one attribute per query: EventAccessKeyId, ResourceName (an
// instance ID), EventName, EventId, EventRW, ServiceName, User or
// ResourceType. There is no source-IP attribute, so a lookup by IP scans
// the window (at most 200 pages) and filters on sourceIpAddress. Events
// are ActionTrail's own camelCase JSON (eventId, eventTime, eventName,
// eventSource, sourceIpAddress, eventRW, errorCode, userIdentity.userName,
// userIdentity.accessKeyId), newest first.
package alicloud

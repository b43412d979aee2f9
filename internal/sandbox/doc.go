// Package sandbox is the sandbox cloud: an emulator of the Alibaba Cloud RPC
// API that the unchanged classic SDK (github.com/aliyun/alibaba-cloud-sdk-go)
// talks to over plain HTTP with real signatures. soar dev and soar sandbox
// serve it so that playbooks can run without a cloud account, and the tests
// of the actions run the real SDK against it.
//
// The package uses the standard library only (plus gopkg.in/yaml.v3 for
// world files). It never imports the SDK outside tests: a verifier that
// reused the client's signer could not catch a signing bug.
//
// # Pointing the SDK at it
//
// Serve a [Server] (it is an http.Handler) and set the client's Domain:
//
//	srv := httptest.NewServer(sandbox.New(sandbox.DefaultWorld(), sandbox.Options{}))
//	c, _ := ecs.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(),
//		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
//	c.Domain = strings.TrimPrefix(srv.URL, "http://")
//
// A CommonRequest sets request.Domain (and Scheme "http") instead.
//
// Clients that only speak HTTPS (WithScheme("HTTPS"), the SDK's built-in STS
// provider) need a TLS listener: [NewTestCA] makes a CA and a server
// certificate for one run; serve with [TestCA.TLSConfig] and have the client
// trust CAPEM (its transport's RootCAs, or SSL_CERT_FILE). soar sandbox
// --tls-addr does this and writes the CA to a file.
//
// # Transport, routing and signatures
//
// Every path except /_sandbox/... is the RPC API. GET and POST are accepted;
// the parameters are the query merged with an application/x-www-form-urlencoded
// body. A request is routed on (Version, Action), taken from the parameters or
// else the x-acs-version / x-acs-action headers; an unknown pair is 404
// InvalidAction.NotFound. List parameters come as Name.N / Name.N.Field
// repeats, JSON-array strings (DescribeInstances InstanceIds) or
// comma-separated values, each where the real API uses it.
//
// Every API call must carry a valid signature v1 (HMAC-SHA1 over the sorted,
// RFC 3986-encoded parameters, empty values included, with the real method).
// Refusals, in the order checked: MissingParameter (400) for a missing common
// parameter; InvalidAccessKeyId.NotFound (404); SignatureDoesNotMatch (400,
// the message ends with "server string to sign is:<string>", which the SDK
// compares with its own to blame the secret); InvalidAccessKeyId.Inactive
// (400); InvalidSecurityToken.Malformed / .MismatchWithAccessKey / .Expired
// (400) for STS keys; InvalidTimeStamp.Format / .Expired (400, ±15 minutes,
// see [Options].ClockSkew); SignatureNonceUsed (400, a nonce per key is
// remembered 15 minutes). The verifier reads the keys of the RAM users in
// the state, so RAM UpdateAccessKey takes effect on the next call, and the
// STS credentials AssumeRole minted.
//
// # Responses
//
// Bodies are JSON with a RequestId (an upper-case UUID, also in the
// x-acs-request-id header). Errors are {"RequestId","HostId","Code",
// "Message","Recommend"}, all strings, with a 4xx/5xx status. Lists have the
// shape of the real API: ECS and RAM wrap them ({"Instances":{"Instance":
// [...]}}), SAS, Cloud Firewall, WAF, ddoscoo and ActionTrail do not; numbers
// are strings where the real API sends strings (ECS Permission.Priority,
// Snapshot.SourceDiskSize, Cloud Firewall TotalCount).
//
// ClientToken makes the actions that accept it idempotent (AuthorizeSecurityGroup
// and …Egress, RevokeSecurityGroup and …Egress, CreateSecurityGroup,
// ModifySecurityGroupPolicy, CreateSnapshot, RunCommand): a token is keyed by
// (AccessKeyId, Action, ClientToken) with a hash of the other parameters. A
// replay with the same parameters gets the first successful answer again
// (same resource IDs, nothing re-done, [Call].Replayed set); a replay with
// other parameters gets 400 IdempotentParameterMismatch.
//
// # Emulated APIs
//
// ECS 2014-05-26: DescribeInstances (InstanceIds, PrivateIpAddresses,
// PublicIpAddresses and EipAddresses as JSON arrays; VpcId, VSwitchId, ZoneId,
// Status, SecurityGroupId, InstanceName with *, Tag.N; PageNumber/PageSize or
// MaxResults/NextToken), StopInstance, StartInstance, ModifyInstanceAttribute
// (SecurityGroupIds.N replaces the primary interface's set),
// DescribeNetworkInterfaces, ModifyNetworkInterfaceAttribute (SecurityGroupId.N
// replaces that interface's set), JoinSecurityGroup, LeaveSecurityGroup,
// DescribeSecurityGroups, DescribeSecurityGroupAttribute, CreateSecurityGroup,
// ModifySecurityGroupPolicy, AuthorizeSecurityGroup(Egress) and
// RevokeSecurityGroup(Egress) (Permissions.N or the legacy flat fields;
// revoke by SecurityGroupRuleId.N or by content), DescribeDisks,
// CreateSnapshot, DescribeSnapshots, DeleteSnapshot, RunCommand,
// DescribeInvocationResults, TagResources, UntagResources, ListTagResources
// (resource types instance, disk, snapshot, securitygroup).
//
// STS 2015-04-01: AssumeRole (roles of the RAM state; STS.-prefixed keys with
// a token, DurationSeconds 900–43200, default 3600) and GetCallerIdentity.
//
// RAM 2015-05-01: ListUsers (Marker/MaxItems), GetUser, ListAccessKeys,
// UpdateAccessKey, GetAccessKeyLastUsed. Without UserName a call acts on the
// caller's own user. Secrets are never returned. Errors: EntityNotExist.User
// and EntityNotExist.User.AccessKey (404).
//
// WAF 3.0, waf-openapi 2021-10-01 (CommonRequest; Rules in the form body or
// the query): DescribeInstance, DescribeDefenseResources (the protected
// objects), DescribeDefenseTemplates, CreateDefenseTemplate,
// ModifyTemplateResources (BindResources etc. as a JSON array, Name.N
// repeats or CSV), DescribeDefenseRules (Query JSON with scene, templateId,
// ruleId, name, status; default PageSize 10), CreateDefenseRule (returns
// RuleIds as CSV), ModifyDefenseRule (each rule carries its "id" and its
// whole configuration), ModifyDefenseRuleStatus, DeleteDefenseRule (RuleIds
// CSV). Rules are JSON objects {"name","remoteAddr":[…],"action":"block"|
// "monitor","status":0|1}; other keys are kept. An ip_blacklist rule holds
// 1 to [Options].WAFIPsPerRule (200) addresses; an empty list is refused
// (delete the rule). Errors: InvalidParameter (400) for malformed Rules or
// Query, InvalidTemplateId.NotFound, InvalidRuleId.NotFound,
// InvalidInstanceId.NotFound (404). The ip_blacklist scene has no template
// in the default world: create one.
//
// Cloud Firewall 2017-12-07: DescribeAddressBook (Query matches names and
// addresses; TotalCount, PageNo, PageSize are strings), AddAddressBook
// (AddressList comma-separated; a name in use gives
// [Options].AddressBookExistsCode), ModifyAddressBook (GroupUuid, GroupName
// and Description required; AddressList replaces the list, or with
// ModifyMode=Append/Delete — not in the SDK struct, set
// request.QueryParams["ModifyMode"] — adds or removes; an absent AddressList
// leaves the list as it is), DeleteAddressBook (ErrorAddressBookInUse while a
// policy uses it), DescribeControlPolicy (CurrentPage and PageSize required;
// TotalCount a string; Policys flat, with the address books' CIDRs),
// AddControlPolicy (NewOrder 1 inserts first, -1 appends; group sources must
// exist), DeleteControlPolicy. Orders stay 1..n per direction.
//
// Security Center (Sas) 2018-12-03: DescribeSuspEvents (Id, Levels, Dealed,
// Uuids, Status, Name, Remark, TacticId from the form body; CurrentPage and
// PageSize), DescribeSecurityEventOperations, HandleSecurityEvents (returns
// HandleSecurityEventsResponse.TaskId; events go to status 16 while the task
// runs, then 32 handled, 2 ignored or 8 false positive; an event already
// handled fails with <op>.EventAlreadyHandled; [SASEvent].HandleError scripts
// a failure), DescribeSecurityEventOperationStatus (TaskStatus Processing,
// then Success, or Failure if any event failed).
//
// Anti-DDoS Pro/Premium, ddoscoo 2020-01-01 (chosen from the SDK's
// services/ddoscoo for the website protection of a domain):
// DescribeWebRules (Domain; WebRules flat, with BlackList, WhiteList and
// CcTemplate), ConfigWebIpSet (BlackList.N and WhiteList.N replace both
// lists: a list left out is emptied, so send both; at most
// [Options].DDoSIPsPerList each), ModifyWebIpSetSwitch, ConfigWebCCTemplate
// (Template default, gf_under_attack, gf_sos_verify or gf_sos_enhance),
// DescribeWebCcProtectSwitch (Domains.N; note the API name's "Cc"; reads the
// current CcTemplate), EnableWebCC, DisableWebCC. Unknown domains are 404
// InvalidDomain.NotFound.
//
// ActionTrail 2020-07-06: LookupEvents with at most one LookupAttribute
// (EventName, EventId, EventRW, EventAccessKeyId — AccessKeyId is accepted
// too —, ServiceName, User, ResourceType, ResourceName; there is no source-IP
// attribute: filter sourceIpAddress yourself), StartTime/EndTime (ISO 8601,
// default the last 7 days), MaxResults (1–50, default 20) and NextToken.
// Events are newest first, in ActionTrail's camelCase form (eventName,
// eventTime, sourceIpAddress, userIdentity{accessKeyId,userName}, …). They
// are the seeded [ActionTrailState].Events plus one event per call the
// sandbox received with a known key (including calls refused because the key
// was disabled), so a leaked key's activity through the sandbox shows up;
// the source address is the X-Forwarded-For header if a client sends one.
//
// Behaviour worth knowing when writing an action against the sandbox:
//   - AuthorizeSecurityGroup returns no rule ID; read it back with
//     DescribeSecurityGroupAttribute. A rule identical to an existing one
//     (all fields but ID and Description; 1.2.3.4 equals 1.2.3.4/32) is a
//     success that adds nothing, unless [Options].DuplicateRuleCode is set.
//     Policies come back as Accept/Drop and protocols upper case. Quota:
//     [Options].RulesPerGroup → 403 AuthorizationLimitExceed, all or nothing.
//   - Revoking a rule that does not exist succeeds, unless
//     [Options].RevokeMissingCode is set (then 404 with that code). Revoke by
//     content matches the priority only when one is given.
//   - DescribeInstances reports the primary interface's groups as the
//     instance's SecurityGroupIds and lists every interface without its
//     groups; DescribeNetworkInterfaces(InstanceId) has each interface's set.
//   - Group sets hold at most [Options].GroupsPerInterface (5) groups, all in
//     the instance's VPC and of one type (normal or enterprise): otherwise 400
//     InstanceSecurityGroupLimitExceeded, InvalidSecurityGroup.VpcMismatch or
//     InvalidSecurityGroup.TypeMismatch. Join: InvalidInstanceId.AlreadyExists
//     (403) for a member, InvalidInstanceId.Mismatch (400) across VPCs. Leave:
//     InstanceNotInSecurityGroup (403), InstanceLastSecurityGroup (403).
//   - Asynchronous operations (Stop/StartInstance, CreateSnapshot, RunCommand)
//     go through a transitional status that reads advance: see
//     [Options].AsyncPolls and [Options].AsyncDelay. Stopping an instance that
//     is not Running, or starting one that is not Stopped, is 403
//     IncorrectInstanceStatus. A second snapshot of a disk while one is
//     progressing is 403 IncorrectDiskStatus.CreatingSnapshot; more than
//     [Options].SnapshotsPerDisk is 403 QuotaExceed.Snapshot.
//   - RunCommand renders {{name}} parameters (EnableParameter=true and a JSON
//     Parameters object) and reports per instance: the instance's scripted
//     [Instance].Command, else Success, exit code 0 and the rendered script
//     as output. An offline agent fails at once with ClientNotRunning, a
//     stopped instance with InstanceNotRunning, a non-zero exit code with
//     ExitCodeNonzero. DescribeInvocationResults returns Output Base64-encoded
//     unless ContentEncoding=PlainText.
//   - RegionId is accepted and ignored: the sandbox has one region.
//   - Build a new SDK request per call: the SDK keeps the parameters of a
//     reused request object, so a field set to nil or "" is still sent.
//
// # State and worlds
//
// The state is in memory, guarded by one mutex, and typed: [State] has a
// section per product ([State].ECS, WAF, CloudFW, RAM, STS, SAS, DDoS,
// ActionTrail) with lookup helpers for tests, for example
//
//	st := srv.State()
//	g, _ := st.ECS.SecurityGroup("sg-…")       // g.Rules, g.RulesFor("ingress")
//	inst, _ := st.ECS.Instance("i-…")          // inst.NetworkInterfaces[i].SecurityGroupIDs
//	snaps := st.ECS.SnapshotsOf("d-…")         // Status progressing/accomplished
//	k, owner, _ := st.RAM.AccessKey("LTAI…")   // k.Status Active/Inactive
//	r, _ := st.WAF.Rule(22215)                 // r.Name, r.RemoteAddr, r.Action, r.TemplateID
//	b, _ := st.CloudFW.AddressBookNamed("…")   // b.Addresses; st.CloudFW.PoliciesFor("in")
//	d, _ := st.DDoS.Domain("www.example.com")  // d.BlackList, d.WhiteList, d.CCTemplate
//	ev, _ := st.SAS.Event(8123452)             // ev.Status: 32 once handled
//	inv, _ := st.ECS.Invocation("t-…")         // inv.Parameters, inv.Results[i].Status
//
// A [World] seeds the state: [DefaultWorld], or a YAML/JSON file read by
// [LoadWorld] (see testdata/world.yaml). [Server.Reset] returns to it;
// [Server.Mutate] changes the live state (for example to take a Cloud
// Assistant agent offline).
//
// # Checkpoints: surviving a restart
//
// [Server.Checkpoint] returns a [Checkpoint], a versioned JSON document of
// everything a restarted sandbox needs to carry on as if it had never
// stopped: the state, the ClientToken answers with their absolute expiry
// (so an action retried after the restart is a replay, not a second
// snapshot or command), the resource ID and call/webhook sequence counters,
// the signature nonces of the last 15 minutes, the call log and the
// webhooks received. [Server.Restore] puts one back into a new server; it
// refuses another [CheckpointVersion]. Injected faults are not part of it:
// a restart clears them. [Server.Revision] moves whenever something a
// checkpoint holds may have changed, so a saver writes only after changes.
// soar dev saves one to <data-dir>/sandbox.json.
//
// # Faults, call log, control endpoints
//
// [Server.InjectFault] makes matching calls fail a number of times (an error
// code and status, a delay, a dropped connection, a body that is not JSON).
// Every API call is logged ([Server.Calls]): action, version, parameters
// without the signature, principal and key, source IP (X-Forwarded-For first),
// status, error code, whether it changed the state.
//
// The unsigned control endpoints:
//
//	GET    /_sandbox/health                  {"status":"ok"}
//	GET    /_sandbox/state                   the State as JSON
//	PUT    /_sandbox/state                   replace the state with a world (YAML or JSON)
//	GET    /_sandbox/calls[?action=A&since=N] the call log
//	POST   /_sandbox/reset                   back to the world; forget calls, faults, webhooks, tokens
//	GET    /_sandbox/faults                  installed faults and what is left of them
//	POST   /_sandbox/faults                  add a fault or a JSON array of faults (see [Fault])
//	DELETE /_sandbox/faults                  remove every fault
//	POST   /_sandbox/webhooks/<channel>      record any body and headers (answers {"errcode":0,…})
//	GET    /_sandbox/webhooks[?channel=C]    what the webhook receiver got
//	DELETE /_sandbox/webhooks                forget it
//
// In soar dev the notification channels post to the webhook receiver, so a
// demo shows every notification.
package sandbox

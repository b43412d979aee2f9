package activities

// Action names: the Temporal activity types and the playbook `action:` values.
// They are persisted in workflow history: never rename one.
const (
	WAFBlockIP   = "alicloud.waf.block_ip"
	WAFUnblockIP = "alicloud.waf.unblock_ip"

	ECSBlockIP          = "alicloud.ecs.block_ip"
	ECSUnblockIP        = "alicloud.ecs.unblock_ip"
	ECSIsolateInstance  = "alicloud.ecs.isolate_instance"
	ECSRestoreInstance  = "alicloud.ecs.restore_instance"
	ECSSnapshotInstance = "alicloud.ecs.snapshot_instance"
	ECSStopInstance     = "alicloud.ecs.stop_instance"
	ECSStartInstance    = "alicloud.ecs.start_instance"
	ECSRunCommand       = "alicloud.ecs.run_command"

	CloudFWBlockIP   = "alicloud.cloudfw.block_ip"
	CloudFWUnblockIP = "alicloud.cloudfw.unblock_ip"

	RAMDisableAccessKey = "alicloud.ram.disable_access_key"
	RAMEnableAccessKey  = "alicloud.ram.enable_access_key"

	SASHandleEvent = "alicloud.sas.handle_event"

	DDoSBlacklistIP   = "alicloud.ddos.blacklist_ip"
	DDoSUnblacklistIP = "alicloud.ddos.unblacklist_ip"
	DDoSSetCCMode     = "alicloud.ddos.set_cc_mode"
	DDoSRestoreCCMode = "alicloud.ddos.restore_cc_mode"

	ActionTrailLookupEvents = "alicloud.actiontrail.lookup_events"

	NotifyWebhook = "notify.webhook"
	NATSPublish   = "nats.publish"
)

// Internal activity names: activities the workflow calls that are not
// playbook actions. They stay out of the catalog. Persisted in history.
const (
	// ExprEval evaluates the CEL expressions and templates of one step as a
	// local activity, so that the result is recorded in history.
	ExprEval = "soar.expr.eval"
	// PublishEvent publishes an incident event to soar.events.<playbook>.<event>.
	PublishEvent = "soar.events.publish"
	// BudgetTake counts one run of an action against its guardrail budget,
	// shared by every worker.
	BudgetTake = "soar.budget.take"
	// HoldAcquire records that an incident relies on a temporary measure
	// (an IP on a blocklist, an isolation, a stopped instance) until a due
	// time, in the hold registry shared by every worker.
	HoldAcquire = "soar.hold.acquire"
	// HoldRelease removes an incident's hold and says whether the caller
	// is the last holder of a measure soar changed, and must undo it.
	HoldRelease = "soar.hold.release"
)

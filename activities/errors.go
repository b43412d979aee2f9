package activities

// Error types carried by Temporal application errors that cross the activity
// boundary. Workflows branch on these with ApplicationError.Type(), never on
// message text. They are persisted in history: never rename one.
const (
	// ErrTypeInvalidInput: the parameters are wrong (bad IP, unknown
	// template, missing field). Non-retryable.
	ErrTypeInvalidInput = "InvalidInput"
	// ErrTypeGuardDenied: a guardrail refused the action (protected network,
	// overly broad CIDR, protected instance without approval, the engine's
	// own key). Non-retryable.
	ErrTypeGuardDenied = "GuardDenied"
	// ErrTypeNotConfigured: soar.yaml lacks what the action needs (account,
	// channel, WAF instance). Non-retryable.
	ErrTypeNotConfigured = "NotConfigured"
	// ErrTypeCloudNotFound: the cloud resource does not exist. Non-retryable.
	ErrTypeCloudNotFound = "CloudNotFound"
	// ErrTypeCloudQuota: a cloud quota or limit is exhausted. Non-retryable.
	ErrTypeCloudQuota = "CloudQuota"
	// ErrTypeCloudAuth: credentials or permissions are wrong. Non-retryable.
	ErrTypeCloudAuth = "CloudAuth"
	// ErrTypeCloudRejected: any other non-retryable cloud error.
	ErrTypeCloudRejected = "CloudRejected"
	// ErrTypeLoopDetected: nats.publish refused a linkage alert past the hop
	// limit. Non-retryable.
	ErrTypeLoopDetected = "LoopDetected"
	// ErrTypeRemoteFailed: a command or task ran but failed on the target
	// (Cloud Assistant exit code, Security Center task failure). Non-retryable.
	ErrTypeRemoteFailed = "RemoteFailed"
)

// NonRetryableErrorTypes lists the error types the workflow's retry policy
// never retries.
func NonRetryableErrorTypes() []string {
	return []string{
		ErrTypeInvalidInput, ErrTypeGuardDenied, ErrTypeNotConfigured, ErrTypeCloudNotFound,
		ErrTypeCloudQuota, ErrTypeCloudAuth, ErrTypeCloudRejected, ErrTypeLoopDetected, ErrTypeRemoteFailed,
	}
}

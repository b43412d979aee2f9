package alicloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
)

// classify maps an error of the classic Alibaba Cloud SDK onto Temporal's
// retry semantics; op names the API call, e.g. "ecs.StopInstance sg-1".
//
//   - Throttling, 5xx, in-flight conflicts, transport failures and timeouts
//     are returned as plain (retryable) errors: the activity's RetryPolicy
//     backs off and bounds them.
//   - Everything else is a non-retryable application error whose type
//     (activities.ErrType*) says why, and whose message carries the API's
//     code, message and request ID. It has no cause: Temporal would show
//     the SDK error under it as a retryable error of type ServerError.
//
// "Already done" codes (a duplicate rule, a missing rule on revoke, a
// status already reached) are handled by the calling action before
// classify. classify(op, nil) is nil.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		code, status := se.ErrorCode(), se.HttpStatus()
		if code == "" {
			code = fmt.Sprintf("HTTP%d", status)
		}
		if retryableCode(code) || status >= http.StatusInternalServerError || status == http.StatusTooManyRequests {
			// No cause either: the SDK error's text carries the response
			// headers and message, already summarised here.
			return fmt.Errorf("%s: %s (HTTP %d, request %s): %s", op, code, status, se.RequestId(), scrub(oneLine(se.Message())))
		}
		// No cause: the SDK error would travel as a retryable application
		// error of type ServerError under this non-retryable one, and its
		// code, message and request ID are already in the message.
		return temporal.NewNonRetryableApplicationError(
			scrub(fmt.Sprintf("%s: %s: %s (HTTP %d, request %s)", op, code, oneLine(se.Message()), status, se.RequestId())),
			errTypeFor(code, status), nil)
	}
	var ce *sdkerrors.ClientError
	if errors.As(err, &ce) {
		// ClientError.HttpStatus() is always 400: branch on the code only.
		switch ce.ErrorCode() {
		case sdkerrors.TimeoutErrorCode, sdkerrors.JsonUnmarshalErrorCode:
			// A timeout, or a 2xx whose body did not parse (a proxy, a cut
			// connection): transient. Every action is idempotent.
			// The SDK's error quotes the request URL: keep only its cause.
			if origin := ce.OriginError(); origin != nil {
				return fmt.Errorf("%s: %s: %w", op, ce.ErrorCode(), redact(origin))
			}
			return fmt.Errorf("%s: %s: %s", op, ce.ErrorCode(), scrub(oneLine(ce.Message())))
		case sdkerrors.CanNotResolveEndpointErrorCode:
			return temporal.NewNonRetryableApplicationError(
				scrub(fmt.Sprintf("%s: %s: %s", op, ce.ErrorCode(), oneLine(ce.Message()))), activities.ErrTypeNotConfigured, nil)
		}
		return temporal.NewNonRetryableApplicationError(
			scrub(fmt.Sprintf("%s: %s: %s", op, ce.ErrorCode(), oneLine(ce.Message()))), activities.ErrTypeInvalidInput, nil)
	}
	// With AutoRetry off, transport failures (refused, reset, read timeout,
	// context deadline or cancellation) arrive as *url.Error: let Temporal
	// retry them (a cancelled activity is not retried anyway).
	return fmt.Errorf("%s: %w", op, redact(err))
}

// secretParam matches a credential or signature in a query string, a
// string-to-sign or a message, plain or percent-encoded (once or twice).
var secretParam = regexp.MustCompile(`(AccessKeyId|SecurityToken|Signature|AccessKeySecret)(=|%3D|%253D)[^&\s"]*`)

// scrub blanks credentials and signatures in s.
func scrub(s string) string {
	return secretParam.ReplaceAllString(s, "$1$2REDACTED")
}

// redact returns err safe to record in workflow history, logs and
// notifications. The classic SDK signs RPC calls in the query string, so a
// transport failure's *url.Error quotes the AccessKeyId, SecurityToken and
// Signature: it is rebuilt with the operation, the scheme and host, and
// its cause only. Any other error whose text holds a credential is
// replaced by its scrubbed text, keeping a context error as the cause.
func redact(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		host := "?"
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Scheme + "://" + u.Host
		}
		return &url.Error{Op: ue.Op, URL: host, Err: redact(ue.Err)}
	}
	msg := err.Error()
	var ue *url.Error
	if safe := scrub(msg); safe != msg || errors.As(err, &ue) {
		return &scrubbedError{msg: safe, cause: ctxError(err)}
	}
	return err
}

// scrubbedError is an error's scrubbed text; cause is a context error of
// the original, if any, so that errors.Is still sees a cancellation.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// ctxError is the context error in err's chain, or nil.
func ctxError(err error) error {
	for _, ce := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ce) {
			return ce
		}
	}
	return nil
}

// retryableCode reports whether a server error code is transient.
func retryableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "Throttling"), code == "Rejected.Throttling", strings.HasSuffix(code, ".Throttling"),
		strings.HasPrefix(code, "ServiceUnavailable"), strings.HasPrefix(code, "InternalError"),
		code == "UnknownError", code == "OperationConflict", code == "LastTokenProcessing",
		code == "IncorrectInstanceStatus", code == "IncorrectDiskStatus.CreatingSnapshot",
		code == "IncorrectDiskStatus.Transferring", code == "InvalidSecurityToken.Expired",
		code == "SignatureNonceUsed":
		return true
	}
	return false
}

// errTypeFor is the error type of a non-retryable server error.
func errTypeFor(code string, status int) string {
	switch {
	case code == "InvalidCmdType.NotFound":
		// A bad command type is a bug in the request, not a missing resource.
		return activities.ErrTypeInvalidInput
	case code == "InvalidAction.NotFound":
		// The endpoint does not offer the API: a configuration problem.
		return activities.ErrTypeNotConfigured
	case strings.HasPrefix(code, "Forbidden"), strings.HasPrefix(code, "InvalidAccessKeyId"), strings.HasPrefix(code, "InvalidSecurityToken"),
		code == "SignatureDoesNotMatch", code == "IncompleteSignature", code == "NoPermission", code == "InvalidTimeStamp.Expired",
		strings.HasPrefix(code, "NoPermission"), strings.HasPrefix(code, "Unauthorized"):
		return activities.ErrTypeCloudAuth
	case strings.HasSuffix(code, "NotFound"), strings.HasPrefix(code, "EntityNotExist"), strings.HasSuffix(code, ".NotExist"):
		return activities.ErrTypeCloudNotFound
	case strings.Contains(code, "LimitExceed"), strings.HasPrefix(code, "QuotaExceed"), strings.Contains(code, "ExceedQuota"),
		strings.Contains(code, "ExceedLimit"), strings.Contains(code, "QuotaExceeded"):
		return activities.ErrTypeCloudQuota
	case strings.HasPrefix(code, "MissingParameter"), strings.HasPrefix(code, "MissingParam"), strings.HasPrefix(code, "InvalidParameter"),
		strings.HasPrefix(code, "InvalidParam"), strings.HasSuffix(code, ".Malformed"), strings.HasSuffix(code, ".ValueNotSupported"),
		code == "IdempotentParameterMismatch", code == "InvalidIdempotenceParameter.Mismatch":
		return activities.ErrTypeInvalidInput
	}
	switch status {
	case http.StatusNotFound:
		return activities.ErrTypeCloudNotFound
	case http.StatusUnauthorized:
		return activities.ErrTypeCloudAuth
	}
	return activities.ErrTypeCloudRejected
}

// oneLine keeps an API message to one short line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// errCode returns the server error code of err, or "".
func errCode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}

// alreadyExists reports whether err says the thing being created exists.
func alreadyExists(err error) bool {
	c := errCode(err)
	return c != "" && (strings.Contains(c, "Duplicate") || strings.Contains(c, "AlreadyExist") || strings.Contains(c, "Exist") && !strings.Contains(c, "NotExist"))
}

// isNotFound reports whether err is a server error about a missing resource.
func isNotFound(err error) bool {
	c := errCode(err)
	return strings.HasSuffix(c, "NotFound") || strings.HasPrefix(c, "EntityNotExist")
}

func invalidInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrTypeInvalidInput, nil)
}

func notConfigured(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrTypeNotConfigured, nil)
}

func guardDenied(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrTypeGuardDenied, nil)
}

func notFound(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrTypeCloudNotFound, nil)
}

func quota(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrTypeCloudQuota, nil)
}

// remoteFailed is a command or task that ran and failed; details travel with
// the error (the action's output so far).
func remoteFailed(msg string, details ...any) error {
	return temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeRemoteFailed, nil, details...)
}

// denied turns a guardrail refusal into a non-retryable GuardDenied error
// with the guard's text; other errors pass through.
func denied(err error) error {
	if err == nil {
		return nil
	}
	var d *guard.DeniedError
	if errors.As(err, &d) {
		return temporal.NewNonRetryableApplicationError(d.Error(), activities.ErrTypeGuardDenied, nil)
	}
	return err
}

// ctxErr returns the context's error wrapped with what was being waited
// for; Temporal sees a cancelled or timed-out attempt.
func ctxErr(ctx context.Context, what string) error {
	return fmt.Errorf("%s: %w", what, context.Cause(ctx))
}

package alicloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
)

// errorServer answers every request with status and body.
func errorServer(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func errorBody(code, requestID string) string {
	return fmt.Sprintf(`{"RequestId":%q,"HostId":"ecs.aliyuncs.com","Code":%q,"Message":"the message of %s","Recommend":"https://api.aliyun.com/troubleshoot?q=%s"}`,
		requestID, code, code, code)
}

// commonCall sends one CommonRequest through the real SDK to srv and
// returns the SDK's error.
func commonCall(t *testing.T, ctx context.Context, host string) error {
	t.Helper()
	c, err := sdk.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewAccessKeyCredential("ak", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetTransport(ctxTransport{ctx: ctx, base: http.DefaultTransport})
	c.SetReadTimeout(5 * time.Second)
	req := requests.NewCommonRequest()
	req.Method = "POST"
	req.Domain = host
	req.Product, req.Version, req.ApiName = "Ecs", "2014-05-26", "StopInstance"
	req.QueryParams["InstanceId"] = "i-1"
	_, err = c.ProcessCommonRequest(req)
	return err
}

func TestClassify(t *testing.T) {
	type want struct {
		retryable bool
		errType   string
		contains  []string
	}
	tests := []struct {
		name   string
		status int
		body   string
		want   want
	}{
		{"throttling", 400, errorBody("Throttling.User", "REQ-1"), want{retryable: true, contains: []string{"Throttling.User", "REQ-1"}}},
		{"throttling api", 400, errorBody("Throttling.Api", "REQ-2"), want{retryable: true}},
		{"internal error", 500, errorBody("InternalError", "REQ-3"), want{retryable: true}},
		{"service unavailable", 503, errorBody("ServiceUnavailable", "REQ-4"), want{retryable: true}},
		{"unknown 5xx code", 502, errorBody("Whatever", "REQ-5"), want{retryable: true}},
		{"in-flight conflict", 403, errorBody("IncorrectInstanceStatus", "REQ-6"), want{retryable: true}},
		{"snapshot in progress", 403, errorBody("IncorrectDiskStatus.CreatingSnapshot", "REQ-7"), want{retryable: true}},
		{"operation conflict", 409, errorBody("OperationConflict", "REQ-8"), want{retryable: true}},
		{"not found", 404, errorBody("InvalidSecurityGroupId.NotFound", "REQ-9"),
			want{errType: activities.ErrTypeCloudNotFound, contains: []string{"InvalidSecurityGroupId.NotFound", "REQ-9", "the message of"}}},
		{"ram entity", 404, errorBody("EntityNotExist.User.AccessKey", "REQ-10"), want{errType: activities.ErrTypeCloudNotFound}},
		{"invalid parameter", 400, errorBody("InvalidParameter", "REQ-11"), want{errType: activities.ErrTypeInvalidInput, contains: []string{"InvalidParameter", "REQ-11"}}},
		{"malformed", 400, errorBody("InvalidSourceCidrIp.Malformed", "REQ-12"), want{errType: activities.ErrTypeInvalidInput}},
		{"missing parameter", 403, errorBody("MissingParameter", "REQ-13"), want{errType: activities.ErrTypeInvalidInput}},
		{"idempotency mismatch", 400, errorBody("IdempotentParameterMismatch", "REQ-14"), want{errType: activities.ErrTypeInvalidInput}},
		{"bad command type", 403, errorBody("InvalidCmdType.NotFound", "REQ-15"), want{errType: activities.ErrTypeInvalidInput}},
		{"quota", 403, errorBody("AuthorizationLimitExceed", "REQ-16"), want{errType: activities.ErrTypeCloudQuota}},
		{"snapshot quota", 403, errorBody("QuotaExceed.Snapshot", "REQ-17"), want{errType: activities.ErrTypeCloudQuota}},
		{"command quota", 403, errorBody("CmdCount.ExceedQuota", "REQ-18"), want{errType: activities.ErrTypeCloudQuota}},
		{"signature", 400, errorBody("SignatureDoesNotMatch", "REQ-19"), want{errType: activities.ErrTypeCloudAuth}},
		{"unknown key", 404, errorBody("InvalidAccessKeyId.NotFound", "REQ-20"), want{errType: activities.ErrTypeCloudAuth}},
		{"inactive key", 400, errorBody("InvalidAccessKeyId.Inactive", "REQ-21"), want{errType: activities.ErrTypeCloudAuth}},
		{"forbidden", 403, errorBody("Forbidden.RAM", "REQ-22"), want{errType: activities.ErrTypeCloudAuth}},
		{"no permission", 403, errorBody("NoPermission", "REQ-23"), want{errType: activities.ErrTypeCloudAuth}},
		{"locked", 403, errorBody("InstanceLockedForSecurity", "REQ-24"), want{errType: activities.ErrTypeCloudRejected}},
		{"unknown api", 404, errorBody("InvalidAction.NotFound", "REQ-25"), want{errType: activities.ErrTypeNotConfigured}},
		{"non-JSON 404", 404, "no such thing", want{errType: activities.ErrTypeCloudNotFound, contains: []string{"HTTP404"}}},
		{"unknown 4xx code", 400, errorBody("SomethingElse", "REQ-26"), want{errType: activities.ErrTypeCloudRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := errorServer(t, tt.status, tt.body)
			host := strings.TrimPrefix(srv.URL, "http://")
			sdkErr := commonCall(t, context.Background(), host)
			if sdkErr == nil {
				t.Fatal("SDK call succeeded, want an error")
			}
			got := classify("ecs.StopInstance i-1", sdkErr)
			checkClass(t, got, tt.want.retryable, tt.want.errType, tt.want.contains...)
		})
	}
}

func TestClassifyTransportAndClientErrors(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	malformed := errorServer(t, 200, `{"RequestId": "REQ", "Credentials": [1,`)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	deadlineErr := commonCall(t, ctx, strings.TrimPrefix(slow.URL, "http://"))
	refusedErr := commonCall(t, context.Background(), closedHost)

	c, err := sts.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewAccessKeyCredential("ak", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(malformed.URL, "http://")
	_, malformedErr := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())

	tests := []struct {
		name      string
		err       error
		retryable bool
		errType   string
	}{
		{"context deadline", deadlineErr, true, ""},
		{"connection refused", refusedErr, true, ""},
		{"malformed body", malformedErr, true, ""},
		{"sdk timeout", sdkerrors.NewClientError(sdkerrors.TimeoutErrorCode, "timed out", nil), true, ""},
		{"sdk invalid param", sdkerrors.NewClientError(sdkerrors.InvalidParamErrorCode, "bad", nil), false, activities.ErrTypeInvalidInput},
		{"no endpoint", sdkerrors.NewClientError(sdkerrors.CanNotResolveEndpointErrorCode, "no endpoint", nil), false, activities.ErrTypeNotConfigured},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error to classify")
			}
			checkClass(t, classify("op", tt.err), tt.retryable, tt.errType)
		})
	}
	var ue *url.Error
	if !errors.As(classify("op", deadlineErr), &ue) || !errors.Is(deadlineErr, context.DeadlineExceeded) {
		t.Errorf("classify(deadline) = %v, want the *url.Error wrapping context.DeadlineExceeded kept", classify("op", deadlineErr))
	}
	if got := classify("op", nil); got != nil {
		t.Errorf("classify(nil) = %v, want nil", got)
	}
}

// checkClass asserts that err is retryable (not a non-retryable application
// error), or a non-retryable application error of errType, and that its
// message contains every string of contains.
func checkClass(t *testing.T, err error, retryable bool, errType string, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("classify returned nil")
	}
	var ae *temporal.ApplicationError
	isApp := errors.As(err, &ae)
	switch {
	case retryable && isApp && ae.NonRetryable():
		t.Errorf("classify = non-retryable %s %q, want retryable", ae.Type(), ae.Error())
	case !retryable && (!isApp || !ae.NonRetryable()):
		t.Errorf("classify = %v (%T), want non-retryable %s", err, err, errType)
	case !retryable && ae.Type() != errType:
		t.Errorf("classify type = %s, want %s (%v)", ae.Type(), errType, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("classify message %q does not contain %q", err.Error(), s)
		}
	}
}

// TestNonRetryableCarriesNoRetryableCause: an analyst reading a refused
// call sees the code and request ID once, under a non-retryable error, and
// never the SDK error shown as a retryable cause (type ServerError,
// retryable: true), neither from classify nor after Temporal's failure
// conversion of an activity's error.
func TestNonRetryableCarriesNoRetryableCause(t *testing.T) {
	srv := errorServer(t, 404, errorBody("InvalidSecurityGroupId.NotFound", "REQ-NF"))
	sdkErr := commonCall(t, context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	for name, err := range map[string]error{
		"server error": classify("ecs.DescribeSecurityGroupAttribute sg-1", sdkErr),
		"client error": classify("op", sdkerrors.NewClientError(sdkerrors.InvalidParamErrorCode, "bad", nil)),
	} {
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || !ae.NonRetryable() {
			t.Fatalf("%s: classify = %v, want a non-retryable application error", name, err)
		}
		if cause := ae.Unwrap(); cause != nil {
			t.Errorf("%s: cause = %v (%T), want none", name, cause, cause)
		}
		if strings.Contains(err.Error(), "retryable: true") {
			t.Errorf("%s: message %q shows a retryable cause", name, err.Error())
		}
	}

	c := newTestCloud(t)
	err := c.run(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: meta("block"), SecurityGroupID: "sg-doesnotexist", IP: attacker}, nil)
	wantAppError(t, err, activities.ErrTypeCloudNotFound, "InvalidSecurityGroupId.NotFound", "request ")
	for _, bad := range []string{"retryable: true", "ServerError"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("activity error %q contains %q", err.Error(), bad)
		}
	}
}

package alicloud

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/sandbox"
)

const stsToken = "CAIS-secret-sts-token-0123456789"

// TestTransportErrorHidesCredentials: the classic SDK signs RPC calls in
// the query string; a call to a closed port must not put the key ID, the
// STS token or the signature into the activity's error, which ends up in
// workflow history, status, events, logs and notifications.
func TestTransportErrorHidesCredentials(t *testing.T) {
	closed := httptest.NewServer(nil)
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	c := newTestCloud(t, func(o *Options, _ *sandbox.Options, _ *guard.Policy) {
		acct := o.Accounts["default"]
		acct.Endpoint = closedHost
		o.Accounts["default"] = acct
		o.Getenv = envMap(map[string]string{"SOAR_TEST_AK": sandbox.DefaultAccessKeyID, "SOAR_TEST_SK": sandbox.DefaultAccessKeySecret,
			"SOAR_TEST_TOKEN": stsToken})
	})
	err := c.run(activities.ECSBlockIP, activities.ECSBlockIPInput{Meta: meta("block"), SecurityGroupID: sgWeb, IP: attacker}, nil)
	if err == nil {
		t.Fatal("block_ip against a closed port succeeded")
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.NonRetryable() {
		t.Errorf("error %v is non-retryable, want a retryable transport failure", err)
	}
	if !strings.Contains(err.Error(), closedHost) {
		t.Errorf("error %q does not name the host %s", err.Error(), closedHost)
	}
	wantNoSecrets(t, err.Error())
}

// TestClassifyRedacts covers the other ways a credential can reach
// classify: an SDK timeout wrapping the *url.Error, a *url.Error under
// another wrapper, and a server message quoting the string to sign.
func TestClassifyRedacts(t *testing.T) {
	signed := "http://ecs.aliyuncs.com/?AccessKeyId=" + sandbox.DefaultAccessKeyID + "&Action=StopInstance&SecurityToken=" + stsToken +
		"&Signature=c2lnbmF0dXJl%3D&AccessKeySecret=" + sandbox.DefaultAccessKeySecret
	ue := &url.Error{Op: "Post", URL: signed, Err: context.DeadlineExceeded}
	stringToSign := "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D" +
		sandbox.DefaultAccessKeyID + "%26SecurityToken%3D" + stsToken
	tests := []struct {
		name      string
		err       error
		retryable bool
	}{
		{"url error", ue, true},
		{"wrapped url error", errors.Join(errors.New("send"), ue), true},
		{"sdk timeout", sdkerrors.NewClientError(sdkerrors.TimeoutErrorCode, "timed out", ue), true},
		{"retryable server error", sdkerrors.NewServerError(503, `{"Code":"ServiceUnavailable","Message":"`+signed+`","RequestId":"R1"}`, ""), true},
		{"signature mismatch", sdkerrors.NewServerError(400, `{"Code":"SignatureDoesNotMatch","Message":"`+stringToSign+`","RequestId":"R2"}`, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify("ecs.StopInstance i-abc", tt.err)
			checkClass(t, got, tt.retryable, activities.ErrTypeCloudAuth)
			for e := got; e != nil; e = errors.Unwrap(e) {
				wantNoSecrets(t, e.Error())
			}
		})
	}
	if got := classify("op", ue); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("classify(url error) = %v, want context.DeadlineExceeded kept", got)
	}
	if got := classify("op", errors.Join(errors.New("send"), ue)); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("classify(wrapped url error) = %v, want context.DeadlineExceeded kept", got)
	}
}

func wantNoSecrets(t *testing.T, msg string) {
	t.Helper()
	rest := strings.NewReplacer("=REDACTED", "", "%3DREDACTED", "").Replace(msg)
	for _, secret := range []string{sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret, stsToken, "c2lnbmF0dXJl", "Signature=", "Signature%3D"} {
		if strings.Contains(rest, secret) {
			t.Errorf("error %q contains %q", msg, secret)
		}
	}
}

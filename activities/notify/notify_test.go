package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/notify"
	"github.com/opensoar/soar/internal/config"
)

// fixedNow is the clock of every test: 2026-01-02T03:04:05.678Z.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)

// request is one request a receiver saw.
type request struct {
	Method      string
	Path        string
	Query       url.Values
	RawQuery    string
	ContentType string
	Body        string
}

// receiver is a webhook receiver that records requests and answers with a
// fixed status and body.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newReceiver(t *testing.T, status int, body string) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), RawQuery: r.URL.RawQuery,
			ContentType: r.Header.Get("Content-Type"), Body: string(b),
		})
		rc.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...)
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// run executes notify.webhook through the Temporal test activity
// environment, the way a worker runs it.
func run(t *testing.T, opts notify.Options, in activities.NotifyWebhookInput) (activities.NotifyWebhookOutput, error) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	var s testsuite.WorkflowTestSuite
	e := s.NewTestActivityEnvironment()
	notify.New(opts).Register(e)
	val, err := e.ExecuteActivity(activities.NotifyWebhook, in)
	var out activities.NotifyWebhookOutput
	if err != nil {
		return out, err
	}
	if err := val.Get(&out); err != nil {
		t.Fatalf("decode output: %v", err)
	}
	return out, nil
}

func meta() activities.Meta {
	return activities.Meta{Incident: "compromised-host.i-bp1abc", Playbook: "compromised-host", Step: "page"}
}

// wantSign recomputes DingTalk's signature independently of the package.
func wantSign(t *testing.T, timestamp, secret string) string {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhookBodies(t *testing.T) {
	const token = "tok-0123456789abcdef"
	tests := []struct {
		name     string
		kind     string
		secret   string
		status   int
		answer   string
		in       activities.NotifyWebhookInput
		wantBody string
		wantPlan string
	}{
		{
			name: "dingtalk signed", kind: config.ChannelDingTalk, secret: "SEC-s3cr3t", status: 200, answer: `{"errcode":0,"errmsg":"ok"}`,
			in:       activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Text: "挂马 on i-bp1abc: webshell in /var/www/index.php"},
			wantBody: `{"msgtype":"markdown","markdown":{"title":"compromised-host","text":"### compromised-host\n\n挂马 on i-bp1abc: webshell in /var/www/index.php\n\n> incident compromised-host.i-bp1abc · playbook compromised-host · step page"}}`,
			wantPlan: "posted a signed dingtalk message to channel ops",
		},
		{
			name: "dingtalk unsigned with title", kind: config.ChannelDingTalk, status: 200, answer: `{"errcode":0,"errmsg":"ok"}`,
			in:       activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Title: "服务器挂马", Text: "a & b <c>"},
			wantBody: `{"msgtype":"markdown","markdown":{"title":"服务器挂马","text":"### 服务器挂马\n\na & b <c>\n\n> incident compromised-host.i-bp1abc · playbook compromised-host · step page"}}`,
			wantPlan: "posted a dingtalk message to channel ops",
		},
		{
			name: "wecom", kind: config.ChannelWeCom, status: 200, answer: `{"errcode":0,"errmsg":"ok"}`,
			in:       activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Text: "isolated **i-bp1abc**"},
			wantBody: `{"msgtype":"markdown","markdown":{"content":"### compromised-host\n\nisolated **i-bp1abc**\n\n> incident compromised-host.i-bp1abc · playbook compromised-host · step page"}}`,
			wantPlan: "posted a wecom message to channel ops",
		},
		{
			name: "slack", kind: config.ChannelSlack, status: 200, answer: "ok",
			in:       activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Title: "Webshell", Text: "blocked 203.0.113.7 <now> & isolated"},
			wantBody: `{"text":"Webshell: blocked 203.0.113.7 &lt;now&gt; &amp; isolated","blocks":[{"type":"header","text":{"type":"plain_text","text":"Webshell"}},{"type":"section","text":{"type":"mrkdwn","text":"blocked 203.0.113.7 &lt;now&gt; &amp; isolated"}},{"type":"context","elements":[{"type":"mrkdwn","text":"incident compromised-host.i-bp1abc · playbook compromised-host · step page"}]}]}`,
			wantPlan: "posted a slack message to channel ops",
		},
		{
			name: "generic", kind: config.ChannelGeneric, status: 204,
			in:       activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Text: "hello"},
			wantBody: `{"title":"compromised-host","text":"hello","incident":"compromised-host.i-bp1abc","playbook":"compromised-host","step":"page","channel":"ops","time":"2026-01-02T03:04:05Z"}`,
			wantPlan: "posted a generic message to channel ops",
		},
		{
			name: "generic without playbook", kind: config.ChannelGeneric, status: 200,
			in:       activities.NotifyWebhookInput{Channel: "ops", Text: "hello"},
			wantBody: `{"title":"soar","text":"hello","incident":"","playbook":"","step":"","channel":"ops","time":"2026-01-02T03:04:05Z"}`,
			wantPlan: "posted a generic message to channel ops",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, tc.status, tc.answer)
			vars := map[string]string{"HOOK_URL": rc.URL + "/robot/send?access_token=" + token}
			ch := config.Channel{Kind: tc.kind, URLEnv: "HOOK_URL"}
			if tc.secret != "" {
				vars["HOOK_SECRET"] = tc.secret
				ch.SecretEnv = "HOOK_SECRET"
			}
			out, err := run(t, notify.Options{Channels: map[string]config.Channel{"ops": ch}, Getenv: env(vars)}, tc.in)
			if err != nil {
				t.Fatalf("Webhook() error: %v", err)
			}
			want := activities.NotifyWebhookOutput{
				Outcome: activities.Outcome{Changed: true, Plan: []string{tc.wantPlan}},
				Channel: "ops", Kind: tc.kind, StatusCode: tc.status,
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("Webhook() output mismatch (-want +got):\n%s", diff)
			}
			reqs := rc.got()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != "/robot/send" || r.ContentType != "application/json; charset=utf-8" {
				t.Errorf("request = %s %s (%s), want POST /robot/send (application/json; charset=utf-8)", r.Method, r.Path, r.ContentType)
			}
			if diff := cmp.Diff(tc.wantBody, r.Body); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
			if got := r.Query.Get("access_token"); got != token {
				t.Errorf("access_token = %q, want %q", got, token)
			}
			if tc.secret == "" {
				if r.Query.Has("sign") || r.Query.Has("timestamp") {
					t.Errorf("unsigned channel sent sign/timestamp: %s", r.RawQuery)
				}
				return
			}
			ts := strconv.FormatInt(fixedNow.UnixMilli(), 10)
			if got := r.Query.Get("timestamp"); got != ts {
				t.Errorf("timestamp = %q, want %q", got, ts)
			}
			sign := wantSign(t, ts, tc.secret)
			if got := r.Query.Get("sign"); got != sign {
				t.Errorf("sign = %q, want %q", got, sign)
			}
			if !strings.Contains(r.RawQuery, "&sign="+url.QueryEscape(sign)) {
				t.Errorf("raw query %q lacks the URL-encoded sign %q", r.RawQuery, url.QueryEscape(sign))
			}
		})
	}
}

func TestWebhookReceiverErrors(t *testing.T) {
	const token = "tok-SECRET-TOKEN"
	tests := []struct {
		name         string
		kind         string
		status       int
		answer       string
		nonRetryable bool
		wantInMsg    string
	}{
		{"dingtalk sign not match", config.ChannelDingTalk, 200, `{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}`, true, "errcode 310000: sign not match"},
		{"dingtalk too fast", config.ChannelDingTalk, 200, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`, false, "errcode 130101"},
		{"dingtalk busy", config.ChannelDingTalk, 200, `{"errcode":-1,"errmsg":"系统繁忙"}`, false, "errcode -1: 系统繁忙"},
		{"wecom invalid webhook", config.ChannelWeCom, 200, `{"errcode":93000,"errmsg":"invalid webhook url"}`, true, "errcode 93000"},
		{"wecom freq limit", config.ChannelWeCom, 200, `{"errcode":45009,"errmsg":"api freq out of limit"}`, false, "errcode 45009"},
		{"slack 403", config.ChannelSlack, 403, "action_prohibited", true, "HTTP 403: action_prohibited"},
		{"slack 404", config.ChannelSlack, 404, "no_service", true, "HTTP 404: no_service"},
		{"generic 400", config.ChannelGeneric, 400, `{"error":"bad"}`, true, "HTTP 400"},
		{"generic 429", config.ChannelGeneric, 429, "slow down", false, "HTTP 429: slow down"},
		{"generic 500", config.ChannelGeneric, 500, "boom", false, "HTTP 500: boom"},
		{"generic 503 empty", config.ChannelGeneric, 503, "", false, "HTTP 503: (empty body)"},
		{"generic 502 huge body", config.ChannelGeneric, 502, strings.Repeat("x", 1<<20), false, "HTTP 502: xxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, tc.status, tc.answer)
			opts := notify.Options{
				Channels: map[string]config.Channel{"ops": {Kind: tc.kind, URLEnv: "HOOK"}},
				Getenv:   env(map[string]string{"HOOK": rc.URL + "/hook?access_token=" + token}),
			}
			_, err := run(t, opts, activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Text: "hi"})
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("Webhook() error = %v, want an application error", err)
			}
			if appErr.NonRetryable() != tc.nonRetryable {
				t.Errorf("NonRetryable() = %v, want %v (error %v)", appErr.NonRetryable(), tc.nonRetryable, err)
			}
			if tc.nonRetryable && appErr.Type() != activities.ErrTypeCloudRejected {
				t.Errorf("Type() = %q, want %q", appErr.Type(), activities.ErrTypeCloudRejected)
			}
			msg := appErr.Error()
			if !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("error %q does not contain %q", msg, tc.wantInMsg)
			}
			if strings.Contains(msg, token) {
				t.Errorf("error %q leaks the webhook token", msg)
			}
			if len(msg) > 1024 {
				t.Errorf("error message is %d bytes, want the response quoted within bounds", len(msg))
			}
			if n := len(rc.got()); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
		})
	}
}

func TestWebhookNotConfigured(t *testing.T) {
	const secretURL = "https://oapi.dingtalk.com/robot/send?access_token=tok-SECRET"
	channels := map[string]config.Channel{
		"no-url":    {Kind: config.ChannelDingTalk, URLEnv: "MISSING_URL"},
		"no-secret": {Kind: config.ChannelDingTalk, URLEnv: "HOOK", SecretEnv: "MISSING_SECRET"},
		"bad-url":   {Kind: config.ChannelGeneric, URLEnv: "BAD"},
		"bad-kind":  {Kind: "teams", URLEnv: "HOOK"},
		"slack-sec": {Kind: config.ChannelSlack, URLEnv: "HOOK", SecretEnv: "SECRET"},
	}
	vars := map[string]string{"HOOK": secretURL, "BAD": "ftp://tok-SECRET@example.com/x", "SECRET": "s3cr3t-value"}
	tests := []struct {
		channel   string
		text      string
		wantType  string
		wantInMsg string
	}{
		{"unknown", "hi", activities.ErrTypeNotConfigured, `notification channel "unknown" is not configured`},
		{"no-url", "hi", activities.ErrTypeNotConfigured, "environment variable MISSING_URL (url_env) is not set"},
		{"no-secret", "hi", activities.ErrTypeNotConfigured, "environment variable MISSING_SECRET (secret_env) is not set"},
		{"bad-url", "hi", activities.ErrTypeNotConfigured, "BAD (url_env) does not hold an http(s) URL"},
		{"bad-kind", "hi", activities.ErrTypeNotConfigured, `kind "teams"`},
		{"slack-sec", "hi", activities.ErrTypeNotConfigured, "secret_env is only used by dingtalk channels"},
		{"no-url", "  ", activities.ErrTypeInvalidInput, "text is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.channel+"/"+tc.wantType, func(t *testing.T) {
			for _, dry := range []bool{false, true} {
				in := activities.NotifyWebhookInput{Meta: meta(), Channel: tc.channel, Text: tc.text}
				in.Meta.DryRun = dry
				_, err := run(t, notify.Options{Channels: channels, Getenv: env(vars)}, in)
				var appErr *temporal.ApplicationError
				if !errors.As(err, &appErr) {
					t.Fatalf("Webhook(dry_run=%v) error = %v, want an application error", dry, err)
				}
				if appErr.Type() != tc.wantType || !appErr.NonRetryable() {
					t.Errorf("Webhook(dry_run=%v) error type %q non-retryable %v, want %q non-retryable", dry, appErr.Type(), appErr.NonRetryable(), tc.wantType)
				}
				if msg := appErr.Error(); !strings.Contains(msg, tc.wantInMsg) {
					t.Errorf("error %q does not contain %q", msg, tc.wantInMsg)
				}
				if msg := appErr.Error(); strings.Contains(msg, "tok-SECRET") || strings.Contains(msg, "s3cr3t-value") {
					t.Errorf("error %q leaks a secret", msg)
				}
			}
		})
	}
}

func TestWebhookDryRunSendsNothing(t *testing.T) {
	rc := newReceiver(t, 200, `{"errcode":0}`)
	opts := notify.Options{
		Channels: map[string]config.Channel{"ops": {Kind: config.ChannelDingTalk, URLEnv: "HOOK", SecretEnv: "SEC"}},
		Getenv:   env(map[string]string{"HOOK": rc.URL + "/robot/send?access_token=tok-SECRET", "SEC": "SECabc"}),
	}
	in := activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Title: "t", Text: "would page"}
	in.Meta.DryRun = true
	out, err := run(t, opts, in)
	if err != nil {
		t.Fatalf("Webhook() error: %v", err)
	}
	want := activities.NotifyWebhookOutput{
		Outcome: activities.Outcome{DryRun: true, Plan: []string{
			"post a signed dingtalk message to channel ops",
			`{"msgtype":"markdown","markdown":{"title":"t","text":"### t\n\nwould page\n\n> incident compromised-host.i-bp1abc · playbook compromised-host · step page"}}`,
		}},
		Channel: "ops", Kind: config.ChannelDingTalk,
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Webhook() output mismatch (-want +got):\n%s", diff)
	}
	if n := len(rc.got()); n != 0 {
		t.Errorf("receiver got %d requests on dry-run, want 0", n)
	}
	for _, p := range out.Plan {
		if strings.Contains(p, "tok-SECRET") || strings.Contains(p, "SECabc") {
			t.Errorf("plan %q leaks a secret", p)
		}
	}
}

func TestWebhookTransportErrorRetryable(t *testing.T) {
	rc := newReceiver(t, 200, "")
	hook := rc.URL + "/hook?access_token=tok-SECRET"
	rc.Close() // nothing listens any more
	opts := notify.Options{
		Channels: map[string]config.Channel{"ops": {Kind: config.ChannelGeneric, URLEnv: "HOOK"}},
		Getenv:   env(map[string]string{"HOOK": hook}),
	}
	_, err := run(t, opts, activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Text: "hi"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("Webhook() error = %v, want an application error", err)
	}
	if appErr.NonRetryable() {
		t.Errorf("transport error is non-retryable, want retryable: %v", err)
	}
	if strings.Contains(appErr.Error(), "tok-SECRET") {
		t.Errorf("error %q leaks the webhook token", appErr.Error())
	}
}

func TestWebhookHonoursContext(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	a := notify.New(notify.Options{
		Channels: map[string]config.Channel{"ops": {Kind: config.ChannelGeneric, URL: srv.URL}},
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancel once the request is in flight; the handler blocks until then.
		<-arrived
		cancel()
	}()
	_, err := a.Webhook(ctx, activities.NotifyWebhookInput{Meta: meta(), Channel: "ops", Text: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Webhook() error = %v, want context.Canceled", err)
	}
}

package alicloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no region", Options{Accounts: map[string]config.Account{"a": {}}}, "region is required"},
		{"http without endpoint", Options{Accounts: map[string]config.Account{"a": {Region: "cn-hangzhou", Scheme: "http"}}}, "scheme http needs an endpoint"},
		{"http to a live endpoint", Options{Accounts: map[string]config.Account{"a": {Region: "cn-hangzhou", Scheme: "http", Endpoint: "ecs.cn-hangzhou.aliyuncs.com"}}},
			"plain HTTP is only allowed to a loopback or private address"},
		{"http to a public sts endpoint", Options{Accounts: map[string]config.Account{"a": {Region: "cn-hangzhou", Scheme: "http", Endpoint: "127.0.0.1:1",
			STSEndpoint: "sts.aliyuncs.com"}}}, `endpoint "sts.aliyuncs.com"`},
		{"bad scheme", Options{Accounts: map[string]config.Account{"a": {Region: "cn-hangzhou", Scheme: "ftp"}}}, `scheme "ftp"`},
		{"unknown default", Options{Accounts: map[string]config.Account{"a": {Region: "cn-hangzhou"}}, DefaultAccount: "b"}, `default account "b"`},
		{"bad pattern", Options{Commands: map[string]config.Command{"c": {Script: "echo {{x}}", Params: map[string]config.CommandParam{"x": {Pattern: "("}}}}}, "parameter x: pattern"},
		{"undeclared placeholder", Options{Commands: map[string]config.Command{"c": {Script: "echo {{x}}"}}}, "not declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestOwnAccessKeyIDs(t *testing.T) {
	a, err := New(Options{
		Accounts: map[string]config.Account{
			"prod":  {Region: "cn-hangzhou", AccessKeyIDEnv: "PROD_AK"},
			"stage": {Region: "cn-shanghai", AccessKeyIDEnv: "STAGE_AK"},
			"same":  {Region: "cn-shanghai", AccessKeyIDEnv: "PROD_AK"},
			"unset": {Region: "cn-shanghai", AccessKeyIDEnv: "NOPE"},
		},
		Getenv: envMap(map[string]string{"PROD_AK": "LTAIprod", "STAGE_AK": "LTAIstage"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LTAIprod", "LTAIstage"}, a.OwnAccessKeyIDs()); diff != "" {
		t.Errorf("OwnAccessKeyIDs() mismatch (-want +got):\n%s", diff)
	}
	// The default guard protects them.
	if err := a.guard.CheckAccessKey("LTAIstage"); err == nil {
		t.Error("default guard allows disabling the engine's own key")
	}
}

func TestSessionResolvesAccountRegionAndCredentials(t *testing.T) {
	a, err := New(Options{
		Accounts: map[string]config.Account{
			"prod":  {ID: "1234567890", Region: "cn-hangzhou", AccessKeyIDEnv: "AK", AccessKeySecretEnv: "SK", SecurityTokenEnv: "TOKEN"},
			"nokey": {Region: "cn-hangzhou", AccessKeyIDEnv: "MISSING_AK", AccessKeySecretEnv: "SK"},
			"nosec": {Region: "cn-hangzhou", AccessKeyIDEnv: "AK", AccessKeySecretEnv: "MISSING_SK"},
		},
		DefaultAccount: "prod",
		Getenv:         envMap(map[string]string{"AK": "id", "SK": "s3cr3t-value", "TOKEN": "tok"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name        string
		cloud       activities.Cloud
		wantAccount string
		wantRegion  string
		wantErrType string
		wantErrText string
	}{
		{"defaults", activities.Cloud{}, "prod", "cn-hangzhou", "", ""},
		{"by name and region", activities.Cloud{Account: "prod", Region: "cn-shanghai"}, "prod", "cn-shanghai", "", ""},
		{"by uid", activities.Cloud{Account: "1234567890"}, "prod", "cn-hangzhou", "", ""},
		{"unknown account", activities.Cloud{Account: "other"}, "", "", activities.ErrTypeNotConfigured, `account "other" is not in soar.yaml`},
		{"missing key variable", activities.Cloud{Account: "nokey"}, "", "", activities.ErrTypeNotConfigured, "MISSING_AK"},
		{"missing secret variable", activities.Cloud{Account: "nosec"}, "", "", activities.ErrTypeNotConfigured, "MISSING_SK"},
		{"bad region", activities.Cloud{Region: "cn hangzhou"}, "", "", activities.ErrTypeInvalidInput, "region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := a.session(ctx, tt.cloud)
			if tt.wantErrType != "" {
				var ae *temporal.ApplicationError
				if !errors.As(err, &ae) || ae.Type() != tt.wantErrType || !ae.NonRetryable() || !strings.Contains(ae.Error(), tt.wantErrText) {
					t.Fatalf("session() error = %v, want non-retryable %s mentioning %q", err, tt.wantErrType, tt.wantErrText)
				}
				if strings.Contains(err.Error(), "s3cr3t-value") {
					t.Errorf("error %q leaks the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.account != tt.wantAccount || s.region != tt.wantRegion {
				t.Errorf("session() = %s/%s, want %s/%s", s.account, s.region, tt.wantAccount, tt.wantRegion)
			}
			sts, ok := s.cred.(*credentials.StsTokenCredential)
			if !ok || sts.AccessKeyId != "id" || sts.AccessKeyStsToken != "tok" {
				t.Errorf("credential = %#v, want the STS token credential from the variables", s.cred)
			}
		})
	}
}

// fakeSTS answers AssumeRole with credentials valid for lifetime and counts
// the calls.
func fakeSTS(t *testing.T, lifetime time.Duration, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") != "AssumeRole" || r.URL.Query().Get("RoleArn") != "acs:ram::1:role/soar" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"RequestId":"R","Code":"InvalidParameter","Message":"unexpected request"}`)
			return
		}
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"RequestId":"R%d","Credentials":{"AccessKeyId":"STS.key%d","AccessKeySecret":"s%d","SecurityToken":"tok%d","Expiration":%q}}`,
			n, n, n, n, time.Now().Add(lifetime).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRoleProviderCachesUntilExpiry(t *testing.T) {
	for _, tt := range []struct {
		name      string
		lifetime  time.Duration
		wantCalls int32
	}{
		{"long-lived credentials are reused", time.Hour, 1},
		{"credentials inside the refresh margin are renewed", roleRefreshMargin - time.Minute, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := fakeSTS(t, tt.lifetime, &calls)
			a, err := New(Options{
				Accounts: map[string]config.Account{"prod": {
					Region: "cn-hangzhou", Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "http",
					AccessKeyIDEnv: "AK", AccessKeySecretEnv: "SK", RoleARN: "acs:ram::1:role/soar",
				}},
				DefaultAccount: "prod",
				Getenv:         envMap(map[string]string{"AK": "id", "SK": "secret"}),
			})
			if err != nil {
				t.Fatal(err)
			}
			var last string
			for range 3 {
				s, err := a.session(context.Background(), activities.Cloud{})
				if err != nil {
					t.Fatal(err)
				}
				c, ok := s.cred.(*credentials.StsTokenCredential)
				if !ok || !strings.HasPrefix(c.AccessKeyId, "STS.key") {
					t.Fatalf("credential = %#v, want the assumed role's", s.cred)
				}
				last = c.AccessKeyId
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("AssumeRole calls = %d, want %d (last key %s)", got, tt.wantCalls, last)
			}
		})
	}
}

func TestRoleProviderErrorsAreClassified(t *testing.T) {
	srv := errorServer(t, 403, errorBody("NoPermission", "REQ-STS"))
	a, err := New(Options{
		Accounts: map[string]config.Account{"prod": {
			Region: "cn-hangzhou", STSEndpoint: strings.TrimPrefix(srv.URL, "http://"), Endpoint: "127.0.0.1:1", Scheme: "http",
			AccessKeyIDEnv: "AK", AccessKeySecretEnv: "SK", RoleARN: "acs:ram::1:role/soar",
		}},
		DefaultAccount: "prod",
		Getenv:         envMap(map[string]string{"AK": "id", "SK": "secret"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.session(context.Background(), activities.Cloud{})
	checkClass(t, err, false, activities.ErrTypeCloudAuth, "sts.AssumeRole", "REQ-STS")
}

func TestCommandParameters(t *testing.T) {
	a, err := New(Options{Commands: config.DefaultCommands()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		template string
		params   map[string]any
		want     map[string]string
		wantErr  string
	}{
		{"number from JSON", "kill_process", map[string]any{"pid": float64(31337)}, map[string]string{"pid": "'31337'"}, ""},
		{"string", "kill_process", map[string]any{"pid": "42"}, map[string]string{"pid": "'42'"}, ""},
		{"optional params absent", "kill_and_quarantine", map[string]any{}, map[string]string{"pid": "''", "path": "''"}, ""},
		{"path", "kill_and_quarantine", map[string]any{"pid": "", "path": "/var/www/html/x.php"}, map[string]string{"pid": "''", "path": "'/var/www/html/x.php'"}, ""},
		{"missing required", "kill_process", map[string]any{}, nil, "parameter pid is required"},
		{"injection refused", "kill_process", map[string]any{"pid": "1; rm -rf /"}, nil, "does not match the pattern"},
		{"anchored pattern", "kill_process", map[string]any{"pid": "12a"}, nil, "does not match the pattern"},
		{"newline refused", "quarantine_file", map[string]any{"path": "/tmp/x\n/etc/passwd"}, nil, "does not match the pattern"},
		{"unknown param", "kill_process", map[string]any{"pid": 1.0, "cmd": "id"}, nil, "unknown parameters cmd"},
		{"list refused", "kill_process", map[string]any{"pid": []any{"1"}}, nil, "not a scalar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.commands[tt.template].parameters(tt.params)
			if tt.wantErr != "" {
				var ae *temporal.ApplicationError
				if !errors.As(err, &ae) || ae.Type() != activities.ErrTypeInvalidInput || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parameters() error = %v, want InvalidInput mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parameters() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"":             "''",
		"abc":          "'abc'",
		"it's":         `'it'\''s'`,
		"$(id) `x` $y": "'$(id) `x` $y'",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestClientToken(t *testing.T) {
	m := activities.Meta{Incident: strings.Repeat("x", 300), Step: "block#3"}
	tok := clientToken("run-1", m, "sg-1", "203.0.113.7/32")
	if len(tok) > 64 {
		t.Errorf("clientToken length %d, want at most 64", len(tok))
	}
	if tok != clientToken("run-1", m, "sg-1", "203.0.113.7/32") {
		t.Error("clientToken is not stable")
	}
	if tok == clientToken("run-1", m, "sg-1", "203.0.113.8/32") || tok == clientToken("run-1", activities.Meta{Incident: m.Incident, Step: "block#4"}, "sg-1", "203.0.113.7/32") {
		t.Error("clientToken does not depend on the target and step")
	}
	if tok == clientToken("run-2", m, "sg-1", "203.0.113.7/32") {
		t.Error("clientToken does not depend on the workflow run")
	}
}

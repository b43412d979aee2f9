package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load(\"\") = %v", err)
	}
	if got, want := cfg.Approvers["secops"], []string{"analyst"}; !cmp.Equal(got, want) {
		t.Errorf("default approvers secops = %v, want %v", got, want)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "soar.yaml")
	data := `
temporal: { address: temporal.internal:7233, namespace: soar-prod }
nats: { url: "nats://n1:4222,nats://n2:4222", replicas: 3 }
cloud:
  default_account: prod
  accounts:
    prod: { region: cn-shanghai, waf_instance_id: waf_v3prepaid_public_cn-abc, role_arn: "acs:ram::123:role/soar" }
approvers:
  secops: [alice, bob]
  oncall: [carol]
notify:
  secops: { kind: dingtalk, url_env: SOAR_DINGTALK_URL, secret_env: SOAR_DINGTALK_SECRET }
guardrails:
  protected_cidrs: [198.51.100.0/24]
  budgets: [{ action: alicloud.ecs.isolate_instance, max: 5, window: 1h }]
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SOAR_TEMPORAL_TASK_QUEUE": "soar-blue", "ALIBABA_CLOUD_REGION_ID": "cn-beijing"}
	cfg, err := Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if cfg.Temporal.Address != "temporal.internal:7233" || cfg.Temporal.Namespace != "soar-prod" {
		t.Errorf("temporal = %+v", cfg.Temporal)
	}
	if cfg.Temporal.TaskQueue != "soar-blue" {
		t.Errorf("task queue = %q, want the SOAR_TEMPORAL_TASK_QUEUE override", cfg.Temporal.TaskQueue)
	}
	if cfg.NATS.Stream != "SOAR_ALERTS" || cfg.NATS.Replicas != 3 {
		t.Errorf("nats = %+v, want defaults kept and replicas 3", cfg.NATS)
	}
	prod, ok := cfg.Account("")
	if !ok || prod.Region != "cn-beijing" || prod.Scheme != "https" || prod.AccessKeyIDEnv != "ALIBABA_CLOUD_ACCESS_KEY_ID" {
		t.Errorf("default account = %+v, %v; want region from ALIBABA_CLOUD_REGION_ID, https, default env names", prod, ok)
	}
	if _, ok := cfg.Cloud.Accounts["default"]; ok {
		t.Error("accounts in the file must replace the built-in sandbox account, not merge with it")
	}
	if _, ok := cfg.Approvers["secops"]; !ok || len(cfg.Approvers) != 2 {
		t.Errorf("approvers = %v, want exactly the file's groups", cfg.Approvers)
	}
	users, unknown := cfg.ResolveApprovers([]string{"secops", "carol", "mallory"})
	if diff := cmp.Diff([]string{"alice", "bob", "carol"}, users); diff != "" || !cmp.Equal(unknown, []string{"mallory"}) {
		t.Errorf("ResolveApprovers() users diff (-want +got):\n%s unknown=%v", diff, unknown)
	}
	if got := cfg.Guardrails.Budgets[0].Window; got != time.Hour {
		t.Errorf("budget window = %v, want 1h", got)
	}
	if len(cfg.Commands) == 0 {
		t.Error("commands: want the shipped templates kept")
	}
}

func TestLoadEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "soar.yaml")
	data := `
temporal: { namespace: "" }
nats: { stream: "ALERTS.X", replicas: 2, max_deliver: 0 }
cloud:
  default_account: nope
  accounts:
    live: { region: cn-hangzhou, scheme: http, access_key_id_env: "my key" }
    clear: { region: cn-hangzhou, scheme: http, endpoint: ecs.cn-hangzhou.aliyuncs.com, sts_endpoint: "47.96.10.20:80" }
approvers:
  secops: []
notify:
  ding: { kind: dingding, url: "https://oapi.dingtalk.com/robot/send?access_token=abc" }
  none: { kind: slack }
commands:
  bad: { script: "kill {{pid}} {{sig}}", params: { pid: { pattern: "[" }, unused: { pattern: "x" } } }
guardrails:
  protected_cidrs: [office]
  require_approval: [{ name: big, when: "true", approvers: [ghosts] }]
log: { level: loud }
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil {
		t.Fatal("Load(bad config) = nil error")
	}
	for _, want := range []string{
		"temporal.namespace: required",
		`nats.stream: "ALERTS.X"`,
		"nats.replicas: 2",
		"nats.max_deliver: 0",
		`cloud.default_account: "nope" is not one of cloud.accounts (clear, live)`,
		`cloud.accounts.clear.scheme: http with endpoint "ecs.cn-hangzhou.aliyuncs.com": plain HTTP is only allowed to a loopback or private address`,
		`cloud.accounts.clear.scheme: http with sts_endpoint "47.96.10.20:80"`,
		"cloud.accounts.live.scheme: http is only allowed with an endpoint",
		`cloud.accounts.live.access_key_id_env: "my key" is not an environment variable name`,
		"approvers.secops: a group needs at least one user",
		`notify.ding.kind: "dingding"`,
		"notify.ding.url: the URL carries a token",
		"notify.none: url_env (or url for a local receiver) is required",
		"commands.bad.script: placeholder {{sig}} is not declared in params",
		"commands.bad.params.unused: declared but not used",
		"commands.bad.params.pid.pattern: error parsing regexp",
		`guardrails.protected_cidrs[0]: "office" is not an IP address or CIDR`,
		`guardrails.require_approval[0].approvers: "ghosts" is neither an approver group nor a user`,
		`log.level: "loud"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load(bad config) error lacks %q", want)
		}
	}
	if !strings.HasPrefix(err.Error(), "config "+path+": ") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestLoadUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "soar.yaml")
	data := `temporal:
  adress: x:1
nats: { replicas: 2 }
notify:
  ops: { kind: slack, ur: "http://127.0.0.1:9/hook" }
cloud:
  accounts:
    prod: { region: cn-hangzhou, wafinstance_id: w }
guardrails:
  budgets: [{ action: a, max: 1, window: 1h, aprovers: [x] }]
log: { level: loud, colour: true }
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil {
		t.Fatal("Load(unknown keys) = nil error")
	}
	for _, want := range []string{
		`temporal.adress: unknown key (did you mean "address"?) at line 2`,
		`notify.ops.ur: unknown key (did you mean "url"?) at line 5`,
		`cloud.accounts.prod.wafinstance_id: unknown key (did you mean "waf_instance_id"?) at line 8`,
		`guardrails.budgets[0].aprovers: unknown key (did you mean "approvers"?) at line 10`,
		"log.colour: unknown key at line 11",
		// The rest of the file is still validated.
		"nats.replicas: 2",
		"notify.ops: url_env (or url for a local receiver) is required",
		`log.level: "loud"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load(unknown keys) error lacks %q; got:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "not found in type") {
		t.Errorf("Load(unknown keys) error keeps yaml.v3's message:\n%v", err)
	}
}

func TestLoadWrongTypeStillValidates(t *testing.T) {
	_, err := Parse([]byte("nats: { max_deliver: lots, replicas: 2 }\nplaybooks:\n  watch: maybe\ntemporal: [a]\napprovers: { secops: analyst }\n"))
	for _, want := range []string{
		`nats.max_deliver: "lots" is not a whole number at line 1`,
		`playbooks.watch: "maybe" is not true or false at line 3`,
		"temporal: a list is not a mapping at line 4",
		`approvers.secops: "analyst" is not a list at line 5`,
		"nats.replicas: 2, want 1, 3 or 5", // the rest is still validated
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(wrong types) error lacks %q; got:\n%v", want, err)
		}
	}
}

func TestLoadNotYAML(t *testing.T) {
	_, err := Parse([]byte("temporal: [unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "parse YAML") {
		t.Errorf("Parse(bad YAML) = %v, want a parse error", err)
	}
	if _, err := Parse([]byte("- a list\n")); err == nil || !strings.Contains(err.Error(), "parse YAML") {
		t.Errorf("Parse(a list) = %v, want a parse error", err)
	}
	if _, err := Parse(nil); err != nil {
		t.Errorf("Parse(empty) = %v, want the defaults", err)
	}
}

func TestNotifyURLSecret(t *testing.T) {
	for _, tc := range []struct {
		kind, url string
		ok        bool
	}{
		{"slack", "https://hooks.slack.com/services/T000/B000/XXXX", false},
		{"wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", false},
		{"dingtalk", "https://oapi.dingtalk.com/robot/send", false},
		{"generic", "https://hooks.example.com/soar", true},
		{"slack", "http://127.0.0.1:18080/_sandbox/webhooks/slack", true},
		{"slack", "http://localhost:9000/hook", true},
		{"dingtalk", "http://10.0.0.5/robot/send", true},
		{"wecom", "http://[::1]:8080/hook", true},
		{"slack", "http://sandbox:18080/_sandbox/webhooks/slack", true},
	} {
		cfg := Default()
		cfg.Notify = map[string]Channel{"ops": {Kind: tc.kind, URL: tc.url}}
		err := cfg.Validate()
		if tc.ok && err != nil {
			t.Errorf("Validate(%s url %s) = %v, want accepted", tc.kind, tc.url, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "notify.ops.url: a "+tc.kind+" webhook URL is itself the secret") || !strings.Contains(err.Error(), "url_env")) {
			t.Errorf("Validate(%s url %s) = %v, want it refused in favour of url_env", tc.kind, tc.url, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("Load(absent) = %v, want a read error", err)
	}
}

func TestEnvNumberOverride(t *testing.T) {
	_, err := Load("", func(k string) string {
		if k == "SOAR_NATS_MAX_ACK_PENDING" {
			return "lots"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "SOAR_NATS_MAX_ACK_PENDING") {
		t.Errorf("Load with a bad number override = %v, want an error naming the variable", err)
	}
}

// TestPlainHTTPAllowed: plain HTTP goes only to the sandbox (loopback,
// private addresses, a container's service name), never to a live
// endpoint.
func TestPlainHTTPAllowed(t *testing.T) {
	for ep, want := range map[string]bool{
		"127.0.0.1:18080": true, "[::1]:8080": true, "localhost:18080": true, "10.1.2.3": true, "192.168.1.5:80": true,
		"172.16.0.10:18080": true, "[fd00::1]:80": true, "sandbox:18080": true, "sandbox.localhost": true,
		"ecs.aliyuncs.com": false, "ecs.cn-hangzhou.aliyuncs.com:80": false, "47.96.10.20:80": false, "[2001:db8::1]:80": false,
		"8.8.8.8": false, "2130706433": false, "0x7f000001:80": false, "": false, "127.0.0.1.nip.io": false,
	} {
		if got := PlainHTTPAllowed(ep); got != want {
			t.Errorf("PlainHTTPAllowed(%q) = %v, want %v", ep, got, want)
		}
	}
}

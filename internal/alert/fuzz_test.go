package alert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets run every normalizer on mutated vendor samples:
//
//	go test ./internal/alert -run '^$' -fuzz '^FuzzSAS$' -fuzztime 45s
//
// Inputs that found new code paths are kept in testdata/fuzz/<target>.
// Each checks checkDecoded's properties.

func FuzzSAS(f *testing.F) {
	fuzzDecoder(f, "alerts.sas.webshell", "sas-", "compromised-host", "crypto-miner", "ssh-bruteforce")
}
func FuzzWAF(f *testing.F) {
	fuzzDecoder(f, "alerts.waf.sqli", "waf", "waf-sqli-blacklist", "waf-flood-to-ddos")
}
func FuzzDDoS(f *testing.F)    { fuzzDecoder(f, "alerts.ddos.blackhole", "ddos-", "ddos-blackhole") }
func FuzzCloudFW(f *testing.F) { fuzzDecoder(f, "alerts.cloudfw.c2", "cloudfw-", "threat-intel-c2") }
func FuzzActionTrail(f *testing.F) {
	fuzzDecoder(f, "alerts.actiontrail.x", "actiontrail-", "leaked-access-key")
}
func FuzzEnvelope(f *testing.F) { fuzzDecoder(f, "alerts.soar.linkage", "envelope-", "vuln-priority") }

func fuzzDecoder(f *testing.F, subject, filePrefix string, samples ...string) {
	files, err := filepath.Glob("testdata/decode/" + filePrefix + "*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, name := range samples {
		s, ok := SampleByName(name)
		if !ok {
			f.Fatalf("no sample %s", name)
		}
		f.Add(s.Payload)
	}
	for _, seed := range []string{
		`{}`, `{"type":"x"}`, `{"specversion":"1.0","id":"1","type":"t","data":"{\"a\":1}"}`,
		`{"specversion":"1.0","id":"1","type":"a:ActionTrail:ApiCall","data_base64":"eyJldmVudE5hbWUiOiJ4In0="}`,
		"{\"name\":\"\xff\xfe\",\"detail\":\"{\\\"pid\\\":1e400}\"}", `{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, subject, data)
	})
}

// checkDecoded asserts what must hold for any input: no panic; failures
// are a *DecodeError with a known reason and a detail; successes obey the
// envelope limits, decode deterministically, and survive a round trip
// through their own JSON as an envelope unchanged.
func checkDecoded(t *testing.T, subject string, data []byte) {
	alerts, err := DecodeAll(subject, data, DecodeOptions{Now: testNow})
	if err != nil {
		de, ok := err.(*DecodeError)
		if !ok {
			t.Fatalf("DecodeAll error %T %v, want *DecodeError", err, err)
		}
		if !slices.Contains(Reasons(), de.Reason) || de.Detail == "" {
			t.Fatalf("DecodeError %+v: unknown reason or no detail", de)
		}
		return
	}
	if len(alerts) == 0 || len(alerts) > MaxEventsPerPayload {
		t.Fatalf("DecodeAll returned %d alerts", len(alerts))
	}
	again, err := DecodeAll(subject, data, DecodeOptions{Now: testNow})
	if err != nil {
		t.Fatalf("second DecodeAll failed: %v", err)
	}
	for i, a := range alerts {
		if a.ID == "" || len(a.ID) > MaxIDLen || a.ID != again[i].ID {
			t.Fatalf("alert %d ID %q (again %q)", i, a.ID, again[i].ID)
		}
		if a.Severity < SeverityInfo || a.Severity > SeverityCritical || !typeRE.MatchString(a.Type) || a.Count < 1 {
			t.Fatalf("alert %d: severity %d, type %q, count %d", i, a.Severity, a.Type, a.Count)
		}
		if len(a.Title) > MaxTitleLen || strings.ContainsAny(a.Title, "\n\r") {
			t.Fatalf("alert %d title %q", i, a.Title)
		}
		enc, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("alert %d does not encode: %v", i, err)
		}
		back, err := Decode("alerts.soar.roundtrip", enc, DecodeOptions{MaxBytes: 8 << 20, MaxRawBytes: 8 << 20, Now: testNow})
		if err != nil {
			t.Fatalf("alert %d does not decode as an envelope: %v\n%s", i, err, enc)
		}
		if diff := cmp.Diff(a, back); diff != "" {
			t.Fatalf("alert %d changed in an envelope round trip (-first +again):\n%s", i, diff)
		}
	}
}

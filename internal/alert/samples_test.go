package alert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSamples(t *testing.T) {
	files, err := filepath.Glob("samples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	samples := Samples()
	if len(samples) != len(files) || len(files) == 0 {
		t.Fatalf("Samples() = %d, want one per file in samples/ (%d): a file does not parse", len(samples), len(files))
	}
	// One per shipped playbook (the playbook engineers add theirs).
	for _, want := range []string{"compromised-host", "waf-sqli-blacklist", "threat-intel-c2", "ssh-bruteforce",
		"leaked-access-key", "crypto-miner", "waf-flood-to-ddos", "vuln-priority"} {
		if _, ok := SampleByName(want); !ok {
			t.Errorf("SampleByName(%q) missing; have %v", want, SampleNames())
		}
	}
	wantType := map[string]string{
		"compromised-host": TypeReverseShell, "waf-sqli-blacklist": TypeSQLi, "threat-intel-c2": TypeC2Connection,
		"ssh-bruteforce": TypeBruteForce, "leaked-access-key": TypeLeakedAccessKey, "crypto-miner": TypeMiner,
		"waf-flood-to-ddos": TypeCCAttack, "vuln-priority": TypeVulnerability, "ddos-blackhole": TypeDDoS,
	}
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			if s.Description == "" || !strings.HasPrefix(s.Subject, "alerts.") {
				t.Errorf("sample %q: description %q, subject %q", s.Name, s.Description, s.Subject)
			}
			a, err := Decode(s.Subject, s.Payload, DecodeOptions{Now: testNow})
			if err != nil {
				t.Fatalf("Decode(sample %s) error: %v", s.Name, err)
			}
			if want, ok := wantType[s.Name]; ok && a.Type != want {
				t.Errorf("sample %s type = %q, want %q", s.Name, a.Type, want)
			}
			// The subject's type token agrees with the payload (Anti-DDoS
			// subjects name the event: alerts.ddos.blackhole).
			if _, typ := subjectTokens(s.Subject); typ != a.Type && a.Source != SourceDDoS {
				t.Errorf("sample %s: subject %s but type %q", s.Name, s.Subject, a.Type)
			}
			if a.Severity < SeverityMedium {
				t.Errorf("sample %s severity = %d, want at least medium so that playbooks fire", s.Name, a.Severity)
			}
		})
	}
}

func TestParseSample(t *testing.T) {
	data, err := os.ReadFile("samples/waf-sqli-blacklist.json")
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := ParseSample(data)
	if err != nil || !ok {
		t.Fatalf("ParseSample(sample file) = %v, %v", ok, err)
	}
	if s.Subject != "alerts.waf.sqli" || s.Payload[0] != '{' {
		t.Errorf("ParseSample = %+v", s)
	}
	for _, plain := range []string{
		`{"host":"h","final_rule_type":"sqli"}`,
		`{"subject":"alerts.x.y","payload":{},"extra":1}`,
		`not json`,
	} {
		if _, ok, err := ParseSample([]byte(plain)); ok || err != nil {
			t.Errorf("ParseSample(%s) = %v, %v; want not a sample", plain, ok, err)
		}
	}
	if _, ok, err := ParseSample([]byte(`{"subject":"","payload":{}}`)); !ok || err == nil {
		t.Errorf("ParseSample(empty subject) = %v, %v; want an error", ok, err)
	}
}

func TestVariant(t *testing.T) {
	for _, s := range Samples() {
		t.Run(s.Name, func(t *testing.T) {
			orig, err := DecodeAll(s.Subject, s.Payload, DecodeOptions{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{orig[0].ID: true}
			for n := 1; n <= 3; n++ {
				ip := "198.18.0." + itoa3(n)[2:]
				v, err := Variant(s.Subject, s.Payload, n, ip)
				if err != nil {
					t.Fatalf("Variant(%d) error: %v", n, err)
				}
				got, err := DecodeAll(s.Subject, v, DecodeOptions{Now: testNow})
				if err != nil {
					t.Fatalf("Decode(Variant(%d)) error: %v", n, err)
				}
				a := got[0]
				if seen[a.ID] {
					t.Errorf("Variant(%d) ID %q is not new", n, a.ID)
				}
				seen[a.ID] = true
				if a.Source != SourceDDoS && a.SourceIP != ip {
					t.Errorf("Variant(%d) SourceIP = %q, want %q", n, a.SourceIP, ip)
				}
				// Everything else stays.
				want := orig[0]
				for _, x := range []*Alert{&a, &want} {
					x.ID, x.SourceIP, x.Raw, x.Title, x.IOCs.IPs = "", "", nil, "", nil
					delete(x.Labels, "sas.unique_info")
					delete(x.Labels, "waf.request_traceid")
				}
				if diff := cmp.Diff(want, a); diff != "" {
					t.Errorf("Variant(%d) changed more than the ID and IP (-want +got):\n%s", n, diff)
				}
			}
			// Deterministic: the same variant twice has the same ID.
			v1, _ := Variant(s.Subject, s.Payload, 7, "")
			v2, _ := Variant(s.Subject, s.Payload, 7, "")
			a1, _ := DecodeAll(s.Subject, v1, DecodeOptions{})
			a2, _ := DecodeAll(s.Subject, v2, DecodeOptions{})
			if a1[0].ID != a2[0].ID {
				t.Errorf("Variant(7) IDs differ: %q vs %q", a1[0].ID, a2[0].ID)
			}
		})
	}
}

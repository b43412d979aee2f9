package playbook

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestEveryCodeHasAGolden checks that each diagnostic code is exercised by
// at least one golden file, so the rendered text of each is reviewed.
func TestEveryCodeHasAGolden(t *testing.T) {
	seen := map[string]bool{}
	codeRE := regexp.MustCompile(`(?m)^(?:ERROR|WARNING): .* \[([a-z-]+)\]$`)
	goldens, err := filepath.Glob("testdata/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("testdata/invalid/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range append(goldens, more...) {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range codeRE.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	known := map[string]bool{}
	for _, c := range codes() {
		known[c] = true
		if !seen[c] {
			t.Errorf("code %s appears in no golden file", c)
		}
	}
	for c := range seen {
		if !known[c] {
			t.Errorf("golden files use code %s, which codes() does not list", c)
		}
	}
}

func TestCheckSubject(t *testing.T) {
	for s, ok := range map[string]bool{
		"alerts.>": true, "alerts.sas.*": true, "alerts.*.webshell": true, ">": true, "*": true,
		"alerts.waf.sqli": true, "alerts.>.x": false, "alerts..x": false, ".alerts": false, "alerts.": false,
		"alerts.sa*": false, "alerts.x>": false, "alerts x": false, "": false,
	} {
		if got := checkSubject(s) == ""; got != ok {
			t.Errorf("checkSubject(%q) valid = %v, want %v (%s)", s, got, ok, checkSubject(s))
		}
	}
}

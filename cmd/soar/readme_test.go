package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/opensoar/soar/activities"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the generated parts of README.md")

// TestReadmeActionsTable keeps the README's action table equal to the
// catalog (`soar actions --format markdown`).
func TestReadmeActionsTable(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	begin := strings.Index(readme, "<!-- actions:begin")
	end := strings.Index(readme, "<!-- actions:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md lacks the <!-- actions:begin … --> / <!-- actions:end --> markers")
	}
	begin += strings.Index(readme[begin:], "\n") + 1
	want := actionsMarkdown(activities.Catalog())
	if got := readme[begin:end]; got != want {
		if *updateReadme {
			if err := os.WriteFile(path, []byte(readme[:begin]+want+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md action table is out of date; run: go test ./cmd/soar -run TestReadmeActionsTable -update-readme")
	}
}

package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/opensoar/soar"

// rule forbids packages matching from to import (directly, in non-test
// files) anything with one of the deny prefixes.
type rule struct {
	name   string
	from   func(pkg string) bool
	deny   []string
	reason string
}

func in(prefixes ...string) func(string) bool {
	return func(pkg string) bool {
		for _, p := range prefixes {
			if pkg == module+"/"+p || strings.HasPrefix(pkg, module+"/"+p+"/") {
				return true
			}
		}
		return false
	}
}

func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

var rules = []rule{
	{"pure-core", in("internal/playbook", "internal/expr", "internal/alert", "internal/guard", "internal/config"),
		[]string{"go.temporal.io", "github.com/nats-io", "github.com/aliyun/alibaba-cloud-sdk-go"},
		"pure packages must not depend on Temporal, NATS or the cloud SDK"},
	{"workflows-use-contracts-only", in("workflows"),
		[]string{"github.com/aliyun/alibaba-cloud-sdk-go", module + "/activities/", "net/http", "github.com/nats-io"},
		"workflows call activities by name with the contract types; I/O belongs in activities"},
	{"temporal-server-only-in-devstack", not(in("internal/devstack")),
		[]string{"go.temporal.io/server", "github.com/temporalio/ui-server"},
		"only internal/devstack links the Temporal server and UI"},
	{"alicloud-sdk-only-in-activities", not(in("activities/alicloud")),
		[]string{"github.com/aliyun/alibaba-cloud-sdk-go"},
		"the Alibaba Cloud SDK is used only in activities/alicloud"},
	{"classic-sdk-only", func(string) bool { return true },
		[]string{"github.com/alibabacloud-go"},
		"use the classic SDK github.com/aliyun/alibaba-cloud-sdk-go, not the Tea SDK"},
	{"contract-is-stdlib", func(p string) bool { return p == module+"/activities" },
		[]string{"github.com/", "go.temporal.io", "gopkg.in", "golang.org", "google.golang.org"},
		"the activities contract package imports only the standard library"},
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	packages := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		packages++
		pkg, imports := fields[0], fields[1:]
		for _, r := range rules {
			if !r.from(pkg) {
				continue
			}
			for _, imp := range imports {
				for _, d := range r.deny {
					if imp == strings.TrimSuffix(d, "/") && strings.HasSuffix(d, "/") {
						continue // a trailing slash denies subpackages only
					}
					if strings.HasPrefix(imp, d) {
						t.Errorf("%s imports %s: rule %s: %s", pkg, imp, r.name, r.reason)
					}
				}
			}
		}
	}
	if packages < 5 {
		t.Fatalf("go list saw %d packages; the check is not running on the module", packages)
	}
}

package alicloud

import (
	"slices"
	"strings"
	"testing"

	"github.com/opensoar/soar/activities"
)

// TestActionsCoverTheCatalog: every alicloud.* action of the catalog, and
// its inverse, is implemented and registered under its name.
func TestActionsCoverTheCatalog(t *testing.T) {
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, spec := range activities.Catalog() {
		if strings.HasPrefix(spec.Name, "alicloud.") {
			want = append(want, spec.Name)
			if spec.Inverse != "" && !slices.Contains(want, spec.Inverse) {
				want = append(want, spec.Inverse)
			}
		}
	}
	for name := range a.Actions() {
		got = append(got, name)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("actions = %v, want %v", got, want)
	}
	// Registering them all on a Temporal registry does not panic.
	a.Register(testSuite().NewTestActivityEnvironment())
}

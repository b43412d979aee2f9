package alicloud

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// wantBlocklist checks soar's address book and its one drop policy.
func wantBlocklist(t *testing.T, st sandbox.State, name, direction string, addrs []string, out map[string]any) {
	t.Helper()
	b, ok := st.CloudFW.AddressBookNamed(name)
	if !ok {
		t.Fatalf("address book %s does not exist", name)
	}
	if !slices.Equal(b.Addresses, addrs) || b.Type != "ip" || out["address_book_id"] != b.UUID || out["address_book"] != name {
		t.Errorf("address book = %+v, want %s with %v (output %v)", b, name, addrs, out)
	}
	var policies []sandbox.ControlPolicy
	for _, p := range st.CloudFW.PoliciesFor(direction) {
		ref := p.Source
		if direction == "out" {
			ref = p.Destination
		}
		if ref == name {
			policies = append(policies, p)
		}
	}
	if len(policies) != 1 {
		t.Fatalf("policies referencing %s = %d, want 1", name, len(policies))
	}
	p := policies[0]
	if p.Action != "drop" || p.Order != 1 || p.Proto != "ANY" || p.UUID != out["policy_id"] {
		t.Errorf("policy = %+v, want the first drop policy %v", p, out["policy_id"])
	}
}

func cloudfwRevertCases() []revertCase {
	return []revertCase{
		{
			name: "cloudfw block ip in (creates book and policy)", action: activities.CloudFWBlockIP,
			in: func(m activities.Meta) any { return activities.CloudFWBlockIPInput{Meta: m, IP: attacker} },
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				wantBlocklist(t, st, "soar-blocklist-in", "in", []string{attacker + "/32"}, out)
			},
		},
		{
			name: "cloudfw block ip out into an existing book", action: activities.CloudFWBlockIP,
			setup: func(c *testCloud) {
				c.mustRun(activities.CloudFWBlockIP, activities.CloudFWBlockIPInput{Meta: meta("setup"), IP: "198.51.100.23", Direction: "out"}, nil)
			},
			in: func(m activities.Meta) any {
				return activities.CloudFWBlockIPInput{Meta: m, IP: "192.0.2.0/24", Direction: "out"}
			},
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				wantBlocklist(t, st, "soar-blocklist-out", "out", []string{"198.51.100.23/32", "192.0.2.0/24"}, out)
			},
		},
	}
}

func TestCloudFWConcurrentBlocks(t *testing.T) {
	c := newTestCloud(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var want []string
	for i := range 8 {
		ip := fmt.Sprintf("203.0.113.%d", 20+i)
		want = append(want, ip+"/32")
		wg.Go(func() {
			in := activities.CloudFWBlockIPInput{Meta: meta(fmt.Sprintf("c2#%d", i)), IP: ip, Direction: "out"}
			if err := runIn(c.newEnv(), activities.CloudFWBlockIP, in, nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := c.state()
	b, _ := st.CloudFW.AddressBookNamed("soar-blocklist-out")
	got := slices.Clone(b.Addresses)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("address book = %v, want %v", got, want)
	}
	if n := len(st.CloudFW.PoliciesFor("out")); n != 1 {
		t.Errorf("out policies = %d, want 1", n)
	}
}

func TestCloudFWGuardrails(t *testing.T) {
	c := newTestCloud(t)
	s0 := c.state()
	for _, ip := range []string{"172.16.1.10", "198.51.0.0/15", "::1"} {
		err := c.run(activities.CloudFWBlockIP, activities.CloudFWBlockIPInput{Meta: meta("b"), IP: ip}, nil)
		wantAppError(t, err, activities.ErrTypeGuardDenied, ip)
	}
	err := c.run(activities.CloudFWBlockIP, activities.CloudFWBlockIPInput{Meta: meta("b"), IP: attacker, Direction: "sideways"}, nil)
	wantAppError(t, err, activities.ErrTypeInvalidInput, "direction")
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("refused blocks changed the state:\n%s", diff)
	}
}

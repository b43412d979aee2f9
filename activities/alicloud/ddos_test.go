package alicloud

import (
	"slices"
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

func ddosRevertCases() []revertCase {
	return []revertCase{
		{
			name: "ddos blacklist ips", action: activities.DDoSBlacklistIP,
			setup: func(c *testCloud) {
				c.srv.Mutate(func(st *sandbox.State) {
					st.DDoS.Domains[0].BlackList = []string{"192.0.2.1"}
					st.DDoS.Domains[0].WhiteList = []string{"198.51.100.10"}
				})
			},
			in: func(m activities.Meta) any {
				return activities.DDoSBlacklistInput{Meta: m, Domain: ddosDomain, IPs: []string{attacker, "198.51.100.0/24", "192.0.2.1/32"}}
			},
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				d, _ := st.DDoS.Domain(ddosDomain)
				if want := []string{"192.0.2.1", attacker, "198.51.100.0/24"}; !slices.Equal(d.BlackList, want) {
					t.Errorf("blacklist = %v, want %v", d.BlackList, want)
				}
				if !slices.Equal(d.WhiteList, []string{"198.51.100.10"}) {
					t.Errorf("whitelist = %v, want it kept", d.WhiteList)
				}
				if got := out["changed_ips"]; len(got.([]any)) != 2 {
					t.Errorf("changed_ips = %v, want the two new addresses", got)
				}
			},
			varyOnRepeat: []string{"changed_ips"},
		},
		{
			name: "ddos set cc mode", action: activities.DDoSSetCCMode,
			in: func(m activities.Meta) any {
				return activities.DDoSCCModeInput{Meta: m, Domain: ddosDomain, Mode: "gf_sos_verify"}
			},
			check: func(t *testing.T, st sandbox.State, out map[string]any) {
				d, _ := st.DDoS.Domain(ddosDomain)
				if d.CCTemplate != "gf_sos_verify" || out["previous_mode"] != "default" {
					t.Errorf("cc template = %s (previous %v), want gf_sos_verify (previous default)", d.CCTemplate, out["previous_mode"])
				}
			},
			varyOnRepeat: []string{"previous_mode"},
		},
	}
}

func TestDDoSGuardrailsAndErrors(t *testing.T) {
	c := newTestCloud(t)
	s0 := c.state()
	err := c.run(activities.DDoSBlacklistIP, activities.DDoSBlacklistInput{Meta: meta("b"), Domain: ddosDomain, IPs: []string{attacker, "10.0.0.1"}}, nil)
	wantAppError(t, err, activities.ErrTypeGuardDenied, "10.0.0.1")
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("a refused blacklist changed the state:\n%s", diff)
	}
	err = c.run(activities.DDoSBlacklistIP, activities.DDoSBlacklistInput{Meta: meta("b"), Domain: "shop.example.org", IPs: []string{attacker}}, nil)
	wantAppError(t, err, activities.ErrTypeCloudNotFound, "shop.example.org")
	err = c.run(activities.DDoSSetCCMode, activities.DDoSCCModeInput{Meta: meta("b"), Domain: ddosDomain, Mode: "panic"}, nil)
	wantAppError(t, err, activities.ErrTypeInvalidInput, "mode")
	err = c.run(activities.DDoSSetCCMode, activities.DDoSCCModeInput{Meta: meta("b"), Domain: "not a domain", Mode: "default"}, nil)
	wantAppError(t, err, activities.ErrTypeInvalidInput, "domain")
	// Removing nothing is a no-op.
	var out activities.DDoSBlacklistOutput
	c.mustRun(activities.DDoSUnblacklistIP, activities.DDoSBlacklistInput{Meta: meta("u"), Domain: ddosDomain, IPs: []string{}}, &out)
	if out.Changed {
		t.Errorf("unblacklist of nothing = %+v, want unchanged", out)
	}
	// The last address removed sends an empty list.
	c.mustRun(activities.DDoSBlacklistIP, activities.DDoSBlacklistInput{Meta: meta("b"), Domain: ddosDomain, IPs: []string{attacker}}, nil)
	c.mustRun(activities.DDoSUnblacklistIP, activities.DDoSBlacklistInput{Meta: meta("u"), Domain: ddosDomain, IPs: []string{attacker}}, &out)
	if d, _ := c.state().DDoS.Domain(ddosDomain); len(d.BlackList) != 0 || !out.Changed {
		t.Errorf("blacklist after removing the last address = %v (%+v), want empty", d.BlackList, out.Outcome)
	}
}

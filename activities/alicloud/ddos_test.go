package alicloud

import (
	"slices"
	"strings"
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

// TestDDoSSetCCModeKeepsStricter: with a stricter mode already set (an
// operator's gf_sos_enhance during a storm), set_cc_mode gf_sos_verify
// succeeds without a change and says the stricter mode is kept, in a
// dry-run too; its output gives the inverse nothing weaker to restore, so
// the inverse built from it leaves gf_sos_enhance. A stricter mode than
// the current one is set, and restore_cc_mode sets a weaker mode back.
func TestDDoSSetCCModeKeepsStricter(t *testing.T) {
	c := newTestCloud(t)
	c.srv.Mutate(func(st *sandbox.State) { st.DDoS.Domains[0].CCTemplate = "gf_sos_enhance" })
	n := c.callCount()
	for _, m := range []activities.Meta{dryRun(meta("strict_cc")), meta("strict_cc")} {
		in := activities.DDoSCCModeInput{Meta: m, Domain: ddosDomain, Mode: "gf_sos_verify"}
		var kept activities.DDoSCCModeOutput
		c.mustRun(activities.DDoSSetCCMode, in, &kept)
		if kept.Changed || kept.Mode != "gf_sos_enhance" || kept.PreviousMode != "gf_sos_enhance" {
			t.Errorf("set_cc_mode gf_sos_verify over gf_sos_enhance (dry-run %v) = %+v, want unchanged, mode and previous_mode gf_sos_enhance", m.DryRun, kept)
		}
		if !slices.ContainsFunc(kept.Plan, func(p string) bool {
			return strings.Contains(p, "gf_sos_enhance") && strings.Contains(p, "stricter mode is kept")
		}) {
			t.Errorf("plan %q does not say that gf_sos_enhance is kept", kept.Plan)
		}
		if m.DryRun {
			continue
		}
		// The revert a hold registry would run if it undid the step.
		inverse, invIn := inverseInput(t, activities.DDoSSetCCMode, in, kept)
		var back activities.DDoSCCModeOutput
		c.mustRun(inverse, invIn, &back)
		if back.Changed {
			t.Errorf("%s from the kept output = %+v, want unchanged", inverse, back)
		}
	}
	if m := c.mutatingCalls(n); len(m) > 0 {
		t.Errorf("keeping the stricter mode made mutating calls %v", m)
	}
	if d, _ := c.state().DDoS.Domain(ddosDomain); d.CCTemplate != "gf_sos_enhance" {
		t.Errorf("cc template = %s, want gf_sos_enhance kept", d.CCTemplate)
	}

	c.srv.Mutate(func(st *sandbox.State) { st.DDoS.Domains[0].CCTemplate = "gf_sos_verify" })
	var same activities.DDoSCCModeOutput
	c.mustRun(activities.DDoSSetCCMode, activities.DDoSCCModeInput{Meta: meta("cc-same"), Domain: ddosDomain, Mode: "gf_sos_verify"}, &same)
	if same.Changed || same.PreviousMode != "gf_sos_verify" {
		t.Errorf("the current mode again = %+v, want unchanged with previous_mode gf_sos_verify", same)
	}
	var up activities.DDoSCCModeOutput
	c.mustRun(activities.DDoSSetCCMode, activities.DDoSCCModeInput{Meta: meta("cc"), Domain: ddosDomain, Mode: "gf_sos_enhance"}, &up)
	if d, _ := c.state().DDoS.Domain(ddosDomain); !up.Changed || up.PreviousMode != "gf_sos_verify" || d.CCTemplate != "gf_sos_enhance" {
		t.Errorf("stricter mode = %+v (template %s), want changed from gf_sos_verify to gf_sos_enhance", up, d.CCTemplate)
	}
	var back activities.DDoSCCModeOutput
	c.mustRun(activities.DDoSRestoreCCMode, activities.DDoSCCModeInput{Meta: meta("revert-cc"), Domain: ddosDomain, Mode: "default"}, &back)
	if d, _ := c.state().DDoS.Domain(ddosDomain); !back.Changed || d.CCTemplate != "default" {
		t.Errorf("restore to default = %+v (template %s), want default set", back, d.CCTemplate)
	}
}

// TestDDoSBlacklistWarnsWhenSwitchOff: with the website's black/white list
// switch off, blacklist_ip still edits the list but says in its output
// and plan that the list does not act; with it on, there is no warning.
func TestDDoSBlacklistWarnsWhenSwitchOff(t *testing.T) {
	c := newTestCloud(t)
	var on activities.DDoSBlacklistOutput
	c.mustRun(activities.DDoSBlacklistIP, activities.DDoSBlacklistInput{Meta: meta("b1"), Domain: ddosDomain, IPs: []string{"198.51.100.7"}}, &on)
	if on.Warning != "" {
		t.Errorf("warning with the switch on = %q, want none", on.Warning)
	}

	c.srv.Mutate(func(st *sandbox.State) { st.DDoS.Domains[0].BlackWhiteListEnabled = false })
	var dry, off activities.DDoSBlacklistOutput
	in := activities.DDoSBlacklistInput{Meta: meta("b2"), Domain: ddosDomain, IPs: []string{attacker}}
	c.mustRun(activities.DDoSBlacklistIP, activities.DDoSBlacklistInput{Meta: dryRun(in.Meta), Domain: in.Domain, IPs: in.IPs}, &dry)
	c.mustRun(activities.DDoSBlacklistIP, in, &off)
	for name, out := range map[string]activities.DDoSBlacklistOutput{"dry-run": dry, "block": off} {
		if !strings.Contains(out.Warning, "switch") || !strings.Contains(out.Warning, "off") {
			t.Errorf("%s warning = %q, want the switch named as off", name, out.Warning)
		}
		if !slices.ContainsFunc(out.Plan, func(p string) bool { return strings.HasPrefix(p, "warning: ") }) {
			t.Errorf("%s plan %q has no warning", name, out.Plan)
		}
	}
	d, _ := c.state().DDoS.Domain(ddosDomain)
	if !off.Changed || !slices.Contains(d.BlackList, attacker) || d.BlackWhiteListEnabled {
		t.Errorf("blacklist = %v (switch %v, %+v), want %s added and the switch left off", d.BlackList, d.BlackWhiteListEnabled, off.Outcome, attacker)
	}
}

package alicloud

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// withWAFTemplate lets soar create its template once (a block and an
// unblock of another address), so that the initial state holds the
// template soar keeps.
func withWAFTemplate(c *testCloud) {
	c.t.Helper()
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("setup"), IP: "198.51.100.99"}, nil)
	c.mustRun(activities.WAFUnblockIP, activities.WAFUnblockIPInput{Meta: meta("setup-undo"), IP: "198.51.100.99"}, nil)
}

func wafRevertCases() []revertCase {
	return []revertCase{{
		name: "waf block ip", action: activities.WAFBlockIP, setup: withWAFTemplate,
		in: func(m activities.Meta) any { return activities.WAFBlockIPInput{Meta: m, IP: attacker} },
		check: func(t *testing.T, st sandbox.State, out map[string]any) {
			id, _ := strconv.ParseInt(out["rule_id"].(string), 10, 64)
			r, ok := st.WAF.Rule(id)
			if !ok {
				t.Fatalf("rule %v is not in the sandbox", out["rule_id"])
			}
			tid, _ := strconv.ParseInt(out["template_id"].(string), 10, 64)
			want := sandbox.WAFRule{ID: id, InstanceID: wafID, TemplateID: tid, Scene: "ip_blacklist", Name: "soar-blocklist-1",
				Status: 1, Action: "block", RemoteAddr: []string{attacker}, GmtModified: r.GmtModified}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("rule mismatch (-want +got):\n%s", diff)
			}
			tmpl, _ := st.WAF.Template(tid)
			if tmpl.Name != "soar-blocklist" || tmpl.Scene != "ip_blacklist" || !slices.Equal(tmpl.Resources, []string{"www.example.com-waf"}) {
				t.Errorf("template = %+v, want soar-blocklist bound to www.example.com-waf", tmpl)
			}
			if out["instance_id"] != wafID || out["ip"] != attacker {
				t.Errorf("output = %v, want instance %s, ip %s", out, wafID, attacker)
			}
		},
	}}
}

func TestWAFBlockFillsRulesUpTo200(t *testing.T) {
	c := newTestCloud(t)
	var first activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b0"), IP: "198.51.100.1"}, &first)
	// Fill the rule to the limit.
	id, _ := strconv.ParseInt(first.RuleID, 10, 64)
	c.srv.Mutate(func(st *sandbox.State) {
		for i := range st.WAF.Rules {
			if st.WAF.Rules[i].ID == id {
				for n := 0; len(st.WAF.Rules[i].RemoteAddr) < 200; n++ {
					st.WAF.Rules[i].RemoteAddr = append(st.WAF.Rules[i].RemoteAddr, fmt.Sprintf("203.0.%d.%d", 100+n/250, 1+n%250))
				}
			}
		}
	})
	var next activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b1"), IP: "192.0.2.0/24"}, &next)
	if next.RuleID == first.RuleID || !next.Changed {
		t.Fatalf("block into a full rule = %+v, want a new rule", next)
	}
	nid, _ := strconv.ParseInt(next.RuleID, 10, 64)
	r, _ := c.state().WAF.Rule(nid)
	if r.Name != "soar-blocklist-2" || !slices.Equal(r.RemoteAddr, []string{"192.0.2.0/24"}) {
		t.Errorf("new rule = %s %v, want soar-blocklist-2 [192.0.2.0/24]", r.Name, r.RemoteAddr)
	}
	// Unblocking the last address of the second rule deletes it.
	var un activities.WAFUnblockIPOutput
	c.mustRun(activities.WAFUnblockIP, activities.WAFUnblockIPInput{Meta: meta("u1"), IP: "192.0.2.0/24", RuleID: next.RuleID}, &un)
	if !un.RuleDeleted || un.RuleID != next.RuleID {
		t.Errorf("unblock = %+v, want rule %s deleted", un, next.RuleID)
	}
	if _, ok := c.state().WAF.Rule(nid); ok {
		t.Errorf("rule %d still exists", nid)
	}
}

func TestWAFLeavesOtherRulesAlone(t *testing.T) {
	c := newTestCloud(t)
	withWAFTemplate(c)
	tmplID := c.state().WAF.Templates[len(c.state().WAF.Templates)-1].ID
	c.srv.Mutate(func(st *sandbox.State) {
		st.WAF.Rules = append(st.WAF.Rules, sandbox.WAFRule{ID: 999, InstanceID: wafID, TemplateID: tmplID, Scene: "ip_blacklist",
			Name: "operator-list", Status: 1, Action: "block", RemoteAddr: []string{attacker}})
	})
	var out activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b"), IP: attacker}, &out)
	if out.Changed || out.RuleID != "999" {
		t.Errorf("block of an address the operator blocks = %+v, want unchanged, rule 999", out)
	}
	s0 := c.state()
	var un activities.WAFUnblockIPOutput
	c.mustRun(activities.WAFUnblockIP, activities.WAFUnblockIPInput{Meta: meta("u"), IP: attacker}, &un)
	if un.Changed {
		t.Errorf("unblock = %+v, want the operator's rule left alone", un)
	}
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Errorf("unblock changed the state:\n%s", diff)
	}
}

func TestWAFGuardrailsAndErrors(t *testing.T) {
	c := newTestCloud(t)
	n := c.callCount()
	err := c.run(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b"), IP: "192.168.1.1"}, nil)
	wantAppError(t, err, activities.ErrTypeGuardDenied, "protected_cidrs")
	if got := c.callCount(); got != n {
		t.Errorf("a refused block made %d calls, want 0", got-n)
	}
	err = c.run(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b"), IP: attacker, InstanceID: "waf_nope"}, nil)
	wantAppError(t, err, activities.ErrTypeCloudNotFound, "InvalidInstanceId.NotFound", "request")
}

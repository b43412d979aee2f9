package alicloud

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

// withWAFTemplate lets soar create its template once (a block and an
// unblock of another address), so that the initial state holds the
// template soar keeps (TestWAFFirstBlockAndLastUnblock covers the first
// use).
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

// TestWAFLeavesOtherRulesAlone: an operator's rule in soar's template
// that already lists the IP is what block_ip reports (unchanged), and the
// inverse built from that output (rule_id of the operator's rule) leaves
// it alone, as does an unblock without rule_id.
func TestWAFLeavesOtherRulesAlone(t *testing.T) {
	c := newTestCloud(t)
	var keep activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("setup"), IP: "198.51.100.99"}, &keep)
	tmplID, _ := strconv.ParseInt(keep.TemplateID, 10, 64)
	c.srv.Mutate(func(st *sandbox.State) {
		st.WAF.Rules = append(st.WAF.Rules, sandbox.WAFRule{ID: 999, InstanceID: wafID, TemplateID: tmplID, Scene: "ip_blacklist",
			Name: "operator-list", Status: 1, Action: "block", RemoteAddr: []string{attacker, "192.0.2.10"}})
	})
	in := activities.WAFBlockIPInput{Meta: meta("b"), IP: attacker}
	var out activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, in, &out)
	if out.Changed || out.RuleID != "999" {
		t.Errorf("block of an address the operator blocks = %+v, want unchanged, rule 999", out)
	}
	s0 := c.state()
	name, inv := inverseInput(t, activities.WAFBlockIP, in, out)
	if inv["rule_id"] != "999" {
		t.Fatalf("inverse input %v, want rule_id 999", inv)
	}
	for _, unblock := range []any{inv, activities.WAFUnblockIPInput{Meta: meta("u"), IP: attacker}} {
		var un activities.WAFUnblockIPOutput
		c.mustRun(name, unblock, &un)
		if un.Changed || un.RuleDeleted {
			t.Errorf("unblock %v = %+v, want the operator's rule left alone", unblock, un)
		}
		if diff := stateDiff(s0, c.state()); diff != "" {
			t.Errorf("unblock %v changed the state:\n%s", unblock, diff)
		}
	}
	if r, _ := c.state().WAF.Rule(999); !slices.Equal(r.RemoteAddr, []string{attacker, "192.0.2.10"}) {
		t.Errorf("operator rule = %v, want it untouched", r.RemoteAddr)
	}
}

// TestWAFFirstBlockAndLastUnblock: on a WAF without soar's template, the
// first block creates it bound to every protected object; the unblock of
// the last address deletes the rule and keeps the template, empty (see the
// package doc for why): the WAF differs from before the first block only
// by that template, which holds no rule and so blocks nothing.
func TestWAFFirstBlockAndLastUnblock(t *testing.T) {
	c := newTestCloud(t)
	s0 := c.state()
	if slices.ContainsFunc(s0.WAF.Templates, func(tmpl sandbox.WAFTemplate) bool { return tmpl.Name == wafTemplateName }) {
		t.Fatalf("the default world already has soar's template: %+v", s0.WAF.Templates)
	}
	var b activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b"), IP: attacker}, &b)
	if !b.Changed || !slices.ContainsFunc(b.Plan, func(p string) bool { return strings.Contains(p, "create the WAF ip_blacklist template") }) {
		t.Errorf("first block = %+v, want the template created", b)
	}
	tid, _ := strconv.ParseInt(b.TemplateID, 10, 64)
	tmpl, ok := c.state().WAF.Template(tid)
	if !ok || tmpl.Name != wafTemplateName || !slices.Equal(tmpl.Resources, []string{"www.example.com-waf"}) {
		t.Fatalf("template after the first block = %+v, want %s bound to www.example.com-waf", tmpl, wafTemplateName)
	}

	var u activities.WAFUnblockIPOutput
	c.mustRun(activities.WAFUnblockIP, activities.WAFUnblockIPInput{Meta: meta("u"), IP: attacker, RuleID: b.RuleID}, &u)
	if !u.Changed || !u.RuleDeleted {
		t.Errorf("unblock of the last address = %+v, want its rule deleted", u)
	}
	st := c.state()
	for _, r := range st.WAF.Rules {
		if r.TemplateID == tid {
			t.Errorf("rule %+v is left in soar's template", r)
		}
	}
	want := s0
	want.WAF.Templates = append(slices.Clone(s0.WAF.Templates), tmpl)
	if diff := stateDiff(want, st); diff != "" {
		t.Errorf("after the last unblock, want the earlier state plus the empty template (-want +got):\n%s", diff)
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

// TestWAFUnblockRuleAlreadyGone: a DeleteDefenseRule answered NotFound (a
// retry after a lost answer, or an operator deleted the rule) is the
// removal done, not a failure.
func TestWAFUnblockRuleAlreadyGone(t *testing.T) {
	c := newTestCloud(t)
	var b activities.WAFBlockIPOutput
	c.mustRun(activities.WAFBlockIP, activities.WAFBlockIPInput{Meta: meta("b"), IP: attacker}, &b)
	c.srv.InjectFault(sandbox.Fault{Action: "DeleteDefenseRule", Code: "InvalidRuleId.NotFound", Message: "The rule does not exist."})
	var u activities.WAFUnblockIPOutput
	if err := c.run(activities.WAFUnblockIP, activities.WAFUnblockIPInput{Meta: meta("u"), IP: attacker, RuleID: b.RuleID}, &u); err != nil {
		t.Fatalf("unblock with the rule already gone: %v", err)
	}
	if !u.RuleDeleted || u.RuleID != b.RuleID {
		t.Errorf("unblock = rule %s deleted %v, want rule %s deleted", u.RuleID, u.RuleDeleted, b.RuleID)
	}
}

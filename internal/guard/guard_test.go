package guard

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opensoar/soar/activities"
)

func TestCheckBlock(t *testing.T) {
	g, err := New(Policy{ProtectedCIDRs: []string{"198.51.100.0/24", "2001:db8:ffff::/48"}})
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	tests := []struct {
		target string
		rule   string // "" means allowed
	}{
		{"203.0.113.7", ""},
		{"203.0.113.0/24", ""},
		{"2001:db8:1::7", ""},
		{"::ffff:203.0.113.7", ""}, // IPv4-mapped is unmapped first
		{"10.1.2.3", "protected_cidrs"},
		{"192.168.1.0/24", "protected_cidrs"},
		{"172.20.0.1", "protected_cidrs"},
		{"127.0.0.1", "protected_cidrs"},
		{"100.100.100.200", "protected_cidrs"},
		{"169.254.169.254", "protected_cidrs"},
		{"fe80::1", "protected_cidrs"},
		{"fd00::1", "protected_cidrs"},
		{"::1", "protected_cidrs"},
		{"198.51.100.77", "protected_cidrs"},            // the operator's own
		{"198.51.0.0/16", "protected_cidrs"},            // contains the operator's
		{"2001:db8:ffff:1::1", "protected_cidrs"},       // inside the operator's v6
		{"0.0.0.0/0", "min_prefix"},                     // everything
		{"8.0.0.0/8", "min_prefix"},                     // overly broad
		{"203.0.0.0/15", "min_prefix"},                  // one bit too broad
		{"2001:db8::/32", "min_prefix"},                 // broad v6
		{"not-an-ip", "invalid_target"},                 // garbage
		{"", "invalid_target"},                          // empty
		{"203.0.113.7/33", "invalid_target"},            // bad prefix
		{"203.0.113.7; rm -rf /", "invalid_target"},     // hostile
		{"203.0.113.256", "invalid_target"},             // out of range
		{"0.0.0.0", "protected_cidrs"},                  // unspecified
		{"255.255.255.255", "protected_cidrs"},          // broadcast
		{"203.0.113.7/32", ""},                          // explicit host prefix
		{" 203.0.113.8 ", ""},                           // surrounding blanks
		{"2001:db8:1::/48", ""},                         // broadest allowed v6
		{"203.0.0.0/16", ""},                            // broadest allowed v4
		{"100.63.255.255", ""},                          // just below CGNAT
		{"100.128.0.0", ""},                             // just above CGNAT
		{"172.32.0.1", ""},                              // just above 172.16/12
		{"11.0.0.1", ""},                                // just above 10/8
		{"192.169.0.1", ""},                             // just above 192.168/16
		{"9.255.255.255", ""},                           // just below 10/8
		{"169.253.255.255", ""},                         // just below link-local
		{"126.255.255.255", ""},                         // just below loopback
		{"2001:db8:fffe::1", ""},                        // beside the operator's v6
		{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""}, // just below fc00::/7
	}
	for _, tt := range tests {
		err := g.CheckBlock(tt.target)
		var denied *DeniedError
		switch {
		case tt.rule == "" && err != nil:
			t.Errorf("CheckBlock(%q) = %v, want allowed", tt.target, err)
		case tt.rule != "" && !errors.As(err, &denied):
			t.Errorf("CheckBlock(%q) = %v, want a DeniedError by %s", tt.target, err, tt.rule)
		case tt.rule != "" && denied.Rule != tt.rule:
			t.Errorf("CheckBlock(%q) denied by %s (%v), want %s", tt.target, denied.Rule, err, tt.rule)
		}
	}
}

// TestCheckBlockEmbeddedIPv4 covers IPv6 forms that name IPv4 networks: an
// IPv4-mapped CIDR is checked as the IPv4 network it names, and the NAT64
// and 6to4 ranges are protected.
func TestCheckBlockEmbeddedIPv4(t *testing.T) {
	g, err := New(Policy{ProtectedCIDRs: []string{"198.51.100.0/24", "::ffff:192.0.2.0/120"}})
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	tests := []struct {
		target string
		rule   string // "" means allowed
	}{
		// IPv4-mapped CIDRs are the IPv4 networks they name.
		{"::ffff:10.0.0.1/128", "protected_cidrs"},
		{"::ffff:100.100.100.200/128", "protected_cidrs"},
		{"::ffff:a00:1/128", "protected_cidrs"},           // hex spelling of 10.0.0.1
		{"::ffff:169.254.169.254/128", "protected_cidrs"}, // metadata, link-local
		{"::ffff:127.1.0.0/112", "protected_cidrs"},       // 127.1.0.0/16, loopback
		{"::ffff:198.51.100.7/128", "protected_cidrs"},    // the operator's own
		{"::ffff:192.0.2.9", "protected_cidrs"},           // protected in mapped form
		{"192.0.2.9", "protected_cidrs"},                  // ... which protects the IPv4
		{"::ffff:10.0.0.1%eth0", "protected_cidrs"},       // zoned
		{"::ffff:0.0.0.0/96", "min_prefix"},               // all of IPv4
		{"::ffff:8.0.0.0/104", "min_prefix"},              // 8.0.0.0/8, broader than /16
		{"::ffff:203.0.0.0/111", "min_prefix"},            // 203.0.0.0/15
		{"::ffff:0:0/95", "min_prefix"},                   // shorter than /96: covers the mapped range
		{"::ffff:203.0.113.7/80", "min_prefix"},           // masks to ::/80
		{"::/64", "min_prefix"},                           // contains ::ffff:0:0/96
		{"::ffff:203.0.113.7/128", ""},                    // an ordinary IPv4 host
		{"::ffff:203.0.0.0/112", ""},                      // 203.0.0.0/16, the broadest allowed
		// NAT64 and 6to4 addresses embed IPv4 ones: protected.
		{"64:ff9b::a00:1", "protected_cidrs"},         // NAT64 10.0.0.1
		{"64:ff9b::6464:64c8/128", "protected_cidrs"}, // NAT64 100.100.100.200
		{"64:ff9b::cb00:7107", "protected_cidrs"},     // NAT64 203.0.113.7: still refused
		{"64:ff9b:1::a00:1", "protected_cidrs"},       // local-use NAT64 (RFC 8215)
		{"2002:a00:1::1", "protected_cidrs"},          // 6to4 for 10.0.0.1
		{"2002:cb00:7107::/48", "protected_cidrs"},    // 6to4 for 203.0.113.7
		{"2001:db8:1::7", ""},                         // ordinary IPv6 still blockable
		{"2003::1", ""},                               // just above 2002::/16
	}
	for _, tt := range tests {
		err := g.CheckBlock(tt.target)
		var denied *DeniedError
		switch {
		case tt.rule == "" && err != nil:
			t.Errorf("CheckBlock(%q) = %v, want allowed", tt.target, err)
		case tt.rule != "" && !errors.As(err, &denied):
			t.Errorf("CheckBlock(%q) = %v, want a DeniedError by %s", tt.target, err, tt.rule)
		case tt.rule != "" && denied.Rule != tt.rule:
			t.Errorf("CheckBlock(%q) denied by %s (%v), want %s", tt.target, denied.Rule, err, tt.rule)
		}
	}
}

// TestCheckBlockMappedMinPrefix checks that a mapped CIDR meets the IPv4
// min_prefix, not the IPv6 one.
func TestCheckBlockMappedMinPrefix(t *testing.T) {
	g, err := New(Policy{MinPrefixV4: 24, MinPrefixV6: 48})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CheckBlock("::ffff:203.0.113.0/120"); err != nil {
		t.Errorf("CheckBlock(mapped /24) = %v, want allowed", err)
	}
	err = g.CheckBlock("::ffff:203.0.112.0/119")
	var denied *DeniedError
	if !errors.As(err, &denied) || denied.Rule != "min_prefix" || !strings.Contains(err.Error(), "/23 is broader than the broadest allowed block /24") {
		t.Errorf("CheckBlock(mapped /23) = %v, want refused by min_prefix as an IPv4 /23", err)
	}
}

func TestCheckBlockMinPrefix(t *testing.T) {
	g, err := New(Policy{MinPrefixV4: 24, MinPrefixV6: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CheckBlock("203.0.113.0/24"); err != nil {
		t.Errorf("CheckBlock(/24) = %v, want allowed", err)
	}
	if err := g.CheckBlock("203.0.112.0/23"); err == nil {
		t.Error("CheckBlock(/23) = nil, want refused with min_prefix_v4 24")
	}
	if err := g.CheckBlock("2001:db8::/63"); err == nil {
		t.Error("CheckBlock(v6 /63) = nil, want refused with min_prefix_v6 64")
	}
}

func TestInstanceProtected(t *testing.T) {
	g, err := New(Policy{ProtectedInstances: []string{"i-db01", "tag:env=prod", "tag:role=bastion"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   string
		tags map[string]string
		want bool
	}{
		{"i-db01", nil, true},
		{"i-web01", nil, false},
		{"i-web01", map[string]string{"env": "prod"}, true},
		{"i-web01", map[string]string{"env": "staging"}, false},
		{"i-web02", map[string]string{"role": "bastion", "env": "dev"}, true},
		{"i-web03", map[string]string{"prod": "env"}, false},
	}
	for _, tt := range tests {
		if got := g.InstanceProtected(tt.id, tt.tags); got != tt.want {
			t.Errorf("InstanceProtected(%q, %v) = %v, want %v", tt.id, tt.tags, got, tt.want)
		}
	}
	if err := g.CheckInstance("i-db01", nil, false); err == nil {
		t.Error("CheckInstance(protected, unapproved) = nil, want refused")
	}
	if err := g.CheckInstance("i-db01", nil, true); err != nil {
		t.Errorf("CheckInstance(protected, approved) = %v, want allowed", err)
	}
}

func TestCheckAccessKey(t *testing.T) {
	g, err := New(Policy{ProtectedAccessKeys: []string{"LTAIbreakglass"}}, "LTAIsoarself", "")
	if err != nil {
		t.Fatal(err)
	}
	for key, refused := range map[string]bool{"LTAIsoarself": true, "LTAIbreakglass": true, "LTAIleaked": false, "": false} {
		if err := g.CheckAccessKey(key); (err != nil) != refused {
			t.Errorf("CheckAccessKey(%q) = %v, want refused=%v", key, err, refused)
		}
	}
}

func TestPolicyProblems(t *testing.T) {
	p := Policy{
		ProtectedCIDRs:     []string{"10.0.0.0/8", "office"},
		MinPrefixV4:        40,
		ProtectedInstances: []string{"tag:=x", ""},
		Budgets:            []Budget{{Action: "", Max: 0}},
		RequireApproval:    []ApprovalRule{{}},
		MaxLinkageHops:     -1,
	}
	_, err := New(p)
	if err == nil {
		t.Fatal("New(bad policy) = nil error, want every problem listed")
	}
	for _, want := range []string{
		`protected_cidrs[1]: "office" is not an IP address or CIDR`,
		"min_prefix_v4: 40",
		"protected_instances[0]",
		"protected_instances[1]: empty",
		"budgets[0].action: required",
		"budgets[0].max: 0",
		"budgets[0].window: required",
		"require_approval[0].name: required",
		"require_approval[0].when: required",
		"require_approval[0].approvers: required",
		"max_linkage_hops: -1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New(bad policy) error lacks %q:\n%v", want, err)
		}
	}
	if _, err := New(Policy{Budgets: []Budget{{Action: "*", Max: 10, Window: time.Hour}}}); err != nil {
		t.Errorf("New(good policy) = %v", err)
	}
}

func TestPolicyProblemsBudgetAction(t *testing.T) {
	tests := []struct {
		action string
		want   []string // substrings of the problem; none means valid
	}{
		{"*", nil},
		{activities.ECSIsolateInstance, nil},
		{activities.CloudFWBlockIP, nil},
		{"alicloud.ecs.isolate_instanse", []string{
			`budgets[0].action: "alicloud.ecs.isolate_instanse" is not an action`,
			`(did you mean "alicloud.ecs.isolate_instance"?)`}},
		{"no.such.thing", []string{`budgets[0].action: "no.such.thing" is not an action`}},
		{activities.NATSPublish, []string{
			`budgets[0].action: "nats.publish" changes nothing, so its runs are not counted`,
			activities.ECSIsolateInstance}},
		{activities.NotifyWebhook, []string{`"notify.webhook" changes nothing`, `budgets apply to "*" and `}},
	}
	for _, tt := range tests {
		p := Policy{Budgets: []Budget{{Action: tt.action, Max: 5, Window: time.Hour}}}
		errs := p.Problems()
		if len(tt.want) == 0 {
			if len(errs) != 0 {
				t.Errorf("Problems(budget on %q) = %v, want none", tt.action, errs)
			}
			continue
		}
		if len(errs) != 1 {
			t.Errorf("Problems(budget on %q) = %v, want one problem", tt.action, errs)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(errs[0].Error(), w) {
				t.Errorf("Problems(budget on %q) = %q, want it to contain %q", tt.action, errs[0], w)
			}
		}
	}
	// Every action the message lists as counted carries a budget.
	for _, s := range activities.Catalog() {
		p := Policy{Budgets: []Budget{{Action: s.Name, Max: 1, Window: time.Minute}}}
		if errs := p.Problems(); s.Mutating != (len(errs) == 0) {
			t.Errorf("Problems(budget on %q, mutating=%v) = %v", s.Name, s.Mutating, errs)
		}
	}
}

func TestCanonicalTarget(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":    "203.0.113.7/32",
		"203.0.113.9/24": "203.0.113.0/24",
		"2001:db8::1":    "2001:db8::1/128",
		// IPv4-mapped targets go to the cloud in IPv4 form.
		"::ffff:203.0.113.7":     "203.0.113.7/32",
		"::ffff:203.0.113.7/128": "203.0.113.7/32",
		"::ffff:203.0.113.9/120": "203.0.113.0/24",
		"::ffff:0.0.0.0/96":      "0.0.0.0/0",
		"::ffff:203.0.113.7/80":  "::/80",
		"64:ff9b::cb00:7107":     "64:ff9b::cb00:7107/128",
	} {
		got, err := CanonicalTarget(in)
		if err != nil || got != want {
			t.Errorf("CanonicalTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

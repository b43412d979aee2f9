// Package guard holds soar's guardrails: the networks it must never block,
// the broadest block it accepts, protected instances, the engine's own
// access keys, action budgets and policy approvals (see the README,
// "Guardrails").
//
// A [Policy] is configuration (soar.yaml) and travels in workflow input; a
// [Guard] is a compiled policy that actions consult before changing
// anything. The checks run inside the activities, not only at validation,
// so a playbook cannot talk its way past them.
package guard

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/suggest"
)

// Defaults of [Policy].
const (
	// DefaultMinPrefixV4 is the shortest IPv4 prefix soar blocks: a /15 or
	// broader is refused as overly broad.
	DefaultMinPrefixV4 = 16
	// DefaultMinPrefixV6 is the shortest IPv6 prefix soar blocks.
	DefaultMinPrefixV6 = 48
	// DefaultMaxLinkageHops bounds chains of linkage alerts (nats.publish).
	DefaultMaxLinkageHops = 3
)

// Policy is the guardrail configuration, as written in soar.yaml under
// `guardrails:`. The zero value is a valid policy with the defaults.
type Policy struct {
	// ProtectedCIDRs are networks never blocked, in addition to
	// [DefaultProtectedCIDRs] (loopback, RFC 1918, CGNAT, link-local, the
	// metadata address): list your offices, VPN egress and partners here.
	ProtectedCIDRs []string `json:"protected_cidrs,omitempty" yaml:"protected_cidrs"`
	// MinPrefixV4 and MinPrefixV6 are the broadest blocks accepted; zero
	// means the default.
	MinPrefixV4 int `json:"min_prefix_v4,omitempty" yaml:"min_prefix_v4"`
	MinPrefixV6 int `json:"min_prefix_v6,omitempty" yaml:"min_prefix_v6"`
	// ProtectedInstances are instance IDs (i-…) or tags ("tag:env=prod").
	// Isolating, stopping or running commands on them needs an approval even
	// if the playbook has none.
	ProtectedInstances []string `json:"protected_instances,omitempty" yaml:"protected_instances"`
	// ProtectedAccessKeys are access keys never disabled, in addition to the
	// keys soar itself uses (added at start-up).
	ProtectedAccessKeys []string `json:"protected_access_keys,omitempty" yaml:"protected_access_keys"`
	// Budgets cap how often an action runs; past a budget further runs wait
	// for an approval instead of running.
	Budgets []Budget `json:"budgets,omitempty" yaml:"budgets"`
	// RequireApproval are policy approvals that playbook authors cannot
	// remove.
	RequireApproval []ApprovalRule `json:"require_approval,omitempty" yaml:"require_approval"`
	// MaxLinkageHops bounds chains of linkage alerts; zero means the default.
	MaxLinkageHops int `json:"max_linkage_hops,omitempty" yaml:"max_linkage_hops"`
	// ApprovalTimeout is how long a policy approval waits before it is
	// rejected; zero means 24h.
	ApprovalTimeout time.Duration `json:"approval_timeout,omitempty" yaml:"approval_timeout"`
}

// Budget caps one action: at most Max runs per Window across all workers.
type Budget struct {
	// Action is an action name, or "*" for every mutating action.
	Action string        `json:"action" yaml:"action"`
	Max    int           `json:"max" yaml:"max"`
	Window time.Duration `json:"window" yaml:"window"`
	// Approvers approve runs past the budget; empty means the policy's
	// default group (the first group in soar.yaml approvers).
	Approvers []string `json:"approvers,omitempty" yaml:"approvers"`
}

// ApprovalRule adds an approval gate to every action step it matches.
type ApprovalRule struct {
	// Name identifies the rule in the Temporal UI and in errors.
	Name string `json:"name" yaml:"name"`
	// When is CEL over action (string), params (map) and alert.
	When string `json:"when" yaml:"when"`
	// Approvers are users or groups from soar.yaml.
	Approvers []string `json:"approvers" yaml:"approvers"`
	// Quorum is the number of approvals needed; zero means 1.
	Quorum int `json:"quorum,omitempty" yaml:"quorum"`
}

// DefaultProtectedCIDRs are the networks soar never blocks whatever the
// configuration: loopback, RFC 1918, carrier-grade NAT (which holds Alibaba
// Cloud's metadata and internal service addresses), link-local, unique-local
// IPv6, the unspecified and broadcast addresses, and the IPv6 ranges that
// embed IPv4 addresses (IPv4-mapped, NAT64 and 6to4), which could otherwise
// name a protected IPv4 network in IPv6 form. IPv4-mapped targets are
// checked as IPv4 (see [Guard.CheckBlock]); the mapped range is listed too
// so that no path can block it as IPv6.
func DefaultProtectedCIDRs() []string {
	return []string{
		"0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"100.64.0.0/10", "169.254.0.0/16", "100.100.100.200/32", "255.255.255.255/32",
		"::/128", "::1/128", "fe80::/10", "fc00::/7",
		"::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16",
	}
}

// mappedV4 is the IPv4-mapped IPv6 range, ::ffff:0:0/96 (RFC 4291).
func mappedV4() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff}), 96)
}

// Problems lists every problem of the policy, for config validation.
func (p Policy) Problems() []error {
	var errs []error
	for i, c := range p.ProtectedCIDRs {
		if _, err := parsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("protected_cidrs[%d]: %w", i, err))
		}
	}
	if p.MinPrefixV4 < 0 || p.MinPrefixV4 > 32 {
		errs = append(errs, fmt.Errorf("min_prefix_v4: %d is not a prefix length (0-32)", p.MinPrefixV4))
	}
	if p.MinPrefixV6 < 0 || p.MinPrefixV6 > 128 {
		errs = append(errs, fmt.Errorf("min_prefix_v6: %d is not a prefix length (0-128)", p.MinPrefixV6))
	}
	for i, s := range p.ProtectedInstances {
		if strings.HasPrefix(s, "tag:") {
			if k, _, ok := strings.Cut(strings.TrimPrefix(s, "tag:"), "="); !ok || k == "" {
				errs = append(errs, fmt.Errorf("protected_instances[%d]: %q: want tag:key=value", i, s))
			}
		} else if s == "" {
			errs = append(errs, fmt.Errorf("protected_instances[%d]: empty", i))
		}
	}
	for i, b := range p.Budgets {
		if err := budgetActionProblem(b.Action); err != nil {
			errs = append(errs, fmt.Errorf("budgets[%d].action: %w", i, err))
		}
		if b.Max < 1 {
			errs = append(errs, fmt.Errorf("budgets[%d].max: %d, want at least 1", i, b.Max))
		}
		if b.Window <= 0 {
			errs = append(errs, fmt.Errorf("budgets[%d].window: required (a duration such as 1h)", i))
		}
	}
	for i, r := range p.RequireApproval {
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("require_approval[%d].name: required", i))
		}
		if strings.TrimSpace(r.When) == "" {
			errs = append(errs, fmt.Errorf("require_approval[%d].when: required (CEL over action, params and alert)", i))
		}
		if len(r.Approvers) == 0 {
			errs = append(errs, fmt.Errorf("require_approval[%d].approvers: required", i))
		}
	}
	if p.MaxLinkageHops < 0 {
		errs = append(errs, fmt.Errorf("max_linkage_hops: %d, want 0 (default) or more", p.MaxLinkageHops))
	}
	return errs
}

// budgetActionProblem reports why action cannot carry a budget: it must be
// "*" or a catalog action whose runs the incident workflow counts, that is
// a mutating one (workflows.budgetNeed skips the others).
func budgetActionProblem(action string) error {
	if action == "" {
		return errors.New("required")
	}
	if action == "*" {
		return nil
	}
	var counted []string
	for _, s := range activities.Catalog() {
		if s.Mutating {
			counted = append(counted, s.Name)
		}
	}
	spec, ok := activities.Lookup(action)
	if !ok {
		return fmt.Errorf("%q is not an action%s", action, suggest.DidYouMean(action, append(counted, "*")))
	}
	if !spec.Mutating {
		return fmt.Errorf("%q changes nothing, so its runs are not counted and a budget on it would never apply; budgets apply to \"*\" and %s",
			action, strings.Join(counted, ", "))
	}
	return nil
}

// Hops returns the linkage hop limit with the default applied.
func (p Policy) Hops() int {
	if p.MaxLinkageHops == 0 {
		return DefaultMaxLinkageHops
	}
	return p.MaxLinkageHops
}

// Guard is a compiled [Policy]. It is immutable and safe for concurrent use.
type Guard struct {
	protected   []netip.Prefix
	minV4       int
	minV6       int
	instanceIDs []string
	instanceTag map[string][]string // key → values
	ownKeys     []string
	policy      Policy
}

// New compiles p. ownAccessKeys are the keys soar itself signs with; they
// are never disabled. It returns an error listing every problem of p.
func New(p Policy, ownAccessKeys ...string) (*Guard, error) {
	if errs := p.Problems(); len(errs) > 0 {
		return nil, fmt.Errorf("guardrails: %w", errors.Join(errs...))
	}
	g := &Guard{minV4: p.MinPrefixV4, minV6: p.MinPrefixV6, instanceTag: map[string][]string{}, policy: p}
	if g.minV4 == 0 {
		g.minV4 = DefaultMinPrefixV4
	}
	if g.minV6 == 0 {
		g.minV6 = DefaultMinPrefixV6
	}
	for _, c := range DefaultProtectedCIDRs() {
		// Parsed as written: parsePrefix would turn ::ffff:0:0/96 into
		// 0.0.0.0/0.
		g.protected = append(g.protected, netip.MustParsePrefix(c).Masked())
	}
	for _, c := range p.ProtectedCIDRs {
		pfx, _ := parsePrefix(c) // checked by Problems
		g.protected = append(g.protected, pfx)
	}
	for _, s := range p.ProtectedInstances {
		if tag, ok := strings.CutPrefix(s, "tag:"); ok {
			k, v, _ := strings.Cut(tag, "=")
			g.instanceTag[k] = append(g.instanceTag[k], v)
			continue
		}
		g.instanceIDs = append(g.instanceIDs, s)
	}
	for _, k := range append(slices.Clone(p.ProtectedAccessKeys), ownAccessKeys...) {
		if k != "" {
			g.ownKeys = append(g.ownKeys, k)
		}
	}
	return g, nil
}

// Policy returns the policy g was compiled from.
func (g *Guard) Policy() Policy { return g.policy }

// DeniedError is a guardrail refusal. Activities turn it into a
// non-retryable error of type activities.ErrTypeGuardDenied.
type DeniedError struct {
	// Rule is the guardrail: protected_cidrs, min_prefix, invalid_target,
	// protected_instances, own_access_key.
	Rule   string
	Target string
	Reason string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("guardrail %s refused %q: %s", e.Rule, e.Target, e.Reason)
}

// CheckBlock reports whether target, an IP address or CIDR, may be blocked.
// It refuses unparsable targets, protected networks (any overlap), and CIDRs
// broader than the configured minimum prefix, with a *[DeniedError]. An
// IPv4-mapped target (::ffff:10.0.0.1, ::ffff:203.0.113.0/120) is checked
// as the IPv4 network it names; an IPv6 CIDR that covers the whole mapped
// range (::ffff:0:0/95, ::/64) is refused as too broad, since it covers
// every IPv4 address.
func (g *Guard) CheckBlock(target string) error {
	pfx, err := parsePrefix(target)
	if err != nil {
		return &DeniedError{Rule: "invalid_target", Target: target, Reason: err.Error()}
	}
	if m := mappedV4(); pfx.Addr().Is6() && pfx.Bits() < m.Bits() && pfx.Contains(m.Addr()) {
		return &DeniedError{Rule: "min_prefix", Target: target,
			Reason: fmt.Sprintf("a /%d covers the IPv4-mapped range %s, that is every IPv4 address", pfx.Bits(), m)}
	}
	if pfx.Addr().Is4() && pfx.Bits() < g.minV4 {
		return &DeniedError{Rule: "min_prefix", Target: target,
			Reason: fmt.Sprintf("a /%d is broader than the broadest allowed block /%d", pfx.Bits(), g.minV4)}
	}
	if pfx.Addr().Is6() && pfx.Bits() < g.minV6 {
		return &DeniedError{Rule: "min_prefix", Target: target,
			Reason: fmt.Sprintf("a /%d is broader than the broadest allowed block /%d", pfx.Bits(), g.minV6)}
	}
	for _, p := range g.protected {
		if p.Overlaps(pfx) {
			return &DeniedError{Rule: "protected_cidrs", Target: target, Reason: fmt.Sprintf("overlaps the protected network %s", p)}
		}
	}
	return nil
}

// InstanceProtected reports whether the instance, by ID or by one of its
// tags, is listed in protected_instances.
func (g *Guard) InstanceProtected(instanceID string, tags map[string]string) bool {
	if slices.Contains(g.instanceIDs, instanceID) {
		return true
	}
	for k, v := range tags {
		if slices.Contains(g.instanceTag[k], v) {
			return true
		}
	}
	return false
}

// CheckInstance refuses a disruptive action (isolate, stop, run_command) on
// a protected instance unless the step was approved.
func (g *Guard) CheckInstance(instanceID string, tags map[string]string, approved bool) error {
	if approved || !g.InstanceProtected(instanceID, tags) {
		return nil
	}
	return &DeniedError{Rule: "protected_instances", Target: instanceID,
		Reason: "the instance is protected: this action needs an approval"}
}

// CheckAccessKey refuses to disable one of soar's own access keys or a
// protected one.
func (g *Guard) CheckAccessKey(accessKeyID string) error {
	if slices.Contains(g.ownKeys, accessKeyID) {
		return &DeniedError{Rule: "own_access_key", Target: accessKeyID,
			Reason: "soar itself uses this key (or it is listed in protected_access_keys)"}
	}
	return nil
}

// parsePrefix parses an IP address (as a single-address prefix) or a CIDR,
// masked. An IPv4-mapped address or CIDR of /96 or longer becomes the IPv4
// one it names (::ffff:10.0.0.0/104 → 10.0.0.0/8), so that it meets the
// IPv4 checks; a shorter CIDR over the mapped range stays IPv6.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("empty address")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		p = p.Masked()
		if m := mappedV4(); p.Bits() >= m.Bits() && m.Contains(p.Addr()) {
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-m.Bits()), nil
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// CanonicalTarget returns target as a canonical CIDR (203.0.113.7 →
// 203.0.113.7/32), the form cloud rules store. IPv4-mapped targets come
// back in IPv4 form (::ffff:203.0.113.7 → 203.0.113.7/32).
func CanonicalTarget(target string) (string, error) {
	p, err := parsePrefix(target)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

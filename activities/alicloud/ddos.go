package alicloud

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ddoscoo"

	"github.com/opensoar/soar/activities"
)

const (
	// ddosListMax is the longest black (or white) list of a website
	// (ConfigWebIpSet: BlackList.N, N ≤ 200).
	ddosListMax = 200
)

// ccModes are the CC protection templates of ConfigWebCCTemplate, from
// the weakest to the strictest: normal, emergency (under attack), strict
// and super strict.
var ccModes = []string{"default", "gf_under_attack", "gf_sos_verify", "gf_sos_enhance"}

var domainRE = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)

// ccDetails is what set_cc_mode heartbeats before switching, so that a
// retried attempt still reports the mode before the first.
type ccDetails struct {
	Domain       string `json:"domain"`
	PreviousMode string `json:"previous_mode"`
}

// webRule is a protected website's configuration.
type webRule struct {
	Domain     string
	BlackList  []string
	WhiteList  []string
	CCEnabled  bool
	CCTemplate string
}

// webRule reads one protected website; an unknown domain is CloudNotFound.
func (s *session) webRule(c *ddoscoo.Client, domain string) (webRule, error) {
	req := ddoscoo.CreateDescribeWebRulesRequest()
	req.Domain = domain
	req.PageNumber = requests.NewInteger(1)
	req.PageSize = requests.NewInteger(10)
	resp, err := c.DescribeWebRules(req)
	if err != nil {
		return webRule{}, classify("ddoscoo.DescribeWebRules "+domain, err)
	}
	for _, r := range resp.WebRules {
		if strings.EqualFold(r.Domain, domain) {
			return webRule{Domain: r.Domain, BlackList: r.BlackList, WhiteList: r.WhiteList, CCEnabled: r.CcEnabled, CCTemplate: r.CcTemplate}, nil
		}
	}
	return webRule{}, notFound("domain %s is not a website protected by Anti-DDoS Pro/Premium in account %s (request %s)", domain, s.account, resp.RequestId)
}

// blackWhiteListOn reports whether a website's black/white list switch is
// on (DescribeWebCcProtectSwitch); the lists only act while it is.
func (s *session) blackWhiteListOn(c *ddoscoo.Client, domain string) (bool, error) {
	req := ddoscoo.CreateDescribeWebCcProtectSwitchRequest()
	req.Domains = &[]string{domain}
	resp, err := c.DescribeWebCcProtectSwitch(req)
	if err != nil {
		return false, classify("ddoscoo.DescribeWebCcProtectSwitch "+domain, err)
	}
	for _, sw := range resp.ProtectSwitchList {
		if strings.EqualFold(sw.Domain, domain) {
			return sw.BlackWhiteListEnable == 1, nil
		}
	}
	return false, notFound("domain %s has no protection switches in account %s (request %s)", domain, s.account, resp.RequestId)
}

func checkDomain(d string) error {
	if d == "" {
		return invalidInput("domain is required")
	}
	if !domainRE.MatchString(d) {
		return invalidInput("domain %q is not a domain name", d)
	}
	return nil
}

// DDoSBlacklistIP adds IPs to the blacklist of a website protected by
// Anti-DDoS Pro/Premium. ConfigWebIpSet replaces both lists, so the
// current lists are read and sent back whole. changed_ips lists only the
// addresses this call added, which is what the inverse removes. Every
// address is checked against the guardrails.
func (a *Activities) DDoSBlacklistIP(ctx context.Context, in activities.DDoSBlacklistInput) (activities.DDoSBlacklistOutput, error) {
	return a.editBlacklist(ctx, in, true)
}

// DDoSUnblacklistIP removes IPs from a protected website's blacklist.
// Addresses not on it are ignored; an empty list changes nothing.
func (a *Activities) DDoSUnblacklistIP(ctx context.Context, in activities.DDoSBlacklistInput) (activities.DDoSBlacklistOutput, error) {
	return a.editBlacklist(ctx, in, false)
}

func (a *Activities) editBlacklist(ctx context.Context, in activities.DDoSBlacklistInput, add bool) (activities.DDoSBlacklistOutput, error) {
	out := activities.DDoSBlacklistOutput{Domain: in.Domain, ChangedIPs: []string{}, Blacklist: []string{}}
	if err := checkDomain(in.Domain); err != nil {
		return out, err
	}
	if add && len(in.IPs) == 0 {
		return out, invalidInput("ips is required")
	}
	var addrs []string
	for _, ip := range in.IPs {
		canon := a.canonicalBlock
		if !add {
			canon = canonicalTarget
		}
		cidr, err := canon(ip)
		if err != nil {
			return out, err
		}
		if addr := plainAddress(cidr); !slices.Contains(addrs, addr) {
			addrs = append(addrs, addr)
		}
	}
	s, err := a.session(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	c, err := s.ddoscoo()
	if err != nil {
		return out, err
	}
	unlock, err := a.locks.lock(ctx, "ddos/"+s.account+"/"+strings.ToLower(in.Domain))
	if err != nil {
		return out, err
	}
	defer unlock()
	rule, err := s.webRule(c, in.Domain)
	if err != nil {
		return out, err
	}
	next := slices.Clone(rule.BlackList)
	for _, addr := range addrs {
		switch {
		case add && !containsAddress(next, addr):
			next = append(next, addr)
			out.ChangedIPs = append(out.ChangedIPs, addr)
		case !add && containsAddress(next, addr):
			next = slices.DeleteFunc(next, func(x string) bool { return sameAddress(x, addr) })
			out.ChangedIPs = append(out.ChangedIPs, addr)
		}
	}
	out.Blacklist = append(out.Blacklist, rule.BlackList...)
	var warn []string
	if add {
		on, err := s.blackWhiteListOn(c, rule.Domain)
		if err != nil {
			return out, err
		}
		if !on {
			out.Warning = fmt.Sprintf("the black/white list switch of %s is off: its blacklist blocks nothing until the switch is turned on (ModifyWebIpSetSwitch; soar does not turn it on)", in.Domain)
			warn = append(warn, "warning: "+out.Warning)
		}
	}
	verb := "add to"
	if !add {
		verb = "remove from"
	}
	if len(out.ChangedIPs) == 0 {
		what := "already on"
		if !add {
			what = "not on"
		}
		out.Outcome = outcome(in.Meta, false, append([]string{planf("%s %s the blacklist of %s", strings.Join(addrs, ", "), what, in.Domain)}, warn...))
		return out, nil
	}
	if len(next) > ddosListMax {
		return out, quota("the blacklist of %s would hold %d addresses; Anti-DDoS allows %d", in.Domain, len(next), ddosListMax)
	}
	plan := append([]string{planf("%s the blacklist of %s: %s", verb, in.Domain, strings.Join(out.ChangedIPs, ", "))}, warn...)
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	req := ddoscoo.CreateConfigWebIpSetRequest()
	req.Domain = rule.Domain
	black, white := slices.Clone(next), slices.Clone(rule.WhiteList)
	req.BlackList, req.WhiteList = &black, &white
	if _, err := c.ConfigWebIpSet(req); err != nil {
		return out, classify("ddoscoo.ConfigWebIpSet "+in.Domain, err)
	}
	after, err := s.webRule(c, in.Domain)
	if err != nil {
		return out, err
	}
	for _, addr := range out.ChangedIPs {
		if containsAddress(after.BlackList, addr) != add {
			return out, fmt.Errorf("ddoscoo.ConfigWebIpSet %s: %s is not %sed after the update (a concurrent change?)", in.Domain, addr, map[bool]string{true: "add", false: "remov"}[add])
		}
	}
	out.Blacklist = append(out.Blacklist[:0], after.BlackList...)
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("anti-ddos blacklist changed", "domain", in.Domain, "added", add, "ips", len(out.ChangedIPs))
	return out, nil
}

// DDoSSetCCMode switches a protected website's CC protection template to
// a stricter one and reports the one before, which the inverse restores.
// A current mode already stricter than the one asked for is kept: success
// with changed false, mode and previous_mode both the stricter mode (so
// that the inverse, if run, keeps it too) and a plan line saying so; only
// restore_cc_mode sets a weaker mode. A current mode soar does not know is
// replaced, with a note in the plan.
func (a *Activities) DDoSSetCCMode(ctx context.Context, in activities.DDoSCCModeInput) (activities.DDoSCCModeOutput, error) {
	return a.setCCMode(ctx, in, true)
}

// DDoSRestoreCCMode sets a protected website's CC protection template back
// (to set_cc_mode's previous_mode), weaker or not.
func (a *Activities) DDoSRestoreCCMode(ctx context.Context, in activities.DDoSCCModeInput) (activities.DDoSCCModeOutput, error) {
	return a.setCCMode(ctx, in, false)
}

// setCCMode sets the mode; stricterOnly keeps a stricter current one.
func (a *Activities) setCCMode(ctx context.Context, in activities.DDoSCCModeInput, stricterOnly bool) (activities.DDoSCCModeOutput, error) {
	out := activities.DDoSCCModeOutput{Domain: in.Domain, Mode: in.Mode}
	if err := checkDomain(in.Domain); err != nil {
		return out, err
	}
	if !slices.Contains(ccModes, in.Mode) {
		return out, invalidInput("mode %q: want one of %s", in.Mode, strings.Join(ccModes, ", "))
	}
	s, err := a.session(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	c, err := s.ddoscoo()
	if err != nil {
		return out, err
	}
	rule, err := s.webRule(c, in.Domain)
	if err != nil {
		return out, err
	}
	out.PreviousMode = rule.CCTemplate
	var prev ccDetails
	resumed := previousDetails(ctx, &prev) && strings.EqualFold(prev.Domain, in.Domain) && prev.PreviousMode != ""
	if resumed {
		out.PreviousMode = prev.PreviousMode
	}
	var plan []string
	if !rule.CCEnabled {
		plan = append(plan, planf("CC protection of %s is off: the mode takes effect once it is on", in.Domain))
	}
	if rule.CCTemplate == in.Mode {
		out.Outcome = outcome(in.Meta, resumed, append(plan, planf("the CC mode of %s is already %s", in.Domain, in.Mode)))
		return out, nil
	}
	if cur := slices.Index(ccModes, rule.CCTemplate); stricterOnly && cur > slices.Index(ccModes, in.Mode) {
		// Someone (an operator in the storm) already chose a stricter
		// mode: that is what was asked for and more. Nothing changes, and
		// previous_mode is that stricter mode, so that the inverse keeps
		// it even if run (a resumed attempt's weaker record is ignored:
		// the stricter mode was set after it).
		out.Mode, out.PreviousMode = rule.CCTemplate, rule.CCTemplate
		plan = append(plan, planf("the CC mode of %s is %s, stricter than %s (%s): the stricter mode is kept",
			in.Domain, rule.CCTemplate, in.Mode, strings.Join(ccModes, " < ")))
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	} else if stricterOnly && cur < 0 {
		plan = append(plan, planf("the CC mode %q of %s is not one soar knows: it is replaced without comparing strictness", rule.CCTemplate, in.Domain))
	}
	plan = append(plan, planf("switch the CC mode of %s from %s to %s", in.Domain, rule.CCTemplate, in.Mode))
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	heartbeat(ctx, ccDetails{Domain: in.Domain, PreviousMode: out.PreviousMode})
	req := ddoscoo.CreateConfigWebCCTemplateRequest()
	req.Domain = rule.Domain
	req.Template = in.Mode
	if _, err := c.ConfigWebCCTemplate(req); err != nil {
		return out, classify("ddoscoo.ConfigWebCCTemplate "+in.Domain, err)
	}
	after, err := s.webRule(c, in.Domain)
	if err != nil {
		return out, err
	}
	if after.CCTemplate != in.Mode {
		return out, fmt.Errorf("ddoscoo.ConfigWebCCTemplate %s: the mode is %s after the update, want %s", in.Domain, after.CCTemplate, in.Mode)
	}
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("anti-ddos cc mode changed", "domain", in.Domain, "mode", in.Mode, "previous_mode", out.PreviousMode)
	return out, nil
}

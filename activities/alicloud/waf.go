package alicloud

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/opensoar/soar/activities"
)

const (
	// wafVersion is the WAF 3.0 API version (no package in the classic SDK).
	wafVersion = "2021-10-01"
	// wafScene is the defense scene of IP blacklists.
	wafScene = "ip_blacklist"
	// wafTemplateName is the ip_blacklist template soar creates per WAF
	// instance (bound to every protected object) and keeps.
	wafTemplateName = "soar-blocklist"
	// wafRulePrefix names soar's rules: soar-blocklist-<n>.
	wafRulePrefix = "soar-blocklist-"
	// wafIPsPerRule is how many addresses soar puts in one rule (the
	// documented WAF 2.0 limit; 3.0 is not documented).
	wafIPsPerRule = 200
	// wafPageSize is the page size of WAF listings.
	wafPageSize = 50
)

// wafClient is a WAF 3.0 CommonRequest client bound to an invocation.
type wafClient struct {
	s      *session
	c      *sdk.Client
	region string
}

func (s *session) wafClient() (*wafClient, error) {
	c, region, err := s.waf()
	if err != nil {
		return nil, err
	}
	return &wafClient{s: s, c: c, region: region}, nil
}

// call sends one WAF 3.0 API call (POST, form parameters in the body) and
// decodes the JSON answer into out. Cloud errors come back classified.
func (w *wafClient) call(action string, query, form map[string]string, out any) error {
	return classify("waf."+action, w.callRaw(action, query, form, out))
}

// callRaw is call with the SDK's own error, for the callers that branch on
// its code (isNotFound) before classifying it.
func (w *wafClient) callRaw(action string, query, form map[string]string, out any) error {
	req := requests.NewCommonRequest()
	req.Method = "POST"
	req.Product, req.Version, req.ApiName = "waf-openapi", wafVersion, action
	if w.s.acct.Endpoint == "" {
		req.Domain = "wafopenapi." + w.region + ".aliyuncs.com"
	}
	req.QueryParams["RegionId"] = w.region
	for k, v := range query {
		req.QueryParams[k] = v
	}
	for k, v := range form {
		req.FormParams[k] = v
	}
	req.SetReadTimeout(w.s.a.callTimeout(w.s.ctx))
	resp, err := w.c.ProcessCommonRequest(req)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}

// wafRule is a defense rule with its decoded configuration.
type wafRule struct {
	ID     int64
	Name   string
	Status int
	Config map[string]any
}

func (r wafRule) addresses() []string {
	list, _ := r.Config["remoteAddr"].([]any)
	out := make([]string, 0, len(list))
	for _, a := range list {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (r wafRule) soar() bool { return strings.HasPrefix(r.Name, "soar-") }

// instance resolves the WAF instance: the input, the account's
// waf_instance_id, else the region's instance (DescribeInstance).
func (w *wafClient) instance(id string) (string, error) {
	if id == "" {
		id = w.s.acct.WAFInstanceID
	}
	if id != "" {
		return id, checkID("instance_id", id)
	}
	var resp struct{ InstanceId string }
	if err := w.call("DescribeInstance", nil, nil, &resp); err != nil {
		return "", err
	}
	if resp.InstanceId == "" {
		return "", notConfigured("account %s has no WAF 3.0 instance in %s (set waf_instance_id)", w.s.account, w.region)
	}
	return resp.InstanceId, nil
}

// lockWAF opens the WAF client of an invocation, resolves the instance
// (see instance) and takes the instance's lock, which serialises soar's
// changes to its ip_blacklist rules inside this worker. unlock releases it.
func (a *Activities) lockWAF(ctx context.Context, cloud activities.Cloud, instanceID string) (w *wafClient, id string, unlock func(), err error) {
	s, err := a.session(ctx, cloud)
	if err != nil {
		return nil, "", nil, err
	}
	if w, err = s.wafClient(); err != nil {
		return nil, "", nil, err
	}
	if id, err = w.instance(instanceID); err != nil {
		return nil, "", nil, err
	}
	if unlock, err = a.locks.lock(ctx, "waf/"+s.account+"/"+id); err != nil {
		return nil, "", nil, err
	}
	return w, id, unlock, nil
}

// blocklist reads soar's ip_blacklist template of the instance (0 when
// there is none yet) and, when there is one, its rules.
func (w *wafClient) blocklist(instanceID string) (templateID int64, rules []wafRule, err error) {
	if templateID, err = w.template(instanceID); err != nil || templateID == 0 {
		return 0, nil, err
	}
	if rules, err = w.rules(instanceID, templateID); err != nil {
		return 0, nil, err
	}
	return templateID, rules, nil
}

// template finds soar's ip_blacklist template; 0 if there is none.
func (w *wafClient) template(instanceID string) (int64, error) {
	for page := 1; page <= 20; page++ {
		var resp struct {
			TotalCount int
			Templates  []struct {
				TemplateId   int64
				TemplateName string
				DefenseScene string
			}
		}
		q := map[string]string{"InstanceId": instanceID, "DefenseScene": wafScene, "TemplateName": wafTemplateName,
			"PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(wafPageSize)}
		if err := w.call("DescribeDefenseTemplates", q, nil, &resp); err != nil {
			return 0, err
		}
		for _, t := range resp.Templates {
			if t.TemplateName == wafTemplateName && t.DefenseScene == wafScene {
				return t.TemplateId, nil
			}
		}
		if page*wafPageSize >= resp.TotalCount {
			break
		}
	}
	return 0, nil
}

// createTemplate creates soar's ip_blacklist template and binds it to every
// protected object of the instance.
func (w *wafClient) createTemplate(instanceID string) (int64, error) {
	var created struct{ TemplateId int64 }
	q := map[string]string{"InstanceId": instanceID, "TemplateName": wafTemplateName, "TemplateType": "user_custom",
		"TemplateStatus": "1", "DefenseScene": wafScene, "TemplateOrigin": "custom",
		"Description": "IP blacklist managed by soar"}
	if err := w.call("CreateDefenseTemplate", q, nil, &created); err != nil {
		return 0, err
	}
	if err := w.bindAll(instanceID, created.TemplateId); err != nil {
		return 0, err
	}
	w.s.log.Info("waf template created", "instance_id", instanceID, "template_id", created.TemplateId)
	return created.TemplateId, nil
}

// bindAll binds the template to every protected object of the instance.
func (w *wafClient) bindAll(instanceID string, templateID int64) error {
	var resources []string
	for page := 1; page <= 40; page++ {
		var resp struct {
			TotalCount int
			Resources  []struct{ Resource string }
		}
		q := map[string]string{"InstanceId": instanceID, "PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(wafPageSize)}
		if err := w.call("DescribeDefenseResources", q, nil, &resp); err != nil {
			return err
		}
		for _, r := range resp.Resources {
			resources = append(resources, r.Resource)
		}
		if page*wafPageSize >= resp.TotalCount {
			break
		}
	}
	for chunk := range slices.Chunk(resources, 200) {
		b, _ := json.Marshal(chunk)
		q := map[string]string{"InstanceId": instanceID, "TemplateId": strconv.FormatInt(templateID, 10), "BindResources": string(b)}
		if err := w.call("ModifyTemplateResources", q, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// rules lists the ip_blacklist rules of a template.
func (w *wafClient) rules(instanceID string, templateID int64) ([]wafRule, error) {
	query, _ := json.Marshal(map[string]any{"scene": wafScene, "templateId": templateID})
	var out []wafRule
	for page := 1; page <= 100; page++ {
		var resp struct {
			TotalCount int
			Rules      []struct {
				RuleId     int64
				RuleName   string
				Status     int
				TemplateId int64
				Config     string
			}
		}
		q := map[string]string{"InstanceId": instanceID, "RuleType": "defense", "Query": string(query),
			"PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(wafPageSize)}
		if err := w.call("DescribeDefenseRules", q, nil, &resp); err != nil {
			return nil, err
		}
		for _, r := range resp.Rules {
			if r.TemplateId != 0 && r.TemplateId != templateID {
				continue
			}
			cfg := map[string]any{}
			if r.Config != "" {
				if err := json.Unmarshal([]byte(r.Config), &cfg); err != nil {
					return nil, fmt.Errorf("waf rule %d: config is not JSON: %w", r.RuleId, err)
				}
			}
			out = append(out, wafRule{ID: r.RuleId, Name: r.RuleName, Status: r.Status, Config: cfg})
		}
		if page*wafPageSize >= resp.TotalCount || len(resp.Rules) == 0 {
			break
		}
	}
	return out, nil
}

// modify rewrites a rule's configuration with a new address list (the
// full configuration is sent back, as the API replaces it).
func (w *wafClient) modify(instanceID string, templateID int64, r wafRule, addrs []string) error {
	cfg := map[string]any{}
	for k, v := range r.Config {
		cfg[k] = v
	}
	cfg["id"], cfg["name"], cfg["remoteAddr"] = r.ID, r.Name, addrs
	if _, ok := cfg["action"]; !ok {
		cfg["action"] = "block"
	}
	if _, ok := cfg["status"]; !ok {
		cfg["status"] = r.Status
	}
	b, err := json.Marshal([]map[string]any{cfg})
	if err != nil {
		return fmt.Errorf("waf rule %d: encode: %w", r.ID, err)
	}
	q := map[string]string{"InstanceId": instanceID, "TemplateId": strconv.FormatInt(templateID, 10), "DefenseScene": wafScene, "DefenseType": "template"}
	return w.call("ModifyDefenseRule", q, map[string]string{"Rules": string(b)}, nil)
}

// ruleWith returns the rule holding addr.
func ruleWith(rules []wafRule, addr string) (wafRule, bool) {
	for _, r := range rules {
		if containsAddress(r.addresses(), addr) {
			return r, true
		}
	}
	return wafRule{}, false
}

// WAFBlockIP adds the IP to one of soar's ip_blacklist rules (at most 200
// addresses each) in soar's WAF 3.0 template, creating the template (bound
// to every protected object) and rules as needed. An IP already in a rule
// of the template is success with changed false and that rule's ID.
func (a *Activities) WAFBlockIP(ctx context.Context, in activities.WAFBlockIPInput) (activities.WAFBlockIPOutput, error) {
	cidr, err := a.canonicalBlock(in.IP)
	if err != nil {
		return activities.WAFBlockIPOutput{IP: in.IP}, err
	}
	addr := plainAddress(cidr)
	out := activities.WAFBlockIPOutput{IP: addr}
	w, id, unlock, err := a.lockWAF(ctx, in.Cloud, in.InstanceID)
	if err != nil {
		return out, err
	}
	defer unlock()
	out.InstanceID = id
	tid, rules, err := w.blocklist(out.InstanceID)
	if err != nil {
		return out, err
	}
	if tid != 0 {
		out.TemplateID = strconv.FormatInt(tid, 10)
		if r, ok := ruleWith(rules, addr); ok {
			out.RuleID = strconv.FormatInt(r.ID, 10)
			out.Outcome = outcome(in.Meta, false, []string{planf("%s is already blocked by WAF rule %s (%d) of %s", addr, r.Name, r.ID, out.InstanceID)})
			return out, nil
		}
	}
	var plan []string
	switch {
	case tid == 0:
		plan = append(plan, planf("create the WAF ip_blacklist template %s in %s, bound to every protected object", wafTemplateName, out.InstanceID))
	case len(rules) == 0:
		// An attempt that created the template may have failed before it
		// bound it; an emptied template may predate protected objects
		// added since. Binding is idempotent: bind again.
		plan = append(plan, planf("bind the WAF template %s of %s to every protected object", wafTemplateName, out.InstanceID))
	}
	target := -1
	for i, r := range rules {
		if r.soar() && len(r.addresses()) < wafIPsPerRule {
			target = i
			break
		}
	}
	name := ""
	if target >= 0 {
		name = rules[target].Name
		plan = append(plan, planf("add %s to the WAF rule %s (%d)", addr, name, rules[target].ID))
	} else {
		name = nextWAFRuleName(rules)
		plan = append(plan, planf("create the WAF ip_blacklist rule %s blocking %s", name, addr))
	}
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	switch {
	case tid == 0:
		if tid, err = w.createTemplate(out.InstanceID); err != nil {
			return out, err
		}
		out.TemplateID = strconv.FormatInt(tid, 10)
	case len(rules) == 0:
		if err := w.bindAll(out.InstanceID, tid); err != nil {
			return out, err
		}
	}
	if target >= 0 {
		if err := w.modify(out.InstanceID, tid, rules[target], append(rules[target].addresses(), addr)); err != nil {
			return out, err
		}
	} else {
		b, _ := json.Marshal([]map[string]any{{"name": name, "remoteAddr": []string{addr}, "action": "block", "status": 1}})
		q := map[string]string{"InstanceId": out.InstanceID, "TemplateId": out.TemplateID, "DefenseScene": wafScene, "DefenseType": "template"}
		if err := w.call("CreateDefenseRule", q, map[string]string{"Rules": string(b)}, nil); err != nil {
			return out, err
		}
	}
	// Read back: the rule ID, and that no concurrent writer lost our IP.
	rules, err = w.rules(out.InstanceID, tid)
	if err != nil {
		return out, err
	}
	r, ok := ruleWith(rules, addr)
	if !ok {
		return out, fmt.Errorf("waf block %s: the address is not in any rule after the update (a concurrent change?)", addr)
	}
	out.RuleID = strconv.FormatInt(r.ID, 10)
	out.Outcome = outcome(in.Meta, true, plan)
	w.s.log.Info("waf ip blocked", "ip", addr, "instance_id", out.InstanceID, "rule_id", r.ID)
	return out, nil
}

// nextWAFRuleName is soar-blocklist-<n> with n one past the highest in use.
func nextWAFRuleName(rules []wafRule) string {
	n := 0
	for _, r := range rules {
		if v, err := strconv.Atoi(strings.TrimPrefix(r.Name, wafRulePrefix)); err == nil && strings.HasPrefix(r.Name, wafRulePrefix) && v > n {
			n = v
		}
	}
	return fmt.Sprintf("%s%d", wafRulePrefix, n+1)
}

// WAFUnblockIP removes the IP from soar's ip_blacklist rules (the rule
// named by rule_id, else every soar rule holding it); a rule left empty is
// deleted. A rule soar did not create is left alone even when rule_id
// names it (block_ip reports an operator's rule that already lists the
// IP). An IP on no soar rule is success with changed false. soar's
// template stays, empty (see the package doc).
func (a *Activities) WAFUnblockIP(ctx context.Context, in activities.WAFUnblockIPInput) (activities.WAFUnblockIPOutput, error) {
	cidr, err := canonicalTarget(in.IP)
	if err != nil {
		return activities.WAFUnblockIPOutput{IP: in.IP}, err
	}
	addr := plainAddress(cidr)
	out := activities.WAFUnblockIPOutput{IP: addr}
	var ruleID int64
	if in.RuleID != "" {
		if ruleID, err = strconv.ParseInt(in.RuleID, 10, 64); err != nil {
			return out, invalidInput("rule_id %q is not a WAF rule ID", in.RuleID)
		}
	}
	w, id, unlock, err := a.lockWAF(ctx, in.Cloud, in.InstanceID)
	if err != nil {
		return out, err
	}
	defer unlock()
	out.InstanceID = id
	tid, rules, err := w.blocklist(out.InstanceID)
	if err != nil {
		return out, err
	}
	var plan []string
	var touched []wafRule
	for _, r := range rules {
		if !containsAddress(r.addresses(), addr) || (ruleID != 0 && r.ID != ruleID) {
			continue
		}
		if !r.soar() {
			plan = append(plan, planf("WAF rule %s (%d) was not created by soar: %s left in it", r.Name, r.ID, addr))
			continue
		}
		touched = append(touched, r)
		if len(r.addresses()) == 1 {
			plan = append(plan, planf("delete the WAF rule %s (%d): %s is its last address", r.Name, r.ID, addr))
		} else {
			plan = append(plan, planf("remove %s from the WAF rule %s (%d)", addr, r.Name, r.ID))
		}
	}
	if len(touched) == 0 {
		out.Outcome = outcome(in.Meta, false, append(plan, planf("%s is on no soar WAF rule of %s", addr, out.InstanceID)))
		return out, nil
	}
	out.RuleID = strconv.FormatInt(touched[0].ID, 10)
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	for _, r := range touched {
		rest := slices.DeleteFunc(r.addresses(), func(x string) bool { return sameAddress(x, addr) })
		if len(rest) == 0 {
			q := map[string]string{"InstanceId": out.InstanceID, "TemplateId": strconv.FormatInt(tid, 10), "RuleIds": strconv.FormatInt(r.ID, 10)}
			if err := w.callRaw("DeleteDefenseRule", q, nil, nil); err != nil && !isNotFound(err) {
				return out, classify("waf.DeleteDefenseRule", err)
			}
			out.RuleDeleted = true
			continue
		}
		if err := w.modify(out.InstanceID, tid, r, rest); err != nil {
			return out, err
		}
	}
	out.Outcome = outcome(in.Meta, true, plan)
	w.s.log.Info("waf ip unblocked", "ip", addr, "instance_id", out.InstanceID, "rule_id", out.RuleID)
	return out, nil
}

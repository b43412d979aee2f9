package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// wafProduct is WAF 3.0 (waf-openapi 2021-10-01). The classic SDK has no
// package for it; clients use CommonRequest, with Rules in the form body.
func wafProduct() *product {
	return &product{
		name: "waf-openapi", version: "2021-10-01", host: "wafopenapi.cn-hangzhou.aliyuncs.com",
		actions: map[string]handler{
			"DescribeInstance":         (*Server).wafDescribeInstance,
			"DescribeDefenseResources": (*Server).wafDescribeDefenseResources,
			"DescribeDefenseTemplates": (*Server).wafDescribeDefenseTemplates,
			"CreateDefenseTemplate":    (*Server).wafCreateDefenseTemplate,
			"ModifyTemplateResources":  (*Server).wafModifyTemplateResources,
			"DescribeDefenseRules":     (*Server).wafDescribeDefenseRules,
			"CreateDefenseRule":        (*Server).wafCreateDefenseRule,
			"ModifyDefenseRule":        (*Server).wafModifyDefenseRule,
			"ModifyDefenseRuleStatus":  (*Server).wafModifyDefenseRuleStatus,
			"DeleteDefenseRule":        (*Server).wafDeleteDefenseRule,
		},
	}
}

// wafInstance returns the WAF instance named by the InstanceId parameter.
func (s *Server) wafInstance(p params) (*WAFInstance, error) {
	id, err := p.required("InstanceId")
	if err != nil {
		return nil, err
	}
	in := findPtr(s.st.WAF.Instances, func(i *WAFInstance) bool { return i.ID == id })
	if in == nil {
		return nil, errNotFound("InvalidInstanceId.NotFound", fmt.Sprintf("The WAF instance %q does not exist.", id))
	}
	return in, nil
}

// wafTemplate returns the instance's template with the given ID.
func (s *Server) wafTemplate(instanceID, raw string) (*WAFTemplate, error) {
	if raw == "" {
		return nil, errMissing("TemplateId")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, errInvalid("TemplateId", raw)
	}
	t := findPtr(s.st.WAF.Templates, func(t *WAFTemplate) bool { return t.ID == id && t.InstanceID == instanceID })
	if t == nil {
		return nil, errNotFound("InvalidTemplateId.NotFound", fmt.Sprintf("The defense template %d does not exist.", id))
	}
	return t, nil
}

func (s *Server) wafDescribeInstance(rc *reqCtx) (obj, error) {
	if len(s.st.WAF.Instances) == 0 {
		return obj{}, nil
	}
	in := s.st.WAF.Instances[0]
	return obj{
		"InstanceId": in.ID,
		"Edition":    in.Edition,
		"Status":     in.Status,
		"RegionId":   s.st.Region,
		"PayType":    "PREPAY",
		"InDebt":     "0",
		"StartTime":  rc.now.AddDate(0, -6, 0).UnixMilli(),
		"EndTime":    rc.now.AddDate(0, 6, 0).UnixMilli(),
	}, nil
}

func (s *Server) wafDescribeDefenseResources(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	pg, err := pageOf(rc.p, 10, 100)
	if err != nil {
		return nil, err
	}
	var items []obj
	for _, r := range in.Resources {
		items = append(items, obj{"Resource": r, "ResourceOrigin": "custom", "Product": "waf", "Pattern": strings.TrimSuffix(r, "-waf")})
	}
	return obj{"TotalCount": len(items), "Resources": orEmpty(pageSlice(pg, items))}, nil
}

func (s *Server) wafDescribeDefenseTemplates(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	pg, err := pageOf(rc.p, 10, 100)
	if err != nil {
		return nil, err
	}
	p := rc.p
	var items []obj
	for _, t := range s.st.WAF.Templates {
		ok := t.InstanceID == in.ID &&
			eqOrEmpty(p.get("DefenseScene"), t.Scene) &&
			eqOrEmpty(p.get("TemplateType"), t.Type) &&
			eqOrEmpty(p.get("TemplateId"), strconv.FormatInt(t.ID, 10)) &&
			(p.get("TemplateName") == "" || strings.Contains(t.Name, p.get("TemplateName")))
		if !ok {
			continue
		}
		items = append(items, obj{
			"TemplateId":     t.ID,
			"TemplateName":   t.Name,
			"TemplateStatus": t.Status,
			"TemplateType":   t.Type,
			"TemplateOrigin": t.Origin,
			"DefenseScene":   t.Scene,
			"Description":    t.Description,
			"GmtModified":    t.GmtModified.UnixMilli(),
		})
	}
	return obj{"TotalCount": len(items), "Templates": orEmpty(pageSlice(pg, items))}, nil
}

func (s *Server) wafCreateDefenseTemplate(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	p := rc.p
	var vals [5]string
	for i, k := range []string{"TemplateName", "TemplateType", "TemplateStatus", "DefenseScene", "TemplateOrigin"} {
		if vals[i], err = p.required(k); err != nil {
			return nil, err
		}
	}
	name, typ, status, scene, origin := vals[0], vals[1], vals[2], vals[3], vals[4]
	if utf8.RuneCountInString(name) > 255 {
		return nil, errBadRequest("InvalidParameter", "The TemplateName is longer than 255 characters.")
	}
	if typ != "user_default" && typ != "user_custom" {
		return nil, errBadRequest("InvalidParameter", fmt.Sprintf("The TemplateType %q is not user_default or user_custom.", typ))
	}
	st, err := strconv.Atoi(status)
	if err != nil || (st != 0 && st != 1) {
		return nil, errBadRequest("InvalidParameter", fmt.Sprintf("The TemplateStatus %q is not 0 or 1.", status))
	}
	if typ == "user_default" && slices.ContainsFunc(s.st.WAF.Templates, func(t WAFTemplate) bool {
		return t.InstanceID == in.ID && t.Scene == scene && t.Type == "user_default"
	}) {
		return nil, errBadRequest("DefaultTemplateExists", fmt.Sprintf("The %s scene already has a default template.", scene))
	}
	t := WAFTemplate{
		ID:          nextNumber(5000, s.st.WAF.Templates, func(t WAFTemplate) int64 { return t.ID }),
		InstanceID:  in.ID,
		Name:        name,
		Scene:       scene,
		Type:        typ,
		Origin:      origin,
		Status:      st,
		Description: p.get("Description"),
		GmtModified: rc.now,
	}
	s.st.WAF.Templates = append(s.st.WAF.Templates, t)
	rc.changed = true
	return obj{"TemplateId": t.ID}, nil
}

func (s *Server) wafModifyTemplateResources(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	t, err := s.wafTemplate(in.ID, rc.p.get("TemplateId"))
	if err != nil {
		return nil, err
	}
	lists := map[string][]string{}
	for _, k := range []string{"BindResources", "UnbindResources", "BindResourceGroups", "UnbindResourceGroups"} {
		v, err := rc.p.list(k)
		if err != nil {
			return nil, err
		}
		if len(v) > 200 {
			return nil, errBadRequest("InvalidParameter", "At most 200 values may be given in "+k+".")
		}
		lists[k] = v
	}
	for _, r := range lists["BindResources"] {
		if !slices.Contains(in.Resources, r) {
			return nil, errNotFound("InvalidResource.NotFound", fmt.Sprintf("The protected object %q does not exist.", r))
		}
	}
	bind := func(have []string, add, remove []string) []string {
		for _, a := range add {
			if !slices.Contains(have, a) {
				have = append(have, a)
			}
		}
		return slices.DeleteFunc(have, func(x string) bool { return slices.Contains(remove, x) })
	}
	before := fmt.Sprint(t.Resources, t.ResourceGroups)
	t.Resources = bind(t.Resources, lists["BindResources"], lists["UnbindResources"])
	t.ResourceGroups = bind(t.ResourceGroups, lists["BindResourceGroups"], lists["UnbindResourceGroups"])
	if fmt.Sprint(t.Resources, t.ResourceGroups) != before {
		t.GmtModified = rc.now
		rc.changed = true
	}
	return obj{}, nil
}

// wafRuleJSON renders a rule as DescribeDefenseRules does: the rule's
// configuration is a JSON string.
func wafRuleJSON(r WAFRule) obj {
	cfg := map[string]any{}
	for k, v := range r.Extra {
		cfg[k] = v
	}
	if r.RemoteAddr != nil || r.Scene == "ip_blacklist" {
		cfg["remoteAddr"] = orEmpty(r.RemoteAddr)
	}
	if r.Action != "" {
		cfg["action"] = r.Action
	}
	data, _ := json.Marshal(cfg)
	return obj{
		"RuleId":        r.ID,
		"RuleName":      r.Name,
		"DefenseScene":  r.Scene,
		"DefenseOrigin": "custom",
		"DefenseType":   "template",
		"TemplateId":    r.TemplateID,
		"Status":        r.Status,
		"Config":        string(data),
		"GmtModified":   r.GmtModified.UnixMilli(),
	}
}

func (s *Server) wafDescribeDefenseRules(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	q := map[string]any{}
	if v := rc.p.get("Query"); v != "" {
		if err := json.Unmarshal([]byte(v), &q); err != nil {
			return nil, errBadRequest("InvalidParameter", "The Query is not a JSON object.")
		}
	}
	str := func(k string) string {
		switch v := q[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatInt(int64(v), 10)
		}
		return ""
	}
	pg, err := pageOf(rc.p, 10, 100)
	if err != nil {
		return nil, err
	}
	var items []obj
	for _, r := range s.st.WAF.Rules {
		ok := r.InstanceID == in.ID &&
			eqOrEmpty(str("scene"), r.Scene) &&
			eqOrEmpty(str("templateId"), strconv.FormatInt(r.TemplateID, 10)) &&
			eqOrEmpty(firstNonEmpty(str("ruleId"), str("id")), strconv.FormatInt(r.ID, 10)) &&
			eqOrEmpty(str("status"), strconv.Itoa(r.Status)) &&
			(str("name") == "" || strings.Contains(r.Name, str("name")))
		if ok {
			items = append(items, wafRuleJSON(r))
		}
	}
	return obj{"TotalCount": len(items), "Rules": orEmpty(pageSlice(pg, items))}, nil
}

// wafRuleInput is one element of the Rules JSON array.
type wafRuleInput map[string]any

// wafRulesParam decodes the Rules parameter (a JSON array of objects).
func wafRulesParam(p params) ([]wafRuleInput, error) {
	raw, err := p.required("Rules")
	if err != nil {
		return nil, err
	}
	var rules []wafRuleInput
	if err := json.Unmarshal([]byte(raw), &rules); err != nil {
		return nil, errBadRequest("InvalidParameter", "The Rules parameter is not a JSON array of rule objects: "+err.Error())
	}
	if len(rules) == 0 {
		return nil, errBadRequest("InvalidParameter", "The Rules parameter is an empty array.")
	}
	return rules, nil
}

// apply sets r's configuration from the rule JSON, validating it.
func (in wafRuleInput) apply(r *WAFRule, maxIPs int) error {
	name, _ := in["name"].(string)
	if name == "" || utf8.RuneCountInString(name) > 255 {
		return errBadRequest("InvalidParameter", "Each rule needs a name of 1 to 255 characters.")
	}
	r.Name = name
	r.Extra = nil
	r.Action, r.Status, r.RemoteAddr = "", 1, nil
	for k, v := range in {
		switch k {
		case "id", "name":
		case "remoteAddr":
			list, ok := v.([]any)
			if !ok {
				return errBadRequest("InvalidParameter", "remoteAddr must be a JSON array of addresses.")
			}
			for _, a := range list {
				addr, ok := a.(string)
				if !ok || !validAddress(addr) {
					return errBadRequest("InvalidParameter", fmt.Sprintf("remoteAddr %v is not an IP address or CIDR block.", a))
				}
				if !slices.Contains(r.RemoteAddr, addr) {
					r.RemoteAddr = append(r.RemoteAddr, addr)
				}
			}
		case "action":
			a, _ := v.(string)
			if a != "block" && a != "monitor" {
				return errBadRequest("InvalidParameter", fmt.Sprintf("action %v is not block or monitor.", v))
			}
			r.Action = a
		case "status":
			n, ok := v.(float64)
			if !ok || (n != 0 && n != 1) {
				return errBadRequest("InvalidParameter", fmt.Sprintf("status %v is not 0 or 1.", v))
			}
			r.Status = int(n)
		default:
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			r.Extra[k] = v
		}
	}
	if r.Scene == "ip_blacklist" {
		if len(r.RemoteAddr) == 0 {
			return errBadRequest("InvalidParameter", "An ip_blacklist rule needs a non-empty remoteAddr; delete the rule instead.")
		}
		if len(r.RemoteAddr) > maxIPs {
			return errBadRequest("InvalidParameter", fmt.Sprintf("An ip_blacklist rule holds at most %d addresses; got %d.", maxIPs, len(r.RemoteAddr)))
		}
		if r.Action == "" {
			r.Action = "block"
		}
	}
	return nil
}

func (s *Server) wafCreateDefenseRule(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	scene, err := rc.p.required("DefenseScene")
	if err != nil {
		return nil, err
	}
	if dt := rc.p.get("DefenseType"); dt != "" && dt != "template" {
		return nil, errBadRequest("InvalidParameter", fmt.Sprintf("DefenseType %q is not supported by the sandbox; use template.", dt))
	}
	t, err := s.wafTemplate(in.ID, rc.p.get("TemplateId"))
	if err != nil {
		return nil, err
	}
	if t.Scene != scene {
		return nil, errBadRequest("InvalidParameter", fmt.Sprintf("The template %d is for scene %s, not %s.", t.ID, t.Scene, scene))
	}
	inputs, err := wafRulesParam(rc.p)
	if err != nil {
		return nil, err
	}
	var rules []WAFRule
	for _, input := range inputs {
		r := WAFRule{InstanceID: in.ID, TemplateID: t.ID, Scene: scene, GmtModified: rc.now}
		if err := input.apply(&r, s.opts.WAFIPsPerRule); err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	var ids []string
	for _, r := range rules {
		r.ID = nextNumber(20000, s.st.WAF.Rules, func(r WAFRule) int64 { return r.ID })
		s.st.WAF.Rules = append(s.st.WAF.Rules, r)
		ids = append(ids, strconv.FormatInt(r.ID, 10))
	}
	rc.changed = true
	return obj{"RuleIds": strings.Join(ids, ",")}, nil
}

// wafRule returns the instance's rule with the given ID.
func (s *Server) wafRule(instanceID string, id int64) (*WAFRule, error) {
	r := findPtr(s.st.WAF.Rules, func(r *WAFRule) bool { return r.ID == id && r.InstanceID == instanceID })
	if r == nil {
		return nil, errNotFound("InvalidRuleId.NotFound", fmt.Sprintf("The defense rule %d does not exist.", id))
	}
	return r, nil
}

func (s *Server) wafModifyDefenseRule(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	inputs, err := wafRulesParam(rc.p)
	if err != nil {
		return nil, err
	}
	updated := map[*WAFRule]WAFRule{}
	for _, input := range inputs {
		idv, ok := input["id"].(float64)
		if !ok {
			return nil, errBadRequest("InvalidParameter", "Each rule of ModifyDefenseRule needs its numeric id.")
		}
		r, err := s.wafRule(in.ID, int64(idv))
		if err != nil {
			return nil, err
		}
		if tid := rc.p.get("TemplateId"); tid != "" && tid != strconv.FormatInt(r.TemplateID, 10) {
			return nil, errNotFound("InvalidRuleId.NotFound", fmt.Sprintf("The rule %d is not in template %s.", r.ID, tid))
		}
		next := *r
		if err := input.apply(&next, s.opts.WAFIPsPerRule); err != nil {
			return nil, err
		}
		next.GmtModified = rc.now
		updated[r] = next
	}
	for r, next := range updated {
		*r = next
	}
	rc.changed = true
	return obj{}, nil
}

func (s *Server) wafModifyDefenseRuleStatus(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	id, err := rc.p.int64("RuleId")
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, errMissing("RuleId")
	}
	if rc.p.get("RuleStatus") == "" {
		return nil, errMissing("RuleStatus")
	}
	status, err := rc.p.integerIn("RuleStatus", 0, 0, 1)
	if err != nil {
		return nil, err
	}
	r, err := s.wafRule(in.ID, id)
	if err != nil {
		return nil, err
	}
	if r.Status != status {
		r.Status, r.GmtModified = status, rc.now
		rc.changed = true
	}
	return obj{}, nil
}

func (s *Server) wafDeleteDefenseRule(rc *reqCtx) (obj, error) {
	in, err := s.wafInstance(rc.p)
	if err != nil {
		return nil, err
	}
	raw := rc.p.csv("RuleIds")
	if len(raw) == 0 {
		return nil, errMissing("RuleIds")
	}
	var ids []int64
	for _, v := range raw {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errInvalid("RuleIds", v)
		}
		if _, err := s.wafRule(in.ID, id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	s.st.WAF.Rules = slices.DeleteFunc(s.st.WAF.Rules, func(r WAFRule) bool {
		return r.InstanceID == in.ID && slices.Contains(ids, r.ID)
	})
	rc.changed = true
	return obj{}, nil
}

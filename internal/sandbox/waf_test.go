package sandbox_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/sandbox"
)

// wafRequest is a WAF 3.0 CommonRequest as the actions send it.
func (e *testEnv) waf(action string, query map[string]string) *requests.CommonRequest {
	r := e.common("waf-openapi", "2021-10-01", action, map[string]string{"RegionId": region})
	for k, v := range query {
		r.QueryParams[k] = v
	}
	return r
}

func TestWAF_BlockFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{WAFIPsPerRule: 3})

	inst := e.call(t, e.waf("DescribeInstance", nil))
	if inst["InstanceId"] != wafID {
		t.Fatalf("DescribeInstance = %v, want %s", inst, wafID)
	}
	tpls := e.call(t, e.waf("DescribeDefenseTemplates", map[string]string{"InstanceId": wafID, "DefenseScene": "ip_blacklist"}))
	if tpls["TotalCount"] != float64(0) || len(tpls["Templates"].([]any)) != 0 {
		t.Fatalf("ip_blacklist templates = %v, want none in the default world", tpls)
	}
	created := e.call(t, e.waf("CreateDefenseTemplate", map[string]string{
		"InstanceId": wafID, "TemplateName": "soar-blacklist", "TemplateType": "user_custom", "TemplateStatus": "1",
		"DefenseScene": "ip_blacklist", "TemplateOrigin": "custom",
	}))
	templateID := strconv.FormatInt(int64(created["TemplateId"].(float64)), 10)
	e.call(t, e.waf("ModifyTemplateResources", map[string]string{"InstanceId": wafID, "TemplateId": templateID,
		"BindResources": `["www.example.com-waf"]`}))

	create := e.waf("CreateDefenseRule", map[string]string{"InstanceId": wafID, "DefenseScene": "ip_blacklist", "TemplateId": templateID})
	create.FormParams["Rules"] = `[{"name":"soar-inc-1-1","remoteAddr":["203.0.113.7","198.51.100.0/24"],"action":"block","status":1}]`
	ruleIDs := e.call(t, create)["RuleIds"].(string)
	if ruleIDs == "" || strings.Contains(ruleIDs, ",") {
		t.Fatalf("RuleIds = %q, want one ID", ruleIDs)
	}

	rules := e.call(t, e.waf("DescribeDefenseRules", map[string]string{"InstanceId": wafID,
		"Query": `{"scene":"ip_blacklist","templateId":` + templateID + `}`}))
	list := rules["Rules"].([]any)
	if len(list) != 1 {
		t.Fatalf("Rules = %v, want one (a flat array)", rules["Rules"])
	}
	rule := list[0].(map[string]any)
	var cfg struct {
		RemoteAddr []string `json:"remoteAddr"`
		Action     string   `json:"action"`
	}
	if err := json.Unmarshal([]byte(rule["Config"].(string)), &cfg); err != nil {
		t.Fatalf("Config %v is not JSON: %v", rule["Config"], err)
	}
	if rule["RuleName"] != "soar-inc-1-1" || cfg.Action != "block" ||
		!slices.Equal(cfg.RemoteAddr, []string{"203.0.113.7", "198.51.100.0/24"}) {
		t.Errorf("rule = %v config %+v", rule, cfg)
	}

	modify := e.waf("ModifyDefenseRule", map[string]string{"InstanceId": wafID, "TemplateId": templateID, "DefenseScene": "ip_blacklist"})
	modify.FormParams["Rules"] = `[{"id":` + ruleIDs + `,"name":"soar-inc-1-1","remoteAddr":["203.0.113.7","198.51.100.0/24","192.0.2.9"],"action":"block"}]`
	e.call(t, modify)
	id, _ := strconv.ParseInt(ruleIDs, 10, 64)
	r, ok := e.srv.State().WAF.Rule(id)
	if !ok || !slices.Equal(r.RemoteAddr, []string{"203.0.113.7", "198.51.100.0/24", "192.0.2.9"}) {
		t.Errorf("state rule = %+v, want three addresses", r)
	}

	t.Run("too many addresses", func(t *testing.T) {
		modify.FormParams["Rules"] = `[{"id":` + ruleIDs + `,"name":"x","remoteAddr":["192.0.2.1","192.0.2.2","192.0.2.3","192.0.2.4"]}]`
		_, err := e.core(t).ProcessCommonRequest(modify)
		wantServerError(t, err, "InvalidParameter", 400)
	})
	t.Run("malformed rules", func(t *testing.T) {
		create.FormParams["Rules"] = `{"name":`
		_, err := e.core(t).ProcessCommonRequest(create)
		wantServerError(t, err, "InvalidParameter", 400)
	})
	t.Run("unknown template", func(t *testing.T) {
		bad := e.waf("CreateDefenseRule", map[string]string{"InstanceId": wafID, "DefenseScene": "ip_blacklist", "TemplateId": "1"})
		bad.FormParams["Rules"] = `[{"name":"x","remoteAddr":["192.0.2.1"]}]`
		_, err := e.core(t).ProcessCommonRequest(bad)
		wantServerError(t, err, "InvalidTemplateId.NotFound", 404)
	})

	e.call(t, e.waf("DeleteDefenseRule", map[string]string{"InstanceId": wafID, "TemplateId": templateID, "RuleIds": ruleIDs}))
	if got := e.srv.State().WAF.RulesWithAddress("203.0.113.7"); len(got) != 0 {
		t.Errorf("rules with 203.0.113.7 after delete = %+v", got)
	}
	_, err := e.core(t).ProcessCommonRequest(e.waf("DeleteDefenseRule", map[string]string{"InstanceId": wafID, "RuleIds": ruleIDs}))
	wantServerError(t, err, "InvalidRuleId.NotFound", 404)

	tpl, _ := e.srv.State().WAF.Template(mustInt64(t, templateID))
	if diff := cmp.Diff([]string{"www.example.com-waf"}, tpl.Resources); diff != "" {
		t.Errorf("template resources (-want +got):\n%s", diff)
	}
}

func mustInt64(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	mustNoErr(t, "ParseInt "+s, err)
	return n
}

func TestWAF_ResourcesAndRuleStatus(t *testing.T) {
	t.Parallel()
	w, err := sandbox.LoadWorld("testdata/world.yaml")
	mustNoErr(t, "LoadWorld", err)
	e := newEnvWorld(t, w, sandbox.Options{})
	const inst = "waf_v3prepaid_public_cn-demo01"
	res := e.call(t, e.waf("DescribeDefenseResources", map[string]string{"InstanceId": inst}))
	if got := path(t, res, "Resources", 0, "Resource"); got != "shop.example.net-waf" {
		t.Errorf("DescribeDefenseResources = %v, want shop.example.net-waf", res)
	}
	e.call(t, e.waf("ModifyDefenseRuleStatus", map[string]string{"InstanceId": inst, "RuleId": "30001", "RuleStatus": "0"}))
	if r, _ := e.srv.State().WAF.Rule(30001); r.Status != 0 {
		t.Errorf("rule status = %d, want 0", r.Status)
	}
	_, err = e.core(t).ProcessCommonRequest(e.waf("ModifyDefenseRuleStatus", map[string]string{"InstanceId": inst, "RuleId": "30001", "RuleStatus": "2"}))
	wantServerError(t, err, "InvalidParameter.RuleStatus", 400)
	// A new rule never reuses a seeded ID.
	create := e.waf("CreateDefenseRule", map[string]string{"InstanceId": inst, "DefenseScene": "ip_blacklist", "TemplateId": "7001"})
	create.FormParams["Rules"] = `[{"name":"a","remoteAddr":["192.0.2.1"]},{"name":"b","remoteAddr":["192.0.2.2"],"action":"monitor"}]`
	ids := strings.Split(e.call(t, create)["RuleIds"].(string), ",")
	if len(ids) != 2 || ids[0] == "30001" || ids[0] == ids[1] {
		t.Errorf("RuleIds = %v, want two new IDs", ids)
	}
	if r, _ := e.srv.State().WAF.Rule(mustInt64(t, ids[1])); r.Action != "monitor" || r.Status != 1 {
		t.Errorf("rule b = %+v, want monitor, on", r)
	}
}

package sandbox_test

import (
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ddoscoo"

	"github.com/opensoar/soar/internal/sandbox"
)

func (e *testEnv) ddos(t testing.TB) *ddoscoo.Client {
	t.Helper()
	c, err := ddoscoo.NewClientWithOptions(region, sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	mustNoErr(t, "ddoscoo.NewClientWithOptions", err)
	c.Domain = e.host
	return c
}

func TestDDoS_BlacklistAndCCMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{DDoSIPsPerList: 3})
	c := e.ddos(t)
	rules := func() ddoscoo.WebRuleInDescribeWebRules {
		req := ddoscoo.CreateDescribeWebRulesRequest()
		req.Domain = ddosDomain
		resp, err := c.DescribeWebRules(req)
		mustNoErr(t, "DescribeWebRules", err)
		if resp.TotalCount != 1 || len(resp.WebRules) != 1 {
			t.Fatalf("DescribeWebRules = %+v, want the one domain", resp)
		}
		return resp.WebRules[0]
	}
	before := rules()
	if before.CcTemplate != "default" || len(before.BlackList) != 0 || !before.CcEnabled || len(before.RealServers) != 1 {
		t.Fatalf("web rule = %+v, want CC default and an empty blacklist", before)
	}

	set := ddoscoo.CreateConfigWebIpSetRequest()
	set.Domain = ddosDomain
	set.BlackList = &[]string{"203.0.113.7", "198.51.100.0/24"}
	set.WhiteList = &[]string{"10.0.0.0/8"}
	_, err := c.ConfigWebIpSet(set)
	mustNoErr(t, "ConfigWebIpSet", err)
	after := rules()
	if !slices.Equal(after.BlackList, []string{"203.0.113.7", "198.51.100.0/24"}) || !slices.Equal(after.WhiteList, []string{"10.0.0.0/8"}) {
		t.Errorf("lists = %v / %v", after.BlackList, after.WhiteList)
	}
	// A list the call leaves out is emptied. (A fresh request: the SDK
	// keeps the parameters of a reused one.)
	set = ddoscoo.CreateConfigWebIpSetRequest()
	set.Domain = ddosDomain
	set.BlackList = &[]string{"203.0.113.7"}
	_, err = c.ConfigWebIpSet(set)
	mustNoErr(t, "ConfigWebIpSet", err)
	if d, _ := e.srv.State().DDoS.Domain(ddosDomain); !slices.Equal(d.BlackList, []string{"203.0.113.7"}) || len(d.WhiteList) != 0 {
		t.Errorf("state = %+v, want blacklist [203.0.113.7] and no whitelist", d)
	}
	set.BlackList = &[]string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}
	_, err = c.ConfigWebIpSet(set)
	wantServerError(t, err, "InvalidParameter.BlackList", 400)

	sw := ddoscoo.CreateDescribeWebCcProtectSwitchRequest()
	sw.Domains = &[]string{ddosDomain}
	swResp, err := c.DescribeWebCcProtectSwitch(sw)
	mustNoErr(t, "DescribeWebCcProtectSwitch", err)
	if len(swResp.ProtectSwitchList) != 1 || swResp.ProtectSwitchList[0].CcTemplate != "default" || swResp.ProtectSwitchList[0].CcEnable != 1 {
		t.Fatalf("protect switch = %+v, want CC on in default mode", swResp.ProtectSwitchList)
	}
	tpl := ddoscoo.CreateConfigWebCCTemplateRequest()
	tpl.Domain, tpl.Template = ddosDomain, "gf_sos_verify"
	_, err = c.ConfigWebCCTemplate(tpl)
	mustNoErr(t, "ConfigWebCCTemplate", err)
	if d, _ := e.srv.State().DDoS.Domain(ddosDomain); d.CCTemplate != "gf_sos_verify" {
		t.Errorf("CC template = %s, want gf_sos_verify", d.CCTemplate)
	}
	tpl.Template = "turbo"
	_, err = c.ConfigWebCCTemplate(tpl)
	wantServerError(t, err, "InvalidParameter.Template", 400)
	tpl.Domain, tpl.Template = "nope.example.com", "default"
	_, err = c.ConfigWebCCTemplate(tpl)
	wantServerError(t, err, "InvalidDomain.NotFound", 404)
}

func TestDDoS_Switches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ddos(t)
	sw := ddoscoo.CreateModifyWebIpSetSwitchRequest()
	sw.Domain, sw.Config = ddosDomain, `{"bwlist_enable":0}`
	_, err := c.ModifyWebIpSetSwitch(sw)
	mustNoErr(t, "ModifyWebIpSetSwitch", err)
	dis := ddoscoo.CreateDisableWebCCRequest()
	dis.Domain = ddosDomain
	_, err = c.DisableWebCC(dis)
	mustNoErr(t, "DisableWebCC", err)
	if d, _ := e.srv.State().DDoS.Domain(ddosDomain); d.BlackWhiteListEnabled || d.CCEnabled {
		t.Errorf("domain = %+v, want both switches off", d)
	}
	en := ddoscoo.CreateEnableWebCCRequest()
	en.Domain = ddosDomain
	_, err = c.EnableWebCC(en)
	mustNoErr(t, "EnableWebCC", err)
	if d, _ := e.srv.State().DDoS.Domain(ddosDomain); !d.CCEnabled {
		t.Error("CC still off after EnableWebCC")
	}
	sw = ddoscoo.CreateModifyWebIpSetSwitchRequest()
	sw.Domain, sw.Config = ddosDomain, `{"bwlist_enable":"yes"}`
	_, err = c.ModifyWebIpSetSwitch(sw)
	wantServerError(t, err, "InvalidParameter.Config", 400)
}

package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ddosProduct is Anti-DDoS Pro/Premium (ddoscoo), version 2020-01-01: the
// website (layer-7) configuration of protected domains.
func ddosProduct() *product {
	return &product{
		name: "ddoscoo", version: "2020-01-01", host: "ddoscoo.cn-hangzhou.aliyuncs.com",
		actions: map[string]handler{
			"DescribeWebRules":           (*Server).ddosDescribeWebRules,
			"ConfigWebIpSet":             (*Server).ddosConfigWebIPSet,
			"ModifyWebIpSetSwitch":       (*Server).ddosModifyWebIPSetSwitch,
			"ConfigWebCCTemplate":        (*Server).ddosConfigWebCCTemplate,
			"DescribeWebCcProtectSwitch": (*Server).ddosDescribeWebCcProtectSwitch,
			"EnableWebCC":                (*Server).ddosEnableWebCC,
			"DisableWebCC":               (*Server).ddosDisableWebCC,
		},
	}
}

// ddosDomain returns the live website named by the Domain parameter.
func (s *Server) ddosDomain(p params) (*DDoSDomain, error) {
	name, err := p.required("Domain")
	if err != nil {
		return nil, err
	}
	d := findPtr(s.st.DDoS.Domains, func(d *DDoSDomain) bool { return d.Domain == name })
	if d == nil {
		return nil, errNotFound("InvalidDomain.NotFound", fmt.Sprintf("The domain %q is not protected by this account.", name))
	}
	return d, nil
}

func (s *Server) ddosDescribeWebRules(rc *reqCtx) (obj, error) {
	p := rc.p
	pg, err := pageOf(p, 10, 100)
	if err != nil {
		return nil, err
	}
	instances := p.repeated("InstanceIds")
	domain := p.get("Domain")
	fuzzy := strings.EqualFold(p.get("QueryDomainPattern"), "fuzzy")
	var items []obj
	for _, d := range s.st.DDoS.Domains {
		ok := (domain == "" || d.Domain == domain || (fuzzy && strings.Contains(d.Domain, domain))) &&
			eqOrEmpty(p.get("Cname"), d.Cname) &&
			(len(instances) == 0 || slices.ContainsFunc(d.InstanceIDs, func(id string) bool { return slices.Contains(instances, id) }))
		if !ok {
			continue
		}
		var servers []obj
		for _, rs := range d.RealServers {
			servers = append(servers, obj{"RsType": 0, "RealServer": rs})
		}
		items = append(items, obj{
			"Domain":           d.Domain,
			"Cname":            d.Cname,
			"CcEnabled":        d.CCEnabled,
			"CcRuleEnabled":    false,
			"CcTemplate":       d.CCTemplate,
			"PolicyMode":       "default",
			"ProxyEnabled":     true,
			"BlackList":        orEmpty(d.BlackList),
			"WhiteList":        orEmpty(d.WhiteList),
			"RealServers":      orEmpty(servers),
			"ProxyTypes":       []obj{{"ProxyType": "http", "ProxyPorts": []string{"80"}}, {"ProxyType": "https", "ProxyPorts": []string{"443"}}},
			"CustomCiphers":    []string{},
			"SslProtocols":     "tls1.2",
			"SslCiphers":       "default",
			"Ssl13Enabled":     false,
			"Http2Enable":      false,
			"Http2HttpsEnable": false,
			"Https2HttpEnable": false,
			"OcspEnabled":      false,
			"PunishStatus":     false,
			"PunishReason":     0,
			"CertName":         "",
			"CertRegion":       "",
			"GmCert":           obj{"CertId": "", "GmEnable": 0, "GmOnly": 0},
		})
	}
	return obj{"TotalCount": len(items), "WebRules": orEmpty(pageSlice(pg, items))}, nil
}

// ddosConfigWebIPSet sets a website's black and white lists. Both lists are
// replaced by what the call sends: a list the call leaves out becomes
// empty, so read the current lists (DescribeWebRules) and send both.
func (s *Server) ddosConfigWebIPSet(rc *reqCtx) (obj, error) {
	d, err := s.ddosDomain(rc.p)
	if err != nil {
		return nil, err
	}
	lists := map[string][]string{}
	for _, k := range []string{"BlackList", "WhiteList"} {
		v := dedupe(rc.p.repeated(k))
		if len(v) > s.opts.DDoSIPsPerList {
			return nil, errBadRequest("InvalidParameter."+k, fmt.Sprintf("The %s holds at most %d addresses; got %d.", k, s.opts.DDoSIPsPerList, len(v)))
		}
		for _, a := range v {
			if !validAddress(a) {
				return nil, errBadRequest("InvalidParameter."+k, fmt.Sprintf("%q is not an IP address or CIDR block.", a))
			}
		}
		lists[k] = orEmpty(v)
	}
	if !slices.Equal(d.BlackList, lists["BlackList"]) || !slices.Equal(d.WhiteList, lists["WhiteList"]) {
		d.BlackList, d.WhiteList = lists["BlackList"], lists["WhiteList"]
		rc.changed = true
	}
	return obj{}, nil
}

func (s *Server) ddosModifyWebIPSetSwitch(rc *reqCtx) (obj, error) {
	d, err := s.ddosDomain(rc.p)
	if err != nil {
		return nil, err
	}
	raw, err := rc.p.required("Config")
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Enable *int `json:"bwlist_enable"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil || cfg.Enable == nil || (*cfg.Enable != 0 && *cfg.Enable != 1) {
		return nil, errBadRequest("InvalidParameter.Config", `The Config must be {"bwlist_enable":0} or {"bwlist_enable":1}.`)
	}
	if on := *cfg.Enable == 1; on != d.BlackWhiteListEnabled {
		d.BlackWhiteListEnabled = on
		rc.changed = true
	}
	return obj{}, nil
}

func (s *Server) ddosConfigWebCCTemplate(rc *reqCtx) (obj, error) {
	d, err := s.ddosDomain(rc.p)
	if err != nil {
		return nil, err
	}
	tpl, err := rc.p.required("Template")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ccTemplates(), tpl) {
		return nil, errBadRequest("InvalidParameter.Template",
			fmt.Sprintf("The Template %q is not one of %s.", tpl, strings.Join(ccTemplates(), ", ")))
	}
	if d.CCTemplate != tpl {
		d.CCTemplate = tpl
		rc.changed = true
	}
	return obj{}, nil
}

func (s *Server) ddosDescribeWebCcProtectSwitch(rc *reqCtx) (obj, error) {
	domains := rc.p.repeated("Domains")
	if len(domains) == 0 {
		return nil, errMissing("Domains.1")
	}
	flag := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	var list []obj
	for _, name := range domains {
		d, ok := s.st.DDoS.Domain(name)
		if !ok {
			continue
		}
		global := "close"
		if d.CCEnabled {
			global = "open"
		}
		list = append(list, obj{
			"Domain":               d.Domain,
			"CcEnable":             flag(d.CCEnabled),
			"CcTemplate":           d.CCTemplate,
			"CcGlobalSwitch":       global,
			"CcCustomRuleEnable":   0,
			"BlackWhiteListEnable": flag(d.BlackWhiteListEnabled),
			"PreciseRuleEnable":    0,
			"RegionBlockEnable":    0,
			"AiRuleEnable":         0,
			"AiMode":               "watch",
			"AiTemplate":           "level30",
		})
	}
	return obj{"ProtectSwitchList": orEmpty(list)}, nil
}

func (s *Server) ddosEnableWebCC(rc *reqCtx) (obj, error) { return s.ddosSetCC(rc, true) }

func (s *Server) ddosDisableWebCC(rc *reqCtx) (obj, error) { return s.ddosSetCC(rc, false) }

func (s *Server) ddosSetCC(rc *reqCtx, on bool) (obj, error) {
	d, err := s.ddosDomain(rc.p)
	if err != nil {
		return nil, err
	}
	if d.CCEnabled != on {
		d.CCEnabled = on
		rc.changed = true
	}
	return obj{}, nil
}

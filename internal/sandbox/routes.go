package sandbox

import (
	"strings"
	"time"
)

// obj is a JSON object in a response.
type obj = map[string]any

// handler answers one API action. It runs with s.mu held and sets
// rc.changed when it modifies the state.
type handler func(s *Server, rc *reqCtx) (obj, error)

// product is one cloud product's API: its version, host and actions.
type product struct {
	// name is the product code the SDK uses (Ecs, waf-openapi, …).
	name    string
	version string
	// host is the product's public endpoint, reported as HostId and as
	// ActionTrail's eventSource.
	host    string
	actions map[string]handler
	// tokens lists the actions that honour ClientToken.
	tokens map[string]bool
}

// newProducts builds the routing table: API version → product.
func newProducts() map[string]*product {
	ps := []*product{ecsProduct(), stsProduct(), ramProduct(), wafProduct(), cloudfwProduct(), sasProduct(), ddosProduct(), actiontrailProduct()}
	out := make(map[string]*product, len(ps))
	for _, p := range ps {
		out[p.version] = p
	}
	return out
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// hostOfService returns the endpoint host ActionTrail reports for a
// product's serviceName.
func hostOfService(service, region string) string {
	switch strings.ToLower(service) {
	case "ecs":
		return "ecs." + region + ".aliyuncs.com"
	case "ram":
		return "ram.aliyuncs.com"
	case "sts":
		return "sts.aliyuncs.com"
	case "cloudfw":
		return "cloudfw.aliyuncs.com"
	case "sas":
		return "tds.aliyuncs.com"
	case "waf-openapi":
		return "wafopenapi." + region + ".aliyuncs.com"
	case "ddoscoo":
		return "ddoscoo." + region + ".aliyuncs.com"
	case "actiontrail":
		return "actiontrail." + region + ".aliyuncs.com"
	case "":
		return ""
	}
	return strings.ToLower(service) + ".aliyuncs.com"
}

// serviceOfHost is the inverse of hostOfService.
func serviceOfHost(host string) string {
	first, _, _ := strings.Cut(host, ".")
	switch first {
	case "ecs":
		return "Ecs"
	case "ram":
		return "Ram"
	case "sts":
		return "Sts"
	case "cloudfw":
		return "Cloudfw"
	case "tds":
		return "Sas"
	case "wafopenapi":
		return "waf-openapi"
	case "ddoscoo":
		return "ddoscoo"
	case "actiontrail":
		return "Actiontrail"
	}
	return first
}

// readWriteOf classifies an API as ActionTrail does: Read or Write.
func readWriteOf(action string) string {
	for _, p := range []string{"Describe", "List", "Get", "Lookup", "Query", "Check"} {
		if strings.HasPrefix(action, p) {
			return "Read"
		}
	}
	return "Write"
}

// startPending returns the Pending of a new asynchronous operation, or nil
// when operations finish at once (Options.AsyncPolls < 0).
func (s *Server) startPending(now time.Time) *Pending {
	if s.opts.AsyncPolls < 0 {
		return nil
	}
	return &Pending{Polls: s.opts.AsyncPolls, Since: now}
}

// poll counts one read of a resource in a transitional status and reports
// whether its operation has now finished (clearing *p).
func (s *Server) poll(p **Pending, now time.Time) bool {
	if *p == nil {
		return true
	}
	(*p).Polls--
	if (*p).Polls <= 0 || (s.opts.AsyncDelay > 0 && now.Sub((*p).Since) >= s.opts.AsyncDelay) {
		*p = nil
		return true
	}
	return false
}

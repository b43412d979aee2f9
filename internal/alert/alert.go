// Package alert defines the normalized alert envelope every detector's
// payload becomes before playbooks match it, and the decoders that produce
// it. The envelope is a typed object in CEL (internal/expr), so a typo such
// as alert.sorce_ip fails playbook validation.
//
// The JSON field names are part of the playbook language and of workflow
// history: never rename one, only add.
package alert

import (
	"time"
)

// Severity levels of [Alert.Severity].
const (
	SeverityInfo     = 1
	SeverityLow      = 2
	SeverityMedium   = 3
	SeverityHigh     = 4
	SeverityCritical = 5
)

// Well-known sources of [Alert.Source].
const (
	SourceSAS         = "alibaba.sas"
	SourceWAF         = "alibaba.waf"
	SourceDDoS        = "alibaba.ddos"
	SourceCloudFW     = "alibaba.cloudfw"
	SourceActionTrail = "alibaba.actiontrail"
	SourceSoar        = "soar"
)

// Alert is the normalized alert envelope (its JSON shape is in the
// README, "Alerts").
type Alert struct {
	// ID is unique per alert: the vendor's ID, else a hash of the payload.
	// It is the NATS Nats-Msg-Id and the Temporal UpdateID.
	ID string `json:"id"`
	// Source is the detector, e.g. alibaba.sas.
	Source string `json:"source"`
	// Type is the normalized kind, e.g. webshell, sqli, brute_force.
	Type string `json:"type"`
	// Severity is 1 (info) to 5 (critical).
	Severity int    `json:"severity"`
	Title    string `json:"title"`
	// Time is when the detector saw it.
	Time     time.Time `json:"time"`
	Account  string    `json:"account"`
	Region   string    `json:"region"`
	SourceIP string    `json:"source_ip"`
	Resource Resource  `json:"resource"`
	HTTP     HTTP      `json:"http"`
	Process  Process   `json:"process"`
	File     File      `json:"file"`
	IOCs     IOCs      `json:"iocs"`
	// Count is how many events the detector already folded into this alert.
	Count  int               `json:"count"`
	Labels map[string]string `json:"labels"`
	// Raw is the original vendor payload (decoded JSON), possibly truncated.
	Raw any `json:"raw"`
}

// Resource is the asset an alert is about.
type Resource struct {
	InstanceID       string            `json:"instance_id"`
	InternetIP       string            `json:"internet_ip"`
	IntranetIP       string            `json:"intranet_ip"`
	Hostname         string            `json:"hostname"`
	SecurityGroupIDs []string          `json:"security_group_ids"`
	Tags             map[string]string `json:"tags"`
}

// HTTP is the request a web detector (WAF) saw.
type HTTP struct {
	Host      string `json:"host"`
	Path      string `json:"path"`
	Method    string `json:"method"`
	Status    int    `json:"status"`
	UserAgent string `json:"user_agent"`
	// Rule is the WAF rule that matched.
	Rule string `json:"rule"`
}

// Process is the process a host detector (SAS) saw.
type Process struct {
	PID     int    `json:"pid"`
	Name    string `json:"name"`
	Path    string `json:"path"`
	Cmdline string `json:"cmdline"`
	User    string `json:"user"`
}

// File is the file a host detector saw.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// IOCs are indicators of compromise.
type IOCs struct {
	IPs     []string `json:"ips"`
	Domains []string `json:"domains"`
	Hashes  []string `json:"hashes"`
}

// Normalize fills the zero values CEL would otherwise trip over: nil lists
// and maps become empty, Count is at least 1, Time is set. It does not
// invent an ID. It is idempotent.
func (a *Alert) Normalize(now time.Time) {
	if a.Count < 1 {
		a.Count = 1
	}
	if a.Time.IsZero() {
		a.Time = now.UTC()
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if a.Resource.Tags == nil {
		a.Resource.Tags = map[string]string{}
	}
	if a.Resource.SecurityGroupIDs == nil {
		a.Resource.SecurityGroupIDs = []string{}
	}
	if a.IOCs.IPs == nil {
		a.IOCs.IPs = []string{}
	}
	if a.IOCs.Domains == nil {
		a.IOCs.Domains = []string{}
	}
	if a.IOCs.Hashes == nil {
		a.IOCs.Hashes = []string{}
	}
}

package sandbox

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// World is the initial state of a sandbox: what [New] starts with and
// [Server.Reset] returns to. It has the shape of [State]; world files are
// that shape in YAML (or JSON), see testdata/world.yaml.
type World State

//go:embed default_world.yaml
var defaultWorldYAML string

// DefaultWorld returns the world soar dev and soar sandbox use unless given
// another: one VPC with web-01 and db-01 running (Cloud Assistant online,
// system and data disks, sg-web / sg-db, an existing soar-quarantine group),
// a WAF 3.0 instance, Cloud Firewall, the ddoscoo website www.example.com,
// the RAM users soar-engine (key sandbox-ak / sandbox-secret) and alice
// (an active key), Security Center events on both instances and an
// ActionTrail history of alice's leaked key. Its timestamps are relative
// to when the server starts.
func DefaultWorld() World {
	w, err := ParseWorld([]byte(defaultWorldYAML))
	if err != nil {
		// The embedded file is covered by tests; failing here is a build defect.
		panic(fmt.Sprintf("sandbox: default world: %v", err))
	}
	return w
}

// LoadWorld reads a world file (YAML, or JSON, which YAML includes),
// fills in defaults and validates it. Unknown keys are errors.
func LoadWorld(path string) (World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return World{}, fmt.Errorf("load world: %w", err)
	}
	w, err := ParseWorld(data)
	if err != nil {
		return World{}, fmt.Errorf("load world %s: %w", path, err)
	}
	return w, nil
}

// ParseWorld decodes a world from YAML or JSON, fills in defaults and
// validates it.
func ParseWorld(data []byte) (World, error) {
	var w World
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		return World{}, fmt.Errorf("decode: %w", err)
	}
	w.normalize()
	if err := w.Validate(); err != nil {
		return World{}, err
	}
	return w, nil
}

// normalize fills in the defaults a world file may leave out.
func (w *World) normalize() {
	if w.AccountID == "" {
		w.AccountID = "1234567890123456"
	}
	if w.Region == "" {
		w.Region = "cn-hangzhou"
	}
	e := &w.ECS
	for _, inst := range e.Instances {
		if inst.VpcID != "" && !slices.ContainsFunc(e.VPCs, func(v VPC) bool { return v.ID == inst.VpcID }) {
			e.VPCs = append(e.VPCs, VPC{ID: inst.VpcID})
		}
	}
	for i := range e.Instances {
		inst := &e.Instances[i]
		if inst.Status == "" {
			inst.Status = "Running"
		}
		if inst.OSType == "" {
			inst.OSType = "linux"
		}
		if inst.CloudAssistant == "" {
			inst.CloudAssistant = "online"
		}
		if inst.ZoneID == "" {
			inst.ZoneID = w.Region + "-h"
		}
		if inst.Hostname == "" {
			inst.Hostname = inst.Name
		}
		hasPrimary := slices.ContainsFunc(inst.NetworkInterfaces, func(n NetworkInterface) bool { return n.Type == "Primary" })
		for j := range inst.NetworkInterfaces {
			n := &inst.NetworkInterfaces[j]
			if n.Type == "" {
				if j == 0 && !hasPrimary {
					n.Type = "Primary"
				} else {
					n.Type = "Secondary"
				}
			}
			if n.MAC == "" {
				n.MAC = fmt.Sprintf("00:16:3e:%02x:%02x:%02x", i, j, len(n.ID)%256)
			}
		}
	}
	for i := range e.SecurityGroups {
		g := &e.SecurityGroups[i]
		if g.Type == "" {
			g.Type = "normal"
		}
		if g.InnerAccessPolicy == "" {
			g.InnerAccessPolicy = "Accept"
			if g.Type == "enterprise" {
				g.InnerAccessPolicy = "Drop"
			}
		}
		for j := range g.Rules {
			r := &g.Rules[j]
			if r.ID == "" {
				r.ID = fmt.Sprintf("sgr-%s-%d", strings.TrimPrefix(g.ID, "sg-"), j+1)
			}
			if r.Direction == "" {
				r.Direction = "ingress"
			}
			r.Policy = canonicalPolicy(r.Policy)
			if r.Priority == 0 {
				r.Priority = 1
			}
			r.IPProtocol = strings.ToUpper(r.IPProtocol)
			if r.PortRange == "" {
				r.PortRange = "-1/-1"
			}
			if r.NicType == "" {
				r.NicType = "intranet"
			}
		}
	}
	for i := range e.Disks {
		d := &e.Disks[i]
		if d.Status == "" {
			d.Status = "Available"
			if d.InstanceID != "" {
				d.Status = "In_use"
			}
		}
		if d.Category == "" {
			d.Category = "cloud_essd"
		}
	}
	for i := range e.Snapshots {
		s := &e.Snapshots[i]
		if d, ok := e.Disk(s.DiskID); ok {
			if s.DiskType == "" {
				s.DiskType = d.Type
			}
			if s.DiskSize == 0 {
				s.DiskSize = d.Size
			}
		}
		if s.Status == "" {
			s.Status = "accomplished"
		}
		if s.Progress == "" {
			s.Progress = "100%"
			if s.Status == "progressing" {
				s.Progress = "0%"
			}
		}
	}
	for i := range w.WAF.Templates {
		t := &w.WAF.Templates[i]
		if t.Type == "" {
			t.Type = "user_custom"
		}
		if t.Origin == "" {
			t.Origin = "custom"
		}
	}
	for i := range w.WAF.Rules {
		if w.WAF.Rules[i].Action == "" {
			w.WAF.Rules[i].Action = "block"
		}
	}
	for i := range w.RAM.Users {
		for j := range w.RAM.Users[i].AccessKeys {
			if w.RAM.Users[i].AccessKeys[j].Status == "" {
				w.RAM.Users[i].AccessKeys[j].Status = "Active"
			}
		}
	}
	for i := range w.SAS.Events {
		if w.SAS.Events[i].Status == 0 {
			w.SAS.Events[i].Status = 1
		}
	}
	for i := range w.DDoS.Domains {
		if w.DDoS.Domains[i].CCTemplate == "" {
			w.DDoS.Domains[i].CCTemplate = "default"
		}
	}
	for i := range w.ActionTrail.Events {
		ev := &w.ActionTrail.Events[i]
		if ev.Service == "" {
			ev.Service = serviceOfHost(ev.Source)
		}
		if ev.Source == "" {
			ev.Source = hostOfService(ev.Service, w.Region)
		}
		if ev.ReadWrite == "" {
			ev.ReadWrite = readWriteOf(ev.Name)
		}
		if ev.Type == "" {
			ev.Type = "ApiCall"
		}
	}
}

// Validate reports every inconsistency of the world: duplicate IDs,
// references to missing resources, and values the APIs never return.
func (w World) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	ids := map[string]string{}
	unique := func(path, id string) {
		if id == "" {
			bad(path, "id is empty")
			return
		}
		if prev, ok := ids[id]; ok {
			bad(path, "id %q is already used by %s", id, prev)
			return
		}
		ids[id] = path
	}
	e := w.ECS
	vpcs := map[string]bool{}
	for i, v := range e.VPCs {
		unique(fmt.Sprintf("ecs.vpcs[%d]", i), v.ID)
		vpcs[v.ID] = true
	}
	groupVPC := map[string]string{}
	for i, g := range e.SecurityGroups {
		path := fmt.Sprintf("ecs.security_groups[%d]", i)
		unique(path, g.ID)
		groupVPC[g.ID] = g.VpcID
		if !vpcs[g.VpcID] {
			bad(path, "vpc %q does not exist", g.VpcID)
		}
		if g.Type != "normal" && g.Type != "enterprise" {
			bad(path, "type %q is not normal or enterprise", g.Type)
		}
		if g.InnerAccessPolicy != "Accept" && g.InnerAccessPolicy != "Drop" {
			bad(path, "inner_access_policy %q is not Accept or Drop", g.InnerAccessPolicy)
		}
		for j, r := range g.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, j)
			unique(rp, r.ID)
			if r.Direction != "ingress" && r.Direction != "egress" {
				bad(rp, "direction %q is not ingress or egress", r.Direction)
			}
			if _, err := checkRule(r); err != nil {
				bad(rp, "%v", err)
			}
		}
	}
	for i, inst := range e.Instances {
		path := fmt.Sprintf("ecs.instances[%d]", i)
		unique(path, inst.ID)
		if !slices.Contains([]string{"Running", "Stopped", "Stopping", "Starting"}, inst.Status) {
			bad(path, "status %q is not Running, Stopped, Stopping or Starting", inst.Status)
		}
		if inst.CloudAssistant != "online" && inst.CloudAssistant != "offline" {
			bad(path, "cloud_assistant %q is not online or offline", inst.CloudAssistant)
		}
		if len(inst.NetworkInterfaces) == 0 {
			bad(path, "has no network_interfaces")
		}
		primaries := 0
		for j, n := range inst.NetworkInterfaces {
			np := fmt.Sprintf("%s.network_interfaces[%d]", path, j)
			unique(np, n.ID)
			switch n.Type {
			case "Primary":
				primaries++
			case "Secondary":
			default:
				bad(np, "type %q is not Primary or Secondary", n.Type)
			}
			if _, err := netip.ParseAddr(n.PrimaryIP); err != nil {
				bad(np, "primary_ip %q is not an IP address", n.PrimaryIP)
			}
			if len(n.SecurityGroupIDs) == 0 {
				bad(np, "has no security_group_ids")
			}
			for _, gid := range n.SecurityGroupIDs {
				vpc, ok := groupVPC[gid]
				switch {
				case !ok:
					bad(np, "security group %q does not exist", gid)
				case vpc != inst.VpcID:
					bad(np, "security group %q is in %s, the instance in %s", gid, vpc, inst.VpcID)
				}
			}
		}
		if len(inst.NetworkInterfaces) > 0 && primaries != 1 {
			bad(path, "has %d primary network interfaces, want 1", primaries)
		}
	}
	instances := map[string]bool{}
	for _, inst := range e.Instances {
		instances[inst.ID] = true
	}
	disks := map[string]bool{}
	for i, d := range e.Disks {
		path := fmt.Sprintf("ecs.disks[%d]", i)
		unique(path, d.ID)
		disks[d.ID] = true
		if d.InstanceID != "" && !instances[d.InstanceID] {
			bad(path, "instance %q does not exist", d.InstanceID)
		}
		if d.Type != "system" && d.Type != "data" {
			bad(path, "type %q is not system or data", d.Type)
		}
	}
	for i, s := range e.Snapshots {
		path := fmt.Sprintf("ecs.snapshots[%d]", i)
		unique(path, s.ID)
		if !disks[s.DiskID] {
			bad(path, "disk %q does not exist", s.DiskID)
		}
		if !slices.Contains([]string{"progressing", "accomplished", "failed"}, s.Status) {
			bad(path, "status %q is not progressing, accomplished or failed", s.Status)
		}
	}
	wafInstances := map[string]bool{}
	for i, in := range w.WAF.Instances {
		unique(fmt.Sprintf("waf.instances[%d]", i), in.ID)
		wafInstances[in.ID] = true
	}
	templates := map[int64]bool{}
	for i, t := range w.WAF.Templates {
		path := fmt.Sprintf("waf.templates[%d]", i)
		unique(path, fmt.Sprintf("waf-template-%d", t.ID))
		templates[t.ID] = true
		if !wafInstances[t.InstanceID] {
			bad(path, "waf instance %q does not exist", t.InstanceID)
		}
	}
	for i, r := range w.WAF.Rules {
		path := fmt.Sprintf("waf.rules[%d]", i)
		unique(path, fmt.Sprintf("waf-rule-%d", r.ID))
		if !templates[r.TemplateID] {
			bad(path, "template %d does not exist", r.TemplateID)
		}
		for _, a := range r.RemoteAddr {
			if !validAddress(a) {
				bad(path, "remote_addr %q is not an IP address or CIDR block", a)
			}
		}
	}
	books := map[string]bool{}
	for i, b := range w.CloudFW.AddressBooks {
		path := fmt.Sprintf("cloudfw.address_books[%d]", i)
		unique(path, b.UUID)
		if books[b.Name] {
			bad(path, "address book name %q is used twice", b.Name)
		}
		books[b.Name] = true
	}
	for i, p := range w.CloudFW.Policies {
		path := fmt.Sprintf("cloudfw.policies[%d]", i)
		unique(path, p.UUID)
		if p.Direction != "in" && p.Direction != "out" {
			bad(path, "direction %q is not in or out", p.Direction)
		}
		if p.SourceType == "group" && !books[p.Source] {
			bad(path, "source address book %q does not exist", p.Source)
		}
		if p.DestinationType == "group" && !books[p.Destination] {
			bad(path, "destination address book %q does not exist", p.Destination)
		}
	}
	for i, u := range w.RAM.Users {
		path := fmt.Sprintf("ram.users[%d]", i)
		unique(path, "user:"+u.Name)
		for j, k := range u.AccessKeys {
			kp := fmt.Sprintf("%s.access_keys[%d]", path, j)
			unique(kp, k.ID)
			if k.Secret == "" {
				bad(kp, "secret is empty")
			}
			if k.Status != "Active" && k.Status != "Inactive" {
				bad(kp, "status %q is not Active or Inactive", k.Status)
			}
		}
	}
	if w.EngineUser != "" {
		if _, ok := w.RAM.User(w.EngineUser); !ok {
			bad("engine_user", "RAM user %q does not exist", w.EngineUser)
		}
	}
	for i, r := range w.RAM.Roles {
		unique(fmt.Sprintf("ram.roles[%d]", i), "role:"+strings.ToLower(r.Name))
	}
	for i, ev := range w.SAS.Events {
		unique(fmt.Sprintf("sas.events[%d]", i), fmt.Sprintf("sas-event-%d", ev.ID))
	}
	for i, d := range w.DDoS.Domains {
		path := fmt.Sprintf("ddos.domains[%d]", i)
		unique(path, "domain:"+d.Domain)
		if !slices.Contains(ccTemplates(), d.CCTemplate) {
			bad(path, "cc_template %q is not one of %s", d.CCTemplate, strings.Join(ccTemplates(), ", "))
		}
		for _, a := range append(slices.Clone(d.BlackList), d.WhiteList...) {
			if !validAddress(a) {
				bad(path, "%q is not an IP address or CIDR block", a)
			}
		}
	}
	for i, ev := range w.ActionTrail.Events {
		path := fmt.Sprintf("actiontrail.events[%d]", i)
		unique(path, ev.ID)
		if ev.Name == "" {
			bad(path, "name is empty")
		}
	}
	return errors.Join(errs...)
}

// state returns a deep copy of the world as a State, with its timestamps
// shifted onto now when the world has an Epoch.
func (w World) state(now time.Time) State {
	st := clone(State(w))
	if !st.Epoch.IsZero() {
		shiftTimes(reflect.ValueOf(&st).Elem(), now.Sub(st.Epoch))
		st.Epoch = time.Time{}
	}
	return st
}

// shiftTimes adds d to every non-zero time.Time reachable from v.
func shiftTimes(v reflect.Value, d time.Duration) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			shiftTimes(v.Elem(), d)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if t := v.Interface().(time.Time); !t.IsZero() {
				v.Set(reflect.ValueOf(t.Add(d)))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				shiftTimes(v.Field(i), d)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			shiftTimes(v.Index(i), d)
		}
	}
}

// clone deep-copies v through JSON; every sandbox type round-trips.
func clone[T any](v T) T {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sandbox: clone %T: %v", v, err))
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		panic(fmt.Sprintf("sandbox: clone %T: %v", v, err))
	}
	return out
}

// validAddress reports whether s is an IP address or a CIDR block.
func validAddress(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// ccTemplates are the CC protection modes of ddoscoo ConfigWebCCTemplate.
func ccTemplates() []string {
	return []string{"default", "gf_under_attack", "gf_sos_verify", "gf_sos_enhance"}
}

// EngineCredentials returns the access key soar should use against a
// sandbox seeded with w: the first active key of EngineUser, else
// DefaultAccessKeyID if the world has it, else the first active key.
func (w World) EngineCredentials() (id, secret string, ok bool) {
	var first *AccessKey
	for _, u := range w.RAM.Users {
		for i := range u.AccessKeys {
			k := &u.AccessKeys[i]
			if k.Status != "Active" {
				continue
			}
			if u.Name == w.EngineUser && w.EngineUser != "" {
				return k.ID, k.Secret, true
			}
			if first == nil || k.ID == DefaultAccessKeyID {
				first = k
			}
		}
	}
	if first == nil {
		return "", "", false
	}
	return first.ID, first.Secret, true
}

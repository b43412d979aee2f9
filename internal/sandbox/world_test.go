package sandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opensoar/soar/internal/sandbox"
)

func TestDefaultWorld(t *testing.T) {
	t.Parallel()
	w := sandbox.DefaultWorld()
	if err := w.Validate(); err != nil {
		t.Fatalf("DefaultWorld().Validate() = %v", err)
	}
	st := sandbox.State(w)
	web, ok := st.ECS.Instance(webID)
	if !ok || web.Name != "web-01" || web.Status != "Running" || web.CloudAssistant != "online" {
		t.Errorf("web-01 = %+v, want running with Cloud Assistant online", web)
	}
	if got := len(st.ECS.DisksOf(dbID)); got != 2 {
		t.Errorf("db-01 has %d disks, want system + data", got)
	}
	if _, ok := st.ECS.SecurityGroupNamed(vpcID, "soar-quarantine"); !ok {
		t.Error("no soar-quarantine group")
	}
	if k, user, ok := st.RAM.AccessKey(sandbox.DefaultAccessKeyID); !ok || k.Secret != sandbox.DefaultAccessKeySecret || user != st.EngineUser {
		t.Errorf("engine key = %+v of %q, want sandbox-secret of %q", k, user, st.EngineUser)
	}
	if d, ok := st.DDoS.Domain(ddosDomain); !ok || d.CCTemplate != "default" || len(d.BlackList) != 0 {
		t.Errorf("ddos domain = %+v, want default CC mode and an empty blacklist", d)
	}
	if len(st.SAS.Events) == 0 || len(st.ActionTrail.Events) == 0 || len(st.WAF.Instances) != 1 {
		t.Error("default world lacks SAS events, trail events or the WAF instance")
	}
}

func TestLoadWorld_Example(t *testing.T) {
	t.Parallel()
	w, err := sandbox.LoadWorld("testdata/world.yaml")
	if err != nil {
		t.Fatalf("LoadWorld(testdata/world.yaml) = %v", err)
	}
	st := sandbox.State(w)
	legacy, _ := st.ECS.Instance("i-uf6demolegacy01")
	if legacy.CloudAssistant != "offline" || legacy.Status != "Running" || legacy.NetworkInterfaces[0].Type != "Primary" {
		t.Errorf("legacy-01 = %+v, want defaults filled (Running, Primary) and offline agent", legacy)
	}
	g, _ := st.ECS.SecurityGroup("sg-uf6demoapp")
	if r := g.Rules[1]; r.Policy != "Drop" || r.IPProtocol != "ALL" || r.PortRange != "-1/-1" || r.ID == "" {
		t.Errorf("rule = %+v, want normalized Drop ALL -1/-1 with an ID", r)
	}
	if k, _, _ := st.RAM.AccessKey("LTAI5tDemoCarol00002"); k.Status != "Inactive" {
		t.Errorf("carol's old key = %q, want Inactive", k.Status)
	}
}

func TestParseWorld_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "ecs: { instancez: [] }", "field instancez not found"},
		{"missing group", `
ecs:
  instances:
    - { id: i-1, name: a, vpc_id: v, network_interfaces: [{ id: eni-1, primary_ip: 10.0.0.1, security_group_ids: [sg-x] }] }`,
			`security group "sg-x" does not exist`},
		{"duplicate id", `
ecs:
  vpcs: [{ id: v }]
  security_groups: [{ id: sg-1, name: a, vpc_id: v }, { id: sg-1, name: b, vpc_id: v }]`,
			`id "sg-1" is already used`},
		{"bad rule", `
ecs:
  vpcs: [{ id: v }]
  security_groups: [{ id: sg-1, name: a, vpc_id: v, rules: [{ ip_protocol: tcp, port_range: 0/99999, source_cidr_ip: 1.2.3.4 }] }]`,
			"InvalidPortRange.Malformed"},
		{"bad cc mode", `ddos: { domains: [{ domain: a.example, cc_template: turbo }] }`, `cc_template "turbo"`},
		{"unknown engine user", `engine_user: ghost`, `RAM user "ghost" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sandbox.ParseWorld([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseWorld() error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestLoadWorld_JSONAndMissingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "w.json")
	data := `{"ram": {"users": [{"name": "soar-engine", "id": "1", "access_keys": [{"id": "k", "secret": "s"}]}]}, "engine_user": "soar-engine"}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := sandbox.LoadWorld(path)
	if err != nil {
		t.Fatalf("LoadWorld(json) = %v", err)
	}
	if w.Region != "cn-hangzhou" || w.RAM.Users[0].AccessKeys[0].Status != "Active" {
		t.Errorf("world = %+v, want the default region and an Active key", w)
	}
	if _, err := sandbox.LoadWorld(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("LoadWorld(missing) = nil error")
	}
}

func TestWorld_EpochShiftsTimes(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := sandbox.New(sandbox.DefaultWorld(), sandbox.Options{Now: func() time.Time { return now }})
	st := srv.State()
	ev, _ := st.SAS.Event(8123452) // 10 minutes before the default world's epoch
	if want := now.Add(-10 * time.Minute); !ev.OccurrenceTime.Equal(want) {
		t.Errorf("event time = %s, want %s", ev.OccurrenceTime, want)
	}
	if !st.Epoch.IsZero() {
		t.Errorf("state Epoch = %s, want zero once applied", st.Epoch)
	}
}

func TestWorld_EngineCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		yaml, id string
		ok       bool
	}{
		{`engine_user: bob
ram: { users: [{ name: alice, id: "1", access_keys: [{ id: a1, secret: s }] }, { name: bob, id: "2", access_keys: [{ id: b0, secret: s, status: Inactive }, { id: b1, secret: s }] }] }`, "b1", true},
		{`ram: { users: [{ name: alice, id: "1", access_keys: [{ id: a1, secret: s }] }, { name: x, id: "2", access_keys: [{ id: sandbox-ak, secret: s }] }] }`, "sandbox-ak", true},
		{`ram: { users: [{ name: alice, id: "1", access_keys: [{ id: a1, secret: s, status: Inactive }] }] }`, "", false},
	}
	for _, tt := range tests {
		w, err := sandbox.ParseWorld([]byte(tt.yaml))
		mustNoErr(t, "ParseWorld", err)
		if id, _, ok := w.EngineCredentials(); id != tt.id || ok != tt.ok {
			t.Errorf("EngineCredentials() = %q, %v; want %q, %v", id, ok, tt.id, tt.ok)
		}
	}
	if id, secret, _ := sandbox.DefaultWorld().EngineCredentials(); id != sandbox.DefaultAccessKeyID || secret != sandbox.DefaultAccessKeySecret {
		t.Errorf("default world engine credentials = %s/%s", id, secret)
	}
}

package workflows

import (
	"slices"
	"testing"
	"time"

	"github.com/opensoar/soar/activities"
)

// testCloud is soar.yaml's accounts as ingest passes them: prod (the
// default, UID 1234567890123456) in cn-hangzhou and staging in cn-shanghai.
func testCloud() *CloudDirectory {
	return &CloudDirectory{
		DefaultAccount: "prod",
		AccountIDs:     map[string]string{"1234567890123456": "prod", "2234567890123456": "staging"},
		Regions:        map[string]string{"prod": "cn-hangzhou", "staging": "cn-shanghai"},
	}
}

// TestHoldKey_CloudDirectory: with the directory, the account and region
// an alert leaves out, or names by UID, key the measure as the activities
// resolve them; without it (incidents opened before the directory) the
// keys stay raw.
func TestHoldKey_CloudDirectory(t *testing.T) {
	spec := mustLookup(t, activities.CloudFWBlockIP)
	out := map[string]any{"changed": true, "ip": "198.51.100.1/32", "direction": "out"}
	key := func(in map[string]any, dir *CloudDirectory) string {
		hs := rekey(spec.Inverse, holdUnits(spec, in, out), dir)
		if len(hs) != 1 {
			t.Fatalf("holds of %v = %d, want 1", in, len(hs))
		}
		return hs[0].Key
	}
	ip := map[string]any{"ip": "198.51.100.1", "direction": "out"}
	with := func(kv ...string) map[string]any {
		m := map[string]any{"ip": "198.51.100.1", "direction": "out"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	canonical := key(with("account", "prod", "region", "cn-hangzhou"), testCloud())
	for _, in := range []map[string]any{
		ip, with("account", "1234567890123456"), with("account", "", "region", ""),
		with("account", "1234567890123456", "region", "cn-hangzhou"), with("region", "cn-hangzhou"),
	} {
		if got := key(in, testCloud()); got != canonical {
			t.Errorf("key of %v = %s, want %s (prod, cn-hangzhou)", in, got, canonical)
		}
	}
	for _, in := range []map[string]any{
		with("account", "staging"), with("account", "2234567890123456"), with("region", "cn-beijing"),
		with("account", "9999", "region", "cn-hangzhou"),
	} {
		if got := key(in, testCloud()); got == canonical {
			t.Errorf("key of %v = the default account's, want another measure", in)
		}
	}
	if key(with("account", "staging"), testCloud()) != key(with("account", "2234567890123456", "region", "cn-shanghai"), testCloud()) {
		t.Error("staging by name and by UID with its region keyed apart")
	}
	// Without the directory nothing changes: old incidents keep their keys.
	if raw, named := key(ip, nil), key(with("account", "prod", "region", "cn-hangzhou"), nil); raw == named {
		t.Errorf("without a directory the empty account keyed as prod: %s", raw)
	}
	if hs := holdUnits(spec, with("account", "1234567890123456"), out); hs[0].Key != key(with("account", "1234567890123456"), nil) {
		t.Error("rekey without a directory changed the key")
	}
}

// TestHolds_AccountByUIDAndByDefault: compromised-host (a Security Center
// alert, no account) and threat-intel-c2 (a Cloud Firewall alert carrying
// the account UID) block one C&C address. Both hold it under one key: the
// first revert due only releases, the last holder undoes the block.
func TestHolds_AccountByUIDAndByDefault(t *testing.T) {
	const host, c2 = "compromised-host.i-web1", "threat-intel-c2.i-web1"
	h := newHarness(t)
	start := h.env.Now()
	h.on(activities.CloudFWBlockIP, func(c call) (map[string]any, error) {
		out, err := cloudFWOutput(c)
		out["changed"] = c.meta().Incident == host
		return out, err
	})
	a := named(testInput(blockC2(72*time.Hour)), "compromised-host")
	a.Alert.Account, a.Alert.Region = "", ""
	a.Cloud = testCloud()
	b := named(testInput(withID(blockC2(168*time.Hour), "block_ioc")), "threat-intel-c2")
	b.Alert.Account = "1234567890123456"
	b.Cloud = testCloud()
	rs := h.runIncidents(a, b)

	h.mu.Lock()
	keys := map[string]string{}
	for _, c := range h.holdCalls {
		keys[c.Req.Holder] = c.Req.Key
	}
	h.mu.Unlock()
	if len(keys) != 2 || keys[host+"/block_c2"] == "" || keys[host+"/block_c2"] != keys[c2+"/block_ioc"] {
		t.Fatalf("hold keys by holder = %v, want one key for both", keys)
	}
	undos := h.callsOf(activities.CloudFWUnblockIP)
	if len(undos) != 1 {
		t.Fatalf("%s calls = %d, want 1 (by the last holder)", activities.CloudFWUnblockIP, len(undos))
	}
	if m := undos[0].meta(); m.Incident != c2 || undos[0].At.Sub(start) != 168*time.Hour {
		t.Errorf("undone by %s after %v, want by %s after 168h", m.Incident, undos[0].At.Sub(start), c2)
	}
	// The undo uses the first changer's recorded input: no account, the
	// default one.
	if p := params(undos[0]); p["ip"] != "198.51.100.1/32" || p["account"] != nil {
		t.Errorf("inverse input = %v, want the changer's (no account)", p)
	}
	first, last := rs[0].Reverts[0], rs[1].Reverts[0]
	if want := []string{c2 + "/block_ioc until " + fmtTime(start.Add(168*time.Hour))}; first.Status != RevertReleased || !slices.Equal(first.HeldBy, want) {
		t.Errorf("first revert = %+v, want released, held by %v", first, want)
	}
	if last.Status != RevertReverted {
		t.Errorf("last revert = %+v, want reverted", last)
	}
	if keys := h.holds.keys(); len(keys) != 0 {
		t.Errorf("registry keys left = %v, want none", keys)
	}
}

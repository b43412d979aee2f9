package main

// End-to-end tests of the shipped playbooks: one soar dev stack with the
// embedded playbook set; each playbook gets its built-in sample (what
// `soar publish --sample NAME` sends, published through that very
// command), the approvals it waits for (through `soar approve`), and its
// outcome is read from the sandbox cloud (/_sandbox/state, /_sandbox/calls,
// /_sandbox/webhooks) and from Temporal (the status query, visibility).
//
// The samples share resources (web-01, db-01, 203.0.113.7, the Cloud
// Firewall blocklists, www.example.com), so every check is scoped to what
// its incident touched: snapshots by the incident named in their
// description, the Cloud Assistant invocation by the invoke ID in the step's
// output, the WAF rule and the Cloud Firewall policy by the IDs in the
// step's output, notifications by incident and step, and "contains" rather
// than "equals" for shared lists (address books). The one pair that shares
// an incident, waf-flood-to-ddos (whose linkage alert opens
// ddos-scrubbing.www.example.com) and the ddos-scrubbing sample (the same
// site), runs in order within one subtest.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities/natspub"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/sandbox"
	"github.com/opensoar/soar/playbooks"
	"github.com/opensoar/soar/workflows"
)

// Facts of the samples and the default world the playbook tests rely on.
const (
	attackerIP   = "203.0.113.7"  // the samples' attacker (SQLi, flood, SSH, reverse shell, leaked key)
	c2IP         = "203.0.113.99" // threat-intel-c2's C&C server
	poolIP       = "203.0.113.66"
	site         = "www.example.com"
	aliceKey     = "LTAI5tSandboxAlice0001"
	engineKey    = "sandbox-ak"
	cfwBookOut   = "soar-blocklist-out"
	sshLoginIP   = "198.18.7.7" // the abnormal-login variant's source
	e2ePBTimeout = 3 * time.Minute
)

// playbookCase is one shipped playbook's end-to-end check.
type playbookCase struct {
	// name is the subtest; samples are the built-in samples it publishes
	// and playbooks the shipped playbooks it covers.
	name      string
	samples   []string
	playbooks []string
	run       func(t *testing.T, s *devStack)
}

func playbookCases() []playbookCase {
	return []playbookCase{
		{"compromised-host", []string{"compromised-host"}, []string{"compromised-host"}, testCompromisedHostSample},
		{"waf-sqli-blacklist", []string{"waf-sqli-blacklist"}, []string{"waf-sqli-blacklist"}, testWAFSQLiSample},
		{"anti-ddos", []string{"waf-flood-to-ddos", "ddos-scrubbing"}, []string{"waf-flood-to-ddos", "ddos-scrubbing"}, testAntiDDoSSamples},
		{"threat-intel-c2", []string{"threat-intel-c2"}, []string{"threat-intel-c2"}, testThreatIntelSample},
		{"ssh-bruteforce", []string{"ssh-bruteforce"}, []string{"ssh-bruteforce"}, testSSHBruteForceSample},
		{"ssh-abnormal-login", nil, []string{"ssh-bruteforce"}, testSSHAbnormalLogin},
		{"leaked-access-key", []string{"leaked-access-key"}, []string{"leaked-access-key"}, testLeakedKeySample},
		{"crypto-miner", []string{"crypto-miner"}, []string{"crypto-miner"}, testCryptoMinerSample},
		{"vuln-priority", []string{"vuln-priority"}, []string{"vuln-priority"}, testVulnPrioritySample},
		{"ddos-blackhole", []string{"ddos-blackhole"}, nil, testBlackholeSample},
	}
}

// TestE2EPlaybooks publishes every shipped playbook's built-in sample into
// one soar dev running the embedded playbooks and checks the sandbox state
// each playbook promised, then that the samples opened exactly the
// incidents expected (no sample triggers a playbook it should not).
func TestE2EPlaybooks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole engine")
	}
	cases := playbookCases()
	checkCoverage(t, cases)

	dir := t.TempDir()
	s := startDev(t, filepath.Join(dir, "data"), "", freePorts(t, 4))
	defer s.stop(t)
	if banner := s.stdout.String(); !strings.Contains(banner, "playbooks  embedded (the shipped set)") {
		t.Fatalf("soar dev does not run the embedded playbooks:\n%s", banner)
	}

	t.Run("group", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { t.Parallel(); c.run(t, s) })
		}
	})
	if t.Failed() {
		return
	}
	t.Run("incidents", func(t *testing.T) { testSampleIncidents(t, s) })
}

// checkCoverage fails when a shipped playbook or a built-in sample has no
// case.
func checkCoverage(t *testing.T, cases []playbookCase) {
	t.Helper()
	covered, samples := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		for _, p := range c.playbooks {
			covered[p] = true
		}
		for _, n := range c.samples {
			samples[n] = true
		}
	}
	files, err := fs.Glob(playbooks.FS(), "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(f, ".yaml"); !strings.HasSuffix(name, ".test") && !covered[name] {
			t.Errorf("shipped playbook %s has no end-to-end case", name)
		}
	}
	for _, n := range alert.SampleNames() {
		if !samples[n] {
			t.Errorf("built-in sample %s is not published by any end-to-end case", n)
		}
	}
}

// testCompromisedHostSample: the reverse shell on web-01 → evidence
// snapshots of every disk, the C&C address in the outbound Cloud Firewall
// blocklist, secops paged, the isolation awaits secops; soar approve →
// every ENI in the quarantine group, kill_and_quarantine run with the
// quoted PID and path, the audit trail collected, the SAS event handled,
// the summary sent; the C&C block waits for its 72h revert.
func testCompromisedHostSample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := "compromised-host." + web01
	s.publishSample(ctx, t, "compromised-host")

	st := s.waitStatus(ctx, t, id, "isolate awaiting approval", func(st workflows.Status) bool {
		return len(st.Pending) == 1 && st.Pending[0].Step == "isolate"
	})
	s.waitState(ctx, t, id, workflows.StateAwaitingApproval)
	gate := st.Pending[0]
	if !slices.Equal(gate.Approvers, []string{"secops"}) || gate.OnTimeout != "approve" ||
		!strings.Contains(gate.Message, "Isolate web-01 (i-bp1sandboxweb01) after reverse_shell") {
		t.Errorf("pending gate %+v: want approvers [secops], on_timeout approve, a message naming web-01", gate)
	}
	checkSteps(t, st, map[string]string{"evidence": "succeeded", "block_c2": "succeeded", "page": "succeeded", "isolate": "awaiting_approval"})

	sb := s.sandboxState(ctx, t)
	checkEvidence(t, sb, id, web01, stepOf(st, "evidence"))
	checkCFWBlock(t, sb, cfwBookOut, "out", attackerIP, itemOutput(stepOf(st, "block_c2"), 0))
	if got := interfaceGroups(sb, web01); !allIn(got, sgWeb) {
		t.Errorf("before the approval the ENIs of %s are in %v, want %s", web01, got, sgWeb)
	}
	page := s.waitNotification(ctx, t, id, "page")
	checkNotification(t, page, "挂马 on web-01", `^reverse_shell on i-bp1sandboxweb01: Reverse shell on i-bp1sandboxweb01 \(severity 5\)$`)

	s.approve(ctx, t, id, "isolate")
	summary := s.waitNotification(ctx, t, id, "summary")
	checkNotification(t, summary, "挂马 response on web-01",
		`(?s)evidence snapshots: succeeded\nC&C blocked: 1 of 1 address\(es\), lifted 72h after the last alert\n`+
			`isolated: succeeded \(approved by analyst\)\nprocess killed, file quarantined: succeeded\n`+
			`audit trail: \d+ event\(s\)\nSecurity Center event: succeeded`)

	st = s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{
		"evidence": "succeeded", "block_c2": "succeeded", "page": "succeeded", "isolate": "succeeded",
		"kill": "succeeded", "trace": "succeeded", "mark_handled": "succeeded", "summary": "succeeded",
	})
	if got := stepOf(st, "isolate").ApprovedBy; !slices.Equal(got, []string{"analyst"}) {
		t.Errorf("isolate approved by %v, want [analyst]", got)
	}
	checkReverts(t, st, map[string]string{"block_c2": "alicloud.cloudfw.unblock_ip scheduled", "isolate": "alicloud.ecs.restore_instance applied"})
	checkState(t, st, workflows.StateReverting)

	sb = s.sandboxState(ctx, t)
	if got := interfaceGroups(sb, web01); len(got) == 0 || !allIn(got, sgQuarantine) {
		t.Errorf("after the approval the ENIs of %s are in %v, want each in only %s", web01, got, sgQuarantine)
	}
	checkInvocation(t, sb, stepOf(st, "kill"), web01, "kill_and_quarantine",
		map[string]string{"pid": "'31337'", "path": "'/var/www/html/index.php'"})
	if ev := sasEvent(sb, 8123452); ev.Status != sasStatusHandled {
		t.Errorf("SAS event 8123452 status %d, want %d (handled)", ev.Status, sasStatusHandled)
	}
}

// testWAFSQLiSample: the SQL injection from 203.0.113.7 → a WAF
// ip_blacklist rule holding the IP, secops told, the block waiting for its
// 24h revert.
func testWAFSQLiSample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := "waf-sqli-blacklist." + attackerIP
	s.publishSample(ctx, t, "waf-sqli-blacklist")
	n := s.waitNotification(ctx, t, id, "notify")
	checkNotification(t, n, "WAF SQL injection from "+attackerIP,
		`(?s)on www.example.com/products.php from 203.0.113.7\nrule: 115341, 1 request\(s\)\nblocked at the WAF until 24h after the last attempt`)

	st := s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{"block": "succeeded", "notify": "succeeded"})
	checkReverts(t, st, map[string]string{"block": "alicloud.waf.unblock_ip scheduled"})
	checkState(t, st, workflows.StateReverting)
	ruleID := fmt.Sprint(stepOf(st, "block").Output["rule_id"])
	var rule *sandbox.WAFRule
	rules := s.sandboxState(ctx, t).WAF.Rules
	for i := range rules {
		if fmt.Sprint(rules[i].ID) == ruleID {
			rule = &rules[i]
		}
	}
	switch {
	case rule == nil:
		t.Errorf("no WAF rule %s (the block step's output %v)", ruleID, stepOf(st, "block").Output)
	case rule.Scene != "ip_blacklist" || rule.Status != 1 || rule.Action != "block" || !slices.ContainsFunc(rule.RemoteAddr, sameAddr(attackerIP)):
		t.Errorf("WAF rule %s = %+v, want an active ip_blacklist block rule holding %s", ruleID, *rule, attackerIP)
	}
}

// testAntiDDoSSamples: the WAF flood (15,000 requests in one alert) is
// handed over at once: the linkage alert on alerts.soar.ddos opens
// ddos-scrubbing for the site, which switches its CC mode to gf_sos_verify
// and blacklists the source. The flood goes on in the next two quarter
// hours (by the WAF logs' own time): each is an incident of its own that
// hands the site over again, and its linkage alert folds into
// ddos-scrubbing and pushes the restore back. Then the ddos-scrubbing
// sample (the same linkage, as published by hand) folds in too: counted,
// no step repeated, the sandbox unchanged.
func testAntiDDoSSamples(t *testing.T, s *devStack) {
	// The sample's WAF log is of 08:30 China time: the quarter hour from
	// 00:30 UTC names its incident.
	floodID, ddosID := "waf-flood-to-ddos."+site+".2026-01-01T0030", "ddos-scrubbing."+site
	t.Run("waf-flood-to-ddos", func(t *testing.T) {
		ctx := testContext(t, e2ePBTimeout)
		sub, err := s.natsConn(t).SubscribeSync("alerts.soar.ddos")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := s.natsConn(t).Flush(); err != nil {
			t.Fatal(err)
		}
		s.publishSample(ctx, t, "waf-flood-to-ddos")
		n := s.waitNotification(ctx, t, floodID, "notify")
		checkNotification(t, n, "WAF flood on "+site,
			`(?s)\*\*cc_attack\*\* on www.example.com: 15000 request\(s\) in the first alert, 1 WAF alert\(s\) this quarter hour\n`+
				`top sources: 203.0.113.7\nhanded over to Anti-DDoS scrubbing \(alerts.soar.ddos\); the next quarter hour checks again`)
		st := s.status(ctx, t, floodID)
		checkSteps(t, st, map[string]string{"watch": "skipped", "escalate": "succeeded", "notify": "succeeded"})
		checkReverts(t, st, map[string]string{})
		checkState(t, st, workflows.StateRunning) // until 15m after the last WAF alert of its quarter hour

		// The linkage alert as nats.publish sent it.
		m, err := sub.NextMsg(time.Until(deadline(ctx)))
		if err != nil {
			t.Fatalf("no linkage alert on alerts.soar.ddos: %v", err)
		}
		var linked struct {
			ID     string                 `json:"id"`
			Type   string                 `json:"type"`
			Count  int                    `json:"count"`
			IOCs   struct{ IPs []string } `json:"iocs"`
			HTTP   struct{ Host string }  `json:"http"`
			Labels map[string]string      `json:"labels"`
		}
		if err := json.Unmarshal(m.Data, &linked); err != nil {
			t.Fatalf("linkage alert %s: %v", m.Data, err)
		}
		out := stepOf(st, "escalate").Output
		if linked.ID != fmt.Sprint(out["alert_id"]) || m.Header.Get(nats.MsgIdHdr) != linked.ID || m.Header.Get("Soar-Hops") != "1" ||
			linked.Type != "ddos" || linked.Count != 15000 || linked.HTTP.Host != site || !slices.Equal(linked.IOCs.IPs, []string{attackerIP}) ||
			linked.Labels["linked_from"] != floodID {
			t.Errorf("linkage alert %s (headers %v); the escalate output %v", m.Data, m.Header, out)
		}

		// ddos-scrubbing, opened by the linkage alert.
		n = s.waitNotification(ctx, t, ddosID, "notify")
		checkNotification(t, n, "Anti-DDoS scrubbing on "+site,
			`(?s)^WAF cc_attack flood on www.example.com \(15000 request\(s\), 1 WAF alert\(s\)\)\n`+
				`CC protection: gf_sos_verify \(was default\)\nblacklisted: 1 of 203.0.113.7\n`)
		st = s.status(ctx, t, ddosID)
		checkSteps(t, st, map[string]string{"strict_cc": "succeeded", "blacklist": "succeeded", "notify": "succeeded"})
		checkReverts(t, st, map[string]string{"strict_cc": "alicloud.ddos.restore_cc_mode scheduled", "blacklist": "alicloud.ddos.unblacklist_ip scheduled"})
		checkState(t, st, workflows.StateReverting)
		if st.AlertCount != 1 {
			t.Errorf("%s counted %d alerts, want 1 (the linkage alert)", ddosID, st.AlertCount)
		}
		checkDDoSDomain(t, s.sandboxState(ctx, t))

		// The storm goes on into the quarter hours from 00:45 and 01:00.
		restoreAt := func(st workflows.Status) time.Time {
			for _, r := range st.Reverts {
				if r.Step == "strict_cc" {
					return r.At
				}
			}
			t.Fatalf("%s plans no restore of the CC mode: %+v", ddosID, st.Reverts)
			return time.Time{}
		}
		due := restoreAt(st)
		sample, ok := alert.SampleByName("waf-flood-to-ddos")
		if !ok {
			t.Fatal("no waf-flood-to-ddos sample")
		}
		for i, q := range []struct{ time, quarter string }{
			{"2026-01-01T08:45:10+08:00", "2026-01-01T0045"},
			{"2026-01-01T09:00:20+08:00", "2026-01-01T0100"},
		} {
			var payload map[string]any
			if err := json.Unmarshal(sample.Payload, &payload); err != nil {
				t.Fatal(err)
			}
			traceID := fmt.Sprintf("7a3b2c1d1796184300087100%02d", i)
			payload["time"], payload["request_traceid"] = q.time, traceID
			data, err := json.Marshal(payload)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.jetStream(t).Publish(ctx, sample.Subject, data, jetstream.WithMsgID(traceID)); err != nil {
				t.Fatalf("publish %s: %v", sample.Subject, err)
			}
			m, err := sub.NextMsg(time.Until(deadline(ctx)))
			if err != nil {
				t.Fatalf("no linkage alert for the quarter hour %s: %v", q.quarter, err)
			}
			if err := json.Unmarshal(m.Data, &linked); err != nil {
				t.Fatalf("linkage alert %s: %v", m.Data, err)
			}
			qID := "waf-flood-to-ddos." + site + "." + q.quarter
			if linked.Type != "ddos" || linked.Count != 15000 || linked.HTTP.Host != site || linked.Labels["linked_from"] != qID {
				t.Errorf("linkage alert of the quarter hour %s: %s, want one linked from %s", q.quarter, m.Data, qID)
			}
			checkSteps(t, s.status(ctx, t, qID), map[string]string{"escalate": "succeeded"})
		}
		st = s.waitStatus(ctx, t, ddosID, "the storm's linkage alerts counted", func(st workflows.Status) bool { return st.AlertCount == 3 })
		if got := restoreAt(st); !got.After(due) {
			t.Errorf("%s restores the CC mode at %s after the storm's later linkage alerts, want later than %s", ddosID, got, due)
		}
		checkSteps(t, st, map[string]string{"strict_cc": "succeeded", "blacklist": "succeeded", "notify": "succeeded"})
		checkDDoSDomain(t, s.sandboxState(ctx, t))
	})
	t.Run("ddos-scrubbing", func(t *testing.T) {
		ctx := testContext(t, e2ePBTimeout)
		before := 0
		if st, err := s.tryStatus(ctx, ddosID); err == nil {
			before = st.AlertCount
		}
		s.publishSample(ctx, t, "ddos-scrubbing")
		st := s.waitStatus(ctx, t, ddosID, "the sample counted", func(st workflows.Status) bool {
			return st.AlertCount == before+1 && stepOf(st, "notify").Status == "succeeded"
		})
		checkSteps(t, st, map[string]string{"strict_cc": "succeeded", "blacklist": "succeeded", "notify": "succeeded"})
		checkDDoSDomain(t, s.sandboxState(ctx, t))
		// Folded in, nothing ran twice.
		changes := 0
		for _, c := range s.calls(ctx, t) {
			if c.Action == "ConfigWebCCTemplate" && c.Params["Domain"] == site && c.Changed {
				changes++
			}
		}
		if changes != 1 {
			t.Errorf("%d CC mode changes of %s, want 1", changes, site)
		}
	})
}

// checkDDoSDomain: the site's CC mode is strict and its blacklist holds
// the source once.
func checkDDoSDomain(t *testing.T, sb sandbox.State) {
	t.Helper()
	for _, d := range sb.DDoS.Domains {
		if d.Domain != site {
			continue
		}
		if d.CCTemplate != "gf_sos_verify" || !d.CCEnabled {
			t.Errorf("Anti-DDoS CC mode of %s = %q (enabled %v), want gf_sos_verify", site, d.CCTemplate, d.CCEnabled)
		}
		if !d.BlackWhiteListEnabled || !slices.Equal(d.BlackList, []string{attackerIP}) {
			t.Errorf("Anti-DDoS blacklist of %s = %v (enabled %v), want [%s]", site, d.BlackList, d.BlackWhiteListEnabled, attackerIP)
		}
		return
	}
	t.Errorf("no Anti-DDoS domain %s in the sandbox", site)
}

// testThreatIntelSample: web-01 beaconing to a C&C server → the address in
// the outbound Cloud Firewall blocklist and, by instance (the Cloud Firewall
// log names no security group), an egress drop rule in each of web-01's
// security groups, secops told. web-01's groups are sg-bp1sandboxweb, or
// the quarantine group once compromised-host (running alongside) has
// isolated it: the block lands in whichever it is in at that moment.
func testThreatIntelSample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := workflows.IncidentID("threat-intel-c2", web01+"/"+c2IP)
	s.publishSample(ctx, t, "threat-intel-c2")
	n := s.waitNotification(ctx, t, id, "notify")
	checkNotification(t, n, "C&C connection from "+web01,
		`(?s)\ni-bp1sandboxweb01 connected to 203.0.113.99 \(beacon.c2.example\)\n`+
			`Cloud Firewall: succeeded; security groups: succeeded \(1 of 1 address\(es\) in (sg-bp1sandboxweb|sg-bp1quarantine)\)\n`+
			`blocked for 7 days after the last alert`)
	st := s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{"block_firewall": "succeeded", "block_groups": "succeeded", "notify": "succeeded"})
	checkReverts(t, st, map[string]string{"block_firewall": "alicloud.cloudfw.unblock_ip scheduled", "block_groups": "alicloud.ecs.unblock_ip scheduled"})
	checkState(t, st, workflows.StateReverting)
	sb := s.sandboxState(ctx, t)
	checkCFWBlock(t, sb, cfwBookOut, "out", c2IP, itemOutput(stepOf(st, "block_firewall"), 0))
	checkInstanceBlock(t, sb, web01, web01Groups, "egress", "ALL", "-1/-1", c2IP, itemOutput(stepOf(st, "block_groups"), 0))
}

// web01Groups are the security-group sets web-01 can be in while the
// samples run: its own, or the quarantine group once compromised-host has
// isolated it (that subtest runs in parallel).
var web01Groups = [][]string{{sgWeb}, {sgQuarantine}}

// checkInstanceBlock: a block by instance (alicloud.ecs.block_ip with
// instance_id) reported one of the group sets want and, in each group, a
// drop rule that the sandbox holds: one rule for ip in that direction,
// protocol and ports, the one the step's output names at the same index.
func checkInstanceBlock(t *testing.T, sb sandbox.State, instance string, want [][]string, direction, proto, ports, ip string, out map[string]any) {
	t.Helper()
	var groups, rules []string
	for _, key := range []string{"security_group_ids", "rule_ids"} {
		v, _ := out[key].([]any)
		for _, x := range v {
			if key == "rule_ids" {
				rules = append(rules, fmt.Sprint(x))
			} else {
				groups = append(groups, fmt.Sprint(x))
			}
		}
	}
	known := slices.ContainsFunc(want, func(w []string) bool { return slices.Equal(groups, w) })
	if fmt.Sprint(out["instance_id"]) != instance || !known || len(rules) != len(groups) {
		t.Errorf("block by instance output %v: want instance %s, groups one of %v and a rule in each", out, instance, want)
		return
	}
	for i, g := range groups {
		got := dropRulesFor(sb, g, ip)
		if len(got) != 1 || got[0].ID != rules[i] || got[0].Direction != direction || got[0].IPProtocol != proto || got[0].PortRange != ports {
			t.Errorf("drop rules for %s in %s = %+v, want one %s %s %s rule, %s (the block's output)", ip, g, got, direction, proto, ports, rules[i])
		}
	}
}

// testSSHBruteForceSample: a brute force that has not got in (no
// approval) on web-01 → the source dropped inbound on port 22 in each of
// web-01's security groups (a block by instance: Security Center names no
// group; see web01Groups) for 4h.
func testSSHBruteForceSample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := workflows.IncidentID("ssh-bruteforce", attackerIP+"/"+web01)
	s.publishSample(ctx, t, "ssh-bruteforce")
	n := s.waitNotification(ctx, t, id, "notify")
	checkNotification(t, n, "SSH brute force on web-01 from "+attackerIP,
		`(?s)\(57 attempt\(s\), user root, port 22\)\nblocked in the security groups of web-01 \((sg-bp1sandboxweb|sg-bp1quarantine)\) for 4h after the last attempt\n`)
	st := s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{"confirm": "skipped", "block_groups": "succeeded", "block_firewall": "skipped", "notify": "succeeded"})
	checkReverts(t, st, map[string]string{"block_groups": "alicloud.ecs.unblock_ip scheduled"})
	checkState(t, st, workflows.StateReverting)
	checkInstanceBlock(t, s.sandboxState(ctx, t), web01, web01Groups, "ingress", "TCP", "22/22", attackerIP, stepOf(st, "block_groups").Output)
}

// testSSHAbnormalLogin: the sample never waits for an approval, so this
// case sends what does: an abnormal (successful) login to db-01 (which no
// other case isolates, so its groups stay put) → secops confirms the block
// → an ingress drop rule for the source on the login port in db-01's
// security group.
func testSSHAbnormalLogin(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := workflows.IncidentID("ssh-bruteforce", sshLoginIP+"/"+db01)
	s.publish(ctx, t, "alerts.sas.abnormal_login", map[string]any{
		"id": "e2e-abnormal-login", "source": "alibaba.sas", "type": "abnormal_login", "severity": 4,
		"title": "Unusual SSH login to db-01", "source_ip": sshLoginIP,
		"resource": map[string]any{"instance_id": db01, "hostname": "db-01"},
		"labels":   map[string]any{"login_user": "deploy", "port": "2222"},
	})
	st := s.waitStatus(ctx, t, id, "confirm awaiting approval", func(st workflows.Status) bool {
		return len(st.Pending) == 1 && st.Pending[0].Step == "confirm"
	})
	if msg := st.Pending[0].Message; !strings.Contains(msg, "deploy logged in to db-01 from "+sshLoginIP) {
		t.Errorf("confirm message %q, want it to name the user, host and source", msg)
	}
	if rules := dropRulesFor(s.sandboxState(ctx, t), sgDB, sshLoginIP); len(rules) != 0 {
		t.Errorf("before the approval %s has drop rules for %s: %+v", sgDB, sshLoginIP, rules)
	}
	s.approve(ctx, t, id, "confirm")
	n := s.waitNotification(ctx, t, id, "notify")
	checkNotification(t, n, "SSH abnormal login on db-01 from "+sshLoginIP,
		`(?s)blocked in the security groups of db-01 \(sg-bp1sandboxdb0\) for 4h after the last attempt\nthe login SUCCEEDED: check db-01`)
	st = s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{"confirm": "succeeded", "block_groups": "succeeded", "block_firewall": "skipped", "notify": "succeeded"})
	checkReverts(t, st, map[string]string{"block_groups": "alicloud.ecs.unblock_ip scheduled"})
	checkState(t, st, workflows.StateReverting)
	if got := stepOf(st, "confirm").ApprovedBy; !slices.Equal(got, []string{"analyst"}) {
		t.Errorf("confirm approved by %v, want [analyst]", got)
	}
	checkInstanceBlock(t, s.sandboxState(ctx, t), db01, [][]string{{sgDB}}, "ingress", "TCP", "2222/2222", sshLoginIP, stepOf(st, "block_groups").Output)
}

// testLeakedKeySample: alice's key used from 203.0.113.7 → secops paged,
// the key stays active until approved; soar approve → the key Inactive
// (never the engine's own), its ActionTrail collected, the summary sent.
func testLeakedKeySample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := "leaked-access-key." + aliceKey
	s.publishSample(ctx, t, "leaked-access-key")
	st := s.waitStatus(ctx, t, id, "disable awaiting approval", func(st workflows.Status) bool {
		return len(st.Pending) == 1 && st.Pending[0].Step == "disable"
	})
	if g := st.Pending[0]; g.OnTimeout != "reject" || !strings.Contains(g.Message, "Disable access key "+aliceKey+" of alice?") {
		t.Errorf("pending gate %+v: want on_timeout reject and a message naming the key and alice", g)
	}
	page := s.waitNotification(ctx, t, id, "page")
	checkNotification(t, page, "Access key "+aliceKey+" may be leaked", `key LTAI5tSandboxAlice0001 of RAM user alice from 203\.0\.113\.7`)
	if got := accessKeyStatus(s.sandboxState(ctx, t), aliceKey); got != "Active" {
		t.Errorf("before the approval %s is %s, want Active", aliceKey, got)
	}

	s.approve(ctx, t, id, "disable")
	n := s.waitNotification(ctx, t, id, "summary")
	checkNotification(t, n, "Access key "+aliceKey+" — disabled",
		`(?s)key LTAI5tSandboxAlice0001 of RAM user alice: disabled \(approved by analyst\)\n`+
			`ActionTrail, last 72h: \d+ event\(s\) from [^\n]*203\.0\.113\.7[^\n]*: [^\n]*RunCommand`)
	st = s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{"page": "succeeded", "disable": "succeeded", "trail": "succeeded", "summary": "succeeded"})
	checkReverts(t, st, map[string]string{"disable": "alicloud.ram.enable_access_key applied"}) // on request only
	checkState(t, st, workflows.StateRunning)                                                   // until 24h after the last sighting
	sb := s.sandboxState(ctx, t)
	if got := accessKeyStatus(sb, aliceKey); got != "Inactive" {
		t.Errorf("after the approval %s is %s, want Inactive", aliceKey, got)
	}
	if got := accessKeyStatus(sb, engineKey); got != "Active" {
		t.Errorf("the engine's key %s is %s, want Active", engineKey, got)
	}
}

// testCryptoMinerSample: the suspicious mining-pool connection from a
// process on db-01 → evidence snapshots, the miner killed and its file
// quarantined (quoted parameters), the pool address in the outbound
// blocklist, secops told. The sample is a severity-3 miner, crypto-miner's
// alone (compromised-host takes miners of severity 4 and up), so the pool
// block has one holder in the hold registry, until its 7-day revert.
func testCryptoMinerSample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := "crypto-miner." + db01
	s.publishSample(ctx, t, "crypto-miner")
	n := s.waitNotification(ctx, t, id, "notify")
	checkNotification(t, n, "Crypto-miner on db-01",
		`(?s)evidence snapshots: succeeded\nminer kdevtmpfsi \(pid 4242, /tmp/.x/kdevtmpfsi\) killed and quarantined: succeeded\n`+
			`pool addresses blocked for 7 days: 1 of 1; pool domains \(block them in DNS\): pool.mining.example`)
	st := s.status(ctx, t, id)
	checkSteps(t, st, map[string]string{"evidence": "succeeded", "kill": "succeeded", "forensics": "skipped", "block_pool": "succeeded", "notify": "succeeded"})
	checkReverts(t, st, map[string]string{"block_pool": "alicloud.cloudfw.unblock_ip scheduled"})
	checkState(t, st, workflows.StateReverting)

	var holder string
	var due time.Time
	for _, r := range st.Reverts {
		if r.Step == "block_pool" {
			holder, due = id+"/"+r.Key, r.At
		}
	}
	hold := s.waitHold(ctx, t, "ip="+poolIP+"/32", func(h poolHold) bool { return len(h.Holds) > 0 })
	if until, ok := hold.Holds[holder]; !hold.Owned || len(hold.Holds) != 1 || !ok || !until.Equal(due) {
		t.Errorf("pool block hold %+v: want owned, held by %s alone until its revert's due time %v", hold, holder, due)
	}
	sb := s.sandboxState(ctx, t)
	checkEvidence(t, sb, id, db01, stepOf(st, "evidence"))
	checkInvocation(t, sb, stepOf(st, "kill"), db01, "kill_and_quarantine",
		map[string]string{"pid": "'4242'", "path": "'/tmp/.x/kdevtmpfsi'"})
	checkCFWBlock(t, sb, cfwBookOut, "out", poolIP, itemOutput(stepOf(st, "block_pool"), 0))
}

// testVulnPrioritySample: regreSSHion on db-01 (internal, no importance
// tag, exploit known) is a P2: nothing is contained, and as db-01 has no
// owner tag, secops is told at once, with the P2's 7-day deadline.
func testVulnPrioritySample(t *testing.T, s *devStack) {
	ctx := testContext(t, e2ePBTimeout)
	id := workflows.IncidentID("vuln-priority", db01+"/CVE-2024-6387")
	s.publishSample(ctx, t, "vuln-priority")
	n := s.waitNotification(ctx, t, id, "notify")
	st := s.status(ctx, t, id)
	fixBy := st.FirstSeen.UTC().Add(7 * 24 * time.Hour).Format(time.DateOnly)
	checkNotification(t, n, "[P2] CVE-2024-6387 on db-01 — fix by "+fixBy,
		`(?s)— for the asset owner \(the asset has no owner tag\)\n`+
			`asset db-01 \(i-bp1sandboxdb001\): importance medium, internal, exploit known; score 5\n`+
			`fix: upgrade openssh-server to 9.8p1 or later — by `+fixBy+` \(P2: 7 day\(s\)\)\n`)
	checkSteps(t, st, map[string]string{"notify": "succeeded", "notify_secops": "skipped", "page": "skipped",
		"isolate": "skipped", "stop": "skipped", "report": "skipped"})
	checkState(t, st, workflows.StateRunning) // rescans fold in for 7 days
	sb := s.sandboxState(ctx, t)
	if got := interfaceGroups(sb, db01); !allIn(got, sgDB) {
		t.Errorf("the ENIs of %s are in %v, want %s (a P2 is not contained)", db01, got, sgDB)
	}
	for _, in := range sb.ECS.Instances {
		if in.ID == db01 && in.Status != "Running" {
			t.Errorf("%s is %s, want Running (a P2 is not stopped)", db01, in.Status)
		}
	}
	if ns := s.notifications(ctx, t, id); len(ns) != 1 {
		t.Errorf("notifications of %s: %+v, want the one to secops", id, ns)
	}
}

// testBlackholeSample: the Anti-DDoS black-hole event has no shipped
// playbook (ddos-scrubbing takes only linkage alerts): it is ingested and
// opens nothing; testSampleIncidents checks that.
func testBlackholeSample(t *testing.T, s *devStack) {
	s.publishSample(testContext(t, e2ePBTimeout), t, "ddos-blackhole")
}

// testSampleIncidents: once ingest has taken every alert, the samples have
// opened exactly these incidents. compromised-host and crypto-miner split
// the miner alerts by severity (4 and up, a confirmed miner, is a full
// compromise; below is crypto-miner's, see playbooks/README.md), so the
// miner sample (severity 3) opens crypto-miner on db-01 only.
func testSampleIncidents(t *testing.T, s *devStack) {
	ctx := testContext(t, time.Minute)
	waitFor(ctx, t, "ingest idle", func() (bool, string) {
		c, err := s.jetStream(t).Consumer(ctx, "SOAR_ALERTS", "soar-ingest")
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumPending == 0 && info.NumAckPending == 0, fmt.Sprintf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
	})
	want := []string{
		"compromised-host." + web01,
		"crypto-miner." + db01,
		"ddos-scrubbing." + site,
		"leaked-access-key." + aliceKey,
		workflows.IncidentID("ssh-bruteforce", sshLoginIP+"/"+db01),
		workflows.IncidentID("ssh-bruteforce", attackerIP+"/"+web01),
		workflows.IncidentID("threat-intel-c2", web01+"/"+c2IP),
		workflows.IncidentID("vuln-priority", db01+"/CVE-2024-6387"),
		// The flood sample's quarter hour, and the two quarter hours of
		// the storm testAntiDDoSSamples sends after it.
		"waf-flood-to-ddos." + site + ".2026-01-01T0030",
		"waf-flood-to-ddos." + site + ".2026-01-01T0045",
		"waf-flood-to-ddos." + site + ".2026-01-01T0100",
		"waf-sqli-blacklist." + attackerIP,
	}
	sort.Strings(want)
	var got []string
	for _, r := range s.list(ctx, t, "WorkflowType = 'Incident'") {
		got = append(got, r.ID)
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents opened by the samples (-want +got):\n%s", diff)
	}
}

// publishSample publishes a built-in sample with soar publish --sample.
func (s *devStack) publishSample(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	out, errOut, code := s.soar(ctx, t, "publish", "--sample", name, "--nats-url", s.natsURL)
	if code != 0 || !strings.Contains(out, " stored stream SOAR_ALERTS") {
		t.Fatalf("soar publish --sample %s = %d, stdout %q, stderr %q; want exit 0 and the alert stored", name, code, out, errOut)
	}
}

// approve approves step of incident id as analyst with soar approve.
func (s *devStack) approve(ctx context.Context, t *testing.T, id, step string) {
	t.Helper()
	out, errOut, code := s.soar(ctx, t, "approve", id, step, "--by", "analyst", "--comment", "e2e")
	if code != 0 || !strings.Contains(out, "outcome approved") {
		t.Fatalf("soar approve %s %s = %d, stdout %q, stderr %q; want exit 0 and outcome approved", id, step, code, out, errOut)
	}
}

// waitStatus polls the status query of id until cond holds.
func (s *devStack) waitStatus(ctx context.Context, t *testing.T, id, what string, cond func(workflows.Status) bool) workflows.Status {
	t.Helper()
	var st workflows.Status
	waitFor(ctx, t, id+": "+what, func() (bool, string) {
		var err error
		if st, err = s.tryStatus(ctx, id); err != nil {
			return false, err.Error()
		}
		return cond(st), fmt.Sprintf("state %s, steps %s, pending %+v", st.State, stepSummary(st), st.Pending)
	})
	return st
}

// notification is a generic-channel message as the sandbox's webhook
// receiver got it.
type notification struct {
	Title    string `json:"title"`
	Text     string `json:"text"`
	Incident string `json:"incident"`
	Playbook string `json:"playbook"`
	Step     string `json:"step"`
	Channel  string `json:"channel"`
}

// notifications returns what the secops channel got from incident id.
func (s *devStack) notifications(ctx context.Context, t *testing.T, id string) []notification {
	t.Helper()
	var hooks []sandbox.Webhook
	s.getJSON(ctx, t, s.sandboxURL+"/_sandbox/webhooks?channel=secops", &hooks)
	var out []notification
	for _, h := range hooks {
		var n notification
		if err := json.Unmarshal([]byte(h.Body), &n); err != nil {
			t.Fatalf("webhook %d: %v: %s", h.Seq, err, h.Body)
		}
		if n.Incident == id {
			out = append(out, n)
		}
	}
	return out
}

// waitNotification waits for the notification of one step of an incident.
func (s *devStack) waitNotification(ctx context.Context, t *testing.T, id, step string) notification {
	t.Helper()
	var got notification
	waitFor(ctx, t, id+" notification from "+step, func() (bool, string) {
		ns := s.notifications(ctx, t, id)
		for _, n := range ns {
			if n.Step == step {
				got = n
				return true, ""
			}
		}
		st, err := s.tryStatus(ctx, id)
		if err != nil {
			return false, fmt.Sprintf("%d notifications; %v", len(ns), err)
		}
		return false, fmt.Sprintf("%d notifications; state %s, steps %s, error %q", len(ns), st.State, stepSummary(st), st.Error)
	})
	return got
}

func checkNotification(t *testing.T, n notification, title, textRE string) {
	t.Helper()
	if n.Channel != "secops" || n.Title != title || !regexp.MustCompile(textRE).MatchString(n.Text) {
		t.Errorf("notification of %s step %s: channel %q, title %q, text:\n%s\nwant channel secops, title %q, text matching %q",
			n.Incident, n.Step, n.Channel, n.Title, n.Text, title, textRE)
	}
}

// checkSteps compares the statuses of the named steps.
func checkSteps(t *testing.T, st workflows.Status, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for id := range want {
		got[id] = stepOf(st, id).Status
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s step statuses (-want +got):\n%s\nerrors: %s", st.Incident, diff, stepErrors(st))
	}
}

// checkState compares the incident's state in the status query.
func checkState(t *testing.T, st workflows.Status, want string) {
	t.Helper()
	if st.State != want {
		t.Errorf("%s is %s, want %s", st.Incident, st.State, want)
	}
}

// checkReverts compares the planned reverts by step (foreach items fold
// into their step) as "<inverse action> <status>": scheduled for a timer,
// applied for a revert on request.
// poolHold is an entry of the hold registry (natspub's SOAR_HOLDS bucket).
type poolHold struct {
	Measure string               `json:"measure"`
	Owned   bool                 `json:"owned"`
	Holds   map[string]time.Time `json:"holds"`
}

// waitHold waits for the hold registry entry whose measure contains what
// to satisfy cond (the workflow takes its holds in the background).
func (s *devStack) waitHold(ctx context.Context, t *testing.T, what string, cond func(poolHold) bool) poolHold {
	t.Helper()
	var last []poolHold
	for ctx.Err() == nil {
		last = last[:0]
		if kv, err := s.jetStream(t).KeyValue(ctx, natspub.DefaultHoldBucket); err == nil {
			keys, _ := kv.Keys(ctx)
			for _, k := range keys {
				e, err := kv.Get(ctx, k)
				if err != nil {
					continue
				}
				var h poolHold
				if json.Unmarshal(e.Value(), &h) == nil && strings.Contains(h.Measure, what) {
					if cond(h) {
						return h
					}
					last = append(last, h)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no hold on %s as wanted; last seen %+v", what, last)
	return poolHold{}
}

func checkReverts(t *testing.T, st workflows.Status, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, r := range st.Reverts {
		got[r.Step] = r.Action + " " + r.Status
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s planned reverts by step (-want +got):\n%s", st.Incident, diff)
	}
}

func stepSummary(st workflows.Status) string {
	var parts []string
	for _, s := range st.Steps {
		parts = append(parts, s.ID+"="+s.Status)
	}
	return strings.Join(parts, " ")
}

func stepErrors(st workflows.Status) string {
	var parts []string
	for _, s := range st.Steps {
		if s.Error != "" {
			parts = append(parts, s.ID+": "+s.Error)
		}
		for _, it := range s.ItemStates {
			if it.Error != "" {
				parts = append(parts, fmt.Sprintf("%s#%d: %s", s.ID, it.Index, it.Error))
			}
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// itemOutput is the output of one foreach item.
func itemOutput(step workflows.StepStatus, index int) map[string]any {
	for _, it := range step.ItemStates {
		if it.Index == index {
			return it.Output
		}
	}
	return nil
}

// checkEvidence: every disk of instance has an accomplished snapshot made
// for incident id, and they are the snapshots the step reported.
func checkEvidence(t *testing.T, sb sandbox.State, id, instance string, step workflows.StepStatus) {
	t.Helper()
	disks := map[string]bool{}
	for _, d := range sb.ECS.Disks {
		if d.InstanceID == instance {
			disks[d.ID] = true
		}
	}
	var snapped, ids []string
	for _, sn := range sb.ECS.Snapshots {
		if disks[sn.DiskID] && strings.Contains(sn.Description, "(incident "+id+")") {
			if sn.Status != "accomplished" {
				t.Errorf("evidence snapshot %s of %s is %s, want accomplished", sn.ID, sn.DiskID, sn.Status)
			}
			snapped, ids = append(snapped, sn.DiskID), append(ids, sn.ID)
		}
	}
	sort.Strings(snapped)
	want := slices.Sorted(func(yield func(string) bool) {
		for d := range disks {
			if !yield(d) {
				return
			}
		}
	})
	if len(want) == 0 || !slices.Equal(snapped, want) {
		t.Errorf("evidence snapshots of %s for %s cover disks %v, want one for each of %v", instance, id, snapped, want)
	}
	var reported []string
	if v, ok := step.Output["snapshot_ids"].([]any); ok {
		for _, x := range v {
			reported = append(reported, fmt.Sprint(x))
		}
	}
	sort.Strings(ids)
	sort.Strings(reported)
	if !slices.Equal(ids, reported) {
		t.Errorf("the evidence step reported snapshots %v, the sandbox holds %v for %s", reported, ids, id)
	}
}

// checkCFWBlock: the Cloud Firewall address book holds ip, and the drop
// policy of the direction that the step reported references the book.
func checkCFWBlock(t *testing.T, sb sandbox.State, book, direction, ip string, out map[string]any) {
	t.Helper()
	var addrs []string
	for _, b := range sb.CloudFW.AddressBooks {
		if b.Name == book {
			addrs = b.Addresses
		}
	}
	if !slices.ContainsFunc(addrs, sameAddr(ip)) {
		t.Errorf("Cloud Firewall address book %s = %v, want it to hold %s", book, addrs, ip)
	}
	policyID := fmt.Sprint(out["policy_id"])
	for _, p := range sb.CloudFW.Policies {
		if p.UUID != policyID {
			continue
		}
		ref, refType := p.Source, p.SourceType
		if direction == "out" {
			ref, refType = p.Destination, p.DestinationType
		}
		if p.Direction != direction || p.Action != "drop" || ref != book || refType != "group" {
			t.Errorf("Cloud Firewall policy %s = %+v, want a %s drop policy on the group %s", policyID, p, direction, book)
		}
		return
	}
	t.Errorf("no Cloud Firewall policy %q (the block's output %v)", policyID, out)
}

// checkInvocation: the Cloud Assistant invocation the step reported ran
// the template on instance with these (shell-quoted) parameters and
// succeeded.
func checkInvocation(t *testing.T, sb sandbox.State, step workflows.StepStatus, instance, template string, params map[string]string) {
	t.Helper()
	invokeID := fmt.Sprint(step.Output["invoke_id"])
	for _, inv := range sb.ECS.Invocations {
		if inv.InvokeID != invokeID {
			continue
		}
		if inv.Name != "soar-"+template || inv.Content != config.DefaultCommands()[template].Script {
			t.Errorf("invocation %s ran %q:\n%s\nwant soar-%s, the shipped template's script", invokeID, inv.Name, inv.Content, template)
		}
		if diff := cmp.Diff(params, inv.Parameters); diff != "" {
			t.Errorf("invocation %s parameters (-want +got):\n%s", invokeID, diff)
		}
		if len(inv.Results) != 1 || inv.Results[0].InstanceID != instance || inv.Results[0].Status != "Success" {
			t.Errorf("invocation %s results %+v, want Success on %s", invokeID, inv.Results, instance)
			return
		}
		// The sandbox answers with the script as the instance ran it: each
		// parameter one quoted shell word.
		for name, v := range params {
			if out := inv.Results[0].Output; !strings.Contains(out, " "+v) {
				t.Errorf("invocation %s ran without %s as the word %s:\n%s", invokeID, name, v, out)
			}
		}
		return
	}
	t.Errorf("no Cloud Assistant invocation %q (the step's output %v)", invokeID, step.Output)
}

// sasStatusHandled is Security Center's EventStatus "handled".
const sasStatusHandled = 32

func sasEvent(sb sandbox.State, id int64) sandbox.SASEvent {
	for _, ev := range sb.SAS.Events {
		if ev.ID == id {
			return ev
		}
	}
	return sandbox.SASEvent{ID: id}
}

func accessKeyStatus(sb sandbox.State, id string) string {
	for _, u := range sb.RAM.Users {
		for _, k := range u.AccessKeys {
			if k.ID == id {
				return k.Status
			}
		}
	}
	return "absent"
}

// interfaceGroups returns the security groups of every ENI of an instance.
func interfaceGroups(sb sandbox.State, instance string) [][]string {
	var out [][]string
	for _, in := range sb.ECS.Instances {
		if in.ID == instance {
			for _, n := range in.NetworkInterfaces {
				out = append(out, n.SecurityGroupIDs)
			}
		}
	}
	return out
}

// allIn reports whether every ENI is in exactly the one group.
func allIn(enis [][]string, group string) bool {
	for _, g := range enis {
		if !slices.Equal(g, []string{group}) {
			return false
		}
	}
	return len(enis) > 0
}

// dropRulesFor returns the Drop rules of a group for ip.
func dropRulesFor(sb sandbox.State, group, ip string) []sandbox.Rule {
	var out []sandbox.Rule
	for _, g := range sb.ECS.SecurityGroups {
		if g.ID != group {
			continue
		}
		for _, r := range g.Rules {
			if r.Policy == "Drop" && (sameAddr(ip)(r.SourceCidrIP) || sameAddr(ip)(r.DestCidrIP)) {
				out = append(out, r)
			}
		}
	}
	return out
}

// sameAddr matches ip written bare or as a /32.
func sameAddr(ip string) func(string) bool {
	return func(a string) bool { return a == ip || a == ip+"/32" }
}

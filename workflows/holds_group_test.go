package workflows

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/playbook"
)

// blockOn is an ecs.block_ip step: by instance_id, or by security_group_id
// when group is set.
func blockOn(id, instance, group string, after time.Duration) playbook.Step {
	with := map[string]any{"ip": "203.0.113.7", "instance_id": instance}
	if group != "" {
		with = map[string]any{"ip": "203.0.113.7", "security_group_id": group}
	}
	return playbook.Step{ID: id, Kind: playbook.KindAction, Action: activities.ECSBlockIP, RevertAfter: after, With: with}
}

// ecsBlockOutput answers ecs.block_ip like the real action on a cloud
// where the instance is in groups and rules[g] is the drop rule in group
// g, added by this call when g is in added.
func ecsBlockOutput(c call, groups []string, rules map[string]string, added ...string) map[string]any {
	out := map[string]any{"changed": len(added) > 0, "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1", "direction": "in",
		"security_group_id": groups[0], "rule_id": rules[groups[0]]}
	if inst, _ := c.Input["instance_id"].(string); inst != "" && c.Input["security_group_id"] == nil {
		ids, ruleIDs := make([]any, len(groups)), make([]any, len(groups))
		for i, g := range groups {
			ids[i], ruleIDs[i] = g, rules[g]
		}
		out["instance_id"], out["security_group_ids"], out["rule_ids"] = inst, ids, ruleIDs
		if len(added) > 0 {
			ch := make([]any, len(added))
			for i, g := range added {
				ch[i] = g
			}
			out["changed_security_group_ids"] = ch
		}
	}
	return out
}

// TestHolds_BlockByInstanceSharesGroups: web-A's incident blocks an
// attacker in sg-web (by instance, or by the group); web-B's, by
// instance, finds that rule in sg-web and adds its own in sg-db. Each
// group is one measure: B's earlier revert revokes only its rule in sg-db
// (A still holds sg-web), and A's revert, the last holder of sg-web,
// revokes A's rule there.
func TestHolds_BlockByInstanceSharesGroups(t *testing.T) {
	const web, db = "sg-web", "sg-db"
	rules := map[string]string{web: "sgr-A", db: "sgr-B"}
	for _, byGroup := range []bool{false, true} {
		t.Run(fmt.Sprintf("A by group %v", byGroup), func(t *testing.T) {
			h := newHarness(t)
			start := h.env.Now()
			h.on(activities.ECSBlockIP, func(c call) (map[string]any, error) {
				if c.meta().Incident == "web-a.i-web1" {
					return ecsBlockOutput(c, []string{web}, rules, web), nil
				}
				return ecsBlockOutput(c, []string{web, db}, rules, db), nil
			})
			groupA := ""
			if byGroup {
				groupA = web
			}
			a := named(testInput(blockOn("block", "i-webA", groupA, 72*time.Hour)), "web-a")
			b := named(testInput(blockOn("block", "i-webB", "", 24*time.Hour)), "web-b")
			rs := h.runIncidents(a, b)

			undos := h.callsOf(activities.ECSUnblockIP)
			if len(undos) != 2 {
				t.Fatalf("unblock calls = %d, want 2 (B's sg-db at 24h, A's sg-web at 72h): %+v", len(undos), undos)
			}
			// A block by instance is undone with the lists (of the groups
			// to undo only), a block by group without.
			lists := func(g, r string) string { return fmt.Sprintf("groups [%s] rules [%s]", g, r) }
			wantA := lists(web, "sgr-A")
			if byGroup {
				wantA = "groups <nil> rules <nil>"
			}
			for i, want := range []struct {
				incident, group, rule, lists string
				at                           time.Duration
			}{{"web-b.i-web1", db, "sgr-B", lists(db, "sgr-B"), 24 * time.Hour}, {"web-a.i-web1", web, "sgr-A", wantA, 72 * time.Hour}} {
				in := params(undos[i])
				got := fmt.Sprintf("%s at %v: group %v rule %v groups %v rules %v", undos[i].meta().Incident, undos[i].At.Sub(start),
					in["security_group_id"], in["rule_id"], in["security_group_ids"], in["rule_ids"])
				if w := fmt.Sprintf("%s at %v: group %s rule %s %s", want.incident, want.at, want.group, want.rule, want.lists); got != w {
					t.Errorf("unblock %d = %s, want %s", i, got, w)
				}
			}
			if got := rs[1].Reverts[0]; got.Status != RevertReverted || !slices.Equal(got.HeldBy, []string{"web-a.i-web1/block until " + fmtTime(start.Add(72*time.Hour))}) {
				t.Errorf("B's revert = %+v, want reverted (its sg-db rule), sg-web still held by A", got)
			}
			if got := rs[0].Reverts[0]; got.Status != RevertReverted {
				t.Errorf("A's revert = %+v, want reverted", got)
			}
			if keys := h.holds.keys(); len(keys) != 0 {
				t.Errorf("registry keys left = %v, want none", keys)
			}
		})
	}
}

// TestHolds_BlockByInstanceBeforePerGroupHolds: a run recorded before
// perGroupHoldsChange holds a block by instance as one measure, as then.
func TestHolds_BlockByInstanceBeforePerGroupHolds(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("old %v", old), func(t *testing.T) {
			h := newHarness(t)
			if old {
				h.env.OnGetVersion(perGroupHoldsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			h.on(activities.ECSBlockIP, func(c call) (map[string]any, error) {
				return ecsBlockOutput(c, []string{"sg-web", "sg-db"}, map[string]string{"sg-web": "sgr-1", "sg-db": "sgr-2"}, "sg-web", "sg-db"), nil
			})
			h.run(testInput(blockOn("block", "i-web1", "", time.Hour)))
			r := h.result()
			var keys []string
			h.mu.Lock()
			for _, c := range h.holdCalls {
				if c.Op == activities.HoldAcquire && !slices.Contains(keys, c.Req.Key) {
					keys = append(keys, c.Req.Key)
				}
			}
			h.mu.Unlock()
			want := 2
			if old {
				want = 1
			}
			if len(keys) != want {
				t.Errorf("hold keys = %v, want %d", keys, want)
			}
			undos := h.callsOf(activities.ECSUnblockIP)
			if len(undos) != 1 || r.Reverts[0].Status != RevertReverted {
				t.Fatalf("unblock calls %d, revert %+v: want one, reverted", len(undos), r.Reverts[0])
			}
			wantIn := map[string]any{"security_group_ids": []any{"sg-web", "sg-db"}, "rule_ids": []any{"sgr-1", "sgr-2"}}
			in := params(undos[0])
			if diff := cmp.Diff(wantIn, map[string]any{"security_group_ids": in["security_group_ids"], "rule_ids": in["rule_ids"]}); diff != "" {
				t.Errorf("unblock input mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHoldUnits_BlockByInstancePerGroup: a block by instance holds each
// group under the key of a block by security_group_id on it, changed
// where the call added the rule; the undo revokes the groups the registry
// says to, each with its first changer's rule.
func TestHoldUnits_BlockByInstancePerGroup(t *testing.T) {
	spec := mustLookup(t, activities.ECSBlockIP)
	cloud := map[string]any{"account": "prod", "region": "cn-hangzhou"}
	common := map[string]any{"ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1", "direction": "in"}
	out := func(m map[string]any) map[string]any {
		o := map[string]any{"changed": true}
		for _, src := range []map[string]any{common, m} {
			for k, v := range src {
				o[k] = v
			}
		}
		return o
	}
	byInstance := holdUnits(spec, map[string]any{"instance_id": "i-1", "ip": "203.0.113.7", "account": "prod", "region": "cn-hangzhou"},
		out(map[string]any{"security_group_id": "sg-1", "rule_id": "sgr-7", "instance_id": "i-1",
			"security_group_ids": []any{"sg-1", "sg-2"}, "rule_ids": []any{"sgr-7", "sgr-2"}, "changed_security_group_ids": []any{"sg-2"}}))
	byGroup := holdUnits(spec, map[string]any{"security_group_id": "sg-1", "ip": "203.0.113.7", "account": "prod", "region": "cn-hangzhou"},
		out(map[string]any{"security_group_id": "sg-1", "rule_id": "sgr-1"}))
	if len(byInstance) != 2 || len(byGroup) != 1 {
		t.Fatalf("holds = %d by instance, %d by group; want 2, 1", len(byInstance), len(byGroup))
	}
	if byInstance[0].Key != byGroup[0].Key {
		t.Errorf("sg-1 by instance %s (%s), by group %s (%s): want one key", byInstance[0].Key, byInstance[0].Measure, byGroup[0].Key, byGroup[0].Measure)
	}
	if byInstance[1].Key == byInstance[0].Key || !strings.Contains(byInstance[1].Measure, "security_group_id=sg-2") {
		t.Errorf("sg-2's hold %s (%s), want its own key", byInstance[1].Key, byInstance[1].Measure)
	}
	if byInstance[0].Changed || !byInstance[1].Changed {
		t.Errorf("changed: sg-1 %v, sg-2 %v; want false (found in place), true (added)", byInstance[0].Changed, byInstance[1].Changed)
	}
	for _, u := range byInstance {
		if _, ok := u.Args["security_group_ids"]; ok {
			t.Errorf("unit args %v carry the group list", u.Args)
		}
		if u.Args["account"] != cloud["account"] || u.Args["region"] != cloud["region"] {
			t.Errorf("unit args %v lack the account and region", u.Args)
		}
	}
	if byInstance[1].Args["rule_id"] != "sgr-2" {
		t.Errorf("sg-2's inverse args %v, want rule_id sgr-2", byInstance[1].Args)
	}

	// The registry says to undo both: sg-1 with its first changer's rule.
	a := &applied{Inverse: spec.Inverse, Output: map[string]any{"security_group_ids": []any{"sg-1", "sg-2"}}, Holds: byInstance}
	byInstance[0].Released, byInstance[0].Undo, byInstance[0].Inverse = true, true, byGroup[0].Args
	byInstance[1].Released, byInstance[1].Undo = true, true
	got := undoInput(a)
	want := map[string]any{"account": "prod", "region": "cn-hangzhou", "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1",
		"direction": "in", "security_group_id": "sg-1", "rule_id": "sgr-1", "security_group_ids": []any{"sg-1", "sg-2"}, "rule_ids": []any{"sgr-1", "sgr-2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("undo input mismatch (-want +got):\n%s", diff)
	}
	// Only sg-2: sg-1's rule is not touched.
	byInstance[0].Undo = false
	want = map[string]any{"account": "prod", "region": "cn-hangzhou", "ip": "203.0.113.7/32", "protocol": "all", "port_range": "-1/-1",
		"direction": "in", "security_group_id": "sg-2", "rule_id": "sgr-2", "security_group_ids": []any{"sg-2"}, "rule_ids": []any{"sgr-2"}}
	if diff := cmp.Diff(want, undoInput(a)); diff != "" {
		t.Errorf("undo input of sg-2 alone mismatch (-want +got):\n%s", diff)
	}
}

package alicloud

import (
	"fmt"
	"testing"

	"github.com/opensoar/soar/activities"
)

// BenchmarkActionRoundTrips measures each action and its inverse through
// the Temporal test activity environment, the real SDK and the sandbox
// over HTTP on loopback, and reports the API calls each pair makes.
func BenchmarkActionRoundTrips(b *testing.B) {
	cases := []struct {
		name     string
		do, undo string
		in       func(i int) any
		undoIn   func(i int) any
	}{
		{"ecs.block_ip", activities.ECSBlockIP, activities.ECSUnblockIP,
			func(i int) any {
				return activities.ECSBlockIPInput{Meta: meta(fmt.Sprint(i)), SecurityGroupID: sgWeb, IP: attacker}
			},
			func(i int) any {
				return activities.ECSUnblockIPInput{Meta: meta(fmt.Sprint(i)), SecurityGroupID: sgWeb, IP: attacker}
			}},
		{"ecs.isolate_instance", activities.ECSIsolateInstance, activities.ECSRestoreInstance,
			func(i int) any {
				return activities.ECSIsolateInstanceInput{Meta: meta(fmt.Sprint(i)), InstanceID: webID}
			},
			func(i int) any {
				return activities.ECSRestoreInstanceInput{Meta: meta(fmt.Sprint(i)), InstanceID: webID}
			}},
		{"waf.block_ip", activities.WAFBlockIP, activities.WAFUnblockIP,
			func(i int) any { return activities.WAFBlockIPInput{Meta: meta(fmt.Sprint(i)), IP: attacker} },
			func(i int) any { return activities.WAFUnblockIPInput{Meta: meta(fmt.Sprint(i)), IP: attacker} }},
		{"cloudfw.block_ip", activities.CloudFWBlockIP, activities.CloudFWUnblockIP,
			func(i int) any { return activities.CloudFWBlockIPInput{Meta: meta(fmt.Sprint(i)), IP: attacker} },
			func(i int) any { return activities.CloudFWUnblockIPInput{Meta: meta(fmt.Sprint(i)), IP: attacker} }},
		{"ram.disable_access_key", activities.RAMDisableAccessKey, activities.RAMEnableAccessKey,
			func(i int) any {
				return activities.RAMAccessKeyInput{Meta: meta(fmt.Sprint(i)), AccessKeyID: aliceKey, UserName: "alice"}
			},
			func(i int) any {
				return activities.RAMAccessKeyInput{Meta: meta(fmt.Sprint(i)), AccessKeyID: aliceKey, UserName: "alice"}
			}},
		{"ddos.blacklist_ip", activities.DDoSBlacklistIP, activities.DDoSUnblacklistIP,
			func(i int) any {
				return activities.DDoSBlacklistInput{Meta: meta(fmt.Sprint(i)), Domain: ddosDomain, IPs: []string{attacker}}
			},
			func(i int) any {
				return activities.DDoSBlacklistInput{Meta: meta(fmt.Sprint(i)), Domain: ddosDomain, IPs: []string{attacker}}
			}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c := newTestCloud(b)
			if bc.do == activities.WAFBlockIP {
				withWAFTemplate(c)
			}
			n := c.callCount()
			b.ResetTimer()
			for i := range b.N {
				if err := c.run(bc.do, bc.in(i), nil); err != nil {
					b.Fatal(err)
				}
				if err := c.run(bc.undo, bc.undoIn(i), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(c.callCount()-n)/float64(b.N), "calls/op")
		})
	}
}

package alicloud

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/sandbox"
)

func TestActionTrailLookupEvents(t *testing.T) {
	tests := []struct {
		name       string
		in         activities.ActionTrailLookupEventsInput
		wantNames  []string
		wantIPs    []string
		wantCount  int
		wantAction string // an API the trail must contain
	}{
		{"by access key", activities.ActionTrailLookupEventsInput{AccessKeyID: aliceKey},
			[]string{"AuthorizeSecurityGroup", "CreateUser", "DescribeInstances", "GetCallerIdentity", "ListUsers", "RunCommand"},
			[]string{attacker}, 6, "CreateUser"},
		{"by source ip over 3 days", activities.ActionTrailLookupEventsInput{IP: attacker, Since: "72h"},
			[]string{"AuthorizeSecurityGroup", "CreateUser", "DescribeInstances", "GetCallerIdentity", "ListUsers", "RunCommand"},
			[]string{attacker}, 6, "RunCommand"},
		{"by instance", activities.ActionTrailLookupEventsInput{InstanceID: webID},
			[]string{"RunCommand"}, []string{attacker}, 1, "RunCommand"},
		{"console sign-in only in the longer window", activities.ActionTrailLookupEventsInput{IP: "198.51.100.10", Since: "72h"},
			[]string{"ConsoleSignin"}, []string{"198.51.100.10"}, 1, "ConsoleSignin"},
		{"nothing in the default window", activities.ActionTrailLookupEventsInput{IP: "198.51.100.10"},
			[]string{}, []string{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			tt.in.Meta = meta("trail")
			var out activities.ActionTrailLookupEventsOutput
			c.mustRun(activities.ActionTrailLookupEvents, tt.in, &out)
			if out.Count != tt.wantCount || len(out.Events) != tt.wantCount || out.Truncated || out.Changed {
				t.Errorf("count = %d (%d events, truncated %v, changed %v), want %d", out.Count, len(out.Events), out.Truncated, out.Changed, tt.wantCount)
			}
			if diff := cmp.Diff(tt.wantNames, out.EventNames); diff != "" {
				t.Errorf("event names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIPs, out.SourceIPs); diff != "" {
				t.Errorf("source IPs (-want +got):\n%s", diff)
			}
			if tt.wantAction != "" {
				i := slices.IndexFunc(out.Events, func(e activities.TrailEvent) bool { return e.Name == tt.wantAction })
				if i < 0 {
					t.Fatalf("no %s event", tt.wantAction)
				}
				if e := out.Events[i]; e.EventID == "" || e.Time == "" || e.Source == "" || e.ReadWrite == "" {
					t.Errorf("event %+v lacks fields", e)
				}
			}
			for i := 1; i < len(out.Events); i++ {
				if out.Events[i-1].Time < out.Events[i].Time {
					t.Errorf("events not newest first: %s before %s", out.Events[i-1].Time, out.Events[i].Time)
				}
			}
		})
	}
}

func TestActionTrailDetails(t *testing.T) {
	c := newTestCloud(t)
	var out activities.ActionTrailLookupEventsOutput
	c.mustRun(activities.ActionTrailLookupEvents, activities.ActionTrailLookupEventsInput{Meta: dryRun(meta("t")), AccessKeyID: aliceKey}, &out)
	if !out.DryRun || out.Changed || out.Count != 6 {
		t.Errorf("dry-run lookup = %+v (count %d), want it run read-only", out.Outcome, out.Count)
	}
	i := slices.IndexFunc(out.Events, func(e activities.TrailEvent) bool { return e.Name == "CreateUser" })
	want := activities.TrailEvent{EventID: "6F3B0C6A-0005-4C1D-9E8F-5A4B3C2D1E05", Name: "CreateUser", Source: "ram.aliyuncs.com",
		SourceIP: attacker, UserName: "alice", AccessKeyID: aliceKey, ReadWrite: "Write", ErrorCode: "NoPermission"}
	got := out.Events[i]
	got.Time = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateUser event (-want +got):\n%s", diff)
	}
}

func TestActionTrailTruncatesAt500(t *testing.T) {
	c := newTestCloud(t)
	now := time.Now()
	c.srv.Mutate(func(st *sandbox.State) {
		for i := range 620 {
			st.ActionTrail.Events = append(st.ActionTrail.Events, sandbox.TrailEvent{
				ID: fmt.Sprintf("bulk-%d", i), Time: now.Add(-time.Duration(i+1) * time.Second), Name: "DescribeRegions",
				Service: "Ecs", ReadWrite: "Read", SourceIP: "192.0.2.44", AccessKeyID: "LTAI5tBulk", UserName: "alice"})
		}
	})
	var out activities.ActionTrailLookupEventsOutput
	c.mustRun(activities.ActionTrailLookupEvents, activities.ActionTrailLookupEventsInput{Meta: meta("t"), AccessKeyID: "LTAI5tBulk"}, &out)
	if out.Count != 500 || len(out.Events) != 500 || !out.Truncated {
		t.Errorf("lookup = %d events, truncated %v, want 500 and truncated", out.Count, out.Truncated)
	}
	if got := len(c.calls(0, "LookupEvents")); got != 11 {
		t.Errorf("LookupEvents pages = %d, want 11 (50 per page until the 501st event)", got)
	}
}

func TestActionTrailInvalid(t *testing.T) {
	c := newTestCloud(t)
	for _, tt := range []struct {
		in   activities.ActionTrailLookupEventsInput
		want string
	}{
		{activities.ActionTrailLookupEventsInput{}, "exactly one"},
		{activities.ActionTrailLookupEventsInput{IP: attacker, AccessKeyID: aliceKey}, "exactly one"},
		{activities.ActionTrailLookupEventsInput{IP: "attacker"}, "not an IP"},
		{activities.ActionTrailLookupEventsInput{IP: attacker, Since: "3d"}, "duration"},
		{activities.ActionTrailLookupEventsInput{IP: attacker, Since: "2400h"}, "90 days"},
	} {
		tt.in.Meta = meta("t")
		wantAppError(t, c.run(activities.ActionTrailLookupEvents, tt.in, nil), activities.ErrTypeInvalidInput, tt.want)
	}
}

package alicloud

import (
	"slices"
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/sandbox"
)

const (
	webshellEvent = "8123451"
	shellEvent    = "8123452"
	minerEvent    = "8123453"
)

func TestSASHandleEvent(t *testing.T) {
	c := newTestCloud(t, func(_ *Options, so *sandbox.Options, _ *guard.Policy) { so.AsyncPolls = 3 })
	in := activities.SASHandleEventInput{Meta: meta("handle"), EventIDs: []string{webshellEvent, shellEvent}, Operation: "offline_handled"}

	s0 := c.state()
	n := c.callCount()
	var dry activities.SASHandleEventOutput
	c.mustRun(activities.SASHandleEvent, activities.SASHandleEventInput{Meta: dryRun(in.Meta), EventIDs: in.EventIDs, Operation: in.Operation}, &dry)
	if !dry.DryRun || dry.Changed || len(dry.Plan) != 2 {
		t.Errorf("dry-run = %+v, want a two-event plan", dry.Outcome)
	}
	if m := c.mutatingCalls(n); len(m) > 0 {
		t.Fatalf("dry-run made mutating calls %v", m)
	}
	if diff := stateDiff(s0, c.state()); diff != "" {
		t.Fatalf("dry-run changed the state:\n%s", diff)
	}

	var out activities.SASHandleEventOutput
	c.mustRun(activities.SASHandleEvent, in, &out)
	if !out.Changed || out.Status != "Success" || out.TaskID == "" || !slices.Equal(out.Handled, []string{webshellEvent, shellEvent}) {
		t.Fatalf("output = %+v, want both events handled by a successful task", out)
	}
	st := c.state()
	for _, id := range []int64{8123451, 8123452} {
		if ev, _ := st.SAS.Event(id); ev.Status != 32 {
			t.Errorf("event %d status = %d, want 32 (handled)", id, ev.Status)
		}
	}
	if ev, _ := st.SAS.Event(8123453); ev.Status != 1 {
		t.Errorf("untouched event status = %d, want 1", ev.Status)
	}

	s1 := c.state()
	var again activities.SASHandleEventOutput
	c.mustRun(activities.SASHandleEvent, in, &again)
	if again.Changed || again.Status != "already_handled" || len(again.Handled) != 0 {
		t.Errorf("repeat = %+v, want already_handled and unchanged", again)
	}
	if diff := stateDiff(s1, c.state()); diff != "" {
		t.Errorf("repeat changed the state:\n%s", diff)
	}
}

func TestSASResumesTheTask(t *testing.T) {
	c := newTestCloud(t, func(_ *Options, so *sandbox.Options, _ *guard.Policy) { so.AsyncPolls = 3 })
	// The miner runs on db-01, a protected instance: the step is approved.
	m := meta("handle")
	m.Approved = true
	in := activities.SASHandleEventInput{Meta: m, EventIDs: []string{minerEvent}, Operation: "kill_and_quara",
		OperationParams: map[string]any{"subOperation": "killAndQuaraFileByMd5andPath"}}
	var first activities.SASHandleEventOutput
	c.mustRun(activities.SASHandleEvent, in, &first)
	st := c.state()
	task := st.SAS.Tasks[0]
	if task.Operation != "kill_and_quara" || task.Params != `{"subOperation":"killAndQuaraFileByMd5andPath"}` {
		t.Errorf("task = %+v, want kill_and_quara with the operation params", task)
	}
	// A retried attempt with the first task in its heartbeat polls it.
	c.env.SetHeartbeatDetails(sasDetails{TaskID: task.ID, Events: []string{minerEvent}})
	n := c.callCount()
	var resumed activities.SASHandleEventOutput
	c.mustRun(activities.SASHandleEvent, in, &resumed)
	if resumed.TaskID != first.TaskID || resumed.Status != "Success" {
		t.Errorf("resumed = %+v, want task %s", resumed, first.TaskID)
	}
	if got := c.calls(n, "HandleSecurityEvents"); len(got) != 0 {
		t.Errorf("resumed attempt handled the events again (%d calls)", len(got))
	}
}

func TestSASFailures(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(st *sandbox.State)
		in       activities.SASHandleEventInput
		errType  string
		contains []string
	}{
		{"task failure", func(st *sandbox.State) { st.SAS.Events[0].HandleError = "offline_handled.Failed" },
			activities.SASHandleEventInput{EventIDs: []string{webshellEvent}, Operation: "offline_handled"},
			activities.ErrTypeRemoteFailed, []string{"Failure", "offline_handled.Failed", webshellEvent}},
		{"operation not offered", func(st *sandbox.State) { st.SAS.Events[0].Operations = []string{"ignore"} },
			activities.SASHandleEventInput{EventIDs: []string{webshellEvent}, Operation: "kill_and_quara"},
			activities.ErrTypeInvalidInput, []string{"does not offer kill_and_quara"}},
		{"block a protected address", func(st *sandbox.State) {
			for i, d := range st.SAS.Events[1].Details {
				if d.Name == "remote_ip" {
					st.SAS.Events[1].Details[i].Value = "10.0.0.9"
				}
			}
		}, activities.SASHandleEventInput{EventIDs: []string{shellEvent}, Operation: "block_ip"},
			activities.ErrTypeGuardDenied, []string{"10.0.0.9"}},
		{"block without an address", func(st *sandbox.State) {
			st.SAS.Events[1].Details = slices.DeleteFunc(st.SAS.Events[1].Details, func(d sandbox.SASDetail) bool { return d.Name == "remote_ip" })
		}, activities.SASHandleEventInput{EventIDs: []string{shellEvent}, Operation: "block_ip"},
			activities.ErrTypeGuardDenied, []string{"no IP address", shellEvent}},
		{"block an address under another key", func(st *sandbox.State) {
			for i, d := range st.SAS.Events[1].Details {
				if d.Name == "remote_ip" {
					st.SAS.Events[1].Details[i].Name, st.SAS.Events[1].Details[i].Value = "peer_ip", "10.0.0.9"
				}
			}
		}, activities.SASHandleEventInput{EventIDs: []string{shellEvent}, Operation: "block_ip"},
			activities.ErrTypeGuardDenied, []string{"10.0.0.9"}},
		{"kill on a protected instance", nil, activities.SASHandleEventInput{EventIDs: []string{minerEvent}, Operation: "kill_and_quara"},
			activities.ErrTypeGuardDenied, []string{"protected_instances", dbID}},
		{"quarantine on a protected instance", nil, activities.SASHandleEventInput{EventIDs: []string{minerEvent}, Operation: "virus_quara"},
			activities.ErrTypeGuardDenied, []string{"protected_instances", dbID}},
		{"kill on an event without an instance", func(st *sandbox.State) { st.SAS.Events[0].InstanceID = "" },
			activities.SASHandleEventInput{EventIDs: []string{webshellEvent}, Operation: "kill_and_quara"},
			activities.ErrTypeGuardDenied, []string{"names no instance"}},
		{"unknown event", nil, activities.SASHandleEventInput{EventIDs: []string{"42"}, Operation: "ignore"},
			activities.ErrTypeCloudNotFound, []string{"42"}},
		{"bad event id", nil, activities.SASHandleEventInput{EventIDs: []string{"abc"}, Operation: "ignore"},
			activities.ErrTypeInvalidInput, []string{"abc"}},
		{"bad operation", nil, activities.SASHandleEventInput{EventIDs: []string{webshellEvent}, Operation: "nuke"},
			activities.ErrTypeInvalidInput, []string{"nuke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			if tt.mutate != nil {
				c.srv.Mutate(tt.mutate)
			}
			tt.in.Meta = meta("h")
			wantAppError(t, c.run(activities.SASHandleEvent, tt.in, nil), tt.errType, tt.contains...)
			if tasks := c.state().SAS.Tasks; tt.errType == activities.ErrTypeGuardDenied && len(tasks) != 0 {
				t.Errorf("refused, yet Security Center tasks %+v were started", tasks)
			}
		})
	}
}

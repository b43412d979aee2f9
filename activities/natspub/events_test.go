package natspub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
)

func TestEventSubject(t *testing.T) {
	tests := []struct {
		prefix, playbook, event, want string
	}{
		{"soar.events", "compromised-host", "step_succeeded", "soar.events.compromised-host.step_succeeded"},
		{"soar.events", "a.b*c", "x >y", "soar.events.a_b_c.x__y"},
		{"audit", "", "opened", "audit._.opened"},
		{"soar.events", "挂马", "closed", "soar.events.__.closed"},
	}
	for _, tc := range tests {
		got := natspub.EventSubject(tc.prefix, activities.IncidentEvent{Playbook: tc.playbook, Event: tc.event})
		if got != tc.want {
			t.Errorf("EventSubject(%q, {%q, %q}) = %q, want %q", tc.prefix, tc.playbook, tc.event, got, tc.want)
		}
	}
}

func TestPublishEventToStream(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	st := createStream(t, js, "SOAR_EVENTS", "soar.events.>", "audit.>")
	ev := activities.IncidentEvent{
		Event: "step_succeeded", Incident: "compromised-host.i-bp1abc", Playbook: "compromised-host", Step: "isolate",
		Time: "2026-03-04T05:06:07Z", Detail: map[string]any{"action": "alicloud.ecs.isolate_instance"},
	}
	tests := []struct {
		name        string
		prefix      string
		ev          activities.IncidentEvent
		wantSubject string
		wantMsgs    uint64
	}{
		{"first", "", ev, "soar.events.compromised-host.step_succeeded", 1},
		{"retry is a duplicate", "", ev, "soar.events.compromised-host.step_succeeded", 1},
		{"other detail at the same time", "", withDetail(ev, map[string]any{"by": "bob"}), "soar.events.compromised-host.step_succeeded", 2},
		{"other event", "", withEvent(ev, "reverted"), "soar.events.compromised-host.reverted", 3},
		{"custom prefix", "audit", ev, "audit.compromised-host.step_succeeded", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := activityEnv(natspub.Options{JetStream: js, EventsPrefix: tc.prefix})
			if _, err := e.ExecuteActivity(activities.PublishEvent, tc.ev); err != nil {
				t.Fatalf("PublishEvent() error: %v", err)
			}
			if n := streamMsgs(t, st); n != tc.wantMsgs {
				t.Fatalf("stream holds %d messages, want %d", n, tc.wantMsgs)
			}
			msg, err := st.GetLastMsgForSubject(context.Background(), tc.wantSubject)
			if err != nil {
				t.Fatalf("last message on %s: %v", tc.wantSubject, err)
			}
			var got activities.IncidentEvent
			if err := json.Unmarshal(msg.Data, &got); err != nil {
				t.Fatalf("decode event: %v", err)
			}
			if diff := cmp.Diff(tc.ev, got); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
			if id := msg.Header.Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, "ev-") {
				t.Errorf("Nats-Msg-Id = %q, want ev-<hash>", id)
			}
			if got := msg.Header.Get(natspub.HeaderIncident); got != tc.ev.Incident {
				t.Errorf("%s = %q, want %q", natspub.HeaderIncident, got, tc.ev.Incident)
			}
		})
	}
}

func withDetail(ev activities.IncidentEvent, d map[string]any) activities.IncidentEvent {
	ev.Detail = d
	return ev
}

func withEvent(ev activities.IncidentEvent, name string) activities.IncidentEvent {
	ev.Event = name
	return ev
}

// TestPublishEventWithoutStream checks that events still reach live
// subscribers when no stream keeps them.
func TestPublishEventWithoutStream(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	sub, err := js.Conn().SubscribeSync("soar.events.>")
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	ev := activities.IncidentEvent{Event: "opened", Incident: "pb.x", Playbook: "pb", Time: "2026-03-04T05:06:07Z"}
	e := activityEnv(natspub.Options{JetStream: js})
	if _, err := e.ExecuteActivity(activities.PublishEvent, ev); err != nil {
		t.Fatalf("PublishEvent() error: %v", err)
	}
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("next message: %v", err)
	}
	var got activities.IncidentEvent
	if err := json.Unmarshal(msg.Data, &got); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	if msg.Subject != "soar.events.pb.opened" || !cmp.Equal(ev, got) {
		t.Errorf("got %s %+v, want soar.events.pb.opened %+v", msg.Subject, got, ev)
	}
}

func TestPublishEventInvalid(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	ok := activities.IncidentEvent{Event: "opened", Incident: "pb.x", Playbook: "pb", Time: "t"}
	tests := []struct {
		name     string
		opts     natspub.Options
		ev       activities.IncidentEvent
		wantType string
	}{
		{"no event", natspub.Options{JetStream: js}, activities.IncidentEvent{Incident: "pb.x", Playbook: "pb"}, activities.ErrTypeInvalidInput},
		{"no incident", natspub.Options{JetStream: js}, activities.IncidentEvent{Event: "opened", Playbook: "pb"}, activities.ErrTypeInvalidInput},
		{"no playbook", natspub.Options{JetStream: js}, activities.IncidentEvent{Event: "opened", Incident: "pb.x"}, activities.ErrTypeInvalidInput},
		{"bad prefix", natspub.Options{JetStream: js, EventsPrefix: "soar.>"}, ok, activities.ErrTypeNotConfigured},
		{"no connection", natspub.Options{}, ok, activities.ErrTypeNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := activityEnv(tc.opts).ExecuteActivity(activities.PublishEvent, tc.ev)
			appErr := appError(t, err)
			if appErr.Type() != tc.wantType || !appErr.NonRetryable() {
				t.Errorf("error type %q non-retryable %v, want %q non-retryable", appErr.Type(), appErr.NonRetryable(), tc.wantType)
			}
		})
	}
}

package natspub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/activities/natspub"
	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/guard"
)

func linkageInput() activities.NATSPublishInput {
	return activities.NATSPublishInput{
		Meta:    activities.Meta{Incident: "waf-sqli.203.0.113.7", Playbook: "waf-sqli", Step: "escalate", Hops: 1},
		Subject: "alerts.soar.ddos",
		Alert: map[string]any{
			"type": "ddos", "severity": float64(4), "title": "flood on shop.example.com",
			"source_ip": "203.0.113.7",
			"http":      map[string]any{"host": "shop.example.com"},
			"iocs":      map[string]any{"ips": []any{"203.0.113.7"}},
		},
	}
}

func publish(t *testing.T, opts natspub.Options, in activities.NATSPublishInput) (activities.NATSPublishOutput, error) {
	t.Helper()
	val, err := activityEnv(opts).ExecuteActivity(activities.NATSPublish, in)
	var out activities.NATSPublishOutput
	if err != nil {
		return out, err
	}
	if err := val.Get(&out); err != nil {
		t.Fatalf("decode output: %v", err)
	}
	return out, nil
}

func TestPublishLinkageAlert(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	st := createStream(t, js, "SOAR_ALERTS", "alerts.>")
	opts := natspub.Options{JetStream: js}
	in := linkageInput()

	out, err := publish(t, opts, in)
	if err != nil {
		t.Fatalf("Publish() error: %v", err)
	}
	if !strings.HasPrefix(out.AlertID, "soar-") || len(out.AlertID) != len("soar-")+32 {
		t.Fatalf("AlertID = %q, want soar-<32 hex>", out.AlertID)
	}
	want := activities.NATSPublishOutput{
		Outcome: activities.Outcome{Changed: true, Plan: []string{
			"published ddos alert " + out.AlertID + " to alerts.soar.ddos (stream SOAR_ALERTS, sequence 1, Soar-Hops 2)",
		}},
		Subject: "alerts.soar.ddos", AlertID: out.AlertID, Sequence: 1, Hops: 2,
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Publish() output mismatch (-want +got):\n%s", diff)
	}

	msg, err := st.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatalf("get message 1: %v", err)
	}
	if msg.Subject != "alerts.soar.ddos" {
		t.Errorf("subject = %q, want alerts.soar.ddos", msg.Subject)
	}
	for h, v := range map[string]string{
		jetstream.MsgIDHeader:  out.AlertID,
		natspub.HeaderHops:     "2",
		natspub.HeaderIncident: "waf-sqli.203.0.113.7",
	} {
		if got := msg.Header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	// The payload is a complete envelope: strict decoding accepts it.
	dec := json.NewDecoder(bytes.NewReader(msg.Data))
	dec.DisallowUnknownFields()
	var got alert.Alert
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode published alert: %v\n%s", err, msg.Data)
	}
	wantAlert := alert.Alert{
		ID: out.AlertID, Source: alert.SourceSoar, Type: "ddos", Severity: 4, Title: "flood on shop.example.com",
		Time: fixedNow, SourceIP: "203.0.113.7", HTTP: alert.HTTP{Host: "shop.example.com"},
		IOCs:  alert.IOCs{IPs: []string{"203.0.113.7"}, Domains: []string{}, Hashes: []string{}},
		Count: 1, Labels: map[string]string{},
		Resource: alert.Resource{SecurityGroupIDs: []string{}, Tags: map[string]string{}},
	}
	if diff := cmp.Diff(wantAlert, got); diff != "" {
		t.Errorf("published alert mismatch (-want +got):\n%s", diff)
	}

	// An activity retry publishes the same ID: JetStream drops it.
	retry, err := publish(t, opts, in)
	if err != nil {
		t.Fatalf("Publish() retry error: %v", err)
	}
	if retry.AlertID != out.AlertID || !retry.Duplicate || retry.Changed || retry.Sequence != 1 {
		t.Errorf("retry = {id %s duplicate %v changed %v seq %d}, want {id %s duplicate true changed false seq 1}",
			retry.AlertID, retry.Duplicate, retry.Changed, retry.Sequence, out.AlertID)
	}
	if n := streamMsgs(t, st); n != 1 {
		t.Errorf("stream holds %d messages after the retry, want 1", n)
	}

	// Another step (or foreach item) raises a distinct alert.
	other := linkageInput()
	other.Meta.Step = "escalate#1"
	out2, err := publish(t, opts, other)
	if err != nil {
		t.Fatalf("Publish() other step error: %v", err)
	}
	if out2.AlertID == out.AlertID || out2.Duplicate || out2.Sequence != 2 {
		t.Errorf("other step = {id %s duplicate %v seq %d}, want a new id, not duplicate, seq 2", out2.AlertID, out2.Duplicate, out2.Sequence)
	}

	// An alert with its own id and source keeps them.
	own := linkageInput()
	own.Alert["id"] = "vendor-42"
	own.Alert["source"] = "custom.ids"
	out3, err := publish(t, opts, own)
	if err != nil {
		t.Fatalf("Publish() own id error: %v", err)
	}
	msg, err = st.GetMsg(context.Background(), out3.Sequence)
	if err != nil {
		t.Fatalf("get message %d: %v", out3.Sequence, err)
	}
	var ownGot alert.Alert
	if err := json.Unmarshal(msg.Data, &ownGot); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if out3.AlertID != "vendor-42" || msg.Header.Get(jetstream.MsgIDHeader) != "vendor-42" || ownGot.ID != "vendor-42" || ownGot.Source != "custom.ids" {
		t.Errorf("own id: output %q, header %q, alert id %q source %q; want vendor-42 throughout and source custom.ids",
			out3.AlertID, msg.Header.Get(jetstream.MsgIDHeader), ownGot.ID, ownGot.Source)
	}
}

func TestPublishHopLimit(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	st := createStream(t, js, "SOAR_ALERTS", "alerts.>")
	tests := []struct {
		name    string
		opts    natspub.Options
		hops    int
		dryRun  bool
		refused bool
	}{
		{"default limit, first hop", natspub.Options{}, 0, false, false},
		{"default limit, last allowed hop", natspub.Options{}, guard.DefaultMaxLinkageHops - 1, false, false},
		{"default limit, one past", natspub.Options{}, guard.DefaultMaxLinkageHops, false, true},
		{"default limit, one past, dry-run", natspub.Options{}, guard.DefaultMaxLinkageHops, true, true},
		{"policy limit 1, first hop", natspub.Options{Policy: guard.Policy{MaxLinkageHops: 1}}, 0, false, false},
		{"policy limit 1, second hop", natspub.Options{Policy: guard.Policy{MaxLinkageHops: 1}}, 1, false, true},
		{"MaxHops overrides the policy", natspub.Options{Policy: guard.Policy{MaxLinkageHops: 1}, MaxHops: 5}, 4, false, false},
		{"MaxHops 5, one past", natspub.Options{MaxHops: 5}, 5, false, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := streamMsgs(t, st)
			opts := tc.opts
			opts.JetStream = js
			in := linkageInput()
			in.Meta.Hops = tc.hops
			in.Meta.DryRun = tc.dryRun
			in.Meta.Step = "step" + string(rune('a'+i))
			out, err := publish(t, opts, in)
			published := streamMsgs(t, st) - before
			if !tc.refused {
				if err != nil {
					t.Fatalf("Publish(hops %d) error: %v", tc.hops, err)
				}
				if out.Hops != tc.hops+1 || published != 1 {
					t.Errorf("Publish(hops %d): Hops %d, %d published; want %d and 1", tc.hops, out.Hops, published, tc.hops+1)
				}
				return
			}
			appErr := appError(t, err)
			if appErr.Type() != activities.ErrTypeLoopDetected || !appErr.NonRetryable() {
				t.Errorf("Publish(hops %d) error type %q non-retryable %v, want %q non-retryable", tc.hops, appErr.Type(), appErr.NonRetryable(), activities.ErrTypeLoopDetected)
			}
			if !strings.Contains(appErr.Error(), "past the limit") {
				t.Errorf("error %q does not explain the limit", appErr.Error())
			}
			if published != 0 {
				t.Errorf("a refused alert was published (%d messages)", published)
			}
		})
	}
}

func TestPublishInvalid(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	st := createStream(t, js, "SOAR_ALERTS", "alerts.>")
	with := func(k string, v any) map[string]any {
		m := linkageInput().Alert
		m[k] = v
		return m
	}
	without := func(k string) map[string]any {
		m := linkageInput().Alert
		delete(m, k)
		return m
	}
	good := linkageInput().Alert
	tests := []struct {
		name      string
		subject   string
		alert     map[string]any
		wantInMsg string
	}{
		{"subject outside alerts", "soar.events.x", good, "not under alerts."},
		{"subject alerts only", "alerts", good, "not under alerts."},
		{"subject wildcard", "alerts.soar.>", good, "wildcards"},
		{"subject star", "alerts.*.ddos", good, "wildcards"},
		{"subject empty token", "alerts..ddos", good, "empty token"},
		{"subject space", "alerts.soar.d dos", good, "spaces"},
		{"unknown field", "alerts.soar.ddos", with("sorce_ip", "1.2.3.4"), `unknown field "sorce_ip"`},
		{"nested unknown field", "alerts.soar.ddos", with("resource", map[string]any{"instanceid": "i-1"}), `unknown field "instanceid"`},
		{"wrong type", "alerts.soar.ddos", with("severity", "high"), "cannot unmarshal string"},
		{"fractional severity", "alerts.soar.ddos", with("severity", 4.5), "cannot unmarshal number 4.5"},
		{"bad time", "alerts.soar.ddos", with("time", "yesterday"), "parsing time"},
		{"label not a string", "alerts.soar.ddos", with("labels", map[string]any{"n": 1.0}), "cannot unmarshal number"},
		{"missing type", "alerts.soar.ddos", without("type"), "alert.type is required"},
		{"missing severity", "alerts.soar.ddos", without("severity"), "alert.severity is 0"},
		{"severity too high", "alerts.soar.ddos", with("severity", 6.0), "alert.severity is 6"},
		{"empty alert", "alerts.soar.ddos", map[string]any{}, "alert is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := linkageInput()
			in.Subject, in.Alert = tc.subject, tc.alert
			_, err := publish(t, natspub.Options{JetStream: js}, in)
			appErr := appError(t, err)
			if appErr.Type() != activities.ErrTypeInvalidInput || !appErr.NonRetryable() {
				t.Errorf("error type %q non-retryable %v, want %q non-retryable", appErr.Type(), appErr.NonRetryable(), activities.ErrTypeInvalidInput)
			}
			if !strings.Contains(appErr.Error(), tc.wantInMsg) {
				t.Errorf("error %q does not contain %q", appErr.Error(), tc.wantInMsg)
			}
		})
	}
	if n := streamMsgs(t, st); n != 0 {
		t.Errorf("invalid alerts published %d messages, want 0", n)
	}
}

func TestPublishDryRun(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	st := createStream(t, js, "SOAR_ALERTS", "alerts.>")
	in := linkageInput()
	in.Meta.DryRun = true
	for _, opts := range []natspub.Options{{JetStream: js}, {}} {
		out, err := publish(t, opts, in)
		if err != nil {
			t.Fatalf("Publish() dry-run error: %v", err)
		}
		want := activities.NATSPublishOutput{
			Outcome: activities.Outcome{DryRun: true, Plan: []string{
				"publish ddos alert " + out.AlertID + " (severity 4) to alerts.soar.ddos with Soar-Hops 2 (limit 3)",
			}},
			Subject: "alerts.soar.ddos", AlertID: out.AlertID, Hops: 2,
		}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("Publish() dry-run output mismatch (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(out.AlertID, "soar-") {
			t.Errorf("dry-run AlertID = %q, want the id a real run would use", out.AlertID)
		}
	}
	if n := streamMsgs(t, st); n != 0 {
		t.Errorf("dry-run published %d messages, want 0", n)
	}
}

func TestPublishNotConfigured(t *testing.T) {
	_, err := publish(t, natspub.Options{}, linkageInput())
	appErr := appError(t, err)
	if appErr.Type() != activities.ErrTypeNotConfigured || !appErr.NonRetryable() {
		t.Errorf("error type %q non-retryable %v, want %q non-retryable", appErr.Type(), appErr.NonRetryable(), activities.ErrTypeNotConfigured)
	}
}

func TestPublishNoStreamRetryable(t *testing.T) {
	s := runJetStream(t)
	js := connect(t, s)
	_, err := publish(t, natspub.Options{JetStream: js}, linkageInput())
	appErr := appError(t, err)
	if appErr.NonRetryable() {
		t.Errorf("no stream: error is non-retryable, want retryable: %v", err)
	}
	if !strings.Contains(appErr.Error(), "no JetStream stream captures the subject") {
		t.Errorf("error %q does not say that no stream answered", appErr.Error())
	}
}

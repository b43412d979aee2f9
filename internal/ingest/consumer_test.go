package ingest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

func sample(tb testing.TB, name string) (alert.Sample, alert.Alert) {
	tb.Helper()
	s, ok := alert.SampleByName(name)
	if !ok {
		tb.Fatalf("no sample %s", name)
	}
	a, err := alert.Decode(s.Subject, s.Payload, alert.DecodeOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return s, a
}

func wafPlaybook() *playbook.Playbook {
	return pb("waf-sqli", `alert.type == "sqli"`, "alert.source_ip", "alerts.waf.>")
}

func TestConsumer_DuplicatePublishAndCrashBeforeAck(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	pub := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	m := newMatcher(t, wafPlaybook())
	smp, a := sample(t, "waf-sqli-blacklist")

	// The first ingestor "crashes" after the incident accepted the alert
	// and before it acknowledged the message: its connection dies.
	nc1, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	st.fail = func(_ Delivery, call int) error {
		if call == 1 {
			nc1.Close()
		}
		return nil
	}
	_, stop1 := startConsumer(t, nc1, Options{NATS: n, Starter: st, Matcher: m, Metrics: metrics})

	first := publish(t, pub, smp.Subject, a.ID, smp.Payload, nil)
	second := publish(t, pub, smp.Subject, a.ID, smp.Payload, nil)
	if first.Duplicate || !second.Duplicate || second.Sequence != first.Sequence {
		t.Fatalf("publish twice with Nats-Msg-Id %s: first %+v, second %+v; want the second reported as a duplicate of the first", a.ID, first, second)
	}
	waitFor(t, "the first delivery", func() bool { return len(st.updateIDs()) == 1 })
	stop1()

	// A new ingestor gets the message again after AckWait.
	nc2 := connect(t, s)
	_, stop2 := startConsumer(t, nc2, Options{NATS: n, Starter: st, Matcher: m, Metrics: metrics})
	waitFor(t, "the message to be acknowledged", func() bool { return settled(t, pub, n) })
	stop2()

	want := a.ID + "/waf-sqli"
	if diff := cmp.Diff([]string{want, want}, st.updateIDs()); diff != "" {
		t.Errorf("UpdateIDs seen by the starter (-want +got):\n%s", diff)
	}
	if got := st.accepted(); got != 1 {
		t.Errorf("incidents accepted %d distinct deliveries, want 1", got)
	}
	if got := metric(t, metrics, "soar_ingest_acks_total"); got != 1 {
		t.Errorf("acks = %v, want 1", got)
	}
	info := consumerInfo(t, pub, n)
	if info.Delivered.Consumer != 2 || info.AckFloor.Stream != first.Sequence {
		t.Errorf("consumer delivered %d times with ack floor %d; want 2 deliveries of one message, acknowledged (stream seq %d)",
			info.Delivered.Consumer, info.AckFloor.Stream, first.Sequence)
	}
}

func TestConsumer_TransientFailureIsRetried(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	nc := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	st.fail = func(_ Delivery, call int) error {
		if call == 1 {
			return Transient(fmt.Errorf("frontend unavailable: %w", errBoom))
		}
		return nil
	}
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook()), Metrics: metrics})
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nil)

	waitFor(t, "the retried alert to be acknowledged", func() bool { return st.accepted() == 1 && settled(t, nc, n) })
	if got := len(st.updateIDs()); got != 2 {
		t.Errorf("starter called %d times, want 2 (a transient failure, then success)", got)
	}
	for name, want := range map[string]float64{"soar_ingest_naks_total": 1, "soar_ingest_acks_total": 1, "soar_ingest_dead_letters_total": 0} {
		if got := metric(t, metrics, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metric(t, metrics, "soar_ingest_delivery_errors_total", "kind", "transient"); got != 1 {
		t.Errorf("transient delivery errors = %v, want 1", got)
	}
}

func TestConsumer_PermanentFailureIsDeadLettered(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	nc := connect(t, s)
	dlq, err := nc.SubscribeSync(n.DLQPrefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	st := newFakeStarter()
	st.fail = func(Delivery, int) error { return fmt.Errorf("payload too large for history: %w", errBoom) }
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook())})
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nats.Header{"X-Forwarder": []string{"sls-alert-rule-7"}})

	dl, err := dlq.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	checkDeadLetter(t, dl, n.DLQPrefix+"."+ReasonRejected, smp.Subject, smp.Payload)
	if got := dl.Header.Get("Soar-Dlq-Playbook"); got != "waf-sqli" {
		t.Errorf("Soar-Dlq-Playbook = %q, want waf-sqli", got)
	}
	if got := dl.Header.Get("X-Forwarder"); got != "sls-alert-rule-7" {
		t.Errorf("original header X-Forwarder = %q, want it kept", got)
	}
	if got := dl.Header.Get("Soar-Original-Msg-Id"); got != a.ID {
		t.Errorf("Soar-Original-Msg-Id = %q, want %q", got, a.ID)
	}
	waitFor(t, "the message to be terminated", func() bool { return settled(t, nc, n) })
	if got := len(st.updateIDs()); got != 1 {
		t.Errorf("starter called %d times, want 1 (no redelivery after a permanent failure)", got)
	}
}

func checkDeadLetter(t *testing.T, dl *nats.Msg, subject, origSubject string, payload []byte) {
	t.Helper()
	if dl.Subject != subject {
		t.Errorf("dead letter on %s, want %s", dl.Subject, subject)
	}
	if !bytes.Equal(dl.Data, payload) {
		t.Errorf("dead letter payload %.80q, want the original %.80q", dl.Data, payload)
	}
	reason := subject[strings.LastIndexByte(subject, '.')+1:]
	if got := dl.Header.Get(HeaderDLQReason); got != reason {
		t.Errorf("%s = %q, want %q", HeaderDLQReason, got, reason)
	}
	if got := dl.Header.Get(HeaderOriginalSubject); got != origSubject {
		t.Errorf("%s = %q, want %q", HeaderOriginalSubject, got, origSubject)
	}
	if dl.Header.Get(HeaderDLQDetail) == "" {
		t.Errorf("%s is empty", HeaderDLQDetail)
	}
}

func TestConsumer_BadPayloadsAreDeadLettered(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	nc := connect(t, s)
	dlq, err := nc.SubscribeSync(n.DLQPrefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	metrics := NewMetrics()
	st := newFakeStarter()
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook()), Metrics: metrics})

	manyIPs := strings.TrimSuffix(strings.Repeat(`"203.0.113.9",`, alert.MaxListItems+1), ",")
	cases := []struct {
		name, subject string
		payload       []byte
		reason        string
	}{
		{"invalid JSON", "alerts.waf.sqli", []byte(`{"host": www.example.com}`), alert.ReasonInvalidJSON},
		{"truncated JSON", "alerts.sas.webshell", []byte(`{"name":"Webshell","level":`), alert.ReasonInvalidJSON},
		{"NaN literal", "alerts.soar.x", []byte(`{"type":"x","severity":NaN}`), alert.ReasonInvalidJSON},
		{"empty", "alerts.waf.sqli", []byte{}, alert.ReasonEmpty},
		{"array", "alerts.waf.sqli", []byte(`[{"host":"h"}]`), alert.ReasonNotObject},
		{"string", "alerts.waf.sqli", []byte(`"sqli"`), alert.ReasonNotObject},
		{"2 MiB body", "alerts.waf.sqli", append(append([]byte(`{"host":"h","final_rule_type":"sqli","q":"`), bytes.Repeat([]byte("a"), 2<<20)...), '"', '}'), alert.ReasonTooLarge},
		{"gzip", "alerts.waf.sqli", []byte("\x1f\x8b\x08\x00\x00\x09\x6e\x88\x00\xff"), alert.ReasonBinary},
		{"NUL bytes", "alerts.waf.sqli", []byte("{\"host\":\"\x00\x00\"}"), alert.ReasonBinary},
		{"invalid UTF-8", "alerts.waf.sqli", []byte{0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1}, alert.ReasonBinary},
		{"deep nesting", "alerts.waf.sqli", []byte(strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)), alert.ReasonTooDeep},
		{"huge array", "alerts.soar.x", []byte(`{"type":"x","raw":[` + strings.TrimSuffix(strings.Repeat("0,", 50_000), ",") + `]}`), alert.ReasonTooManyItems},
		{"too many IOCs", "alerts.soar.x", []byte(`{"type":"c2_connection","iocs":{"ips":[` + manyIPs + `]}}`), alert.ReasonTooManyItems},
		{"missing SAS name", "alerts.sas.webshell", []byte(`{"level":"serious","uuid":"u-1"}`), alert.ReasonMissingField},
		{"missing WAF host", "alerts.waf.sqli", []byte(`{"final_rule_type":"sqli","real_client_ip":"203.0.113.7"}`), alert.ReasonMissingField},
		{"CloudEvent without data", "alerts.ddos.blackhole", []byte(`{"specversion":"1.0","id":"e1","type":"ddos:CloudMonitor:DdosbgpEventBlackhole"}`), alert.ReasonMissingField},
		{"severity as object", "alerts.soar.x", []byte(`{"type":"x","severity":{"level":5}}`), alert.ReasonInvalidField},
		{"pid as text", "alerts.soar.x", []byte(`{"type":"x","process":{"pid":"31337; rm -rf /"}}`), alert.ReasonInvalidField},
		{"source_ip not an IP", "alerts.waf.sqli", []byte(`{"host":"h","final_rule_type":"sqli","real_client_ip":"' OR 1=1 --"}`), alert.ReasonInvalidField},
		{"typo in envelope", "alerts.soar.x", []byte(`{"type":"x","sorce_ip":"203.0.113.7"}`), alert.ReasonInvalidField},
		{"time year 10000", "alerts.soar.x", []byte(`{"type":"x","time":"10000-01-01T00:00:00Z"}`), alert.ReasonInvalidField},
		{"hostile type", "alerts.soar.x", []byte(`{"type":"<script>alert(1)</script>"}`), alert.ReasonInvalidField},
		{"unknown vendor", "alerts.splunk.notable", []byte(`{"search_name":"Brute force","result":{"src":"203.0.113.7"}}`), alert.ReasonUnknownSource},
	}
	if len(cases) < 20 {
		t.Fatalf("%d cases, want at least 20", len(cases))
	}
	for i, c := range cases {
		publish(t, nc, c.subject, fmt.Sprintf("bad-%d", i), c.payload, nats.Header{"X-Case": []string{c.name}})
	}
	got := map[string]*nats.Msg{}
	for range cases {
		dl, err := dlq.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatalf("dead letters: got %d of %d: %v", len(got), len(cases), err)
		}
		got[dl.Header.Get("X-Case")] = dl
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dl, ok := got[c.name]
			if !ok {
				t.Fatalf("no dead letter for %s", c.name)
			}
			checkDeadLetter(t, dl, n.DLQPrefix+"."+c.reason, c.subject, c.payload)
		})
	}

	// The consumer survived all of them: a good alert still goes through.
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nil)
	waitFor(t, "the good alert", func() bool { return st.accepted() == 1 && settled(t, nc, n) })
	if got := metric(t, metrics, "soar_ingest_dead_letters_total"); got != float64(len(cases)) {
		t.Errorf("dead letters = %v, want %d", got, len(cases))
	}
	if got := metric(t, metrics, "soar_ingest_dead_letters_total", "reason", alert.ReasonInvalidField); got != 6 {
		t.Errorf("invalid_field dead letters = %v, want 6", got)
	}
	// Dead letters are also kept in the DLQ stream.
	if info := streamInfo(t, nc, DefaultDLQStream); info.State.Msgs != uint64(len(cases)) {
		t.Errorf("%s holds %d messages, want %d", DefaultDLQStream, info.State.Msgs, len(cases))
	}
}

func TestConsumer_MaxDeliverReachesDeadLetter(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	n.MaxDeliver = 2
	nc := connect(t, s)
	dlq, err := nc.SubscribeSync(n.DLQPrefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	st := newFakeStarter()
	st.fail = func(Delivery, int) error { return Transient(errBoom) }
	metrics := NewMetrics()
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook()), Metrics: metrics})
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nats.Header{"X-Forwarder": []string{"test"}})

	dl, err := dlq.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	checkDeadLetter(t, dl, n.DLQPrefix+"."+ReasonMaxDeliveries, smp.Subject, smp.Payload)
	if got := dl.Header.Get(HeaderDeliveries); got != "2" {
		t.Errorf("%s = %q, want 2", HeaderDeliveries, got)
	}
	if got := dl.Header.Get("X-Forwarder"); got != "test" {
		t.Errorf("original header lost: X-Forwarder = %q", got)
	}
	if got := len(st.updateIDs()); got != 2 {
		t.Errorf("starter called %d times, want MaxDeliver = 2", got)
	}
	waitFor(t, "the max_deliveries dead letter to be counted", func() bool {
		return metric(t, metrics, "soar_ingest_dead_letters_total", "reason", ReasonMaxDeliveries) == 1
	})
}

// TestConsumer_AckOnlyAfterEveryPlaybook: two playbooks match; one fails
// transiently, so the message is not acknowledged and comes back; the other
// sees the same UpdateID again and answers from its first outcome.
func TestConsumer_AckOnlyAfterEveryPlaybook(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	nc := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	failedOnce := false
	st.fail = func(d Delivery, _ int) error {
		if d.Playbook.Name == "b-notify" && !failedOnce {
			failedOnce = true
			return Transient(errBoom)
		}
		return nil
	}
	m := newMatcher(t,
		pb("a-block", `alert.type == "sqli"`, "alert.source_ip", "alerts.waf.>"),
		pb("b-notify", `alert.severity >= 3`, "", "alerts.*.sqli"),
	)
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: m, Metrics: metrics, Concurrency: 1})
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nil)

	waitFor(t, "both incidents to accept the alert", func() bool { return st.accepted() == 2 && settled(t, nc, n) })
	ids := st.updateIDs()
	slices.Sort(ids)
	want := []string{a.ID + "/a-block", a.ID + "/a-block", a.ID + "/b-notify", a.ID + "/b-notify"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("UpdateIDs (-want +got):\n%s", diff)
	}
	if got := metric(t, metrics, "soar_ingest_naks_total"); got != 1 {
		t.Errorf("naks = %v, want 1 (not acknowledged while b-notify failed)", got)
	}
	if got := metric(t, metrics, "soar_ingest_acks_total"); got != 1 {
		t.Errorf("acks = %v, want 1", got)
	}
	// a-block's second delivery was answered from its first outcome.
	st.mu.Lock()
	ack := st.acks[a.ID+"/a-block"]
	st.mu.Unlock()
	if ack != (workflows.AlertAck{Incident: workflows.IncidentID("a-block", "203.0.113.7"), AlertCount: 1}) {
		t.Errorf("a-block ack = %+v", ack)
	}
}

func TestConsumer_UnmatchedIsAckedAndHopsAreLabelled(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	nc := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	m := newMatcher(t, pb("linked", `alert.labels["soar.hops"] == "2"`, "", "alerts.soar.>"))
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: m, Metrics: metrics})

	publish(t, nc, "alerts.soar.traffic_anomaly", "hop", []byte(`{"id":"hop","type":"traffic_anomaly","severity":4}`), nats.Header{HopsHeader: []string{"2"}})
	publish(t, nc, "alerts.sas.x", "nomatch", []byte(`{"id":"nomatch","type":"webshell"}`), nil)
	// The ack reaches the server before the consumer counts it.
	waitFor(t, "both messages", func() bool {
		return settled(t, nc, n) && metric(t, metrics, "soar_ingest_acks_total") == 2
	})
	if got := st.updateIDs(); !slices.Equal(got, []string{"hop/linked"}) {
		t.Errorf("deliveries = %v, want [hop/linked]", got)
	}
	if got := metric(t, metrics, "soar_ingest_alerts_unmatched_total"); got != 1 {
		t.Errorf("unmatched = %v, want 1", got)
	}
	if got := metric(t, metrics, "soar_ingest_dead_letters_total"); got != 0 {
		t.Errorf("dead letters = %v, want 0 (no match is not an error)", got)
	}
	if got := metric(t, metrics, "soar_ingest_acks_total"); got != 2 {
		t.Errorf("acks = %v, want 2", got)
	}
}

// TestConsumer_DrainFinishesInFlight: shutting down waits for the delivery
// in progress and acknowledges it.
func TestConsumer_DrainFinishesInFlight(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	nc := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	st.called = make(chan Delivery)
	release := make(chan struct{})
	st.fail = func(Delivery, int) error { <-release; return nil }
	_, stop := startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook()), Metrics: metrics})
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nil)
	<-st.called

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a delivery was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-stopped
	if got := metric(t, metrics, "soar_ingest_acks_total"); got != 1 {
		t.Errorf("acks after drain = %v, want 1", got)
	}
	if !settled(t, nc, n) {
		t.Error("the in-flight message was not acknowledged")
	}
}

// TestConsumer_SlowDeliveryIsKeptInProgress: a delivery slower than
// AckWait is not redelivered meanwhile.
func TestConsumer_SlowDeliveryIsKeptInProgress(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	n.AckWait = 3 * time.Second // InProgress every second: 2 s of slack on a busy machine
	nc := connect(t, s)
	st := newFakeStarter()
	st.fail = func(Delivery, int) error { time.Sleep(4 * time.Second); return nil }
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook())})
	smp, a := sample(t, "waf-sqli-blacklist")
	publish(t, nc, smp.Subject, a.ID, smp.Payload, nil)
	waitFor(t, "the slow delivery", func() bool { return st.accepted() == 1 && settled(t, nc, n) })
	if got := len(st.updateIDs()); got != 1 {
		t.Errorf("starter called %d times, want 1 (InProgress keeps the message while the delivery runs)", got)
	}
	if info := consumerInfo(t, nc, n); info.NumRedelivered != 0 || info.Delivered.Consumer != 1 {
		t.Errorf("consumer delivered %d times (%d redelivered), want 1", info.Delivered.Consumer, info.NumRedelivered)
	}
}

func TestNewConsumer_RefusesDeadLettersInsideTheAlertStream(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	n.DLQPrefix = "alerts.dlq"
	_, err := NewConsumer(connect(t, s), Options{NATS: n, Starter: newFakeStarter(), Matcher: newMatcher(t)})
	if err == nil || !strings.Contains(err.Error(), "consumed as alerts again") {
		t.Errorf("NewConsumer with dlq_prefix alerts.dlq: %v, want a refusal", err)
	}
}

func TestBackOff(t *testing.T) {
	if got := backOff(30*time.Second, 10); len(got) != 6 || got[0] != 30*time.Second || got[5] != 5*time.Minute {
		t.Errorf("backOff(30s, 10) = %v", got)
	}
	if got := backOff(time.Second, 1); got != nil {
		t.Errorf("backOff(1s, 1) = %v, want none", got)
	}
	if got := backOff(time.Second, 3); len(got) != 2 {
		t.Errorf("backOff(1s, 3) = %v, want 2 steps", got)
	}
}

// TestConsumer_WaitingMessageIsKeptInProgress: the message pulled ahead
// while every worker is busy waits for one longer than AckWait without
// being redelivered.
func TestConsumer_WaitingMessageIsKeptInProgress(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	n.AckWait = 1500 * time.Millisecond // InProgress every 500 ms: 1 s of slack on a busy machine
	nc := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	st.fail = func(Delivery, int) error { time.Sleep(2 * time.Second); return nil }
	startConsumer(t, nc, Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook()), Metrics: metrics, Concurrency: 1})
	smp, _ := sample(t, "waf-sqli-blacklist")
	for i := range 3 {
		data, err := alert.Variant(smp.Subject, smp.Payload, i+1, "")
		if err != nil {
			t.Fatal(err)
		}
		a, err := alert.Decode(smp.Subject, data, alert.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		publish(t, nc, smp.Subject, a.ID, data, nil)
	}
	waitFor(t, "every alert acknowledged", func() bool {
		return metric(t, metrics, "soar_ingest_acks_total") == 3 && settled(t, nc, n)
	})
	if got := len(st.updateIDs()); got != 3 {
		t.Errorf("starter called %d times for 3 alerts, want 3", got)
	}
	if info := consumerInfo(t, nc, n); info.NumRedelivered != 0 || info.Delivered.Consumer != 3 {
		t.Errorf("consumer delivered %d messages (%d redelivered), want 3 and none redelivered", info.Delivered.Consumer, info.NumRedelivered)
	}
}

// TestConsumer_SlowStarterGetsEveryAlertOnce: when deliveries are slow
// (Temporal under load), messages pulled ahead of the workers must not
// outlive AckWait in a local buffer: each would be redelivered, delivered
// again (a duplicate UpdateWithStart) and move towards MaxDeliver.
func TestConsumer_SlowStarterGetsEveryAlertOnce(t *testing.T) {
	s := runJetStream(t)
	n := testNATS()
	n.AckWait = 2 * time.Second
	n.MaxDeliver = 10
	nc := connect(t, s)
	metrics := NewMetrics()
	st := newFakeStarter()
	st.fail = func(Delivery, int) error { time.Sleep(400 * time.Millisecond); return nil }
	opts := Options{NATS: n, Starter: st, Matcher: newMatcher(t, wafPlaybook()), Metrics: metrics, Concurrency: 1}
	setup, err := NewConsumer(nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	smp, _ := sample(t, "waf-sqli-blacklist")
	const alerts = 30
	var want []string
	for i := range alerts {
		data, err := alert.Variant(smp.Subject, smp.Payload, i+1, "")
		if err != nil {
			t.Fatal(err)
		}
		a, err := alert.Decode(smp.Subject, data, alert.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.ID)
		publish(t, nc, smp.Subject, a.ID, data, nil)
	}
	startConsumer(t, nc, opts)
	waitFor(t, "every alert acknowledged", func() bool {
		return metric(t, metrics, "soar_ingest_acks_total") == alerts && settled(t, nc, n)
	})

	st.mu.Lock()
	var got []string
	for _, d := range st.calls {
		got = append(got, d.Alert.ID)
	}
	st.mu.Unlock()
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts reaching the starter (-want +got, each exactly once):\n%s", diff)
	}
	if info := consumerInfo(t, nc, n); info.NumRedelivered != 0 || info.Delivered.Consumer != alerts {
		t.Errorf("consumer delivered %d messages (%d redelivered), want %d and none redelivered", info.Delivered.Consumer, info.NumRedelivered, alerts)
	}
}

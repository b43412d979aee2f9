package natspub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
)

// AlertSubjectPrefix is where linkage alerts may be published.
const AlertSubjectPrefix = "alerts."

// Publish implements nats.publish: it raises in.Alert on in.Subject for
// the playbooks that match it.
//
// The alert must have the envelope's shape (internal/alert): unknown fields
// and wrong types are refused with [activities.ErrTypeInvalidInput], as are
// a missing type and a severity outside 1-5. Missing source, id and time
// are filled: source "soar", an id hashed from the incident, step, subject
// and content (so that an activity retry publishes the same Nats-Msg-Id and
// JetStream drops it as a duplicate), and the current time.
//
// The message carries Nats-Msg-Id (the alert id) and Soar-Hops, one more
// than in.Meta.Hops; past the hop limit the alert is refused with
// non-retryable [activities.ErrTypeLoopDetected], so that two playbooks
// raising alerts for each other cannot loop. On dry-run the alert is
// validated and planned, and nothing is published.
func (a *Activities) Publish(ctx context.Context, in activities.NATSPublishInput) (activities.NATSPublishOutput, error) {
	hops := in.Meta.Hops + 1
	out := activities.NATSPublishOutput{Subject: in.Subject, Hops: hops}
	if err := checkAlertSubject(in.Subject); err != nil {
		return out, nonRetryable(activities.ErrTypeInvalidInput, "nats.publish: %v", err)
	}
	al, content, err := decodeAlert(in.Alert)
	if err != nil {
		return out, nonRetryable(activities.ErrTypeInvalidInput, "nats.publish to %s: %v", in.Subject, err)
	}
	if hops > a.maxHops {
		return out, nonRetryable(activities.ErrTypeLoopDetected,
			"nats.publish to %s: the alert would be linkage hop %d, past the limit of %d (guardrails.max_linkage_hops): refusing a possible loop of playbooks raising alerts for each other",
			in.Subject, hops, a.maxHops)
	}
	if al.Source == "" {
		al.Source = alert.SourceSoar
	}
	if al.ID == "" {
		al.ID = alertID(in.Meta, in.Subject, content)
	}
	al.Normalize(a.now())
	out.AlertID = al.ID
	data, err := json.Marshal(al)
	if err != nil {
		return out, nonRetryable(activities.ErrTypeInvalidInput, "nats.publish to %s: encode alert: %v", in.Subject, err)
	}
	plan := fmt.Sprintf("publish %s alert %s (severity %d) to %s with %s %d (limit %d)",
		al.Type, al.ID, al.Severity, in.Subject, HeaderHops, hops, a.maxHops)
	if in.Meta.DryRun {
		out.DryRun = true
		out.Plan = []string{plan}
		return out, nil
	}

	js, err := a.jetStream()
	if err != nil {
		return out, err
	}
	msg := nats.NewMsg(in.Subject)
	msg.Data = data
	msg.Header.Set(HeaderHops, strconv.Itoa(hops))
	if in.Meta.Incident != "" {
		msg.Header.Set(HeaderIncident, in.Meta.Incident)
	}
	// Ask first: without a stream, a JetStream publish would wait for an ack
	// that a plain subscriber on the subject never sends.
	if _, err := js.StreamNameBySubject(ctx, in.Subject); err != nil {
		return out, publishError(in.Subject, err)
	}
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(al.ID))
	if err != nil {
		return out, publishError(in.Subject, err)
	}
	out.Sequence = ack.Sequence
	out.Duplicate = ack.Duplicate
	out.Changed = !ack.Duplicate
	if ack.Duplicate {
		out.Plan = []string{fmt.Sprintf("alert %s was already published to %s (stream %s, sequence %d)", al.ID, in.Subject, ack.Stream, ack.Sequence)}
	} else {
		out.Plan = []string{fmt.Sprintf("published %s alert %s to %s (stream %s, sequence %d, %s %d)", al.Type, al.ID, in.Subject, ack.Stream, ack.Sequence, HeaderHops, hops)}
	}
	a.log.InfoContext(ctx, "linkage alert published", "subject", in.Subject, "alert", al.ID, "hops", hops,
		"incident", in.Meta.Incident, "step", in.Meta.Step, "sequence", ack.Sequence, "duplicate", ack.Duplicate)
	return out, nil
}

// decodeAlert checks that m has the envelope's shape by decoding its JSON
// into [alert.Alert] with unknown fields refused. It returns the alert and
// its canonical JSON before anything is filled in.
func decodeAlert(m map[string]any) (alert.Alert, []byte, error) {
	var al alert.Alert
	if len(m) == 0 {
		return al, nil, errors.New("alert is empty")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return al, nil, fmt.Errorf("encode alert: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&al); err != nil {
		return al, nil, fmt.Errorf("alert does not have the envelope's shape: %w", err)
	}
	if al.Type == "" {
		return al, nil, errors.New("alert.type is required (e.g. ddos, sqli, c2_connection)")
	}
	if al.Severity < alert.SeverityInfo || al.Severity > alert.SeverityCritical {
		return al, nil, fmt.Errorf("alert.severity is %d, want 1 (info) to 5 (critical)", al.Severity)
	}
	content, err := json.Marshal(al)
	if err != nil {
		return al, nil, fmt.Errorf("encode alert: %w", err)
	}
	return al, content, nil
}

// alertID is the deterministic id of a linkage alert without one: the same
// incident, step, subject and content always give the same id.
func alertID(m activities.Meta, subject string, content []byte) string {
	h := sha256.New()
	for _, s := range []string{m.Incident, m.Step, subject} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(content)
	return "soar-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// publishError classifies a JetStream publish error: an oversized message
// is non-retryable; no stream, timeouts and server errors retry.
func publishError(subject string, err error) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return nonRetryable(activities.ErrTypeInvalidInput, "publish to %s: %v", subject, err)
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("publish to %s: no JetStream stream captures the subject (is the alerts stream created?): %w", subject, err)
	}
	return fmt.Errorf("publish to %s: %w", subject, err)
}

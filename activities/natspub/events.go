package natspub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/activities"
)

// flushTimeout bounds the core-NATS fallback of PublishEvent when the
// context has no deadline.
const flushTimeout = 5 * time.Second

// EventSubject is the subject of ev under prefix:
// <prefix>.<playbook>.<event>, each name made one safe token.
func EventSubject(prefix string, ev activities.IncidentEvent) string {
	return prefix + "." + token(ev.Playbook) + "." + token(ev.Event)
}

// PublishEvent implements soar.events.publish: it publishes ev as JSON to
// <EventsPrefix>.<playbook>.<event> with a Nats-Msg-Id derived from the
// event (incident, event, step, time and detail), so that a retried publish
// is dropped by the stream that keeps events.
//
// Events are kept only if a JetStream stream captures the subject (for
// example a stream on soar.events.>). Without one they are published on
// core NATS, for live subscribers only, rather than failing the incident.
func (a *Activities) PublishEvent(ctx context.Context, ev activities.IncidentEvent) error {
	switch {
	case ev.Event == "":
		return nonRetryable(activities.ErrTypeInvalidInput, "incident event: event is required")
	case ev.Incident == "":
		return nonRetryable(activities.ErrTypeInvalidInput, "incident event %s: incident is required", ev.Event)
	case ev.Playbook == "":
		return nonRetryable(activities.ErrTypeInvalidInput, "incident event %s of %s: playbook is required", ev.Event, ev.Incident)
	}
	if err := checkSubject(a.prefix); err != nil {
		return nonRetryable(activities.ErrTypeNotConfigured, "events prefix %q: %v", a.prefix, err)
	}
	js, err := a.jetStream()
	if err != nil {
		return err
	}
	subject := EventSubject(a.prefix, ev)
	data, err := json.Marshal(ev)
	if err != nil {
		return nonRetryable(activities.ErrTypeInvalidInput, "incident event %s of %s: encode: %v", ev.Event, ev.Incident, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderIncident, ev.Incident)
	msg.Header.Set(jetstream.MsgIDHeader, eventID(subject, data))
	// Ask first: without a stream, a JetStream publish would wait for an ack
	// that a plain subscriber on the subject never sends.
	_, err = js.StreamNameBySubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return a.publishCore(ctx, js.Conn(), msg)
	case err != nil:
		return fmt.Errorf("find the stream of %s: %w", subject, err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return publishError(subject, err)
	}
	return nil
}

// publishCore publishes msg on core NATS and waits until the server has it.
func (a *Activities) publishCore(ctx context.Context, nc *nats.Conn, msg *nats.Msg) error {
	if err := nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("publish to %s: flush: %w", msg.Subject, err)
	}
	a.log.DebugContext(ctx, "incident event published without a stream", "subject", msg.Subject)
	return nil
}

// eventID is the Nats-Msg-Id of an incident event: a hash of its subject
// and JSON, that is of the incident, event, step, time and detail. The workflow
// builds the same event on every retry; two different events in the same
// workflow task (two approvals at the same workflow time) differ in detail.
func eventID(subject string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write(data)
	return "ev-" + hex.EncodeToString(h.Sum(nil)[:16])
}

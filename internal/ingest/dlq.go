package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dead-letter reasons of the consumer, besides the decode reasons of
// package alert (alert.Reasons).
const (
	// ReasonRejected: an incident refused the alert permanently (the
	// Starter returned an error that is not transient).
	ReasonRejected = "rejected"
	// ReasonMaxDeliveries: the message was delivered MaxDeliver times
	// without being acknowledged (transient failures that never ended).
	ReasonMaxDeliveries = "max_deliveries"
)

// Dead-letter headers. The original message's headers are kept, except
// Nats-* control headers, which are renamed Soar-Original-<name>.
const (
	HeaderDLQReason       = "Soar-Dlq-Reason"
	HeaderDLQDetail       = "Soar-Dlq-Detail"
	HeaderOriginalSubject = "Soar-Original-Subject"
	HeaderOriginalSeq     = "Soar-Original-Sequence"
	HeaderDeliveries      = "Soar-Dlq-Deliveries"
)

// maxDetail bounds the detail header.
const maxDetail = 1024

// deadLetter publishes msg's payload and headers to <dlq prefix>.<reason>
// and terminates it. If the publish fails, the message is nak'ed instead,
// so nothing is dropped without a trace.
func (c *Consumer) deadLetter(ctx context.Context, msg jetstream.Msg, reason, detail string, extra map[string]string) {
	var seq, delivered uint64
	if meta, err := msg.Metadata(); err == nil {
		seq, delivered = meta.Sequence.Stream, meta.NumDelivered
	}
	out := c.dlqMsg(msg.Subject(), msg.Headers(), msg.Data(), seq, delivered, reason, detail, extra)
	if err := c.publishDLQ(ctx, out); err != nil {
		c.log.Error("dead letter not published: will retry", "subject", msg.Subject(), "reason", reason, "error", err)
		c.nak(msg, c.nakDelay(msg))
		return
	}
	c.opts.Metrics.deadLettered(reason)
	c.log.Warn("alert dead-lettered", "subject", msg.Subject(), "reason", reason, "detail", clipDetail(detail), "dlq_subject", out.Subject)
	if err := msg.TermWithReason(reason); err != nil {
		c.log.Warn("term failed: the alert may be redelivered and dead-lettered again (deduplicated by Nats-Msg-Id)", "subject", msg.Subject(), "error", err)
	}
}

// dlqMsg builds the dead letter of one original message.
func (c *Consumer) dlqMsg(subject string, hdr nats.Header, data []byte, seq, delivered uint64, reason, detail string, extra map[string]string) *nats.Msg {
	out := nats.NewMsg(c.opts.NATS.DLQPrefix + "." + reason)
	out.Data = data
	for k, vs := range hdr {
		if strings.HasPrefix(k, "Nats-") {
			k = "Soar-Original-" + strings.TrimPrefix(k, "Nats-")
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	out.Header.Set(HeaderDLQReason, reason)
	out.Header.Set(HeaderDLQDetail, clipDetail(detail))
	out.Header.Set(HeaderOriginalSubject, subject)
	if seq > 0 {
		out.Header.Set(HeaderOriginalSeq, strconv.FormatUint(seq, 10))
		// One dead letter per original message, however often it is tried.
		out.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq.%s.%d", c.opts.NATS.Stream, seq))
	}
	if delivered > 0 {
		out.Header.Set(HeaderDeliveries, strconv.FormatUint(delivered, 10))
	}
	for k, v := range extra {
		out.Header.Set(k, v)
	}
	return out
}

// publishDLQ publishes to the dead-letter stream, or on plain NATS when no
// stream captures the subject.
func (c *Consumer) publishDLQ(ctx context.Context, m *nats.Msg) error {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := c.js.PublishMsg(pctx, m, jetstream.WithRetryAttempts(0))
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		if err := c.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	return nil
}

// advisory is the part of a JetStream consumer advisory we read.
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// MaxDeliveriesSubject is the advisory JetStream sends when a message of
// the consumer reached MaxDeliver.
func MaxDeliveriesSubject(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// subscribeAdvisories turns MaxDeliver advisories into max_deliveries dead
// letters: the original is read from the stream by sequence. Ingestors
// share a queue group, so one of them handles each advisory, and the
// dead letter's Nats-Msg-Id makes a repeat harmless.
func (c *Consumer) subscribeAdvisories() (*nats.Subscription, error) {
	subj := MaxDeliveriesSubject(c.opts.NATS.Stream, c.opts.NATS.Consumer)
	sub, err := c.nc.QueueSubscribe(subj, c.opts.NATS.Consumer+"-dlq", func(m *nats.Msg) {
		var adv advisory
		if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
			c.log.Warn("unreadable max-deliveries advisory", "error", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.deadLetterSeq(ctx, adv); err != nil {
			c.log.Error("max-deliveries dead letter failed", "stream_seq", adv.StreamSeq, "error", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subj, err)
	}
	return sub, nil
}

func (c *Consumer) deadLetterSeq(ctx context.Context, adv advisory) error {
	orig, err := c.stream.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return fmt.Errorf("get message %d: %w", adv.StreamSeq, err)
	}
	detail := fmt.Sprintf("delivered %d times without being accepted by every matching incident (transient failures); see the ingest log for the last error", adv.Deliveries)
	out := c.dlqMsg(orig.Subject, orig.Header, orig.Data, orig.Sequence, adv.Deliveries, ReasonMaxDeliveries, detail, nil)
	if err := c.publishDLQ(ctx, out); err != nil {
		return err
	}
	c.opts.Metrics.deadLettered(ReasonMaxDeliveries)
	c.log.Warn("alert dead-lettered", "subject", orig.Subject, "reason", ReasonMaxDeliveries, "stream_seq", adv.StreamSeq)
	return nil
}

// clipDetail makes detail a header value: one line, at most maxDetail
// bytes.
func clipDetail(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxDetail {
		return s
	}
	n := maxDetail - 3
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

func joinDetail(parts []string) string { return strings.Join(parts, "; ") }

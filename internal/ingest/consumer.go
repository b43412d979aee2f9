package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
)

// Defaults of [Options].
const (
	DefaultConcurrency     = 32
	DefaultNakDelay        = time.Second
	DefaultMaxNakDelay     = time.Minute
	DefaultDeliveryTimeout = 2 * time.Minute
	// DefaultDLQStream is the stream that keeps dead letters.
	DefaultDLQStream = "SOAR_DLQ"
)

// HopsHeader carries the linkage hop counter of alerts raised by the
// nats.publish action; the consumer copies it into Labels[HopsLabel].
const (
	HopsHeader = "Soar-Hops"
	HopsLabel  = "soar.hops"
)

// Options configures a [Consumer].
type Options struct {
	// NATS is soar.yaml's nats section: stream, subjects, consumer, ack
	// wait, max deliver, max ack pending, alert size limit, DLQ prefix.
	NATS config.NATS
	// DLQStream is the stream created over "<dlq prefix>.>" so dead letters
	// are kept (MaxAge as the alert stream); default [DefaultDLQStream].
	DLQStream string
	// Starter delivers alerts to incidents. Required.
	Starter Starter
	// Matcher decides which playbooks an alert triggers. Required.
	Matcher *Matcher
	Logger  *slog.Logger
	Metrics *Metrics
	// Concurrency is how many messages are processed at once, and how
	// many the client pulls ahead of the workers; default
	// [DefaultConcurrency]. MaxAckPending bounds it across ingestors.
	Concurrency int
	// NakDelay is the delay of the first redelivery after a transient
	// failure, doubled per delivery up to MaxNakDelay.
	NakDelay, MaxNakDelay time.Duration
	// DeliveryTimeout bounds one delivery to an incident; it keeps running
	// through a shutdown so that in-flight work finishes.
	DeliveryTimeout time.Duration
	// Now is the clock for trigger evaluation; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.DLQStream == "" {
		o.DLQStream = DefaultDLQStream
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.NakDelay <= 0 {
		o.NakDelay = DefaultNakDelay
	}
	if o.MaxNakDelay <= 0 {
		o.MaxNakDelay = DefaultMaxNakDelay
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NATS.DLQPrefix == "" {
		o.NATS.DLQPrefix = "soar.dlq"
	}
	if o.NATS.MaxAlertBytes <= 0 {
		o.NATS.MaxAlertBytes = alert.DefaultMaxBytes
	}
	return o
}

// pullHeartbeat is the idle heartbeat the server sends on each waiting pull
// request. nats.go (v1.55) can miss issuing the next pull when a whole
// batch arrives and is handled while the previous pull request is still
// being sent (reproduced with 32-message pulls on a loaded 2-core machine);
// the consumer then sits idle until two heartbeats are missed: 30 s with
// the default heartbeat, 2 s with this one.
const pullHeartbeat = time.Second

// Consumer is the JetStream side of `soar ingest`: it reads the alert
// stream through a durable pull consumer, decodes and matches each alert,
// delivers it to every matching playbook's incident, and acknowledges the
// message only when all of them accepted it.
//
// Back-pressure has one known limit: while every worker is busy, up to
// Concurrency messages wait in the client's pull buffer, which is not kept
// in progress. If a single delivery takes longer than AckWait (Temporal
// badly degraded), those may be redelivered; the duplicate delivery is
// answered from the first outcome (same Update ID), but it counts towards
// MaxDeliver.
type Consumer struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
	log  *slog.Logger

	stream jetstream.Stream
	cons   jetstream.Consumer
}

// NewConsumer returns a consumer on nc. Call [Consumer.Setup] (or Run,
// which calls it) before use.
func NewConsumer(nc *nats.Conn, opts Options) (*Consumer, error) {
	if opts.Starter == nil || opts.Matcher == nil {
		return nil, errors.New("ingest: Options.Starter and Options.Matcher are required")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	opts = opts.withDefaults()
	for _, p := range opts.NATS.Subjects {
		if subjectMatch(p, opts.NATS.DLQPrefix+".reason") {
			return nil, fmt.Errorf("ingest: dead letters (%s.<reason>) would fall inside the alert stream's subject %s and be consumed as alerts again; choose another nats.dlq_prefix", opts.NATS.DLQPrefix, p)
		}
	}
	return &Consumer{nc: nc, js: js, opts: opts, log: opts.Logger}, nil
}

// Setup creates or updates the alert stream (file storage, duplicate
// window, max age, replicas), the dead-letter stream, and the durable pull
// consumer (explicit acks, AckWait, MaxDeliver, BackOff, MaxAckPending).
// It is idempotent: every ingestor replica calls it.
func (c *Consumer) Setup(ctx context.Context) error {
	n := c.opts.NATS
	replicas := max(n.Replicas, 1)
	stream, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.Stream,
		Description: "soar alerts (alerts.>), consumed by soar ingest",
		Subjects:    n.Subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  n.DuplicateWindow,
		MaxAge:      n.MaxAge,
		Replicas:    replicas,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", n.Stream, err)
	}
	c.stream = stream
	if _, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        c.opts.DLQStream,
		Description: "soar dead letters: alerts that could not be decoded or delivered, with the reason in headers",
		Subjects:    []string{n.DLQPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  n.DuplicateWindow,
		MaxAge:      n.MaxAge,
		Replicas:    replicas,
	}); err != nil {
		// Dead letters are still published; someone else's stream may
		// capture them, or they go to subscribers only.
		c.log.Warn("dead-letter stream not created", "stream", c.opts.DLQStream, "error", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       n.Consumer,
		Description:   "soar ingest: ack after every matching incident accepted the alert",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.AckWait,
		MaxDeliver:    n.MaxDeliver,
		BackOff:       backOff(n.AckWait, n.MaxDeliver),
		MaxAckPending: n.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", n.Consumer, n.Stream, err)
	}
	c.cons = cons
	return nil
}

// backOff is the redelivery schedule of messages never acknowledged (a
// crashed or stuck ingestor): AckWait, then doubling up to 5 minutes, at
// most MaxDeliver-1 steps (the server requires len ≤ MaxDeliver).
func backOff(ackWait time.Duration, maxDeliver int) []time.Duration {
	if ackWait <= 0 || maxDeliver < 2 {
		return nil
	}
	var out []time.Duration
	for d := ackWait; len(out) < min(maxDeliver-1, 6); d *= 2 {
		out = append(out, min(d, 5*time.Minute))
	}
	return out
}

// Run consumes until ctx is cancelled, then drains: it stops fetching,
// hands messages already buffered back to the server (Nak, for another
// ingestor), lets in-flight deliveries finish, and returns. It also turns
// MaxDeliver advisories into max_deliveries dead letters.
func (c *Consumer) Run(ctx context.Context) error {
	if c.cons == nil {
		if err := c.Setup(ctx); err != nil {
			return err
		}
	}
	adv, err := c.subscribeAdvisories()
	if err != nil {
		return err
	}
	defer func() {
		if err := adv.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			c.log.Warn("unsubscribe advisories", "error", err)
		}
	}()

	work := make(chan jetstream.Msg)
	stopping := make(chan struct{})
	var wg sync.WaitGroup
	for range c.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range work {
				c.handle(ctx, msg)
			}
		}()
	}
	// Back-pressure: only messages being handled are kept in progress (see
	// handle), so the client pulls no more than one message per worker
	// ahead. A message pulled ahead waits for a worker for about one
	// delivery at most; a deeper buffer would hold messages past AckWait
	// when Temporal is slow, and each would be redelivered, delivered twice
	// and counted towards MaxDeliver. The message this callback holds while
	// every worker is busy is kept in progress until a worker takes it.
	every := c.opts.NATS.AckWait / 3
	wait := time.NewTimer(time.Hour) // reused: the callback runs on one goroutine
	wait.Stop()
	defer wait.Stop()
	cc, err := c.cons.Consume(func(msg jetstream.Msg) {
		select {
		case <-stopping:
			c.nak(msg, 0) // shutting down: let another ingestor have it now
			return
		default:
		}
		select {
		case work <- msg:
			return
		default:
		}
		if every > 0 {
			wait.Reset(every)
			defer wait.Stop()
		}
		for {
			select {
			case work <- msg:
				return
			case <-stopping:
				c.nak(msg, 0)
				return
			case <-wait.C:
				if err := msg.InProgress(); err != nil {
					c.log.Debug("in progress", "error", err)
				}
				wait.Reset(every)
			}
		}
	},
		jetstream.PullMaxMessages(c.opts.Concurrency),
		jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				c.log.Warn("consume", "error", err)
			}
		}),
	)
	if err != nil {
		close(work)
		wg.Wait()
		return fmt.Errorf("consume %s: %w", c.opts.NATS.Consumer, err)
	}
	c.log.Info("ingest consuming", "stream", c.opts.NATS.Stream, "consumer", c.opts.NATS.Consumer, "concurrency", c.opts.Concurrency)
	<-ctx.Done()
	close(stopping)
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(10 * time.Second):
		cc.Stop()
	}
	close(work)
	wg.Wait()
	c.log.Info("ingest drained")
	return nil
}

// handle processes one message to its end state: acked, nak'ed with a
// delay, or dead-lettered and terminated. It never panics: a panic in
// matching or delivery is logged and the message is retried later.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic while handling an alert: will retry", "subject", msg.Subject(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.nak(msg, c.nakDelay(msg))
		}
	}()
	c.opts.Metrics.messageReceived()
	// In-flight work finishes even when Run is being shut down.
	ctx = context.WithoutCancel(ctx)
	n := c.opts.NATS
	now := c.opts.Now()
	alerts, err := alert.DecodeAll(msg.Subject(), msg.Data(), alert.DecodeOptions{MaxBytes: n.MaxAlertBytes, Now: now})
	if err != nil {
		var de *alert.DecodeError
		if !errors.As(err, &de) {
			de = &alert.DecodeError{Reason: "internal", Detail: err.Error()}
		}
		c.deadLetter(ctx, msg, de.Reason, de.Detail, nil)
		return
	}
	if len(alerts) == 0 {
		// Decoders return an alert or an error; never ack a message that
		// became nothing.
		c.deadLetter(ctx, msg, alert.ReasonMissingField, "the payload decoded to no alert", nil)
		return
	}
	hops := msg.Headers().Get(HopsHeader)
	var deliveries []Delivery
	for i := range alerts {
		a := &alerts[i]
		c.opts.Metrics.alertDecoded()
		if hops != "" {
			if h, err := strconv.Atoi(hops); err == nil && h >= 0 {
				a.Labels[HopsLabel] = strconv.Itoa(h)
			}
		}
		matches := c.opts.Matcher.Match(ctx, msg.Subject(), a, now)
		if len(matches) == 0 {
			c.opts.Metrics.alertUnmatched()
			c.log.Debug("alert matched no playbook", "subject", msg.Subject(), "alert_id", a.ID, "alert_type", a.Type)
		}
		for _, m := range matches {
			deliveries = append(deliveries, m.Delivery(*a))
		}
	}
	if len(deliveries) == 0 {
		c.ack(msg)
		return
	}

	// Keep the message ours while slow deliveries run.
	stopKeep := c.keepInProgress(msg)
	results := make([]error, len(deliveries))
	dctx, cancel := context.WithTimeout(ctx, c.opts.DeliveryTimeout)
	if len(deliveries) == 1 {
		results[0] = c.deliver(dctx, deliveries[0])
	} else {
		var wg sync.WaitGroup
		for i, d := range deliveries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = c.deliver(dctx, d)
			}()
		}
		wg.Wait()
	}
	cancel()
	stopKeep()

	var transient, permanent []string
	var rejected *Delivery
	for i, err := range results {
		switch {
		case err == nil:
		case IsTransient(err):
			transient = append(transient, deliveries[i].Playbook.Name)
		default:
			permanent = append(permanent, deliveries[i].Playbook.Name+": "+err.Error())
			if rejected == nil {
				rejected = &deliveries[i]
			}
		}
	}
	switch {
	case len(transient) > 0:
		// Every delivery runs again on redelivery; those that succeeded
		// are answered from their first outcome (same UpdateID).
		c.nak(msg, c.nakDelay(msg))
	case len(permanent) > 0:
		c.deadLetter(ctx, msg, ReasonRejected, joinDetail(permanent), map[string]string{
			"Soar-Dlq-Playbook": rejected.Playbook.Name, "Soar-Dlq-Alert-Id": rejected.Alert.ID,
		})
	default:
		c.ack(msg)
	}
}

func (c *Consumer) deliver(ctx context.Context, d Delivery) error {
	c.opts.Metrics.deliveryStarted()
	ack, err := c.opts.Starter.Deliver(ctx, d)
	c.opts.Metrics.deliveryDone(d.Playbook.Name, ack.AlertCount, ack.Duplicate, err)
	switch {
	case err != nil && IsTransient(err):
		c.log.Warn("delivery failed: will retry", "playbook", d.Playbook.Name, "alert_id", d.Alert.ID, "workflow_id", d.WorkflowID, "error", err)
	case err != nil:
		c.log.Error("delivery rejected: dead letter", "playbook", d.Playbook.Name, "alert_id", d.Alert.ID, "workflow_id", d.WorkflowID, "error", err)
	default:
		c.log.Debug("alert delivered", "playbook", d.Playbook.Name, "alert_id", d.Alert.ID, "incident", ack.Incident, "alert_count", ack.AlertCount, "duplicate", ack.Duplicate)
	}
	return err
}

// keepInProgress tells the server every third of AckWait that msg is still
// being worked on, until the returned function is called.
func (c *Consumer) keepInProgress(msg jetstream.Msg) func() {
	every := c.opts.NATS.AckWait / 3
	if every <= 0 {
		return func() {}
	}
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock() // the callback waits until t is set
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := msg.InProgress(); err != nil {
			c.log.Debug("in progress", "error", err)
		}
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// nakDelay grows with the delivery count: NakDelay, doubled per delivery,
// capped at MaxNakDelay.
func (c *Consumer) nakDelay(msg jetstream.Msg) time.Duration {
	d := c.opts.NakDelay
	if meta, err := msg.Metadata(); err == nil {
		for i := uint64(1); i < meta.NumDelivered && d < c.opts.MaxNakDelay; i++ {
			d *= 2
		}
	}
	return min(d, c.opts.MaxNakDelay)
}

func (c *Consumer) ack(msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		c.log.Warn("ack failed: the alert will be redelivered and answered from its first outcome", "subject", msg.Subject(), "error", err)
		return
	}
	c.opts.Metrics.ack()
}

func (c *Consumer) nak(msg jetstream.Msg, delay time.Duration) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		c.log.Warn("nak failed: the alert is redelivered after AckWait", "subject", msg.Subject(), "error", err)
		return
	}
	c.opts.Metrics.nak()
}

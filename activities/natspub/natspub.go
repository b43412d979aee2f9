// Package natspub implements the activities that talk to NATS JetStream:
// nats.publish (a linkage alert for another playbook, hop-limited),
// soar.events.publish (incident events for audit and SIEM) and
// soar.budget.take (guardrail budgets shared by every worker through a
// JetStream KeyValue bucket) and soar.hold.acquire / soar.hold.release (the
// registry of holds on temporary measures shared by incidents, another
// KeyValue bucket).
//
// Every publish carries a deterministic Nats-Msg-Id, so that an activity
// retry inside JetStream's duplicate window is dropped by the stream.
package natspub

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
)

// Defaults of [Options].
const (
	DefaultEventsPrefix = "soar.events"
	DefaultBudgetBucket = "SOAR_BUDGETS"
)

// Message headers set on linkage alerts. The ingestor reads HeaderHops into
// the new incident's Meta.Hops.
const (
	// HeaderHops is the number of linkage alerts in the chain that led to
	// the alert; 1 for an alert raised by an incident that started from a
	// detector's alert.
	HeaderHops = "Soar-Hops"
	// HeaderIncident is the incident that raised the alert.
	HeaderIncident = "Soar-Incident"
)

// Options are the dependencies of [New].
type Options struct {
	// JetStream publishes and holds the budget bucket.
	JetStream jetstream.JetStream
	// EventsPrefix is the subject prefix of incident events; default
	// [DefaultEventsPrefix].
	EventsPrefix string
	// Policy supplies the linkage hop limit (Policy.Hops()).
	Policy guard.Policy
	// MaxHops overrides the policy's hop limit when positive.
	MaxHops int
	// BudgetBucket is the KeyValue bucket of the budgets, created when
	// missing; default [DefaultBudgetBucket].
	BudgetBucket string
	// HoldBucket is the KeyValue bucket of the hold registry, created when
	// missing; default [DefaultHoldBucket].
	HoldBucket string
	// Replicas of the budget and hold buckets when they are created: 1
	// (default) on a single server, 3 on a cluster.
	Replicas int
	// Now is the clock for alert times and budgets without a time; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives one line per publish; nil discards.
	Logger *slog.Logger
}

// Activities implements nats.publish, soar.events.publish,
// soar.budget.take, soar.hold.acquire and soar.hold.release. It is safe for
// concurrent use.
type Activities struct {
	js       jetstream.JetStream
	prefix   string
	maxHops  int
	bucket   string
	replicas int
	now      func() time.Time
	log      *slog.Logger

	mu    sync.Mutex
	kv    jetstream.KeyValue // the budget bucket, once opened
	kvTTL time.Duration      // its TTL; 0 means entries never expire

	holdBucketName string
	holdKV         jetstream.KeyValue // the hold bucket, once opened
}

// New returns the NATS activities for opts.
func New(opts Options) *Activities {
	a := &Activities{
		js:       opts.JetStream,
		prefix:   opts.EventsPrefix,
		maxHops:  opts.MaxHops,
		bucket:   opts.BudgetBucket,
		replicas: opts.Replicas,
		now:      opts.Now,
		log:      opts.Logger,
	}
	if a.prefix == "" {
		a.prefix = DefaultEventsPrefix
	}
	if a.maxHops <= 0 {
		a.maxHops = opts.Policy.Hops()
	}
	if a.bucket == "" {
		a.bucket = DefaultBudgetBucket
	}
	a.holdBucketName = opts.HoldBucket
	if a.holdBucketName == "" {
		a.holdBucketName = DefaultHoldBucket
	}
	if a.replicas <= 0 {
		a.replicas = 1
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a
}

// Register registers Publish, PublishEvent, TakeBudget, AcquireHold and
// ReleaseHold under their names [activities.NATSPublish],
// [activities.PublishEvent], [activities.BudgetTake],
// [activities.HoldAcquire] and [activities.HoldRelease].
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.Publish, activity.RegisterOptions{Name: activities.NATSPublish})
	r.RegisterActivityWithOptions(a.PublishEvent, activity.RegisterOptions{Name: activities.PublishEvent})
	r.RegisterActivityWithOptions(a.TakeBudget, activity.RegisterOptions{Name: activities.BudgetTake})
	r.RegisterActivityWithOptions(a.AcquireHold, activity.RegisterOptions{Name: activities.HoldAcquire})
	r.RegisterActivityWithOptions(a.ReleaseHold, activity.RegisterOptions{Name: activities.HoldRelease})
}

func (a *Activities) jetStream() (jetstream.JetStream, error) {
	if a.js == nil {
		return nil, nonRetryable(activities.ErrTypeNotConfigured, "natspub: no JetStream connection configured")
	}
	return a.js, nil
}

func nonRetryable(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}

package ingest

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the ingestor's Prometheus metrics, in a registry of their own
// (no global state). A nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	received       prometheus.Counter
	decoded        prometheus.Counter
	matched        *prometheus.CounterVec
	unmatched      prometheus.Counter
	started        *prometheus.CounterVec
	aggregated     *prometheus.CounterVec
	duplicates     *prometheus.CounterVec
	deadLetters    *prometheus.CounterVec
	whenErrors     *prometheus.CounterVec
	keyErrors      *prometheus.CounterVec
	deliveryErrors *prometheus.CounterVec
	naks           prometheus.Counter
	acks           prometheus.Counter
	reloads        *prometheus.CounterVec
	matchSeconds   prometheus.Histogram
	inFlight       prometheus.Gauge
}

// NewMetrics registers the metrics in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "soar", Subsystem: "ingest", Name: name, Help: help})
		f(c)
		return c
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "soar", Subsystem: "ingest", Name: name, Help: help}, labels)
		f(c)
		return c
	}
	m.received = counter("messages_received_total", "Messages received from the alert stream (redeliveries included).")
	m.decoded = counter("alerts_received_total", "Alerts decoded and normalized from received messages.")
	m.matched = vec("alerts_matched_total", "Alerts that triggered a playbook (redeliveries included).", "playbook")
	m.unmatched = counter("alerts_unmatched_total", "Alerts that triggered no playbook (acknowledged, not dead-lettered).")
	m.started = vec("incidents_started_total", "Deliveries answered as the incident's first alert (a new incident, or a redelivery of its first alert).", "playbook")
	m.aggregated = vec("alerts_aggregated_total", "Deliveries absorbed by an open incident (alert_count > 1).", "playbook")
	m.duplicates = vec("alerts_duplicate_total", "Deliveries of alert IDs the open incident had already seen.", "playbook")
	m.deadLetters = vec("dead_letters_total", "Messages published to the dead-letter subjects, by reason.", "reason")
	m.whenErrors = vec("when_errors_total", "trigger.when evaluations that failed at run time (counted as no match).", "playbook")
	m.keyErrors = vec("dedup_key_errors_total", "dedup.key evaluations that failed or were empty (the alert ID is used instead).", "playbook")
	m.deliveryErrors = vec("delivery_errors_total", "Failed deliveries to incidents, by kind (transient or permanent).", "kind")
	m.naks = counter("naks_total", "Messages negatively acknowledged for a later redelivery.")
	m.acks = counter("acks_total", "Messages acknowledged.")
	m.reloads = vec("playbook_reloads_total", "Playbook file reloads, by result (loaded, invalid, removed).", "result")
	m.matchSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "soar", Subsystem: "ingest", Name: "match_seconds",
		Help:    "Time to match one alert against the playbooks (subject index and CEL).",
		Buckets: []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2},
	})
	f(m.matchSeconds)
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "soar", Subsystem: "ingest", Name: "deliveries_in_flight", Help: "Deliveries to incidents in progress."})
	f(m.inFlight)
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (/metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) messageReceived() {
	if m != nil {
		m.received.Inc()
	}
}

func (m *Metrics) alertDecoded() {
	if m != nil {
		m.decoded.Inc()
	}
}

func (m *Metrics) whenError(pb string) {
	if m != nil {
		m.whenErrors.WithLabelValues(pb).Inc()
	}
}

func (m *Metrics) dedupKeyError(pb string) {
	if m != nil {
		m.keyErrors.WithLabelValues(pb).Inc()
	}
}

func (m *Metrics) matchedPlaybook(pb string) {
	if m != nil {
		m.matched.WithLabelValues(pb).Inc()
	}
}

func (m *Metrics) observeMatch(d time.Duration) {
	if m != nil {
		m.matchSeconds.Observe(d.Seconds())
	}
}

func (m *Metrics) alertUnmatched() {
	if m != nil {
		m.unmatched.Inc()
	}
}

func (m *Metrics) deliveryStarted() {
	if m != nil {
		m.inFlight.Inc()
	}
}

func (m *Metrics) deliveryDone(pb string, alertCount int, duplicate bool, err error) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	switch {
	case err != nil && IsTransient(err):
		m.deliveryErrors.WithLabelValues("transient").Inc()
	case err != nil:
		m.deliveryErrors.WithLabelValues("permanent").Inc()
	default:
		switch {
		case alertCount <= 1:
			m.started.WithLabelValues(pb).Inc()
		case duplicate:
			m.duplicates.WithLabelValues(pb).Inc()
		default:
			m.aggregated.WithLabelValues(pb).Inc()
		}
	}
}

func (m *Metrics) deadLettered(reason string) {
	if m != nil {
		m.deadLetters.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) nak() {
	if m != nil {
		m.naks.Inc()
	}
}

func (m *Metrics) ack() {
	if m != nil {
		m.acks.Inc()
	}
}

func (m *Metrics) reloaded(result string) {
	if m != nil {
		m.reloads.WithLabelValues(result).Inc()
	}
}

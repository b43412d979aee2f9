package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

// Match is one playbook an alert triggers.
type Match struct {
	Playbook *playbook.Playbook
	// DedupKey is the evaluated dedup key; empty without dedup.
	DedupKey string
	// Severity is the playbook's severity for this alert.
	Severity int
}

// Delivery returns the delivery of a for this match.
func (m Match) Delivery(a alert.Alert) Delivery {
	d := NewDelivery(m.Playbook, m.DedupKey, a)
	d.Severity = m.Severity
	return d
}

// entry is one enabled playbook with its compiled expressions.
type entry struct {
	rank int // position in name order: matches come out sorted by name
	pb   *playbook.Playbook
	when *expr.Program // nil: every alert on its subjects
	key  *expr.Program // nil: no dedup
	sev  *expr.Program // nil: the alert's severity
}

// node is a subject-token trie node. A pattern's tokens lead from the root:
// literal tokens through children, "*" through star; the pattern's entries
// sit in here (the pattern ends at this node) or rest ("…>" at this node
// matches one or more further tokens).
type node struct {
	children map[string]*node
	star     *node
	here     []*entry
	rest     []*entry
}

// Index maps subject patterns to playbooks. It is immutable, so a reload
// builds a new one and swaps it in atomically.
type Index struct {
	root    node
	entries []*entry
}

// buildIndex compiles every enabled playbook's trigger.when, dedup.key and
// severity (reusing prev's programs for playbooks whose content hash is
// unchanged) and indexes its subject patterns. A playbook whose
// expressions do not compile (it was validated with another environment)
// is left out and reported.
func buildIndex(env *expr.Env, pbs []*playbook.Playbook, prev *Index) (*Index, []error) {
	sorted := append([]*playbook.Playbook(nil), pbs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	old := map[string]*entry{}
	if prev != nil {
		for _, e := range prev.entries {
			old[e.pb.Name] = e
		}
	}
	ix := &Index{}
	var errs []error
	for _, pb := range sorted {
		if !pb.Enabled {
			continue
		}
		e, err := compileEntry(env, pb, old[pb.Name])
		if err != nil {
			errs = append(errs, fmt.Errorf("playbook %s: %w", pb.Name, err))
			continue
		}
		e.rank = len(ix.entries)
		ix.entries = append(ix.entries, e)
		for _, pattern := range pb.Trigger.Subjects {
			ix.insert(pattern, e)
		}
	}
	return ix, errs
}

func compileEntry(env *expr.Env, pb *playbook.Playbook, prev *entry) (*entry, error) {
	if prev != nil && pb.Hash != "" && prev.pb.Hash == pb.Hash {
		return &entry{pb: pb, when: prev.when, key: prev.key, sev: prev.sev}, nil
	}
	e := &entry{pb: pb}
	var err error
	if w := strings.TrimSpace(pb.Trigger.When); w != "" {
		if e.when, err = env.CompileBool(w, expr.TriggerScope()); err != nil {
			return nil, fmt.Errorf("trigger.when: %w", err)
		}
	}
	if pb.Dedup != nil && strings.TrimSpace(pb.Dedup.Key) != "" {
		if e.key, err = env.CompileString(pb.Dedup.Key, expr.TriggerScope()); err != nil {
			return nil, fmt.Errorf("dedup.key: %w", err)
		}
	}
	if s := strings.TrimSpace(pb.Severity); s != "" {
		if e.sev, err = env.CompileInt(s, expr.TriggerScope()); err != nil {
			return nil, fmt.Errorf("severity: %w", err)
		}
	}
	return e, nil
}

func (ix *Index) insert(pattern string, e *entry) {
	n := &ix.root
	tokens := strings.Split(pattern, ".")
	for i, t := range tokens {
		switch {
		case t == ">" && i == len(tokens)-1:
			n.rest = append(n.rest, e)
			return
		case t == "*":
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		default:
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[t]
			if c == nil {
				c = &node{}
				n.children[t] = c
			}
			n = c
		}
	}
	n.here = append(n.here, e)
}

// candidates returns the entries with a pattern matching subject, once
// each, in name order. The walk visits only trie branches the subject's
// tokens lead to, so its cost grows with the number of matching patterns,
// not with the number of playbooks.
func (ix *Index) candidates(subject string) []*entry {
	var out []*entry
	var walk func(n *node, rest string)
	walk = func(n *node, rest string) {
		if n == nil {
			return
		}
		if rest == "" {
			out = append(out, n.here...)
			return
		}
		out = append(out, n.rest...)
		tok, next, _ := strings.Cut(rest, ".")
		walk(n.children[tok], next)
		walk(n.star, next)
	}
	if subject == "" || subject[0] == '.' || subject[len(subject)-1] == '.' || strings.Contains(subject, "..") {
		return nil // not a valid subject: NATS delivers none
	}
	walk(&ix.root, subject)
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].rank < out[j].rank })
		j := 0
		for i := range out {
			if i == 0 || out[i] != out[j-1] {
				out[j] = out[i]
				j++
			}
		}
		out = out[:j]
	}
	return out
}

// Playbooks returns the indexed (enabled) playbooks in name order.
func (ix *Index) Playbooks() []*playbook.Playbook {
	out := make([]*playbook.Playbook, len(ix.entries))
	for i, e := range ix.entries {
		out[i] = e.pb
	}
	return out
}

// Matcher decides which playbooks an alert triggers. It holds the current
// [Index]; [Matcher.Replace] swaps in a new one without blocking matches in
// progress, which finish on the index they started with. It is safe for
// concurrent use.
type Matcher struct {
	env     *expr.Env
	log     *slog.Logger
	metrics *Metrics
	idx     atomic.Pointer[Index]
}

// NewMatcher indexes pbs. Playbooks whose expressions do not compile in env
// are left out and returned as errors; the matcher works with the others.
// metrics may be nil.
func NewMatcher(env *expr.Env, pbs []*playbook.Playbook, log *slog.Logger, metrics *Metrics) (*Matcher, []error) {
	m := &Matcher{env: env, log: log, metrics: metrics}
	ix, errs := buildIndex(env, pbs, nil)
	m.idx.Store(ix)
	return m, errs
}

// Replace swaps in a new index of pbs (for new alerts; a running incident
// keeps its snapshot). Unchanged playbooks keep their compiled programs.
func (m *Matcher) Replace(pbs []*playbook.Playbook) []error {
	ix, errs := buildIndex(m.env, pbs, m.idx.Load())
	m.idx.Store(ix)
	return errs
}

// Playbooks returns the enabled playbooks in use, in name order.
func (m *Matcher) Playbooks() []*playbook.Playbook { return m.idx.Load().Playbooks() }

// Match returns the playbooks that a, received on subject, triggers: those
// with a subject pattern matching subject and a trigger.when that holds,
// in name order.
//
// A when that fails at run time (a missing map key, the cost limit) is no
// match: it is logged with the playbook and alert ID and counted in
// soar_ingest_when_errors_total. A dedup key that fails or evaluates to ""
// falls back to the alert ID (one incident for this alert, never a shared
// incident for unrelated alerts, and never a silently dropped alert whose
// trigger held); it is logged and counted in
// soar_ingest_dedup_key_errors_total. A severity expression that fails
// leaves the alert's severity.
func (m *Matcher) Match(ctx context.Context, subject string, a *alert.Alert, now time.Time) []Match {
	start := time.Now()
	ix := m.idx.Load()
	var out []Match
	act := expr.Activation{Alert: a, Now: now}
	for _, e := range ix.candidates(subject) {
		if e.when != nil {
			ok, err := e.when.EvalBool(ctx, act)
			if err != nil {
				m.metrics.whenError(e.pb.Name)
				m.log.Warn("trigger.when failed: no match", "playbook", e.pb.Name, "alert_id", a.ID, "error", err)
				continue
			}
			if !ok {
				continue
			}
		}
		mt := Match{Playbook: e.pb, Severity: a.Severity}
		if e.key != nil {
			key, err := e.key.EvalString(ctx, act)
			if err == nil && key == "" {
				err = fmt.Errorf("dedup.key %q is empty", e.pb.Dedup.Key)
			}
			if err != nil {
				m.metrics.dedupKeyError(e.pb.Name)
				m.log.Warn("dedup.key failed: the alert gets an incident of its own", "playbook", e.pb.Name, "alert_id", a.ID, "error", err)
				key = a.ID
			}
			mt.DedupKey = key
		}
		if e.sev != nil {
			if s, err := e.sev.EvalInt(ctx, act); err == nil {
				mt.Severity = int(max(alert.SeverityInfo, min(alert.SeverityCritical, s)))
			} else {
				m.log.Warn("severity failed: using the alert's", "playbook", e.pb.Name, "alert_id", a.ID, "error", err)
			}
		}
		m.metrics.matchedPlaybook(e.pb.Name)
		out = append(out, mt)
	}
	m.metrics.observeMatch(time.Since(start))
	return out
}

// subjectMatch reports whether a NATS subject matches pattern (* is one
// token, a final > one or more), without allocating.
func subjectMatch(pattern, subject string) bool {
	for {
		p, prest, pmore := strings.Cut(pattern, ".")
		if p == ">" && !pmore {
			return subject != ""
		}
		s, srest, smore := strings.Cut(subject, ".")
		if p != "*" && p != s {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

package playbooktest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/ingest"
	"github.com/opensoar/soar/internal/playbook"
)

// trigger decides, as the ingestor does, whether an alert reaches the
// playbook: internal/ingest's Matcher over the playbook alone (indexed as
// enabled, so that a disabled playbook can be tested before it is turned
// on), plus its compiled trigger.when to say why an alert does not match.
type trigger struct {
	pb      *playbook.Playbook
	matcher *ingest.Matcher
	when    *expr.Program
}

func compileTrigger(env *expr.Env, pb *playbook.Playbook, log *slog.Logger) (*trigger, error) {
	enabled := *pb
	enabled.Enabled = true
	m, errs := ingest.NewMatcher(env, []*playbook.Playbook{&enabled}, log, nil)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("index the trigger of %s: %w", pb.Name, err)
	}
	t := &trigger{pb: pb, matcher: m}
	if pb.Trigger.When != "" {
		var err error
		if t.when, err = env.CompileBool(pb.Trigger.When, expr.TriggerScope()); err != nil {
			return nil, fmt.Errorf("compile trigger.when of %s: %w", pb.Name, err)
		}
	}
	return t, nil
}

// match returns the delivery ingest would make of an alert received on
// subject, or says why the alert does not reach the playbook.
func (t *trigger) match(ctx context.Context, subject string, a *alert.Alert, now time.Time) (ingest.Delivery, string) {
	if ms := t.matcher.Match(ctx, subject, a, now); len(ms) > 0 {
		d := ms[0].Delivery(*a)
		d.Playbook = t.pb
		return d, ""
	}
	if !matchesAny(t.pb.Trigger.Subjects, subject) {
		return ingest.Delivery{}, fmt.Sprintf("its subject %s matches none of trigger.subjects [%s]", subject, strings.Join(t.pb.Trigger.Subjects, ", "))
	}
	if t.when != nil {
		ok, err := t.when.EvalBool(ctx, expr.Activation{Alert: a, Now: now})
		if err != nil {
			return ingest.Delivery{}, fmt.Sprintf("trigger.when fails on it (ingest counts that as no match): %v", err)
		}
		if !ok {
			return ingest.Delivery{}, fmt.Sprintf("trigger.when is false for it: %s", oneLine(t.pb.Trigger.When))
		}
	}
	return ingest.Delivery{}, "ingest does not deliver it to this playbook"
}

// oneLine squeezes whitespace runs (folded YAML) into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// envelopeSubject is the subject an envelope alert is published on when
// the case names none: alerts.<source without "alibaba.">.<type>.
func envelopeSubject(a *alert.Alert) string {
	src := strings.TrimPrefix(a.Source, "alibaba.")
	if src == "" {
		src = "custom"
	}
	typ := a.Type
	if typ == "" {
		typ = "unknown"
	}
	return "alerts." + src + "." + typ
}

// matchesAny reports whether subject matches one of the NATS patterns.
func matchesAny(patterns []string, subject string) bool {
	for _, p := range patterns {
		if matchSubject(p, subject) {
			return true
		}
	}
	return false
}

// matchSubject matches a NATS subject against a pattern: * is one token,
// > the rest (at least one token).
func matchSubject(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, tok := range pt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}

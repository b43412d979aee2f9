package playbooktest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

// trigger is a playbook's compiled trigger.when and dedup.key: what the
// ingestor evaluates before an alert reaches an incident.
type trigger struct {
	pb   *playbook.Playbook
	when *expr.Program
	key  *expr.Program
}

func compileTrigger(env *expr.Env, pb *playbook.Playbook) (*trigger, error) {
	t := &trigger{pb: pb}
	var err error
	if pb.Trigger.When != "" {
		if t.when, err = env.CompileBool(pb.Trigger.When, expr.TriggerScope()); err != nil {
			return nil, fmt.Errorf("compile trigger.when of %s: %w", pb.Name, err)
		}
	}
	if pb.Dedup != nil && pb.Dedup.Key != "" {
		if t.key, err = env.CompileString(pb.Dedup.Key, expr.TriggerScope()); err != nil {
			return nil, fmt.Errorf("compile dedup.key of %s: %w", pb.Name, err)
		}
	}
	return t, nil
}

// match says why an alert on subject does not start (or reach) the
// playbook's incident, or "" when it does, and returns its dedup key.
func (t *trigger) match(ctx context.Context, subject string, a *alert.Alert, now time.Time) (key, why string) {
	if !matchesAny(t.pb.Trigger.Subjects, subject) {
		return "", fmt.Sprintf("its subject %s matches none of trigger.subjects [%s]", subject, strings.Join(t.pb.Trigger.Subjects, ", "))
	}
	act := expr.Activation{Alert: a, Now: now}
	if t.when != nil {
		ok, err := t.when.EvalBool(ctx, act)
		if err != nil {
			return "", fmt.Sprintf("trigger.when fails on it: %v", err)
		}
		if !ok {
			return "", fmt.Sprintf("trigger.when is false for it: %s", oneLine(t.pb.Trigger.When))
		}
	}
	if t.key != nil {
		k, err := t.key.EvalString(ctx, act)
		if err != nil {
			return "", fmt.Sprintf("dedup.key fails on it: %v", err)
		}
		return k, ""
	}
	return "", ""
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

package playbook

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/expr"
)

// stepKeys are the keys of a step.
func stepKeys() []string {
	return []string{"id", "name", "action", "with", "approval", "parallel", "wait", "if", "foreach",
		"max_parallel", "timeout", "retry", "on_error", "revert_after", "extend_on_alert"}
}

// retryKeys are the keys of a retry policy.
func retryKeys() []string {
	return []string{"max_attempts", "initial_interval", "backoff", "max_interval"}
}

// kindKeys are the keys that apply to each step kind.
func kindKeys(kind string) []string {
	switch kind {
	case KindParallel:
		return []string{"id", "name", "if", "parallel"}
	case KindWait:
		return []string{"id", "name", "if", "wait"}
	case KindApproval:
		return []string{"id", "name", "if", "approval", "on_error"}
	}
	return []string{"id", "name", "action", "with", "approval", "if", "foreach", "max_parallel",
		"timeout", "retry", "on_error", "revert_after", "extend_on_alert"}
}

// stepCtx locates a step being parsed.
type stepCtx struct {
	path     string // "steps[2]", "steps[1].parallel[0]", "on_failure[0]"
	order    int
	parallel bool // inside a parallel block
}

// stepList parses a list of steps; base is the execution order of its
// first step.
func (p *parser) stepList(n *yaml.Node, path string, base int) []Step {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, CodeWrongType, "%s must be a list of steps, got %s", path, describe(n))
		return nil
	}
	steps := make([]Step, 0, len(n.Content))
	for i, sn := range n.Content {
		s, ok := p.step(sn, stepCtx{path: fmt.Sprintf("%s[%d]", path, i), order: base + i})
		if ok {
			steps = append(steps, s)
		}
	}
	return steps
}

// step parses one step. ok is false when n is not even a mapping.
func (p *parser) step(n *yaml.Node, sc stepCtx) (Step, bool) {
	n = deref(n)
	var s Step
	var spec *activities.ActionSpec
	f, ok := p.fields(n, "a step", stepKeys(), func(key string) string {
		if a := mapValue(n, "action"); a != nil && a.Kind == yaml.ScalarNode {
			if sp, ok := p.actions.Lookup(a.Value); ok {
				if _, isParam := sp.Param(key); isParam {
					return fmt.Sprintf(" (%q is a parameter of %s: put it under with:)", key, sp.Name)
				}
			}
		}
		return ""
	})
	if !ok {
		return s, false
	}
	s.Kind = p.stepKind(n, f, sc)

	if pr, ok := f["id"]; ok {
		if id, ok := p.str(pr.val, "id"); ok {
			s.ID = id
			switch {
			case len(id) > maxIDLen:
				p.errorf(pr.val, CodeInvalidID, "step id %q is longer than %d characters", id, maxIDLen)
			case !idRE.MatchString(id):
				p.errorf(pr.val, CodeInvalidID, "step id %q must match [a-z][a-z0-9_]* so that steps.%s reads it%s", id, id, idHint(id))
			}
		}
	} else if s.Kind != KindParallel {
		p.errorf(n, CodeMissingField, "%s has no id: every step except a parallel block needs one (id: [a-z][a-z0-9_]*)", sc.path)
	}
	if pr, ok := f["name"]; ok {
		s.Name, _ = p.str(pr.val, "name")
	}
	what := func(field string) string {
		if s.ID != "" {
			return "steps." + s.ID + "." + field
		}
		return sc.path + "." + field
	}
	ctx := func(item bool, field string) exprCtx {
		return exprCtx{what: what(field), scope: expr.StepScope(item), step: s.ID, order: sc.order, group: sc.parallel}
	}
	_, hasForeach := f["foreach"]

	// Keys that do not apply to the kind are reported once, here, and then
	// ignored.
	allowed := kindKeys(s.Kind)
	for _, k := range stepKeys() {
		pr, present := f[k]
		if !present || contains(allowed, k) || s.Kind == "" {
			continue
		}
		delete(f, k)
		if k == "action" || k == "approval" || k == "parallel" || k == "wait" {
			continue // stepKind reported the conflict
		}
		p.errorf(pr.key, CodeStepKind, "%s", misplacedKey(k, s.Kind))
	}

	if pr, ok := f["if"]; ok {
		if src, ok := p.celSource(pr.val, what("if")); ok {
			s.If = src
			c := p.checkCEL(deref(pr.val), src, 0, ctx(hasForeach, "if"))
			p.wantType(deref(pr.val), 0, c, what("if"), "bool")
		} else {
			s.If = src
		}
	}
	if pr, ok := f["foreach"]; ok {
		s.Foreach = p.foreach(pr.val, ctx(false, "foreach"))
		s.MaxParallel = DefaultMaxParallel
	}
	if pr, ok := f["max_parallel"]; ok {
		if v, ok := p.integer(pr.val, "max_parallel"); ok {
			if v < 1 {
				p.errorf(pr.val, CodeInvalidValue, "max_parallel must be at least 1, got %d", v)
			}
			s.MaxParallel = v
		}
		if !hasForeach {
			p.warnf(pr.key, CodeUnusedField, "max_parallel has no effect without foreach")
		}
	}
	if pr, ok := f["approval"]; ok {
		s.Approval = p.approval(pr, ctx(false, "approval.message"))
	}
	if pr, ok := f["wait"]; ok {
		s.Wait, _ = p.duration(pr.val, "wait")
	}
	if pr, ok := f["on_error"]; ok {
		if v, ok := p.str(pr.val, "on_error"); ok {
			s.OnError = v
			p.oneOf(pr.val, "on_error", v, OnErrorFail, OnErrorContinue)
		}
	}
	if s.OnError == "" {
		s.OnError = OnErrorFail
	}
	if s.Kind == KindAction {
		s.Timeout = DefaultTimeout
		r := DefaultRetry()
		s.Retry = &r
	}
	if pr, ok := f["timeout"]; ok {
		if d, ok := p.duration(pr.val, "timeout"); ok {
			s.Timeout = d
		}
	}
	if pr, ok := f["retry"]; ok {
		p.retry(pr.val, s.Retry)
	}
	if pr, ok := f["action"]; ok {
		s.Action, spec = p.action(pr.val)
	}
	if pr, ok := f["with"]; ok {
		withCtx := ctx(hasForeach, "with")
		withCtx.selfOK = s.Approval != nil
		s.With = p.with(pr, spec, withCtx, s.Action)
	} else if spec != nil {
		p.missingParams(f["action"].val, spec, nil)
	}
	if pr, ok := f["revert_after"]; ok {
		if d, ok := p.duration(pr.val, "revert_after"); ok {
			s.RevertAfter = d
		}
		if spec != nil && !spec.Revertible() {
			p.errorf(pr.key, CodeNoInverse, "revert_after needs an action with an inverse, and %s has none (soar actions lists the inverses)", spec.Name)
		}
	}
	if pr, ok := f["extend_on_alert"]; ok {
		s.ExtendOnAlert, _ = p.boolean(pr.val, "extend_on_alert")
		if _, hasRevert := f["revert_after"]; s.ExtendOnAlert && !hasRevert {
			p.errorf(pr.key, CodeMissingField, "extend_on_alert pushes back the auto-revert, so it needs revert_after")
		} else if s.ExtendOnAlert && !p.hasDedup {
			p.warnf(pr.key, CodeUnusedField, "extend_on_alert has no effect without dedup: every alert opens its own incident, so no repeat ever reaches this one")
		}
	}
	if pr, ok := f["parallel"]; ok {
		s.Parallel = p.parallel(pr, sc)
	}
	return s, true
}

// stepKind decides the kind of a step from its keys and reports steps
// that are none or several kinds. It returns "" when the kind is unclear.
func (p *parser) stepKind(n *yaml.Node, f map[string]pair, sc stepCtx) string {
	var present []string
	for _, k := range []string{"parallel", "wait", "action"} {
		if _, ok := f[k]; ok {
			present = append(present, k)
		}
	}
	if _, ok := f["approval"]; ok && len(present) == 0 {
		return KindApproval
	}
	if _, ok := f["approval"]; ok && present[0] != "action" {
		present = append(present, "approval")
	}
	switch len(present) {
	case 0:
		msg := "a step needs one of action, approval, parallel or wait"
		if _, ok := f["with"]; ok {
			msg += " (it has with: but no action:)"
		}
		p.errorf(n, CodeStepKind, "%s: %s", sc.path, msg)
		return ""
	case 1:
		return present[0]
	}
	second := f[present[1]].key
	p.errorf(second, CodeStepKind, "a step is one kind only: this one has both %s and %s (split it into two steps)", present[0], present[1])
	return present[0]
}

// misplacedKey explains why key does not apply to a step of kind.
func misplacedKey(key, kind string) string {
	switch kind {
	case KindApproval:
		return fmt.Sprintf("%s needs an action: this step is an approval gate only", key)
	case KindParallel:
		return fmt.Sprintf("%s does not apply to a parallel block: put it on the steps inside", key)
	}
	return fmt.Sprintf("%s does not apply to a %s step", key, kind)
}

// idHint suggests a valid spelling of a step id.
func idHint(id string) string {
	fixed := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == '-' || r == ' ' || r == '.':
			return '_'
		}
		return -1
	}, id)
	if fixed == id || !idRE.MatchString(fixed) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", fixed)
}

func (p *parser) foreach(n *yaml.Node, ctx exprCtx) string {
	n = deref(n)
	if !isString(n) {
		p.errorf(n, CodeWrongType, "foreach must be a ${{ }} expression yielding a list, got %s", describe(n))
		return ""
	}
	t, whole, ok := p.checkTemplate(n, n.Value, ctx)
	if !ok && whole == nil {
		return n.Value
	}
	if !t.Whole() {
		p.errorf(n, CodeTemplateSyntax, "foreach must be exactly one ${{ }} expression yielding a list, e.g. ${{ alert.iocs.ips }}")
		return n.Value
	}
	if whole != nil && whole.OK() && whole.Type != "dyn" && !strings.HasPrefix(whole.Type, "list(") {
		off := 0
		if segs := t.Exprs(); len(segs) == 1 {
			off = len([]rune(n.Value[:segs[0].Offset]))
		}
		p.errorAt(p.src.scalarPos(n, off), CodeCELType, "foreach must yield a list, but the expression is %s", typeWords(whole.Type))
	}
	return n.Value
}

func (p *parser) retry(n *yaml.Node, r *Retry) {
	f, ok := p.fields(n, "retry", retryKeys(), nil)
	if !ok || r == nil {
		return
	}
	if pr, ok := f["max_attempts"]; ok {
		if v, ok := p.integer(pr.val, "retry.max_attempts"); ok {
			if v < 1 {
				p.errorf(pr.val, CodeInvalidValue, "retry.max_attempts must be at least 1 (1 means no retry), got %d", v)
			}
			r.MaxAttempts = v
		}
	}
	if pr, ok := f["initial_interval"]; ok {
		if d, ok := p.duration(pr.val, "retry.initial_interval"); ok {
			r.InitialInterval = d
		}
	}
	if pr, ok := f["backoff"]; ok {
		if v, ok := p.number(pr.val, "retry.backoff"); ok {
			if v < 1 {
				p.errorf(pr.val, CodeInvalidValue, "retry.backoff must be at least 1 (1 retries at a fixed interval), got %v", v)
			}
			r.Backoff = v
		}
	}
	if pr, ok := f["max_interval"]; ok {
		if d, ok := p.duration(pr.val, "retry.max_interval"); ok {
			r.MaxInterval = d
			if d < r.InitialInterval {
				p.errorf(pr.val, CodeInvalidValue, "retry.max_interval %s is shorter than initial_interval %s", FormatDuration(d), FormatDuration(r.InitialInterval))
			}
		}
	}
}

// parallel parses the steps of a parallel block.
func (p *parser) parallel(pr pair, sc stepCtx) []Step {
	n := deref(pr.val)
	if sc.parallel {
		p.errorf(pr.key, CodeStepKind, "parallel blocks cannot be nested")
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, CodeWrongType, "parallel must be a list of steps, got %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(pr.key, CodeEmptySteps, "this parallel block has no steps")
		return nil
	}
	var out []Step
	for i, c := range n.Content {
		s, ok := p.step(c, stepCtx{path: fmt.Sprintf("%s.parallel[%d]", sc.path, i), order: sc.order, parallel: true})
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// action resolves the action name.
func (p *parser) action(n *yaml.Node) (string, *activities.ActionSpec) {
	name, ok := p.str(n, "action")
	if !ok {
		return "", nil
	}
	spec, ok := p.actions.Lookup(name)
	if !ok {
		var names []string
		if l, ok := p.actions.(interface{ Names() []string }); ok {
			names = l.Names()
		}
		p.errorf(n, CodeUnknownAction, "unknown action %q%s", name, didYouMean(name, names))
		return name, nil
	}
	return name, &spec
}

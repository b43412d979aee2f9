package playbook

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/guard"
)

// reservedParam is the parameter name soar keeps for itself.
const reservedParam = "meta"

// with parses and checks a step's parameters against the action's catalog
// entry (nil when the action is unknown: then only the expressions are
// checked).
func (p *parser) with(pr pair, spec *activities.ActionSpec, ctx exprCtx, action string) map[string]any {
	n := deref(pr.val)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, CodeWrongType, "with must be a mapping of parameter names to values, got %s", describe(n))
		return nil
	}
	out := map[string]any{}
	nodes := map[string]*yaml.Node{}
	for _, kv := range p.pairs(n) {
		name := kv.key.Value
		valCtx := ctx
		valCtx.what = strings.TrimSuffix(ctx.what, "with") + "with." + name
		if name == reservedParam {
			p.errorf(kv.key, CodeReservedParam, "parameter %q is reserved: soar passes the incident's metadata under it", name)
			continue
		}
		if spec == nil {
			v, _ := p.treeValue(kv.val, p.templateChecker(valCtx))
			out[name] = v
			continue
		}
		param, ok := spec.Param(name)
		if !ok {
			var names []string
			for _, ap := range spec.AllParams() {
				names = append(names, ap.Name)
			}
			p.errorf(kv.key, CodeUnknownParam, "%s has no parameter %q%s (it takes %s)", spec.Name, name, didYouMean(name, names), strings.Join(names, ", "))
			continue
		}
		nodes[name] = deref(kv.val)
		out[name] = p.param(spec, param, kv.val, valCtx)
	}
	if spec != nil {
		p.missingParams(pr.key, spec, out)
		p.checkCommand(spec, nodes)
	}
	return out
}

// missingParams reports required parameters absent from with (nil when
// the step has no with; at is where to report).
func (p *parser) missingParams(at *yaml.Node, spec *activities.ActionSpec, with map[string]any) {
	var missing []string
	for _, param := range spec.Params {
		if _, ok := with[param.Name]; param.Required && !ok {
			missing = append(missing, param.Name)
		}
	}
	if len(missing) == 1 {
		p.errorf(at, CodeMissingParam, "%s needs the parameter %s", spec.Name, missing[0])
	} else if len(missing) > 1 {
		p.errorf(at, CodeMissingParam, "%s needs the parameters %s", spec.Name, strings.Join(missing, ", "))
	}
	if spec.Name == activities.ActionTrailLookupEvents {
		_, a := with["access_key_id"]
		_, i := with["instance_id"]
		_, ip := with["ip"]
		if !a && !i && !ip {
			p.errorf(at, CodeMissingParam, "%s needs one of access_key_id, instance_id or ip", spec.Name)
		}
	}
}

// templateChecker returns a string callback for treeValue that checks the
// templates in every string of a tree.
func (p *parser) templateChecker(ctx exprCtx) func(*yaml.Node, string) {
	return func(n *yaml.Node, s string) { p.checkTemplate(n, s, ctx) }
}

// param checks one parameter value against its declared type and returns
// it as a plain tree.
func (p *parser) param(spec *activities.ActionSpec, param activities.Param, n *yaml.Node, ctx exprCtx) any {
	n = deref(n)
	switch param.Type {
	case activities.TypeString, activities.TypeDuration:
		if lit, ok := p.stringParam(n, param, ctx, ""); ok {
			p.literalParam(spec, param, n, lit)
		}
		return p.plain(n, nil)
	case activities.TypeStringList:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				c = deref(c)
				if lit, ok := p.stringParam(c, param, ctx, "an element of "); ok {
					p.literalParam(spec, param, c, lit)
				}
			}
			return p.plain(n, nil)
		}
		p.wholeParam(n, param, ctx)
		return p.plain(n, nil)
	case activities.TypeList:
		if n.Kind == yaml.SequenceNode {
			v, _ := p.treeValue(n, p.templateChecker(ctx))
			return v
		}
	case activities.TypeMap:
		if n.Kind == yaml.MappingNode {
			v, _ := p.treeValue(n, p.templateChecker(ctx))
			return v
		}
	case activities.TypeInt, activities.TypeBool:
		tag := map[string]string{activities.TypeInt: "!!int", activities.TypeBool: "!!bool"}[param.Type]
		if n.Kind == yaml.ScalarNode && n.ShortTag() == tag {
			v, _ := p.scalarValue(n, nil)
			return v
		}
	default:
		v, _ := p.treeValue(n, p.templateChecker(ctx))
		return v
	}
	p.wholeParam(n, param, ctx)
	return p.plain(n, nil)
}

// plain converts n to a tree without further checks.
func (p *parser) plain(n *yaml.Node, str func(*yaml.Node, string)) any {
	v, _ := p.treeValue(n, str)
	return v
}

// stringParam checks a value (or list element) of a string parameter. It
// returns the literal text when the value holds no expression.
func (p *parser) stringParam(n *yaml.Node, param activities.Param, ctx exprCtx, elem string) (string, bool) {
	if !isString(n) {
		want := "a string"
		if param.Type == activities.TypeDuration {
			want = "a duration such as 24h"
		}
		hint := ""
		if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
			hint = fmt.Sprintf(" (quote it: \"%s\")", n.Value)
		}
		p.errorf(n, CodeParamType, "%sparameter %s must be %s, got %s%s", elem, param.Name, want, describe(n), hint)
		return "", false
	}
	t, whole, ok := p.checkTemplate(n, n.Value, ctx)
	if !ok {
		return "", false
	}
	if t.IsLiteral() {
		return literalText(t), true
	}
	want := param.Type
	if want == activities.TypeStringList {
		want = activities.TypeString
	}
	if whole != nil && whole.OK() && !compatible(want, whole.Type) {
		p.errorAt(p.src.scalarPos(n, exprOffset(n.Value, t)), CodeParamType,
			"%sparameter %s must be %s, but the expression is %s%s", elem, param.Name, typeWords(want), typeWords(whole.Type), convertHint(want, whole.Type))
	}
	return "", false
}

// wholeParam checks a value that must be a single `${{ }}` expression of
// a compatible type (a non-string parameter written as a string).
func (p *parser) wholeParam(n *yaml.Node, param activities.Param, ctx exprCtx) {
	if !isString(n) {
		p.errorf(n, CodeParamType, "parameter %s must be %s, got %s%s", param.Name, typeWords(param.Type), describe(n), listHint(n))
		return
	}
	t, whole, ok := p.checkTemplate(n, n.Value, ctx)
	if !ok && whole == nil {
		return
	}
	if !t.Whole() {
		if t.IsLiteral() && (param.Type == activities.TypeStringList || param.Type == activities.TypeList) {
			p.errorf(n, CodeParamType, "parameter %s must be %s, got a string%s", param.Name, typeWords(param.Type), listHint(n))
			return
		}
		p.errorf(n, CodeParamType, "parameter %s must be %s, got a string (text around ${{ }} always makes a string)", param.Name, typeWords(param.Type))
		return
	}
	if whole != nil && whole.OK() && !compatible(param.Type, whole.Type) {
		p.errorAt(p.src.scalarPos(n, exprOffset(n.Value, t)), CodeParamType,
			"parameter %s must be %s, but the expression is %s", param.Name, typeWords(param.Type), typeWords(whole.Type))
	}
}

// convertHint suggests how to make an expression fit a string parameter.
func convertHint(want, got string) string {
	if want == activities.TypeString && (got == "int" || got == "uint" || got == "double" || got == "bool") {
		return " (use string(...), or write it inside text)"
	}
	return ""
}

// exprOffset returns the rune offset of a template's first expression.
func exprOffset(s string, t expr.Template) int {
	if segs := t.Exprs(); len(segs) > 0 {
		return len([]rune(s[:segs[0].Offset]))
	}
	return 0
}

// literalText is the value of a template without expressions ($${{
// unescaped).
func literalText(t expr.Template) string {
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteString(s.Literal)
	}
	return b.String()
}

// literalParam checks what can be known about a literal string value:
// enums, durations, and the config and guardrail checks.
func (p *parser) literalParam(spec *activities.ActionSpec, param activities.Param, n *yaml.Node, lit string) {
	if len(param.Enum) > 0 && !contains(param.Enum, lit) {
		p.errorf(n, CodeEnumValue, "%q is not a valid %s for %s: use one of %s%s", lit, param.Name, spec.Name, strings.Join(param.Enum, ", "), didYouMean(lit, param.Enum))
	}
	if param.Type == activities.TypeDuration {
		if _, err := ParseDuration(lit); err != nil {
			p.errorf(n, CodeInvalidDur, "parameter %s: %v", param.Name, err)
		}
	}
	if spec.Category == activities.CategoryContain && (param.Name == "ip" || param.Name == "ips") {
		p.checkBlockTarget(n, lit)
	}
	cfg := p.opts.Config
	if cfg == nil {
		return
	}
	switch {
	case spec.Cloud && param.Name == "account":
		if _, ok := cfg.Cloud.Accounts[lit]; !ok {
			names := sortedKeys(cfg.Cloud.Accounts)
			p.errorf(n, CodeUnknownAccount, "unknown account %q: soar.yaml has %s%s", lit, listWords(names), didYouMean(lit, names))
		}
	case spec.Name == activities.NotifyWebhook && param.Name == "channel":
		if _, ok := cfg.Notify[lit]; !ok {
			names := sortedKeys(cfg.Notify)
			p.errorf(n, CodeUnknownChannel, "unknown notification channel %q: soar.yaml notify: has %s%s", lit, listWords(names), didYouMean(lit, names))
		}
	case spec.Name == activities.ECSRunCommand && param.Name == "template":
		if _, ok := cfg.Commands[lit]; !ok {
			names := sortedKeys(cfg.Commands)
			p.errorf(n, CodeUnknownCommand, "unknown command template %q: soar.yaml commands: has %s%s", lit, listWords(names), didYouMean(lit, names))
		}
	}
}

// checkBlockTarget applies the guardrails to a literal block target.
func (p *parser) checkBlockTarget(n *yaml.Node, target string) {
	err := p.guard.CheckBlock(target)
	var de *guard.DeniedError
	if err == nil || !errors.As(err, &de) {
		return
	}
	if de.Rule == "invalid_target" {
		p.errorf(n, CodeInvalidValue, "%q is not an IP address or CIDR", target)
		return
	}
	p.errorf(n, CodeProtectedTarget, "the guardrails refuse to block %s: %s", target, de.Reason)
}

// checkCommand checks alicloud.ecs.run_command's params against the
// command template's declared parameters (with a config).
func (p *parser) checkCommand(spec *activities.ActionSpec, nodes map[string]*yaml.Node) {
	cfg := p.opts.Config
	tmplNode := nodes["template"]
	if cfg == nil || spec.Name != activities.ECSRunCommand || tmplNode == nil || !isString(tmplNode) {
		return
	}
	cmd, ok := cfg.Commands[tmplNode.Value]
	if !ok {
		return
	}
	name := tmplNode.Value
	declared := sortedKeys(cmd.Params)
	given := map[string]bool{}
	paramsNode := nodes["params"]
	if paramsNode != nil && paramsNode.Kind != yaml.MappingNode {
		return // a whole expression: checked at run time
	}
	if paramsNode != nil {
		for _, kv := range p.pairs(paramsNode) {
			k := kv.key.Value
			given[k] = true
			cp, ok := cmd.Params[k]
			if !ok {
				p.errorf(kv.key, CodeCommandParam, "command template %s has no parameter %q%s (it takes %s)", name, k, didYouMean(k, declared), listWords(declared))
				continue
			}
			v := deref(kv.val)
			if v.Kind != yaml.ScalarNode {
				p.errorf(v, CodeCommandParam, "command parameter %s must be a single value, got %s", k, describe(v))
				continue
			}
			if strings.Contains(v.Value, "${{") || v.ShortTag() == "!!null" {
				continue
			}
			re, err := regexp.Compile(`^(?:` + cp.Pattern + `)$`)
			if err == nil && !re.MatchString(v.Value) {
				what := ""
				if cp.Description != "" {
					what = " (" + cp.Description + ")"
				}
				p.errorf(v, CodeCommandParam, "%s is not a valid %s%s for command template %s: it does not match the pattern %s", strconv.Quote(v.Value), k, what, name, cp.Pattern)
			}
		}
	}
	var missing []string
	for _, k := range declared {
		if cmd.Params[k].Required && !given[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		at := tmplNode
		if paramsNode != nil {
			at = paramsNode
		}
		p.errorf(at, CodeCommandParam, "command template %s needs the parameter(s) %s in params", name, strings.Join(missing, ", "))
	}
}

// approvalKeys are the keys of an approval gate.
func approvalKeys() []string {
	return []string{"approvers", "quorum", "timeout", "on_timeout", "message"}
}

// approval parses an approval gate and applies its defaults.
func (p *parser) approval(in pair, ctx exprCtx) *Approval {
	a := &Approval{Quorum: DefaultQuorum, Timeout: DefaultApprovalTimeout, OnTimeout: OnTimeoutReject}
	f, ok := p.fields(in.val, "approval", approvalKeys(), nil)
	if !ok {
		return a
	}
	if pr, ok := f["approvers"]; ok {
		a.Approvers, _ = p.strList(pr.val, "approval.approvers")
		if len(a.Approvers) == 0 && deref(pr.val).Kind == yaml.SequenceNode {
			p.errorf(pr.val, CodeMissingField, "approval.approvers is empty: name at least one user or group from soar.yaml")
		}
		p.checkApprovers(deref(pr.val), a.Approvers)
	} else {
		p.errorf(in.key, CodeMissingField, "approval has no approvers (approvers: [<group or user from soar.yaml>])")
	}
	if pr, ok := f["quorum"]; ok {
		if q, ok := p.integer(pr.val, "approval.quorum"); ok {
			a.Quorum = q
			if q < 1 {
				p.errorf(pr.val, CodeInvalidValue, "approval.quorum must be at least 1, got %d", q)
			} else if users := p.approverUsers(a.Approvers); users != nil && q > len(users) {
				p.errorf(pr.val, CodeInvalidValue, "approval.quorum %d is more than the %d distinct users who may approve (%s): the gate could never pass", q, len(users), strings.Join(users, ", "))
			}
		}
	}
	if pr, ok := f["timeout"]; ok {
		if d, ok := p.duration(pr.val, "approval.timeout"); ok {
			a.Timeout = d
		}
	}
	if pr, ok := f["on_timeout"]; ok {
		if v, ok := p.str(pr.val, "approval.on_timeout"); ok {
			a.OnTimeout = v
			p.oneOf(pr.val, "approval.on_timeout", v, OnTimeoutApprove, OnTimeoutReject)
		}
	}
	if pr, ok := f["message"]; ok {
		if v, ok := p.str(pr.val, "approval.message"); ok {
			a.Message = v
			p.checkTemplate(deref(pr.val), v, ctx)
		}
	}
	return a
}

// checkApprovers reports approvers that are neither a group nor a user in
// the config.
func (p *parser) checkApprovers(list *yaml.Node, names []string) {
	cfg := p.opts.Config
	if cfg == nil || list.Kind != yaml.SequenceNode {
		return
	}
	known := append(sortedKeys(cfg.Approvers), cfg.Users()...)
	for i, name := range names {
		if _, unknown := cfg.ResolveApprovers([]string{name}); len(unknown) > 0 && i < len(list.Content) {
			p.errorf(list.Content[i], CodeUnknownApprover, "unknown approver %q: it is neither a group nor a user in soar.yaml approvers (%s)%s", name, listWords(known), didYouMean(name, known))
		}
	}
}

// approverUsers returns the distinct users who may approve, or nil when
// unknown (no config, or unknown names).
func (p *parser) approverUsers(names []string) []string {
	if p.opts.Config == nil || len(names) == 0 {
		return nil
	}
	users, unknown := p.opts.Config.ResolveApprovers(names)
	if len(unknown) > 0 {
		return nil
	}
	return users
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listWords renders names for messages: "none", "a", "a and b", "a, b and c".
func listWords(names []string) string {
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

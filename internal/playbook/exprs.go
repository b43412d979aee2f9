package playbook

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/expr"
)

// exprCtx says where an expression is evaluated: what it may see and which
// steps have run by then.
type exprCtx struct {
	// what names the field in messages: "trigger.when", "steps.kill.if".
	what  string
	scope expr.Scope
	// step is the ID of the step the expression belongs to, "" outside
	// steps.
	step string
	// order is the execution order of that step (see stepRef); -1 before
	// any step (vars, trigger).
	order int
	// group is true inside a parallel block.
	group bool
	// selfOK allows reading the step's own state: the with of a step behind
	// an approval gate may read steps.<self>.approved_by.
	selfOK bool
	// inVars is true for var values: varIndex is the var's own index, and
	// only the vars before it exist.
	inVars   bool
	varIndex int
}

// celSource reads a bare CEL field.
func (p *parser) celSource(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.errorf(n, CodeWrongType, "%s must be a CEL expression, got %s", what, describe(n))
		return "", false
	}
	if i := strings.Index(n.Value, "${{"); i >= 0 {
		p.errorAt(p.src.scalarPos(n, utf8.RuneCountInString(n.Value[:i])), CodeTemplateSyntax,
			"%s is bare CEL: write the expression without ${{ }}", what)
		return n.Value, false
	}
	return n.Value, true
}

// checkCEL checks the CEL expression src, which starts at rune offset base
// of n's value, reports its issues at their places in the file, and checks
// its steps.<id> and vars.<name> references.
func (p *parser) checkCEL(n *yaml.Node, src string, base int, ctx exprCtx) expr.Checked {
	c := p.opts.Env.Check(src, ctx.scope)
	at := func(line, col int) Position {
		return p.src.scalarPos(n, base+runeOffsetIn(src, line, col))
	}
	for _, is := range c.Issues {
		p.errorAt(at(is.Line, is.Column), is.Code, "%s", is.Message)
	}
	if !ctx.scope.Incident {
		return c // steps and vars are scope errors here
	}
	for _, r := range c.StepRefs {
		p.checkStepRef(at(r.Line, r.Column), r.Name, ctx)
	}
	for _, r := range c.VarRefs {
		p.checkVarRef(at(r.Line, r.Column), r.Name, ctx)
	}
	return c
}

func (p *parser) checkStepRef(pos Position, name string, ctx exprCtx) {
	ref, ok := p.steps[name]
	if !ok {
		p.errorAt(pos, CodeUnknownStep, "unknown step %q in steps.%s%s", name, name, didYouMean(name, p.stepIDs))
		return
	}
	switch {
	case ctx.inVars:
		p.warnAt(pos, CodeForwardRef, "steps.%s is read in vars, which are evaluated when the incident opens, before any step runs", name)
	case ref.order > ctx.order:
		p.warnAt(pos, CodeForwardRef, "steps.%s runs after this step (line %d): it has not run yet when %s is evaluated", name, ref.line, ctx.what)
	case name == ctx.step:
		if !ctx.selfOK {
			p.warnAt(pos, CodeForwardRef, "steps.%s is this step itself: it has not run yet when %s is evaluated", name, ctx.what)
		}
	case ref.order == ctx.order && ref.group && ctx.group:
		p.warnAt(pos, CodeForwardRef, "steps.%s runs in parallel with this step: its outcome is not known when %s is evaluated", name, ctx.what)
	}
}

func (p *parser) checkVarRef(pos Position, name string, ctx exprCtx) {
	i, ok := p.vars[name]
	if !ok {
		p.errorAt(pos, CodeUnknownVar, "unknown var %q in vars.%s%s", name, name, didYouMean(name, p.varList))
		return
	}
	if ctx.inVars && i >= ctx.varIndex {
		if i == ctx.varIndex {
			p.errorAt(pos, CodeUnknownVar, "vars.%s reads itself: a var may only use the vars before it", name)
			return
		}
		p.errorAt(pos, CodeUnknownVar, "vars.%s is defined after %s: vars are evaluated in order, so a var may only use the vars before it", name, ctx.what)
	}
}

// checkTemplate checks a string value that may hold `${{ }}` segments. It
// returns the parsed template, and the check of its expression when the
// value is exactly one expression (nil otherwise or on a syntax error).
func (p *parser) checkTemplate(n *yaml.Node, s string, ctx exprCtx) (expr.Template, *expr.Checked, bool) {
	t, err := expr.ParseTemplate(s)
	if err != nil {
		off := 0
		var te *expr.TemplateError
		if errors.As(err, &te) {
			off = utf8.RuneCountInString(s[:min(te.Offset, len(s))])
			err = errors.New(te.Message)
		}
		p.errorAt(p.src.scalarPos(n, off), CodeTemplateSyntax, "%v", err)
		return t, nil, false
	}
	var whole *expr.Checked
	ok := true
	for _, seg := range t.Exprs() {
		c := p.checkCEL(n, seg.Expr, utf8.RuneCountInString(s[:seg.Offset]), ctx)
		ok = ok && c.OK()
		if t.Whole() {
			whole = &c
		}
	}
	return t, whole, ok
}

// wantType reports a bare CEL field whose static type is not what the
// field needs: "bool", "int", or "key" (string, int or uint).
func (p *parser) wantType(n *yaml.Node, base int, c expr.Checked, what, want string) {
	if !c.OK() || c.Type == "" || c.Type == "dyn" {
		return
	}
	switch want {
	case "bool", "int":
		if c.Type == want {
			return
		}
		p.errorAt(p.src.scalarPos(n, base), CodeCELType, "%s must be %s, but the expression is %s", what, typeWords(want), typeWords(c.Type))
	case "key":
		if c.Type == "string" || c.Type == "int" || c.Type == "uint" {
			return
		}
		p.errorAt(p.src.scalarPos(n, base), CodeCELType, "%s must be a string (it names the incident), but the expression is %s", what, typeWords(c.Type))
	case "list":
		if strings.HasPrefix(c.Type, "list(") {
			return
		}
		p.errorAt(p.src.scalarPos(n, base), CodeCELType, "%s must be a list, but the expression is %s", what, typeWords(c.Type))
	}
}

// typeWords names a CEL or catalog type for messages.
func typeWords(t string) string {
	switch t {
	case "bool":
		return "a bool"
	case "int":
		return "an int"
	case "uint":
		return "a uint"
	case "double":
		return "a double"
	case "string":
		return "a string"
	case activities.TypeDuration:
		return "a duration"
	case activities.TypeStringList:
		return "a list of strings"
	case activities.TypeList:
		return "a list"
	case activities.TypeMap:
		return "a map"
	case "null_type":
		return "null"
	}
	return fmt.Sprintf("of type %s", t)
}

// compatible reports whether a `${{ }}` value of static type got may be
// passed where the catalog type want is expected. dyn is compatible with
// everything; the check at run time decides.
func compatible(want, got string) bool {
	if got == "dyn" || got == want {
		return true
	}
	switch want {
	case activities.TypeDuration:
		return got == "string" || got == "google.protobuf.Duration" || got == "duration"
	case activities.TypeStringList:
		return got == "list(dyn)"
	case activities.TypeList:
		return strings.HasPrefix(got, "list(")
	case activities.TypeMap:
		return strings.HasPrefix(got, "map(string,") || strings.HasPrefix(got, "map(dyn,")
	}
	return false
}

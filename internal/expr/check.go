package expr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
)

// Issue codes. They are stable: playbook diagnostics and tests match them.
const (
	CodeSyntax = "cel-syntax" // the expression does not parse (or breaks a parser limit)
	CodeType   = "cel-type"   // unknown variable, field or function; type mismatch
	CodeCost   = "cel-cost"   // estimated worst-case cost above Options.MaxCost
	CodeScope  = "cel-scope"  // a variable not available here, e.g. item outside foreach
)

// Checked is the outcome of [Env.Check].
type Checked struct {
	// Type is the static result type as CEL names it: "bool", "int",
	// "string", "list(string)", "map(string, dyn)", "dyn", "timestamp",
	// "alert.Resource", …; empty when the expression does not type-check.
	Type string
	// MaxCost is the estimated worst-case cost.
	MaxCost uint64
	// Issues is empty when the expression is fine.
	Issues []Issue
	// StepRefs lists every steps.<id> the expression reads (also
	// steps["id"] and steps.?id), with the position of <id>.
	StepRefs []Ref
	// VarRefs lists every vars.<name> it reads.
	VarRefs []Ref
}

// OK reports whether there are no issues.
func (c Checked) OK() bool { return len(c.Issues) == 0 }

// Issue is one problem in an expression.
type Issue struct {
	// Line and Column are 1-based, within the expression source; columns
	// count Unicode code points, as cel-go does.
	Line, Column int
	// Code is one of CodeSyntax, CodeType, CodeCost, CodeScope.
	Code string
	// Message is cel-go's message without the "ERROR: <input>:1:2:" prefix
	// and without the caret lines.
	Message string
}

// String renders the issue as "line:col: message [code]".
func (i Issue) String() string {
	return fmt.Sprintf("%d:%d: %s [%s]", i.Line, i.Column, i.Message, i.Code)
}

// Ref is a reference to steps.<Name> or vars.<Name>, positioned like an
// [Issue].
type Ref struct {
	Name         string
	Line, Column int
}

// IssuesError is the error of compiling an expression that has issues.
type IssuesError struct {
	Expr   string
	Issues []Issue
}

// Error implements error.
func (e *IssuesError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	return fmt.Sprintf("compile %q: %s", e.Expr, strings.Join(parts, "; "))
}

// compiled is one cache entry.
type compiled struct {
	checked Checked
	prg     cel.Program // nil when there are issues
}

// Check compiles and type-checks one bare CEL expression without
// evaluating it. The result is cached with the compiled program.
func (e *Env) Check(src string, scope Scope) Checked {
	c := e.compile(src, scope).checked
	c.Issues = slices.Clone(c.Issues)
	c.StepRefs = slices.Clone(c.StepRefs)
	c.VarRefs = slices.Clone(c.VarRefs)
	return c
}

// compile returns the cached entry for (scope, src), building it on a miss.
func (e *Env) compile(src string, scope Scope) *compiled {
	key := cacheKey{scope: scope, src: src}
	if c, ok := e.cache.get(key); ok {
		return c
	}
	return e.cache.add(key, e.build(src, scope))
}

func (e *Env) build(src string, scope Scope) *compiled {
	c := &compiled{}
	parsed, iss := e.cel.Parse(src)
	if iss.Err() != nil {
		c.checked.Issues = issuesFrom(iss, CodeSyntax)
		return c
	}
	w := refWalker{src: []rune(src), info: parsed.NativeRep().SourceInfo(), scope: scope}
	w.walk(parsed.NativeRep().Expr(), nil)
	c.checked.StepRefs, c.checked.VarRefs = w.steps, w.vars
	issues := w.issues

	checked, iss := e.cel.Check(parsed)
	if iss.Err() != nil {
		typeIssues := issuesFrom(iss, CodeType)
		e.explain(typeIssues, parsed.NativeRep().Expr(), &w)
		for i, is := range typeIssues {
			// cel-go places a select at its dot; point at the field name.
			if strings.HasPrefix(is.Message, "undefined field") {
				typeIssues[i].Line, typeIssues[i].Column = w.skipToName(is.Line, is.Column)
			}
		}
		c.checked.Issues = sortIssues(append(issues, typeIssues...))
		return c
	}
	c.checked.Type = cel.FormatCELType(checked.OutputType())

	est, err := e.cel.EstimateCost(checked, sizeEstimator{max: e.opts.MaxListSize})
	if err != nil {
		issues = append(issues, Issue{Line: 1, Column: 1, Code: CodeCost,
			Message: fmt.Sprintf("cannot estimate the cost: %v", err)})
	} else {
		c.checked.MaxCost = est.Max
		if est.Max > e.opts.MaxCost {
			issues = append(issues, Issue{Line: 1, Column: 1, Code: CodeCost, Message: fmt.Sprintf(
				"estimated cost %d exceeds the limit %d (lists, maps and strings of unknown size are assumed to hold %d elements): avoid nested comprehensions over alert or step data",
				est.Max, e.opts.MaxCost, e.opts.MaxListSize)})
		}
	}
	if len(issues) > 0 {
		c.checked.Issues = sortIssues(issues)
		return c
	}

	// Runtime cost tracking costs 3-5x. Skip it when the estimate stays under
	// CostLimit even with every list, map and string as large as a payload
	// can hold: then the limit cannot be reached.
	opts := []cel.ProgramOption{cel.InterruptCheckFrequency(interruptEvery), cel.EvalOptions(cel.OptOptimize)}
	worst, err := e.cel.EstimateCost(checked, sizeEstimator{max: payloadMaxSize})
	if err != nil || worst.Max > e.opts.CostLimit {
		opts = append(opts, cel.CostLimit(e.opts.CostLimit))
	}
	prg, err := e.cel.Program(checked, opts...)
	if err != nil {
		c.checked.Issues = []Issue{{Line: 1, Column: 1, Code: CodeType, Message: err.Error()}}
		return c
	}
	c.prg = prg
	return c
}

// issuesFrom converts cel-go issues (1-based line, 0-based column).
func issuesFrom(iss *cel.Issues, code string) []Issue {
	var out []Issue
	for _, e := range iss.Errors() {
		out = append(out, issueFrom(e, code))
	}
	return sortIssues(out)
}

func issueFrom(e *common.Error, code string) Issue {
	line, col := e.Location.Line(), e.Location.Column()+1
	if line < 1 {
		line, col = 1, 1
	}
	return Issue{Line: line, Column: col, Code: code, Message: e.Message}
}

func sortIssues(issues []Issue) []Issue {
	slices.SortStableFunc(issues, func(a, b Issue) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return issues
}

package expr

import (
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
)

// Scope says which variables an expression may use. alert and now are
// always available.
type Scope struct {
	// Incident makes incident, vars and steps available (false for
	// trigger.when and dedup.key, which run before there is an incident).
	Incident bool
	// Item makes item and index available (inside foreach).
	Item bool
	// Action makes action (string) and params (map(string, dyn)) available
	// (guardrail require_approval rules).
	Action bool
}

// TriggerScope is the scope of trigger.when, dedup.key and severity: only
// alert and now.
func TriggerScope() Scope { return Scope{} }

// StepScope is the scope of a step's fields (if, with, foreach, approval
// message) and of vars; item says whether the field is evaluated per item
// of a foreach (with, and if on a foreach step).
func StepScope(item bool) Scope { return Scope{Incident: true, Item: item} }

// PolicyScope is the scope of guardrail require_approval rules: alert, now,
// action and params.
func PolicyScope() Scope { return Scope{Action: true} }

// Variable names.
const (
	varAlert    = "alert"
	varNow      = "now"
	varIncident = "incident"
	varVars     = "vars"
	varSteps    = "steps"
	varItem     = "item"
	varIndex    = "index"
	varAction   = "action"
	varParams   = "params"
)

// scopeMessage says why name is unavailable in s, or "" when it is
// available (or is not one of soar's variables).
func (s Scope) scopeMessage(name string) string {
	switch name {
	case varIncident, varVars, varSteps:
		if !s.Incident {
			return name + " is not available here: trigger.when, dedup.key and severity see only alert and now"
		}
	case varItem, varIndex:
		if !s.Item {
			return name + " is only available inside foreach (in the step's with and if)"
		}
	case varAction, varParams:
		if !s.Action {
			return name + " is only available in guardrail require_approval rules"
		}
	}
	return ""
}

// refWalker collects scope issues and steps/vars references from a parsed
// expression. Comprehension variables (x in list.map(x, …)) shadow the
// environment's variables.
type refWalker struct {
	src    []rune
	info   *ast.SourceInfo
	scope  Scope
	issues []Issue
	steps  []Ref
	vars   []Ref
}

func (w *refWalker) walk(e ast.Expr, locals []string) {
	switch e.Kind() {
	case ast.IdentKind:
		name := e.AsIdent()
		if isLocal(locals, name) {
			return
		}
		if msg := w.scope.scopeMessage(name); msg != "" {
			line, col := w.position(e.ID())
			w.issues = append(w.issues, Issue{Line: line, Column: col, Code: CodeScope, Message: msg})
		}
	case ast.SelectKind:
		sel := e.AsSelect()
		w.noteRef(sel.Operand(), sel.FieldName(), e.ID(), true, locals)
		w.walk(sel.Operand(), locals)
	case ast.CallKind:
		call := e.AsCall()
		args := call.Args()
		switch call.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if len(args) == 2 && args[1].Kind() == ast.LiteralKind {
				if s, ok := args[1].AsLiteral().(types.String); ok {
					w.noteRef(args[0], string(s), args[1].ID(), false, locals)
				}
			}
		}
		if call.IsMemberFunction() {
			w.walk(call.Target(), locals)
		}
		for _, a := range args {
			w.walk(a, locals)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			w.walk(el, locals)
		}
	case ast.MapKind:
		for _, ent := range e.AsMap().Entries() {
			me := ent.AsMapEntry()
			w.walk(me.Key(), locals)
			w.walk(me.Value(), locals)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			w.walk(f.AsStructField().Value(), locals)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		w.walk(c.IterRange(), locals)
		w.walk(c.AccuInit(), locals)
		inner := append(append([]string(nil), locals...), c.IterVar(), c.AccuVar())
		if c.HasIterVar2() {
			inner = append(inner, c.IterVar2())
		}
		w.walk(c.LoopCondition(), inner)
		w.walk(c.LoopStep(), inner)
		w.walk(c.Result(), append(append([]string(nil), locals...), c.AccuVar()))
	}
}

// noteRef records steps.<name> or vars.<name> when operand is the steps or
// vars variable. id locates the field: the select's dot (dot true), or the
// string literal of an index.
func (w *refWalker) noteRef(operand ast.Expr, name string, id int64, dot bool, locals []string) {
	if operand.Kind() != ast.IdentKind || isLocal(locals, operand.AsIdent()) {
		return
	}
	var refs *[]Ref
	switch operand.AsIdent() {
	case varSteps:
		refs = &w.steps
	case varVars:
		refs = &w.vars
	default:
		return
	}
	line, col := w.position(id)
	if dot {
		line, col = w.skipToName(line, col)
	}
	*refs = append(*refs, Ref{Name: name, Line: line, Column: col})
}

// position returns the 1-based line and column of an expression node.
func (w *refWalker) position(id int64) (line, col int) {
	loc := w.info.GetStartLocation(id)
	if loc.Line() < 1 {
		return 1, 1
	}
	return loc.Line(), loc.Column() + 1
}

// skipToName moves from a select's dot (or "?." of an optional select) to
// the first character of the field name, across whitespace and newlines.
func (w *refWalker) skipToName(line, col int) (int, int) {
	off, ok := runeOffset(w.src, line, col)
	if !ok {
		return line, col
	}
	for off < len(w.src) {
		switch w.src[off] {
		case '.', '?', ' ', '\t', '\r':
			col++
		case '\n':
			line++
			col = 1
		default:
			return line, col
		}
		off++
	}
	return line, col
}

// runeOffset converts a 1-based line and column (in code points, as cel-go
// counts them) to an offset in src.
func runeOffset(src []rune, line, col int) (int, bool) {
	l, off := 1, 0
	for l < line && off < len(src) {
		if src[off] == '\n' {
			l++
		}
		off++
	}
	off += col - 1
	return off, l == line && off >= 0 && off < len(src)
}

func isLocal(locals []string, name string) bool {
	for _, l := range locals {
		if l == name {
			return true
		}
	}
	return false
}

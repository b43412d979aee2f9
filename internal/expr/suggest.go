package expr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"

	"github.com/opensoar/soar/internal/suggest"
)

// undeclaredRE matches cel-go's message for an unknown variable or function;
// the container is always empty in soar, so the message drops it.
var undeclaredRE = regexp.MustCompile(`^undeclared reference to '([^']*)' \(in container '[^']*'\)$`)

// funcNameRE matches the functions an author calls by name (not operators
// such as _+_ or @in).
var funcNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]*$`)

// explain adds a "did you mean" to the type issues cel-go reports for a
// misspelt field ("undefined field 'sorce_ip'"), variable or function
// ("undeclared reference to 'alrt'"). Issues are still at cel-go's
// positions: a select at its dot.
func (e *Env) explain(issues []Issue, root ast.Expr, w *refWalker) {
	for i, is := range issues {
		if name, ok := strings.CutPrefix(is.Message, "undefined field '"); ok {
			name = strings.TrimSuffix(name, "'")
			s := suggester{env: e, w: w, line: is.Line, col: is.Column, name: name}
			s.findSelect(root, nil)
			issues[i].Message += didYouMean(name, s.fields)
			continue
		}
		if m := undeclaredRE.FindStringSubmatch(is.Message); m != nil {
			issues[i].Message = fmt.Sprintf("undeclared reference to '%s'%s", m[1], didYouMean(m[1], e.namesLike(root, m[1], w.scope)))
			// cel-go places a call at its parenthesis; point at the name.
			name := []rune(m[1])
			if off, ok := runeOffset(w.src, is.Line, is.Column); ok && w.src[off] == '(' && off >= len(name) &&
				string(w.src[off-len(name):off]) == m[1] && is.Column > len(name) {
				issues[i].Column -= len(name)
			}
		}
	}
}

// namesLike returns what name could have meant: the variables of scope when
// name is used as a variable, the functions otherwise.
func (e *Env) namesLike(root ast.Expr, name string, scope Scope) []string {
	if usedAsIdent(root, name) {
		var out []string
		for _, v := range e.cel.Variables() {
			if scope.scopeMessage(v.Name()) == "" {
				out = append(out, v.Name())
			}
		}
		slices.Sort(out)
		return out
	}
	var out []string
	for fn := range e.cel.Functions() {
		if funcNameRE.MatchString(fn) {
			out = append(out, fn)
		}
	}
	slices.Sort(out)
	return out
}

func usedAsIdent(e ast.Expr, name string) bool {
	found := false
	visit(e, func(x ast.Expr) {
		if x.Kind() == ast.IdentKind && x.AsIdent() == name {
			found = true
		}
	})
	return found
}

// visit calls f on e and every expression under it.
func visit(e ast.Expr, f func(ast.Expr)) {
	f(e)
	switch e.Kind() {
	case ast.SelectKind:
		visit(e.AsSelect().Operand(), f)
	case ast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			visit(call.Target(), f)
		}
		for _, a := range call.Args() {
			visit(a, f)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			visit(el, f)
		}
	case ast.MapKind:
		for _, ent := range e.AsMap().Entries() {
			visit(ent.AsMapEntry().Key(), f)
			visit(ent.AsMapEntry().Value(), f)
		}
	case ast.StructKind:
		for _, fl := range e.AsStruct().Fields() {
			visit(fl.AsStructField().Value(), f)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			visit(x, f)
		}
	}
}

// suggester finds the select of field name at (line, col) and the field
// names of its operand's type.
type suggester struct {
	env       *Env
	w         *refWalker
	line, col int
	name      string
	fields    []string // set once found
}

// local is a comprehension variable with its type (nil when unknown).
type local struct {
	name string
	t    *types.Type
}

func (s *suggester) findSelect(e ast.Expr, locals []local) {
	if s.fields != nil {
		return
	}
	switch e.Kind() {
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.FieldName() == s.name {
			if line, col := s.w.position(e.ID()); line == s.line && col == s.col {
				s.fields = s.fieldNames(s.typeOf(sel.Operand(), locals))
				if s.fields == nil {
					s.fields = []string{}
				}
				return
			}
		}
		s.findSelect(sel.Operand(), locals)
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		s.findSelect(c.IterRange(), locals)
		s.findSelect(c.AccuInit(), locals)
		inner := slices.Clone(locals)
		rt := s.typeOf(c.IterRange(), locals)
		first, second := iterTypes(rt)
		if c.HasIterVar2() {
			inner = append(inner, local{c.IterVar(), first}, local{c.IterVar2(), second})
		} else if rt != nil && rt.Kind() == types.ListKind {
			inner = append(inner, local{c.IterVar(), second})
		} else {
			inner = append(inner, local{c.IterVar(), first})
		}
		inner = append(inner, local{c.AccuVar(), nil})
		s.findSelect(c.LoopCondition(), inner)
		s.findSelect(c.LoopStep(), inner)
		s.findSelect(c.Result(), append(slices.Clone(locals), local{c.AccuVar(), nil}))
	default:
		visitChildren(e, func(x ast.Expr) { s.findSelect(x, locals) })
	}
}

// visitChildren calls f on the direct children of e that are not
// comprehensions' or selects' (findSelect handles those itself).
func visitChildren(e ast.Expr, f func(ast.Expr)) {
	switch e.Kind() {
	case ast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			f(call.Target())
		}
		for _, a := range call.Args() {
			f(a)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			f(el)
		}
	case ast.MapKind:
		for _, ent := range e.AsMap().Entries() {
			f(ent.AsMapEntry().Key())
			f(ent.AsMapEntry().Value())
		}
	case ast.StructKind:
		for _, fl := range e.AsStruct().Fields() {
			f(fl.AsStructField().Value())
		}
	}
}

// iterTypes returns the types of a comprehension's variables over a range
// of type t: (index, element) for a list, (key, value) for a map.
func iterTypes(t *types.Type) (first, second *types.Type) {
	if t == nil {
		return nil, nil
	}
	p := t.Parameters()
	switch {
	case t.Kind() == types.ListKind && len(p) == 1:
		return types.IntType, p[0]
	case t.Kind() == types.MapKind && len(p) == 2:
		return p[0], p[1]
	}
	return nil, nil
}

// typeOf resolves the static type of e from the declared variables and the
// struct types, or nil when it cannot (a function call, dyn data).
func (s *suggester) typeOf(e ast.Expr, locals []local) *types.Type {
	switch e.Kind() {
	case ast.IdentKind:
		name := e.AsIdent()
		for i := len(locals) - 1; i >= 0; i-- {
			if locals[i].name == name {
				return locals[i].t
			}
		}
		for _, v := range s.env.cel.Variables() {
			if v.Name() == name {
				return v.Type()
			}
		}
	case ast.SelectKind:
		sel := e.AsSelect()
		return s.member(s.typeOf(sel.Operand(), locals), sel.FieldName())
	case ast.CallKind:
		call := e.AsCall()
		if call.FunctionName() == operators.Index && len(call.Args()) == 2 {
			t := s.typeOf(call.Args()[0], locals)
			if t == nil {
				return nil
			}
			_, elem := iterTypes(t)
			return elem
		}
	}
	return nil
}

// member is the type of field name of a value of type t.
func (s *suggester) member(t *types.Type, name string) *types.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case types.StructKind:
		if ft, ok := s.env.cel.CELTypeProvider().FindStructFieldType(t.TypeName(), name); ok {
			return ft.Type
		}
	case types.MapKind:
		if p := t.Parameters(); len(p) == 2 {
			return p[1]
		}
	}
	return nil
}

// fieldNames lists the fields of struct type t (their JSON names), sorted.
func (s *suggester) fieldNames(t *types.Type) []string {
	if t == nil || t.Kind() != types.StructKind {
		return nil
	}
	names, ok := s.env.cel.CELTypeProvider().FindStructFieldNames(t.TypeName())
	if !ok {
		return nil
	}
	names = slices.Clone(names)
	slices.Sort(names)
	return names
}

// didYouMean returns ` (did you mean "x"?)` for the candidate nearest to s,
// or "" when none is near enough to be a likely typo.
func didYouMean(s string, candidates []string) string { return suggest.DidYouMean(s, candidates) }

package expr

import (
	"fmt"
	"strings"
)

// Template delimiters. An author writes `$${{` for a literal `${{`.
const (
	openDelim    = "${{"
	closeDelim   = "}}"
	escapedDelim = "$${{"
)

// Template is a string value split into literal text and `${{ expr }}`
// segments.
type Template struct {
	Segments []Segment
}

// Segment is one part of a [Template]: literal text, or a CEL expression.
type Segment struct {
	// Literal is the text of a literal segment (Expr == ""), with `$${{`
	// already unescaped to `${{`.
	Literal string
	// Expr is the CEL source between ${{ and }}, trimmed.
	Expr string
	// Offset is the byte offset of Expr's first byte in the original
	// string (of Literal's first byte for a literal segment).
	Offset int
}

// TemplateError is the error of [ParseTemplate].
type TemplateError struct {
	// Offset is the byte offset of the offending "${{" in the string.
	Offset  int
	Message string
}

// Error implements error.
func (e *TemplateError) Error() string {
	return fmt.Sprintf("template offset %d: %s", e.Offset, e.Message)
}

// ParseTemplate splits s into literal and expression segments. The end of
// an expression is the first "}}" outside string literals and brackets, so
// `${{ {"a": {"b": 1}} }}` holds a map literal. It returns a
// *[TemplateError] for an unterminated "${{" or an empty expression.
func ParseTemplate(s string) (Template, error) {
	var (
		t        Template
		lit      strings.Builder
		litStart = 0
	)
	flush := func() {
		if lit.Len() > 0 {
			t.Segments = append(t.Segments, Segment{Literal: lit.String(), Offset: litStart})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], escapedDelim):
			if lit.Len() == 0 {
				litStart = i
			}
			lit.WriteString(openDelim)
			i += len(escapedDelim)
		case strings.HasPrefix(s[i:], openDelim):
			flush()
			start := i + len(openDelim)
			end, ok := scanExpr(s, start)
			if !ok {
				return Template{}, &TemplateError{Offset: i, Message: `unterminated "${{": missing "}}"`}
			}
			raw := s[start:end]
			expr := strings.TrimSpace(raw)
			if expr == "" {
				return Template{}, &TemplateError{Offset: i, Message: `empty expression in "${{ }}"`}
			}
			lead := len(raw) - len(strings.TrimLeft(raw, " \t\r\n"))
			t.Segments = append(t.Segments, Segment{Expr: expr, Offset: start + lead})
			i = end + len(closeDelim)
			litStart = i
		default:
			if lit.Len() == 0 {
				litStart = i
			}
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	return t, nil
}

// scanExpr returns the index of the "}}" that ends the expression starting
// at s[i], skipping string literals and bracketed text.
func scanExpr(s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '"', '\'':
			raw := i > 0 && (s[i-1] == 'r' || s[i-1] == 'R')
			quote := s[i : i+1]
			if strings.HasPrefix(s[i:], strings.Repeat(quote, 3)) {
				quote = strings.Repeat(quote, 3)
			}
			i += len(quote)
			for i < len(s) && !strings.HasPrefix(s[i:], quote) {
				if !raw && s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return 0, false
			}
			i += len(quote)
			continue
		case '(', '[', '{':
			depth++
		case ')', ']':
			if depth > 0 {
				depth--
			}
		case '}':
			if depth == 0 && strings.HasPrefix(s[i:], closeDelim) {
				return i, true
			}
			if depth > 0 {
				depth--
			}
		}
		i++
	}
	return 0, false
}

// Whole reports whether the template is exactly one expression segment,
// whitespace around it aside: its value keeps the expression's type.
func (t Template) Whole() bool {
	n := 0
	for _, s := range t.Segments {
		if s.Expr != "" {
			n++
			continue
		}
		if strings.TrimSpace(s.Literal) != "" {
			return false
		}
	}
	return n == 1
}

// IsLiteral reports whether the template has no expression segment.
func (t Template) IsLiteral() bool {
	for _, s := range t.Segments {
		if s.Expr != "" {
			return false
		}
	}
	return true
}

// Exprs returns the expression segments.
func (t Template) Exprs() []Segment {
	var out []Segment
	for _, s := range t.Segments {
		if s.Expr != "" {
			out = append(out, s)
		}
	}
	return out
}

// Text returns the literal text of the template, `$${{` unescaped and
// expression segments left out: the value of a template that IsLiteral.
func (t Template) Text() string {
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteString(s.Literal)
	}
	return b.String()
}

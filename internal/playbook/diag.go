package playbook

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Position is a place in a playbook file. Line and Column are 1-based;
// columns count Unicode code points, as yaml.v3 and cel-go do. A zero Line
// means the whole file.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// String renders the position as file:line:col.
func (p Position) String() string {
	switch {
	case p.Line <= 0:
		return p.File
	case p.Column <= 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Severity says whether a [Diagnostic] stops the playbook from loading.
type Severity int

// Severities. Errors stop the playbook from loading; warnings do not.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText implements [encoding.TextMarshaler]: "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q: want error or warning", b)
	}
	return nil
}

// Diagnostic is one problem found in a playbook file.
type Diagnostic struct {
	Pos Position `json:"pos"`
	// Code is a stable machine code, e.g. "unknown-action" or "cel-type"
	// (the package documentation lists them all).
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// SourceLine is the text of line Pos.Line, for the caret excerpt of
	// [Diagnostics.Render]; empty when unknown.
	SourceLine string `json:"source_line,omitempty"`
}

// String renders the diagnostic on one line, without the excerpt:
// "ERROR: file:line:col: message [code]".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", strings.ToUpper(d.Severity.String()), d.Pos, d.Message, d.Code)
}

// Render renders the diagnostic like cel-go: the [Diagnostic.String] line,
// then the source line and a caret under the column.
func (d Diagnostic) Render() string {
	var b strings.Builder
	b.WriteString(d.String())
	if d.SourceLine == "" || d.Pos.Line <= 0 {
		return b.String()
	}
	line := strings.ReplaceAll(d.SourceLine, "\t", " ")
	b.WriteString("\n | ")
	b.WriteString(line)
	b.WriteString("\n | ")
	rest := line
	for i := 1; i < d.Pos.Column && rest != ""; i++ {
		_, size := utf8.DecodeRuneInString(rest)
		rest = rest[size:]
		// cel-go's convention: a full-width dot under a multi-byte rune
		// keeps the caret aligned under CJK text.
		if size > 1 {
			b.WriteString("\uff0e")
		} else {
			b.WriteByte('.')
		}
	}
	if _, size := utf8.DecodeRuneInString(rest); size > 1 {
		b.WriteString("\uff3e")
	} else {
		b.WriteByte('^')
	}
	return b.String()
}

// Diagnostics is every problem found in one file (or a set of files),
// sorted by position. It implements error; use [Diagnostics.Err] to get a
// nil error when there are only warnings.
type Diagnostics []Diagnostic

// Error renders every diagnostic on its own line, without excerpts.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ds as an error when it holds at least one error, else nil.
func (ds Diagnostics) Err() error {
	if ds.HasErrors() {
		return ds
	}
	return nil
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == SeverityError })
}

// Count returns the number of errors and of warnings.
func (ds Diagnostics) Count() (errs, warnings int) {
	for _, d := range ds {
		if d.Severity == SeverityError {
			errs++
		} else {
			warnings++
		}
	}
	return errs, warnings
}

// Render renders every diagnostic with its caret excerpt, one after the
// other, each ending in a newline; "" when there are none.
func (ds Diagnostics) Render() string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Render())
		b.WriteByte('\n')
	}
	return b.String()
}

// MarshalJSON encodes an empty list as [] rather than null.
func (ds Diagnostics) MarshalJSON() ([]byte, error) {
	if ds == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Diagnostic(ds))
}

// sortDiagnostics sorts by file, line, column, errors first, then code and
// message, and drops exact repeats.
func sortDiagnostics(ds Diagnostics) Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Code, b.Code),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(ds)
}

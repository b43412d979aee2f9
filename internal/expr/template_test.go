package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		want    []Segment
		whole   bool
		literal bool
	}{
		{"", nil, false, true},
		{"plain text", []Segment{{Literal: "plain text"}}, false, true},
		{"${{ alert.iocs.ips }}", []Segment{{Expr: "alert.iocs.ips", Offset: 4}}, true, false},
		{"  ${{alert.severity}} \n", []Segment{
			{Literal: "  "},
			{Expr: "alert.severity", Offset: 5},
			{Literal: " \n", Offset: 21},
		}, true, false},
		{"evidence for ${{ incident.id }}", []Segment{
			{Literal: "evidence for "},
			{Expr: "incident.id", Offset: 17},
		}, false, false},
		{"${{ a }}${{ b }}", []Segment{{Expr: "a", Offset: 4}, {Expr: "b", Offset: 12}}, false, false},
		{"挂马 on ${{ vars.instance }}: ${{ alert.title }}", []Segment{
			{Literal: "挂马 on "},
			{Expr: "vars.instance", Offset: 14},
			{Literal: ": ", Offset: 30},
			{Expr: "alert.title", Offset: 36},
		}, false, false},
		{`${{ {"a": {"b": 1}} }}`, []Segment{{Expr: `{"a": {"b": 1}}`, Offset: 4}}, true, false},
		{`${{ "}}" + '}}' + """}}""" + r"\}}" }}`, []Segment{{Expr: `"}}" + '}}' + """}}""" + r"\}}"`, Offset: 4}}, true, false},
		{`${{ "a\"}}" }}`, []Segment{{Expr: `"a\"}}"`, Offset: 4}}, true, false},
		{"${{ [1, 2].map(x, {x: x}) }}", []Segment{{Expr: "[1, 2].map(x, {x: x})", Offset: 4}}, true, false},
		{"use $${{ literally }}", []Segment{{Literal: "use ${{ literally }}"}}, false, true},
		{"$${{ x }} and ${{ y }}", []Segment{
			{Literal: "${{ x }} and "},
			{Expr: "y", Offset: 18},
		}, false, false},
		{"cost: $5 {not a template}", []Segment{{Literal: "cost: $5 {not a template}"}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTemplate(tt.in)
			if err != nil {
				t.Fatalf("ParseTemplate(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got.Segments); diff != "" {
				t.Errorf("ParseTemplate(%q) segments mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got.Whole() != tt.whole {
				t.Errorf("ParseTemplate(%q).Whole() = %v, want %v", tt.in, got.Whole(), tt.whole)
			}
			if got.IsLiteral() && got.Text() != strings.ReplaceAll(tt.in, "$${{", "${{") {
				t.Errorf("ParseTemplate(%q).Text() = %q, want the unescaped input", tt.in, got.Text())
			}
			if got.IsLiteral() != tt.literal {
				t.Errorf("ParseTemplate(%q).IsLiteral() = %v, want %v", tt.in, got.IsLiteral(), tt.literal)
			}
			for _, s := range got.Exprs() {
				if tt.in[s.Offset:s.Offset+len(s.Expr)] != s.Expr {
					t.Errorf("segment %q at offset %d does not match the source %q", s.Expr, s.Offset, tt.in[s.Offset:])
				}
			}
		})
	}
}

func TestParseTemplate_Errors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
	}{
		{"${{ alert.type", 0},
		{"text ${{ alert.type }", 5},
		{"ok ${{ a }} then ${{ 'unterminated }}", 17},
		{"${{ [1, 2 }}", 0},
		{"x ${{   }}", 2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseTemplate(tt.in)
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTemplate(%q) error = %v, want a *TemplateError", tt.in, err)
			}
			if te.Offset != tt.offset {
				t.Errorf("ParseTemplate(%q) error offset = %d, want %d (%v)", tt.in, te.Offset, tt.offset, err)
			}
		})
	}
}

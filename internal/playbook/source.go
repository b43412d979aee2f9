package playbook

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// source is the text of one file, indexed for positions and excerpts.
// Offsets and columns count runes, as yaml.v3 does.
type source struct {
	file  string
	text  []rune
	lines []string // the text of each line, without the line break
	start []int    // rune offset of the start of each line
}

func newSource(file string, data []byte) *source {
	s := &source{file: file, text: []rune(string(data))}
	s.start = append(s.start, 0)
	for i, r := range s.text {
		if r == '\n' {
			s.start = append(s.start, i+1)
		}
	}
	for _, l := range strings.Split(string(data), "\n") {
		s.lines = append(s.lines, strings.TrimSuffix(l, "\r"))
	}
	return s
}

// line returns the text of the 1-based line n, "" when out of range.
func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return s.lines[n-1]
}

// offset converts a 1-based line and column to a rune offset.
func (s *source) offset(line, col int) (int, bool) {
	if line < 1 || line > len(s.start) || col < 1 {
		return 0, false
	}
	off := s.start[line-1] + col - 1
	return off, off <= len(s.text)
}

// lineCol converts a rune offset to a 1-based line and column.
func (s *source) lineCol(off int) (int, int) {
	i := sort.Search(len(s.start), func(i int) bool { return s.start[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return i + 1, off - s.start[i] + 1
}

// nodePos returns the position of a YAML node.
func (s *source) nodePos(n *yaml.Node) Position {
	if n == nil {
		return Position{File: s.file}
	}
	return Position{File: s.file, Line: n.Line, Column: n.Column}
}

// scalarPos returns the position, in the file, of the rune at offset off
// of the scalar's decoded value (off == len means just past its end). It
// follows the source through quoting, escapes, line folding and block
// indentation; where it cannot follow (an exotic escape, a tab in an
// indentation) it falls back to the scalar's own position.
func (s *source) scalarPos(n *yaml.Node, off int) Position {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	fallback := s.nodePos(n)
	si, ok := s.offset(n.Line, n.Column)
	if !ok {
		return fallback
	}
	si = s.skipProperties(si)
	dq := n.Style&yaml.DoubleQuotedStyle != 0
	sq := n.Style&yaml.SingleQuotedStyle != 0
	switch {
	case dq || sq:
		si++ // the opening quote
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// The content starts on the line after the indicator.
		for si < len(s.text) && s.text[si] != '\n' {
			si++
		}
		si++
	}
	dec := []rune(n.Value)
	if off > len(dec) {
		off = len(dec)
	}
	found := func(i int) Position {
		line, col := s.lineCol(i)
		return Position{File: s.file, Line: line, Column: col}
	}
	for di := 0; ; di++ {
		if di == len(dec) {
			if si > len(s.text) {
				return fallback
			}
			return found(si)
		}
		c := dec[di]
	match:
		for {
			if si >= len(s.text) {
				return fallback
			}
			r := s.text[si]
			switch {
			case dq && r == '\\':
				if si+1 < len(s.text) && (s.text[si+1] == '\n' || s.text[si+1] == '\r') {
					// An escaped line break decodes to nothing.
					si++
					si = s.skipBreak(si)
					continue
				}
				if di == off {
					return found(si)
				}
				si += escapeLen(s.text, si)
				break match
			case sq && r == '\'' && c == '\'':
				if di == off {
					return found(si)
				}
				si += 2 // '' is one quote
				break match
			case r == c:
				if di == off {
					return found(si)
				}
				si++
				break match
			case r == ' ' || r == '\t' || r == '\n' || r == '\r':
				if c == ' ' || c == '\n' {
					// A folded line break.
					if di == off {
						return found(si)
					}
					for si < len(s.text) && (s.text[si] == ' ' || s.text[si] == '\t') {
						si++
					}
					si = s.skipBreak(si)
					break match
				}
				si++ // indentation or a folded break's extra whitespace
			default:
				return fallback
			}
		}
	}
}

// skipProperties skips an anchor (&a) and a tag (!!str) before a node's
// content.
func (s *source) skipProperties(si int) int {
	for si < len(s.text) && (s.text[si] == '&' || s.text[si] == '!') {
		for si < len(s.text) && s.text[si] != ' ' && s.text[si] != '\t' && s.text[si] != '\n' {
			si++
		}
		for si < len(s.text) && (s.text[si] == ' ' || s.text[si] == '\t') {
			si++
		}
	}
	return si
}

// skipBreak skips one line break at si, if any, and the indentation after
// it.
func (s *source) skipBreak(si int) int {
	if si < len(s.text) && s.text[si] == '\r' {
		si++
	}
	if si < len(s.text) && s.text[si] == '\n' {
		si++
	}
	for si < len(s.text) && (s.text[si] == ' ' || s.text[si] == '\t') {
		si++
	}
	return si
}

// escapeLen returns the length in runes of the double-quoted escape
// sequence starting with the backslash at text[i].
func escapeLen(text []rune, i int) int {
	if i+1 >= len(text) {
		return 1
	}
	switch text[i+1] {
	case 'x':
		return 4
	case 'u':
		return 6
	case 'U':
		return 10
	}
	return 2
}

// runeOffsetIn converts a 1-based line and column within src (columns in
// code points) to a rune offset in src, clamped to its length.
func runeOffsetIn(src string, line, col int) int {
	rs := []rune(src)
	off, l := 0, 1
	for l < line && off < len(rs) {
		if rs[off] == '\n' {
			l++
		}
		off++
	}
	off += max(col, 1) - 1
	return min(off, len(rs))
}

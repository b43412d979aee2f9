package playbooktest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opensoar/soar/internal/playbook"
)

// maxText is the longest string rendered in full in reports.
const maxText = 60

// render renders a JSON-like value compactly, in flow YAML style with
// sorted keys: {ip: 203.0.113.7, ports: [22, 80]}.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + render(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return render(jsonValue(v))
}

// maxFullText is the longest string a mismatch shows.
const maxFullText = 1000

// renderFull renders a value like render, but a string whole (up to
// maxFullText), quoted with its newlines escaped: what a mismatch on text
// shows, so that the author sees where it differs.
func renderFull(v any) string {
	s, ok := v.(string)
	if !ok {
		return render(v)
	}
	if utf8.RuneCountInString(s) > maxFullText {
		s = string([]rune(s)[:maxFullText]) + "…"
	}
	if needsQuotes(s) {
		return strconv.Quote(s)
	}
	return s
}

// quote renders a string bare when YAML would read it back as the same
// string, quoted otherwise; long strings are cut.
func quote(s string) string {
	cut := s
	if utf8.RuneCountInString(cut) > maxText {
		r := []rune(cut)
		cut = string(r[:maxText]) + "…"
	}
	if needsQuotes(s) {
		return strconv.Quote(cut)
	}
	return cut
}

func needsQuotes(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return true
	}
	if strings.ContainsAny(s, "\n\t\"'{}[],&*#?|<>=!%@`") || strings.Contains(s, ": ") || strings.HasPrefix(s, "-") {
		return true
	}
	switch strings.ToLower(s) {
	case "true", "false", "null", "yes", "no", "on", "off", "~":
		return true
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	return false
}

// renderParams renders an action's parameters without meta, and without
// account and region unless keep names them.
func renderParams(params map[string]any, keep *pattern) string {
	m := make(map[string]any, len(params))
	for k, v := range params {
		switch k {
		case "meta":
			continue
		case "account", "region":
			if !keep.mentions(k) {
				continue
			}
		}
		m[k] = v
	}
	return render(m)
}

// offset renders a time offset: +0s, +5m, +26h, +3d.
func offset(d time.Duration) string {
	return "+" + playbook.FormatDuration(d)
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// plural renders "1 call", "2 calls".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

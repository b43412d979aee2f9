// Package suggest answers a misspelt name with the nearest known one, so
// that every "did you mean" of soar — playbook keys, CEL fields, config
// keys, alert members, commands and flags — reads alike. It uses the
// standard library only, so that every package may import it.
package suggest

import (
	"fmt"
	"slices"
	"strings"
)

// DidYouMean returns ` (did you mean "x"?)` for the candidate nearest to s,
// or "" when none is near enough to be a likely typo.
func DidYouMean(s string, candidates []string) string {
	if c := Closest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// Closest returns the candidate nearest to s by edit distance, ignoring
// case and treating - and _ alike, or "" when none is within a third of
// the length of s (at least 2 edits); failing that, a candidate of which s
// is a whole word (attempts → max_attempts, instance → instance_id).
func Closest(s string, candidates []string) string {
	norm := func(x string) string { return strings.ReplaceAll(strings.ToLower(x), "-", "_") }
	ns := norm(s)
	best, bestDist := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if c == s {
			continue
		}
		if d := EditDistance(ns, norm(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(ns) < 4 {
		return best
	}
	for _, c := range candidates {
		if c != s && slices.Contains(strings.Split(norm(c), "_"), ns) {
			return c
		}
	}
	return ""
}

// EditDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each count as one edit.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

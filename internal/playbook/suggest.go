package playbook

import "github.com/opensoar/soar/internal/suggest"

// didYouMean returns ` (did you mean "x"?)` for the candidate nearest to s,
// or "" when none is near enough to be a likely typo.
func didYouMean(s string, candidates []string) string { return suggest.DidYouMean(s, candidates) }

// closest returns the candidate nearest to s, or "" when none is near
// enough to be a likely typo.
func closest(s string, candidates []string) string { return suggest.Closest(s, candidates) }

// DidYouMean returns ` (did you mean "x"?)` for the candidate nearest to s,
// or "" when none is near enough to be a likely typo. Other parsers of soar
// YAML (playbook tests, the command line) use it so that every suggestion
// reads alike.
func DidYouMean(s string, candidates []string) string { return suggest.DidYouMean(s, candidates) }

// Closest returns the candidate nearest to s by edit distance, or "" when
// none is near enough to be a likely typo.
func Closest(s string, candidates []string) string { return suggest.Closest(s, candidates) }

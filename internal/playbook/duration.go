package playbook

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// durationPattern is the syntax of playbook durations, for the JSON
// Schema: Go's time.ParseDuration units plus d (24h).
const durationPattern = `^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d))*$`

var (
	durationRE = regexp.MustCompile(durationPattern)
	daysRE     = regexp.MustCompile(`([0-9]+(?:\.[0-9]*)?|\.[0-9]+)d`)
)

// ParseDuration parses a playbook duration: Go syntax ("90s", "1h30m",
// "500ms") plus d for days of 24 hours ("7d", "1d12h", "1.5d"). Negative
// durations and a bare number are refused; "0s" is zero.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if !durationRE.MatchString(s) {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return 0, fmt.Errorf("%q has no unit (write %ss, %sm, %sh or %sd)", s, s, s, s, s)
		}
		return 0, fmt.Errorf("%q is not a duration (write e.g. 30s, 10m, 24h, 7d or 1h30m)", s)
	}
	var convErr error
	goSyntax := daysRE.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseFloat(strings.TrimSuffix(m, "d"), 64)
		if err != nil {
			convErr = err
		}
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	if convErr != nil {
		return 0, fmt.Errorf("%q is not a duration: %w", s, convErr)
	}
	d, err := time.ParseDuration(goSyntax)
	if err != nil {
		// The pattern matched, so only an overflow remains.
		return 0, fmt.Errorf("%q is too long a duration", s)
	}
	return d, nil
}

// FormatDuration renders d the way authors write it: whole days as "7d",
// else Go's form without zero units ("1h30m", "90s").
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

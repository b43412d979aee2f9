package natspub

import (
	"errors"
	"fmt"
	"strings"
)

// checkAlertSubject accepts a literal subject under alerts. with at least
// one more token: no wildcards, no empty tokens, no spaces.
func checkAlertSubject(s string) error {
	if !strings.HasPrefix(s, AlertSubjectPrefix) {
		return fmt.Errorf("subject %q is not under %s (linkage alerts go to alerts.<source>.<type>)", s, AlertSubjectPrefix)
	}
	if err := checkSubject(s); err != nil {
		return fmt.Errorf("subject %q: %w", s, err)
	}
	return nil
}

// checkSubject accepts a literal NATS subject.
func checkSubject(s string) error {
	for _, tok := range strings.Split(s, ".") {
		switch {
		case tok == "":
			return errors.New("empty token")
		case tok == "*" || tok == ">":
			return errors.New("wildcards are not allowed")
		}
		for _, r := range tok {
			if r <= ' ' || r == 0x7f {
				return errors.New("spaces and control characters are not allowed")
			}
		}
	}
	return nil
}

// token turns s into one safe subject token: letters, digits, '-' and '_'
// are kept, anything else (dots, wildcards, spaces, non-ASCII) becomes '_'.
func token(s string) string {
	if s == "" {
		return "_"
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			out = append(out, byte(r))
		} else {
			out = append(out, '_')
		}
	}
	return string(out)
}

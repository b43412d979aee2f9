package playbook

import (
	"fmt"
	"strings"
)

// checkSubject reports why s is not a valid NATS subject pattern, or ""
// when it is: dot-separated non-empty tokens without whitespace, where *
// matches one whole token and > the rest and only as the last token.
func checkSubject(s string) string {
	if s == "" {
		return "empty subject"
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "a subject cannot contain whitespace"
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return "empty token (a subject cannot start or end with a dot or hold two dots in a row)"
		case t == ">" && i != len(tokens)-1:
			return `">" matches the rest of the subject, so it must be the last token`
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return fmt.Sprintf("token %q mixes a wildcard with text: * and > must be whole tokens", t)
		}
	}
	return ""
}

package alicloud

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opensoar/soar/internal/config"
)

// defaultCommandTimeout bounds a template run on the instance when the
// template sets none.
const defaultCommandTimeout = 60 * time.Second

// command is a compiled Cloud Assistant template: the script with its
// placeholders written as Cloud Assistant parameters ({{name}}) and every
// parameter's anchored pattern.
type command struct {
	name    string
	script  string
	params  map[string]commandParam
	timeout time.Duration
}

type commandParam struct {
	pattern  string
	re       *regexp.Regexp
	required bool
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// compileCommand checks a template: every placeholder declared, every
// pattern a valid regular expression (anchored here: the whole value must
// match).
func compileCommand(name string, c config.Command) (command, error) {
	cmd := command{name: name, params: map[string]commandParam{}, timeout: c.Timeout}
	if cmd.timeout <= 0 {
		cmd.timeout = defaultCommandTimeout
	}
	if strings.TrimSpace(c.Script) == "" {
		return command{}, fmt.Errorf("command %s: empty script", name)
	}
	for pn, p := range c.Params {
		if p.Pattern == "" {
			return command{}, fmt.Errorf("command %s: parameter %s has no pattern", name, pn)
		}
		re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
		if err != nil {
			return command{}, fmt.Errorf("command %s: parameter %s: pattern: %w", name, pn, err)
		}
		cmd.params[pn] = commandParam{pattern: p.Pattern, re: re, required: p.Required}
	}
	var undeclared []string
	cmd.script = placeholderRE.ReplaceAllStringFunc(c.Script, func(m string) string {
		pn := placeholderRE.FindStringSubmatch(m)[1]
		if _, ok := cmd.params[pn]; !ok {
			undeclared = append(undeclared, pn)
		}
		return "{{" + pn + "}}"
	})
	if len(undeclared) > 0 {
		return command{}, fmt.Errorf("command %s: placeholders not declared in params: %s", name, strings.Join(undeclared, ", "))
	}
	return cmd, nil
}

// parameters validates the playbook's params against the template and
// returns the Cloud Assistant parameters: every declared parameter, its
// value shell-quoted so that the script receives it as one word whatever it
// contains. Unknown, missing required, non-scalar and non-matching values
// are refused (InvalidInput).
func (c command) parameters(in map[string]any) (map[string]string, error) {
	var unknown []string
	for k := range in {
		if _, ok := c.params[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, invalidInput("command template %s: unknown parameters %s (declared: %s)", c.name, strings.Join(unknown, ", "), strings.Join(c.paramNames(), ", "))
	}
	out := make(map[string]string, len(c.params))
	for _, pn := range c.paramNames() {
		p := c.params[pn]
		raw, present := in[pn]
		v, err := paramString(raw)
		if err != nil {
			return nil, invalidInput("command template %s: parameter %s: %v", c.name, pn, err)
		}
		if !present || raw == nil {
			if p.required {
				return nil, invalidInput("command template %s: parameter %s is required", c.name, pn)
			}
			out[pn] = shellQuote("")
			continue
		}
		if strings.ContainsRune(v, 0) || !p.re.MatchString(v) {
			return nil, invalidInput("command template %s: parameter %s: %s does not match the pattern %s", c.name, pn, quoteForMessage(v), p.pattern)
		}
		out[pn] = shellQuote(v)
	}
	return out, nil
}

func (c command) paramNames() []string {
	names := make([]string, 0, len(c.params))
	for k := range c.params {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// render is the script as the instance will run it, for dry-run plans.
func (c command) render(params map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(c.script, func(m string) string {
		return params[placeholderRE.FindStringSubmatch(m)[1]]
	})
}

// paramString turns a playbook value (decoded from JSON) into the string a
// parameter carries; lists and maps are refused.
func paramString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case json.Number:
		return x.String(), nil
	}
	return "", fmt.Errorf("a %T is not a scalar value", v)
}

// shellQuote quotes s as one POSIX shell word: it wraps s in single quotes
// and writes each embedded single quote as close-quote, escaped quote,
// open-quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteForMessage shows a refused value without flooding the error.
func quoteForMessage(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

// templateNames lists the allowed templates for error messages.
func (a *Activities) templateNames() string {
	names := make([]string, 0, len(a.commands))
	for k := range a.commands {
		names = append(names, k)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}

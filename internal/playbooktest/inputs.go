package playbooktest

import (
	"fmt"
	"strings"

	"github.com/opensoar/soar/activities"
)

// checkInputs fails the case for every action call, forward or inverse,
// that lacks a parameter the catalog requires: the real action would
// refuse it. The usual cause is a revert whose inverse is built from the
// forward call's output (the catalog's InverseArgs) when the forward
// call's mock does not give that field: unmocked, an action answers only
// {changed: true}.
func (r *caseRun) checkInputs(all []execution) {
	for _, e := range all {
		spec, ok := activities.Lookup(e.action)
		if !ok {
			continue
		}
		var missing []string
		for _, p := range spec.Params {
			if p.Required && emptyParam(e.params[p.Name]) {
				missing = append(missing, p.Name)
			}
		}
		if len(missing) == 0 {
			continue
		}
		what := "call"
		if e.revert {
			what = "revert"
		}
		msg := fmt.Sprintf("%s %s of step %s at %s lacks the required parameter(s) %s, which the real action refuses: %s",
			what, e.action, e.step, offset(e.at), strings.Join(missing, ", "), e.describe(nil))
		if e.revert {
			msg += r.inverseHint(all, e, missing)
		} else {
			msg += "\n  check the step's with: (a template that rendered empty?)"
		}
		r.fail("%s", msg)
	}
}

// inverseHint says where the inverse's missing parameters come from: the
// forward call's output (to be given by its mock) or its input.
func (r *caseRun) inverseHint(all []execution, inv execution, missing []string) string {
	var fwd *execution
	for i := range all {
		if e := &all[i]; !e.revert && e.step == inv.step {
			fwd = e
		}
	}
	if fwd == nil {
		return ""
	}
	spec, ok := activities.Lookup(fwd.action)
	if !ok {
		return ""
	}
	var hints []string
	for _, p := range missing {
		src, ok := spec.InverseArgs[p]
		if !ok {
			continue
		}
		if field, isOut := strings.CutPrefix(src, "output."); isOut {
			hints = append(hints, fmt.Sprintf("%s comes from the output field %s of %s, which its mock does not give: add %s to the mock's output (unmocked, an action answers only {changed: true})",
				p, field, fwd.action, field))
			continue
		}
		hints = append(hints, fmt.Sprintf("%s comes from the parameter %s of the %s call", p, strings.TrimPrefix(src, "input."), fwd.action))
	}
	if len(hints) == 0 {
		return ""
	}
	return "\n  " + strings.Join(hints, "\n  ")
}

// emptyParam reports whether a parameter value is absent in effect: nil,
// an empty string or an empty list.
func emptyParam(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	}
	return false
}

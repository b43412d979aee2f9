// Package expr is the expression language of soar playbooks: a CEL
// environment over the typed alert envelope, `${{ }}` templates, a bounded
// compile cache, cost limits, and [Evaluator], the local activity
// ([activities.ExprEval]) through which the Incident workflow records every
// decision in history.
//
// # Variables
//
// An expression sees these variables, depending on its [Scope]:
//
//	alert     alert.Alert               always (typed: alert.sorce_ip is a compile error)
//	now       timestamp                 always
//	incident  activities.IncidentInfo   Scope.Incident
//	vars      map(string, dyn)          Scope.Incident
//	steps     map(string, activities.StepState)  Scope.Incident
//	item      dyn                       Scope.Item (inside foreach)
//	index     int                       Scope.Item
//	action    string                    Scope.Action (guardrail require_approval rules)
//	params    map(string, dyn)          Scope.Action
//
// Field names are the JSON names of the Go structs (alert.source_ip,
// alert.resource.instance_id, steps.kill.status, incident.alert_count).
// alert.raw and steps.<id>.output are dyn: their fields are checked at run
// time only.
//
// Libraries: the standard macros (has, all, exists, exists_one, map,
// filter), ext.Strings, ext.Lists, ext.Sets, ext.Math, ext.Encoders,
// ext.Network (ip(), cidr(), containsIP, isGlobalUnicast, …) and optional
// types (alert.raw.?field.orValue("")). Comparisons between int, uint and
// double are allowed (alert.severity >= 2.5).
//
// # Numbers
//
// JSON has one number type and workflow history is JSON, so a number that
// has no fractional part is an int in expressions, whatever its Go type
// (float64 from encoding/json, json.Number): steps.kill.output.exit_code == 0,
// item > 3 and steps.x.output.count + 1 all behave as authors expect. Other
// numbers are doubles. Comparisons mix int and double freely, arithmetic
// does not (CEL has no implicit conversion): for a vendor field that may be
// 2 or 2.5, write double(alert.raw.score) * 1.5.
//
// # Templates
//
// A value (a step's with:, vars, foreach, an approval message) may hold
// `${{ expr }}` segments, as in GitHub Actions. A string that is exactly one
// segment (surrounding whitespace aside) keeps the expression's type: list,
// map, int, bool. Segments embedded in other text interpolate as strings:
// ints without decimals, doubles in their shortest form, null as "", lists
// and maps as JSON, timestamps in RFC 3339, durations as Go durations
// ("1h30m0s"). Write `$${{` for a literal `${{`.
//
// # Limits
//
// Hostile expressions are refused at compile time: the parser limits the
// source size, nesting and node count, and the estimated worst-case cost
// (with lists, maps and strings of unknown size assumed to hold
// [Options.MaxListSize] elements) must stay under [Options.MaxCost].
// Malformed literals (duration("1x"), a bad regular expression) and
// constant expressions that fail (int("x")) are compile errors too. At run
// time each evaluation stops at [Options.CostLimit] and when its context is
// cancelled; an expression whose estimate stays under the limit even with
// inputs as large as a Temporal payload can be (2 MiB) runs without cost
// tracking, which is 3-5 times slower.
//
// # Determinism
//
// Iterating a CEL map follows Go's random map order, and cel.NewEnv itself
// iterates maps, so workflow code must never evaluate CEL directly: it calls
// [activities.ExprEval], implemented by [Evaluator.Eval], as a local
// activity, and the result is recorded in history.
package expr

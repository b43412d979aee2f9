// Package playbook parses soar playbooks (YAML; the README's "Writing a
// playbook" describes the language) into the [Playbook] model the Incident
// workflow receives, and validates them with diagnostics that point at the
// file, line and column of every problem.
//
// [Parse] decodes the YAML into yaml.v3 nodes, keeping the position of
// every key and value, builds the model with its defaults applied, and
// checks everything that can be known before an alert arrives: the schema
// and unknown keys, names and step IDs, step kinds, actions and their
// parameters against the catalog (activities.Catalog), every CEL
// expression and `${{ }}` template (syntax, types against the typed alert
// envelope, cost, which variables it may see), references to steps and
// vars, durations, subjects and, given a config (soar.yaml), approvers,
// channels, command templates, accounts and the guardrails. Problems are
// collected, never first-error-only, and sorted by position. CEL issues are
// re-based from the expression onto the file: through plain, quoted
// (escapes included) and block scalars, multi-line expressions, and
// `${{ }}` segments embedded in text.
//
// [LoadDir] and [LoadPaths] load a directory of playbooks into a [Set]:
// the valid ones load, the invalid ones are reported, and a playbook name
// used twice is an error on the later file.
//
// Top-level keys starting with x- are ignored: they hold YAML anchors
// (x-defaults: &page {...}) that steps merge with <<: *page.
//
// # Defaults
//
// mode enforce, enabled true; per action step timeout 1m and retry
// {max_attempts 5, initial_interval 1s, backoff 2, max_interval 1m};
// max_parallel 10 on foreach steps; on_error fail; approval quorum 1,
// timeout 24h, on_timeout reject. dedup.window defaults to zero: the
// incident stops absorbing repeats once its steps and revert timers are
// done. Durations are Go durations plus d for days ("7d", "1d12h").
//
// # Diagnostic codes
//
// Errors stop a playbook from loading; warnings (marked W) do not.
//
//	read-error        the file (or directory) cannot be read
//	yaml-syntax       not valid YAML, or more than one YAML document
//	unknown-key       a key the format does not have (with "did you mean")
//	duplicate-key     a key written twice in one mapping
//	missing-field     a required field is absent or empty (name, trigger,
//	                  trigger.subjects, dedup.key, a step's id, approvers,
//	                  revert_after for extend_on_alert), or the file is empty
//	wrong-type        a value of the wrong YAML type (a string for a list, …)
//	invalid-name      the playbook name is not [a-z0-9-] or longer than 63
//	duplicate-name    two files of a set use the same playbook name
//	invalid-id        a step id is not [a-z][a-z0-9_]*, or a var name is not
//	                  a CEL identifier
//	duplicate-id      two steps share an id (steps, parallel blocks and
//	                  on_failure together)
//	step-kind         a step is not exactly one of action, approval,
//	                  parallel or wait; a field that does not apply to its
//	                  kind; a nested parallel block
//	empty-steps       steps, or a parallel block, is empty
//	invalid-value     a value outside its set or range: mode, on_error,
//	                  on_timeout, quorum, max_parallel, retry, a literal
//	                  block target that is not an IP address or CIDR
//	invalid-duration  not a duration, or not longer than zero
//	invalid-subject   not a NATS subject pattern (tokens, *, > last)
//	unused-field      W: a field without effect (max_parallel without
//	                  foreach, extend_on_alert without dedup)
//	unknown-action    the action is not in the catalog
//	unknown-param     the action has no such parameter
//	missing-param     a required parameter is absent
//	param-type        a parameter value, or the static type of a whole
//	                  `${{ }}` value, does not fit the parameter's type
//	enum-value        a literal not among the parameter's allowed values
//	reserved-param    the parameter name meta, which soar keeps for itself
//	no-inverse        revert_after on an action without an inverse
//	cel-syntax        a CEL expression does not parse
//	cel-type          a CEL type error (unknown field, no such overload), or
//	                  a field's expression of the wrong type (when and if
//	                  must be bool, severity int, foreach a list)
//	cel-cost          the estimated worst-case cost is above the limit
//	cel-scope         a variable not available there (steps in
//	                  trigger.when, item outside foreach, …)
//	template-syntax   a broken `${{ }}` (unterminated, empty), `${{ }}` in
//	                  a bare CEL field, foreach not a single expression
//	unknown-step      steps.<id> names no step
//	unknown-var       vars.<name> names no var, or one defined later
//	forward-ref       W: a step reads a step that has not run yet (a later
//	                  step, a parallel sibling, itself; steps read in vars)
//	unknown-approver  an approver is neither a group nor a user in soar.yaml
//	unknown-channel   a notify.webhook channel soar.yaml does not define
//	unknown-command   an alicloud.ecs.run_command template soar.yaml does
//	                  not define
//	command-param     run_command params that do not fit the template's
//	                  declared parameters (unknown, missing, pattern)
//	protected-target  a literal IP or CIDR the guardrails refuse to block
//	                  (a protected network, or broader than allowed)
//	unknown-account   an account name soar.yaml does not define
//
// # JSON Schema
//
// [JSONSchema] generates the JSON Schema of the format from the model and
// the catalog, for editors (yaml-language-server); playbooks/schema.json
// is its output, kept in sync by a test (go test ./internal/playbook
// -update regenerates it).
package playbook

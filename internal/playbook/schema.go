package playbook

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/opensoar/soar/activities"
)

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://github.com/opensoar/soar/raw/main/playbooks/schema.json"

// JSON Schema fragments shared by the generator.
const (
	templatePattern = `^\s*\$\{\{[\s\S]*\}\}\s*$`
	subjectPattern  = `^(([^.\s*>]+|\*)(\.([^.\s*>]+|\*))*(\.>)?|>)$`
	varNamePattern  = `^[A-Za-z_][A-Za-z0-9_]*$`
)

// JSONSchema returns the JSON Schema (draft-07, the dialect
// yaml-language-server supports best) of the playbook format for the
// actions in specs: every field with a description, actions as an enum,
// each action's with: parameters (types, required ones, enums) through
// if/then, durations and subjects as patterns. The schema checks the
// shape only; `soar validate` checks the rest (CEL, references, config).
func JSONSchema(specs []activities.ActionSpec) ([]byte, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	defs := obj{
		"duration": obj{"type": "string", "pattern": durationPattern,
			"description": "A duration: Go syntax plus d for days, e.g. 30s, 10m, 24h, 7d, 1h30m."},
		"template": obj{"type": "string", "pattern": templatePattern,
			"description": "A single ${{ expr }} CEL expression; the value keeps the expression's type."},
		"cel": obj{"type": []string{"string", "boolean", "integer"},
			"description": "A bare CEL expression (no ${{ }}) over alert, incident, vars, steps, item, index and now."},
		"subject": obj{"type": "string", "pattern": subjectPattern,
			"description": "A NATS subject pattern such as alerts.sas.> or alerts.waf.sqli: * matches one token, > the rest."},
		"value":    obj{"description": "A literal, or a string holding ${{ expr }} templates: a value that is exactly one ${{ }} keeps the expression's type; ${{ }} inside text interpolates a string."},
		"retry":    retrySchema(),
		"approval": approvalSchema(),
		"step":     stepSchema(names, specs),
	}
	for _, s := range specs {
		defs["with."+s.Name] = withSchema(s)
	}
	root := obj{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"$id":         SchemaID,
		"title":       "soar playbook",
		"description": "A soar playbook: which alerts open an incident (trigger, dedup) and the steps that respond to it. Generated from the playbook model and the action catalog by internal/playbook; do not edit.",
		"type":        "object",
		"required":    []string{"name", "trigger", "steps"},
		"patternProperties": obj{"^x-": obj{
			"description": "Ignored by soar: a home for YAML anchors that steps merge with <<."}},
		"additionalProperties": false,
		"properties": obj{
			"name": obj{"type": "string", "pattern": nameRE.String(), "maxLength": maxNameLen,
				"description": "Unique name, [a-z0-9-]: the prefix of the incident workflow IDs."},
			"title":       obj{"type": "string", "description": "A one-line title shown to humans."},
			"description": obj{"type": "string", "description": "What the playbook is for."},
			"mode": obj{"enum": []string{ModeEnforce, ModeDryRun}, "default": ModeEnforce,
				"description": "enforce runs the actions; dry_run plans every action and changes nothing."},
			"enabled": obj{"type": "boolean", "default": true, "description": "false keeps the playbook loaded but never triggered."},
			"trigger": obj{
				"type": "object", "additionalProperties": false, "required": []string{"subjects"},
				"description": "Which alerts open an incident.",
				"properties": obj{
					"subjects": obj{"type": "array", "minItems": 1, "items": ref("subject"),
						"description": "NATS subject patterns of the alerts, e.g. [alerts.sas.>]."},
					"when": withDesc(ref("cel"), "A CEL bool over alert (and now); absent means every alert on the subjects."),
				},
			},
			"dedup": obj{
				"type": "object", "additionalProperties": false, "required": []string{"key"},
				"description": "Fold repeat alerts into one open incident; without it every alert is its own incident.",
				"properties": obj{
					"key":    withDesc(ref("cel"), "A CEL expression over alert whose value names the incident, e.g. alert.source_ip."),
					"window": withDesc(ref("duration"), "How long after the last alert the incident keeps absorbing repeats."),
				},
			},
			"severity": withDesc(ref("cel"), "A CEL int over alert: the incident's severity (default alert.severity)."),
			"vars": obj{"type": "object", "propertyNames": obj{"pattern": varNamePattern},
				"additionalProperties": ref("value"),
				"description":          "Named values evaluated in order when the incident opens; read them as vars.<name>."},
			"steps": obj{"type": "array", "minItems": 1, "items": ref("step"),
				"description": "The steps, run in order."},
			"on_failure": obj{"type": "array", "items": ref("step"),
				"description": "Steps run when the playbook fails (incident.error holds the error)."},
			"rollback_on_failure": obj{"type": "boolean", "default": false,
				"description": "On failure or cancel, run the inverse of every applied revertible action, in reverse order."},
			"tags": obj{"type": "array", "items": obj{"type": "string"}, "description": "Free labels."},
		},
		"definitions": defs,
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep > and & readable in patterns and text
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode the playbook schema: %w", err)
	}
	return out.Bytes(), nil
}

// obj is a JSON object under construction.
type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/definitions/" + name} }

// withDesc wraps a $ref with a description (draft-07 ignores siblings of
// $ref, so the description goes next to it in an allOf).
func withDesc(s obj, desc string) obj {
	return obj{"allOf": []any{s}, "description": desc}
}

func retrySchema() obj {
	return obj{
		"type": "object", "additionalProperties": false,
		"description": "The retry policy of the action (defaults: max_attempts 5, initial_interval 1s, backoff 2, max_interval 1m).",
		"properties": obj{
			"max_attempts":     obj{"type": "integer", "minimum": 1, "default": 5, "description": "Attempts in all; 1 means no retry."},
			"initial_interval": withDesc(ref("duration"), "The wait before the first retry."),
			"backoff":          obj{"type": "number", "minimum": 1, "default": 2, "description": "The factor by which each wait grows."},
			"max_interval":     withDesc(ref("duration"), "The longest wait between attempts."),
		},
	}
}

func approvalSchema() obj {
	return obj{
		"type": "object", "additionalProperties": false, "required": []string{"approvers"},
		"description": "A human gate before the step's action (or a step of its own without an action).",
		"properties": obj{
			"approvers": obj{"type": "array", "minItems": 1, "items": obj{"type": "string"},
				"description": "Users or groups from soar.yaml approvers."},
			"quorum":     obj{"type": "integer", "minimum": 1, "default": DefaultQuorum, "description": "How many distinct approvals pass the gate."},
			"timeout":    withDesc(ref("duration"), "How long the gate waits (default 24h)."),
			"on_timeout": obj{"enum": []string{OnTimeoutApprove, OnTimeoutReject}, "default": OnTimeoutReject, "description": "What a timeout means."},
			"message":    obj{"type": "string", "description": "Shown to the approvers; may hold ${{ }} templates."},
		},
	}
}

func stepSchema(names []string, specs []activities.ActionSpec) obj {
	var branches []any
	for _, s := range specs {
		then := obj{"properties": obj{"with": ref("with." + s.Name)}}
		for _, p := range s.Params {
			if p.Required {
				then["required"] = []string{"with"}
				break
			}
		}
		branches = append(branches, obj{
			"if":   obj{"properties": obj{"action": obj{"const": s.Name}}, "required": []string{"action"}},
			"then": then,
		})
	}
	branches = append(branches,
		obj{"anyOf": []any{
			obj{"required": []string{"action"}}, obj{"required": []string{"approval"}},
			obj{"required": []string{"parallel"}}, obj{"required": []string{"wait"}},
		}},
		obj{"if": obj{"required": []string{"parallel"}}, "else": obj{"required": []string{"id"}}},
	)
	return obj{
		"type": "object", "additionalProperties": false,
		"description": "One step: an action (action + with, optionally behind an approval), an approval gate, a parallel block, or a wait.",
		"properties": obj{
			"id": obj{"type": "string", "pattern": idRE.String(), "maxLength": maxIDLen,
				"description": "Unique step id, [a-z][a-z0-9_]*; read its outcome as steps.<id>. Required except on parallel blocks."},
			"name":     obj{"type": "string", "description": "Shown in the Temporal UI as the activity summary."},
			"action":   obj{"enum": names, "description": "The action to run (see soar actions)."},
			"with":     obj{"type": "object", "description": "The action's parameters; values may hold ${{ }} templates."},
			"approval": ref("approval"),
			"parallel": obj{"type": "array", "minItems": 1, "items": ref("step"),
				"description": "Steps run at the same time; the block ends when all have ended."},
			"wait":         withDesc(ref("duration"), "A durable pause."),
			"if":           withDesc(ref("cel"), "A CEL bool; false skips the step."),
			"foreach":      withDesc(ref("template"), "A ${{ }} list: the step runs once per item, with item and index bound."),
			"max_parallel": obj{"type": "integer", "minimum": 1, "default": DefaultMaxParallel, "description": "How many foreach items run at once."},
			"timeout":      withDesc(ref("duration"), "Bounds one attempt of the action (default 1m)."),
			"retry":        ref("retry"),
			"on_error": obj{"enum": []string{OnErrorFail, OnErrorContinue}, "default": OnErrorFail,
				"description": "fail stops the playbook (and runs on_failure); continue goes on to the next step."},
			"revert_after": withDesc(ref("duration"), "Run the action's inverse with the recorded output after this long (actions with an inverse only)."),
			"extend_on_alert": obj{"type": "boolean", "default": false,
				"description": "Push the auto-revert back to revert_after after each repeat alert (needs revert_after)."},
		},
		"allOf": branches,
	}
}

// withSchema is the schema of one action's with: parameters.
func withSchema(s activities.ActionSpec) obj {
	props := obj{}
	var required []string
	for _, p := range s.AllParams() {
		props[p.Name] = paramSchema(p)
		if p.Required {
			required = append(required, p.Name)
		}
	}
	out := obj{
		"type": "object", "additionalProperties": false, "properties": props,
		"description": s.Name + ": " + s.Summary + ".",
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func paramSchema(p activities.Param) obj {
	desc := p.Description
	if p.Default != "" {
		desc += " (default: " + p.Default + ")"
	}

	var literal obj
	switch p.Type {
	case activities.TypeString:
		if len(p.Enum) > 0 {
			literal = obj{"enum": p.Enum}
		} else {
			return obj{"type": "string", "description": desc}
		}
	case activities.TypeDuration:
		literal = ref("duration")
	case activities.TypeInt:
		literal = obj{"type": "integer"}
	case activities.TypeBool:
		literal = obj{"type": "boolean"}
	case activities.TypeStringList:
		literal = obj{"type": "array", "items": obj{"type": "string"}}
	case activities.TypeList:
		literal = obj{"type": "array"}
	case activities.TypeMap:
		literal = obj{"type": "object"}
	default:
		return obj{"description": desc}
	}
	return obj{"anyOf": []any{literal, ref("template")}, "description": desc}
}

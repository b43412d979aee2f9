package playbook

import "github.com/opensoar/soar/internal/expr"

// Diagnostic codes. They are stable: editors, CI and tests match them. The
// package documentation says what each means.
const (
	CodeReadError     = "read-error"
	CodeYAMLSyntax    = "yaml-syntax"
	CodeUnknownKey    = "unknown-key"
	CodeDuplicateKey  = "duplicate-key"
	CodeMissingField  = "missing-field"
	CodeWrongType     = "wrong-type"
	CodeInvalidName   = "invalid-name"
	CodeDuplicateName = "duplicate-name"
	CodeInvalidID     = "invalid-id"
	CodeDuplicateID   = "duplicate-id"
	CodeStepKind      = "step-kind"
	CodeEmptySteps    = "empty-steps"
	CodeInvalidValue  = "invalid-value"
	CodeInvalidDur    = "invalid-duration"
	CodeInvalidSubj   = "invalid-subject"
	CodeUnusedField   = "unused-field"

	CodeUnknownAction = "unknown-action"
	CodeUnknownParam  = "unknown-param"
	CodeMissingParam  = "missing-param"
	CodeParamType     = "param-type"
	CodeEnumValue     = "enum-value"
	CodeReservedParam = "reserved-param"
	CodeNoInverse     = "no-inverse"

	CodeCELSyntax      = expr.CodeSyntax
	CodeCELType        = expr.CodeType
	CodeCELCost        = expr.CodeCost
	CodeCELScope       = expr.CodeScope
	CodeTemplateSyntax = "template-syntax"
	CodeUnknownStep    = "unknown-step"
	CodeUnknownVar     = "unknown-var"
	CodeForwardRef     = "forward-ref"

	CodeUnknownApprover = "unknown-approver"
	CodeUnknownChannel  = "unknown-channel"
	CodeUnknownCommand  = "unknown-command"
	CodeCommandParam    = "command-param"
	CodeProtectedTarget = "protected-target"
	CodeUnknownAccount  = "unknown-account"
)

// codes returns every diagnostic code, for tests that check each one is
// exercised.
func codes() []string {
	return []string{
		CodeReadError, CodeYAMLSyntax, CodeUnknownKey, CodeDuplicateKey, CodeMissingField, CodeWrongType,
		CodeInvalidName, CodeDuplicateName, CodeInvalidID, CodeDuplicateID, CodeStepKind, CodeEmptySteps,
		CodeInvalidValue, CodeInvalidDur, CodeInvalidSubj, CodeUnusedField,
		CodeUnknownAction, CodeUnknownParam, CodeMissingParam, CodeParamType, CodeEnumValue,
		CodeReservedParam, CodeNoInverse,
		CodeCELSyntax, CodeCELType, CodeCELCost, CodeCELScope, CodeTemplateSyntax,
		CodeUnknownStep, CodeUnknownVar, CodeForwardRef,
		CodeUnknownApprover, CodeUnknownChannel, CodeUnknownCommand, CodeCommandParam,
		CodeProtectedTarget, CodeUnknownAccount,
	}
}

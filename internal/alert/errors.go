package alert

import (
	"errors"
	"fmt"
)

// Reasons of [DecodeError]. A reason is the last token of the dead-letter
// subject (soar.dlq.<reason>) and a metric label: never rename one.
const (
	// ReasonTooLarge: the payload is larger than [DecodeOptions.MaxBytes].
	ReasonTooLarge = "too_large"
	// ReasonEmpty: the payload is empty or only white space.
	ReasonEmpty = "empty"
	// ReasonBinary: the payload is not text (a NUL byte, a compression
	// magic number, or invalid UTF-8 that does not even start like JSON).
	ReasonBinary = "binary"
	// ReasonInvalidJSON: the payload is not one well-formed JSON value.
	ReasonInvalidJSON = "invalid_json"
	// ReasonNotObject: the JSON value (or CloudEvents data) is not an object.
	ReasonNotObject = "not_object"
	// ReasonTooDeep: objects and arrays nest deeper than
	// [DecodeOptions.MaxDepth].
	ReasonTooDeep = "too_deep"
	// ReasonTooManyItems: an array or object has more members than
	// [DecodeOptions.MaxItems], or an envelope list or map is longer than
	// the envelope allows (see [MaxListItems]).
	ReasonTooManyItems = "too_many_items"
	// ReasonMissingField: a field the format requires is absent or empty.
	ReasonMissingField = "missing_field"
	// ReasonInvalidField: a field has the wrong type or an unusable value
	// (an IP that is not an IP, a severity out of range, an unknown envelope
	// field, a timestamp that is not one).
	ReasonInvalidField = "invalid_field"
	// ReasonUnknownSource: no decoder for the subject's source token and the
	// payload is not an envelope.
	ReasonUnknownSource = "unknown_source"
	// ReasonMultipleAlerts: [Decode] was given a payload that holds several
	// alerts (a DescribeSuspEvents page); use [DecodeAll].
	ReasonMultipleAlerts = "multiple_alerts"
)

// Reasons returns every reason [Decode] can report, sorted.
func Reasons() []string {
	return []string{
		ReasonBinary, ReasonEmpty, ReasonInvalidField, ReasonInvalidJSON, ReasonMissingField,
		ReasonMultipleAlerts, ReasonNotObject, ReasonTooDeep, ReasonTooLarge, ReasonTooManyItems,
		ReasonUnknownSource,
	}
}

// DecodeError is why a payload cannot become an [Alert]. Reason is one of
// the Reason* constants; Detail says what and where, for humans.
type DecodeError struct {
	Reason string
	Detail string
}

func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return "decode alert: " + e.Reason
	}
	return "decode alert: " + e.Reason + ": " + e.Detail
}

// ReasonOf returns the reason of a [*DecodeError] in err's chain, or "" if
// there is none.
func ReasonOf(err error) string {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

func decodeErr(reason, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func missing(path string) *DecodeError {
	return &DecodeError{Reason: ReasonMissingField, Detail: path + " is required"}
}

func invalid(path, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: ReasonInvalidField, Detail: path + ": " + fmt.Sprintf(format, args...)}
}

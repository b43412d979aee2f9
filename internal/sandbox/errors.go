package sandbox

import (
	"fmt"
	"net/http"
)

// apiError is an error the sandbox answers with: an HTTP status and the
// cloud's error code and message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errBadRequest(code, msg string) error {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg}
}

func errForbidden(code, msg string) error {
	return &apiError{Status: http.StatusForbidden, Code: code, Message: msg}
}

func errNotFound(code, msg string) error {
	return &apiError{Status: http.StatusNotFound, Code: code, Message: msg}
}

// errMissing is the cloud's answer to a missing required parameter.
func errMissing(name string) error {
	return errBadRequest("MissingParameter",
		fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied.", name))
}

// errInvalid is the generic answer to a malformed parameter value.
func errInvalid(name, value string) error {
	return errBadRequest("InvalidParameter",
		fmt.Sprintf("The specified parameter %q is not valid: %q.", name, value))
}

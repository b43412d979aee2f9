package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// FaultKind is what an injected fault does after its delay.
type FaultKind string

// Fault kinds.
const (
	// FaultError answers with the fault's Status, Code and Message; with
	// neither Status nor Code set, the request then proceeds normally (a
	// pure delay).
	FaultError FaultKind = ""
	// FaultDrop closes the connection without an answer.
	FaultDrop FaultKind = "drop"
	// FaultMalformed answers 200 with a body that is not JSON (the SDK
	// reports SDK.JsonUnmarshalError).
	FaultMalformed FaultKind = "malformed"
)

// Fault makes matching API calls misbehave, Count times. A call matches
// when its Action is the fault's (or the fault's is "*") and, if Resource
// is set, one of its parameter values equals Resource (an instance ID, a
// security group, a domain…). Faults fire before the signature is checked,
// in the order they were injected, at most one per call.
//
// In JSON (POST /_sandbox/faults) the fields are action, resource, count,
// status, code, message, delay (a Go duration string such as "1.5s") and
// kind ("", "drop", "malformed").
type Fault struct {
	Action   string
	Resource string
	// Count is how many calls the fault affects: 0 means 1, negative
	// means every call until the faults are cleared.
	Count int
	// Status is the HTTP status; 0 means 400, or 500/503 for InternalError
	// and ServiceUnavailable codes.
	Status int
	// Code is the error code, e.g. Throttling.User; empty with a Status
	// means InternalError (5xx) or Throttling (429).
	Code    string
	Message string
	// Delay holds the call this long before the fault (or the normal
	// answer) is given.
	Delay time.Duration
	Kind  FaultKind
}

type faultJSON struct {
	Action   string    `json:"action"`
	Resource string    `json:"resource,omitempty"`
	Count    int       `json:"count,omitempty"`
	Status   int       `json:"status,omitempty"`
	Code     string    `json:"code,omitempty"`
	Message  string    `json:"message,omitempty"`
	Delay    string    `json:"delay,omitempty"`
	Kind     FaultKind `json:"kind,omitempty"`
}

// MarshalJSON writes the fault with its delay as a duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Action: f.Action, Resource: f.Resource, Count: f.Count, Status: f.Status,
		Code: f.Code, Message: f.Message, Kind: f.Kind}
	if f.Delay > 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a fault; delay is a duration string.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var j faultJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*f = Fault{Action: j.Action, Resource: j.Resource, Count: j.Count, Status: j.Status,
		Code: j.Code, Message: j.Message, Kind: j.Kind}
	if j.Delay != "" {
		d, err := time.ParseDuration(j.Delay)
		if err != nil {
			return fmt.Errorf("fault delay: %w", err)
		}
		f.Delay = d
	}
	return nil
}

// validate checks a fault before it is installed.
func (f Fault) validate() error {
	if f.Action == "" {
		return fmt.Errorf("fault: action is empty (use \"*\" for every action)")
	}
	if !slices.Contains([]FaultKind{FaultError, FaultDrop, FaultMalformed}, f.Kind) {
		return fmt.Errorf("fault: kind %q is not \"\", drop or malformed", f.Kind)
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("fault: status %d is not an HTTP error status", f.Status)
	}
	if f.Delay < 0 {
		return fmt.Errorf("fault: delay %s is negative", f.Delay)
	}
	return nil
}

// apiError is the answer of an error fault.
func (f Fault) apiError() *apiError {
	e := &apiError{Status: f.Status, Code: f.Code, Message: f.Message}
	if e.Code == "" {
		switch {
		case e.Status == http.StatusTooManyRequests:
			e.Code = "Throttling"
		case e.Status == http.StatusServiceUnavailable:
			e.Code = "ServiceUnavailable"
		default:
			e.Code = "InternalError"
		}
	}
	if e.Status == 0 {
		switch {
		case strings.HasPrefix(e.Code, "InternalError"):
			e.Status = http.StatusInternalServerError
		case strings.HasPrefix(e.Code, "ServiceUnavailable"):
			e.Status = http.StatusServiceUnavailable
		default:
			e.Status = http.StatusBadRequest
		}
	}
	if e.Message == "" {
		e.Message = "The request failed: fault injected into the sandbox (" + e.Code + ")."
	}
	return e
}

type faultEntry struct {
	Fault
	remaining int // negative: unlimited
}

// InjectFault installs a fault. It panics on an invalid fault (an empty
// Action, an unknown Kind, a non-error Status, a negative Delay).
func (s *Server) InjectFault(f Fault) {
	if err := f.validate(); err != nil {
		panic("sandbox: " + err.Error())
	}
	s.addFault(f)
}

func (s *Server) addFault(f Fault) {
	n := f.Count
	if n == 0 {
		n = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultEntry{Fault: f, remaining: n})
}

// Faults returns the installed faults, Count being what is left of each.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, e := range s.faults {
		f := e.Fault
		f.Count = e.remaining
		out = append(out, f)
	}
	return out
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault matching rc and uses it up once.
func (s *Server) takeFault(rc *reqCtx) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.faults {
		if e.Action != "*" && e.Action != rc.action {
			continue
		}
		if e.Resource != "" && !hasValue(rc.p, e.Resource) {
			continue
		}
		f := e.Fault
		if e.remaining > 0 {
			e.remaining--
			if e.remaining == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return &f
	}
	return nil
}

// hasValue reports whether some parameter value equals v, or lists it
// (JSON array or comma-separated).
func hasValue(p params, v string) bool {
	for _, x := range p {
		if x == v {
			return true
		}
		if strings.Contains(x, v) {
			for _, item := range strings.FieldsFunc(x, func(r rune) bool { return strings.ContainsRune("[]\", ", r) }) {
				if item == v {
					return true
				}
			}
		}
	}
	return false
}

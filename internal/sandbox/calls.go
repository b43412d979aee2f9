package sandbox

import (
	"maps"
	"slices"
	"time"
)

// Call is one API request the sandbox received, as the call log keeps it.
type Call struct {
	Seq     int       `json:"seq"`
	Time    time.Time `json:"time"`
	Product string    `json:"product,omitempty"`
	Version string    `json:"version"`
	Action  string    `json:"action"`
	// Params are the request parameters without Signature; SecurityToken
	// is masked.
	Params      map[string]string `json:"params"`
	AccessKeyID string            `json:"access_key_id,omitempty"`
	// Principal is the RAM user, or role/session for STS keys; empty when
	// the signature was not accepted.
	Principal string `json:"principal,omitempty"`
	// PrincipalType is ram-user or assumed-role.
	PrincipalType string `json:"principal_type,omitempty"`
	SourceIP      string `json:"source_ip,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	// Status is the HTTP status answered (0: connection dropped).
	Status int `json:"status"`
	// Error is the error code answered, empty on success; ErrorMessage its
	// message.
	Error        string `json:"error,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	// Changed is true when the call modified the state.
	Changed bool `json:"changed"`
	// Replayed is true when a ClientToken replay was answered from cache.
	Replayed  bool   `json:"replayed,omitempty"`
	RequestID string `json:"request_id"`
}

// record appends rc to the call log. The caller must hold s.mu.
func (s *Server) record(rc *reqCtx, status int, code, message string, changed bool) {
	s.callSeq++
	s.rev++
	c := Call{
		Seq:           s.callSeq,
		Time:          rc.now,
		Version:       rc.version,
		Action:        rc.action,
		Params:        rc.p.withoutAuth(),
		AccessKeyID:   firstNonEmpty(rc.caller.AccessKeyID, rc.p.get("AccessKeyId")),
		Principal:     rc.caller.principal(),
		PrincipalType: rc.caller.Type,
		SourceIP:      rc.sourceIP,
		UserAgent:     rc.userAgent,
		Status:        status,
		Error:         code,
		ErrorMessage:  message,
		Changed:       changed,
		Replayed:      rc.replayed,
		RequestID:     rc.requestID,
	}
	if rc.product != nil {
		c.Product = rc.product.name
	}
	if len(s.calls) >= s.opts.MaxCalls {
		// Drop the oldest tenth at once, so a full log costs an amortized
		// copy rather than one per call.
		drop := min(len(s.calls), len(s.calls)-s.opts.MaxCalls+1+s.opts.MaxCalls/10)
		s.calls = slices.Delete(s.calls, 0, drop)
	}
	s.calls = append(s.calls, c)
	level := s.log.Debug
	if changed || code != "" {
		level = s.log.Info
	}
	level("sandbox api call", "action", c.Action, "product", c.Product, "principal", c.Principal,
		"status", status, "error", code, "changed", changed, "request_id", c.RequestID)
}

// recordLocked is record for callers not holding s.mu.
func (s *Server) recordLocked(rc *reqCtx, status int, code, message string, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(rc, status, code, message, changed)
}

// Calls returns a copy of the call log, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneCalls(s.calls)
}

// cloneCalls deep-copies calls (a Call's only reference is its Params),
// much faster than clone for a full log.
func cloneCalls(calls []Call) []Call {
	out := make([]Call, len(calls))
	for i, c := range calls {
		c.Params = maps.Clone(c.Params)
		out[i] = c
	}
	return out
}

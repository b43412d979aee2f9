package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook is one request the webhook receiver got on
// POST /_sandbox/webhooks/<channel>.
type Webhook struct {
	Seq     int       `json:"seq"`
	Time    time.Time `json:"time"`
	Channel string    `json:"channel"`
	Method  string    `json:"method"`
	// Query is the raw query string (DingTalk signs in it).
	Query   string            `json:"query,omitempty"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// JSON is the body again when it is valid JSON, for reading.
	JSON json.RawMessage `json:"json,omitempty"`
}

// Webhooks returns what the webhook receiver got, oldest first.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneWebhooks(s.webhooks)
}

// cloneWebhooks deep-copies hooks.
func cloneWebhooks(hooks []Webhook) []Webhook {
	out := make([]Webhook, len(hooks))
	for i, h := range hooks {
		h.Headers = maps.Clone(h.Headers)
		h.JSON = slices.Clone(h.JSON)
		out[i] = h
	}
	return out
}

// serveAdmin answers the unsigned control endpoints under /_sandbox/.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sandbox"), "/")
	switch {
	case path == "":
		s.adminIndex(w, r)
	case path == "/health":
		adminJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case path == "/state":
		s.adminState(w, r)
	case path == "/calls":
		s.adminCalls(w, r)
	case path == "/reset":
		if !allow(w, r, http.MethodPost) {
			return
		}
		s.Reset()
		adminJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	case path == "/faults":
		s.adminFaults(w, r)
	case path == "/webhooks":
		s.adminWebhooks(w, r)
	case strings.HasPrefix(path, "/webhooks/"):
		s.receiveWebhook(w, r, strings.TrimPrefix(path, "/webhooks/"))
	default:
		adminError(w, http.StatusNotFound, "no such sandbox endpoint "+r.URL.Path)
	}
}

func (s *Server) adminIndex(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	adminJSON(w, http.StatusOK, map[string]any{
		"sandbox": "Alibaba Cloud RPC API emulator; point the SDK's client.Domain at this host:port over http",
		"endpoints": []string{
			"GET /_sandbox/health",
			"GET /_sandbox/state", "PUT /_sandbox/state (a world, YAML or JSON)",
			"GET /_sandbox/calls[?action=A&since=SEQ]",
			"POST /_sandbox/reset",
			"GET|POST|DELETE /_sandbox/faults",
			"POST /_sandbox/webhooks/<channel>", "GET|DELETE /_sandbox/webhooks[?channel=C]",
		},
	})
}

func (s *Server) adminState(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		adminJSON(w, http.StatusOK, s.State())
	case http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			adminError(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		world, err := ParseWorld(data)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.mu.Lock()
		s.st = world.state(s.opts.Now())
		s.rev++
		s.mu.Unlock()
		adminJSON(w, http.StatusOK, s.State())
	default:
		allow(w, r, http.MethodGet, http.MethodPut)
	}
}

func (s *Server) adminCalls(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	action := r.URL.Query().Get("action")
	since, _ := strconv.Atoi(r.URL.Query().Get("since"))
	out := []Call{}
	for _, c := range s.Calls() {
		if c.Seq > since && (action == "" || c.Action == action) {
			out = append(out, c)
		}
	}
	adminJSON(w, http.StatusOK, out)
}

func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		adminJSON(w, http.StatusOK, s.Faults())
	case http.MethodPost:
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			adminError(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		var faults []Fault
		if trimmed := strings.TrimSpace(string(data)); strings.HasPrefix(trimmed, "[") {
			err = json.Unmarshal(data, &faults)
		} else {
			var f Fault
			err = json.Unmarshal(data, &f)
			faults = []Fault{f}
		}
		if err != nil {
			adminError(w, http.StatusBadRequest, "decode faults: "+err.Error())
			return
		}
		var errs []error
		for _, f := range faults {
			errs = append(errs, f.validate())
		}
		if err := errors.Join(errs...); err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		for _, f := range faults {
			s.addFault(f)
		}
		adminJSON(w, http.StatusOK, s.Faults())
	case http.MethodDelete:
		s.ClearFaults()
		adminJSON(w, http.StatusOK, []Fault{})
	default:
		allow(w, r, http.MethodGet, http.MethodPost, http.MethodDelete)
	}
}

func (s *Server) adminWebhooks(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		channel := r.URL.Query().Get("channel")
		out := []Webhook{}
		for _, h := range s.Webhooks() {
			if channel == "" || h.Channel == channel {
				out = append(out, h)
			}
		}
		adminJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		s.mu.Lock()
		s.webhooks = nil
		s.rev++
		s.mu.Unlock()
		adminJSON(w, http.StatusOK, []Webhook{})
	default:
		allow(w, r, http.MethodGet, http.MethodDelete)
	}
}

// receiveWebhook records any request on /_sandbox/webhooks/<channel> and
// answers as DingTalk and WeCom do on success (Slack accepts any 200).
func (s *Server) receiveWebhook(w http.ResponseWriter, r *http.Request, channel string) {
	if !allow(w, r, http.MethodPost, http.MethodPut) {
		return
	}
	if channel == "" {
		adminError(w, http.StatusNotFound, "webhook channel is empty")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		adminError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	h := Webhook{
		Channel: channel,
		Method:  r.Method,
		Query:   r.URL.RawQuery,
		Headers: map[string]string{},
		Body:    string(body),
	}
	for k, v := range r.Header {
		h.Headers[k] = strings.Join(v, ", ")
	}
	if json.Valid(body) {
		h.JSON = json.RawMessage(slices.Clone(body))
	}
	s.mu.Lock()
	s.webhookSeq++
	h.Seq = s.webhookSeq
	h.Time = s.opts.Now()
	if len(s.webhooks) >= s.opts.MaxWebhooks {
		s.webhooks = slices.Delete(s.webhooks, 0, len(s.webhooks)-s.opts.MaxWebhooks+1)
	}
	s.webhooks = append(s.webhooks, h)
	s.rev++
	s.mu.Unlock()
	s.log.Info("sandbox webhook received", "channel", channel, "bytes", len(body))
	adminJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "ok": true})
}

// allow answers 405 unless r uses one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	adminError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+strings.Join(methods, " or "))
	return false
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	adminJSON(w, status, map[string]string{"error": msg})
}

package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultAccessKeyID and DefaultAccessKeySecret are the engine's credentials
// in [DefaultWorld] (the RAM user soar-engine).
const (
	DefaultAccessKeyID     = "sandbox-ak"
	DefaultAccessKeySecret = "sandbox-secret"
)

// Options tune a [Server]. The zero value is usable.
type Options struct {
	// Logger receives one record per API call; nil discards them.
	Logger *slog.Logger
	// Now is the server's clock; nil means time.Now. Signature timestamps
	// are checked against it (see ClockSkew).
	Now func() time.Time
	// AsyncPolls is how many reads of a resource in a transitional status
	// (Stopping, Starting, progressing snapshot, Running command,
	// Processing task) it takes until the read shows the final status:
	// with 2, the first read after StopInstance shows Stopping and the
	// second Stopped. 0 means 2; a negative value finishes operations at
	// once (no transitional status is ever visible).
	AsyncPolls int
	// AsyncDelay, when positive, also finishes an operation once this much
	// time has passed since it started.
	AsyncDelay time.Duration
	// ClockSkew is how far a request's Timestamp may be from Now before
	// InvalidTimeStamp.Expired. 0 means 15 minutes; negative disables the
	// check (useful with a fake clock).
	ClockSkew time.Duration
	// AllowNonceReuse disables the SignatureNonceUsed check.
	AllowNonceReuse bool

	// RulesPerGroup is the security-group rule quota (default 200;
	// AuthorizationLimitExceed beyond it).
	RulesPerGroup int
	// GroupsPerInterface is how many security groups one network interface
	// may join (default 5).
	GroupsPerInterface int
	// SnapshotsPerDisk is the snapshot quota per disk (default 64;
	// QuotaExceed.Snapshot beyond it).
	SnapshotsPerDisk int
	// WAFIPsPerRule is how many addresses one WAF ip_blacklist rule may
	// hold (default 200).
	WAFIPsPerRule int
	// DDoSIPsPerList is how many addresses a ddoscoo black or white list
	// may hold (default 200).
	DDoSIPsPerList int
	// DuplicateRuleCode, when set, makes AuthorizeSecurityGroup(Egress) of
	// a rule identical to an existing one fail with this code (HTTP 400)
	// instead of succeeding without adding a second rule.
	DuplicateRuleCode string
	// RevokeMissingCode, when set, makes RevokeSecurityGroup(Egress) of a
	// rule that does not exist fail with this code (HTTP 404), e.g.
	// SecurityGroupRule.NotFound, instead of succeeding.
	RevokeMissingCode string
	// AddressBookExistsCode is Cloud Firewall's answer to AddAddressBook
	// with a name in use (default ErrorAddressBookNameExist, HTTP 400).
	AddressBookExistsCode string
	// IdempotencyTTL is how long a ClientToken is remembered (default 24h).
	IdempotencyTTL time.Duration
	// MaxCalls bounds the call log (default 10000; the oldest tenth is
	// dropped when it is full).
	MaxCalls int
	// MaxWebhooks bounds the webhook receiver's log (default 1000).
	MaxWebhooks int
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.AsyncPolls, 2)
	def(&o.RulesPerGroup, 200)
	def(&o.GroupsPerInterface, 5)
	def(&o.SnapshotsPerDisk, 64)
	def(&o.WAFIPsPerRule, 200)
	def(&o.DDoSIPsPerList, 200)
	def(&o.MaxCalls, 10000)
	def(&o.MaxWebhooks, 1000)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClockSkew == 0 {
		o.ClockSkew = 15 * time.Minute
	}
	if o.AddressBookExistsCode == "" {
		o.AddressBookExistsCode = "ErrorAddressBookNameExist"
	}
	if o.IdempotencyTTL == 0 {
		o.IdempotencyTTL = 24 * time.Hour
	}
	return o
}

// Server is the sandbox cloud: an http.Handler that answers the Alibaba
// Cloud RPC API as the classic SDK calls it, over an in-memory [State]. All
// methods are safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	world    World
	products map[string]*product // by API version

	mu         sync.Mutex
	st         State
	seq        int // resource ID counter
	calls      []Call
	callSeq    int
	faults     []*faultEntry
	webhooks   []Webhook
	webhookSeq int
	tokens     map[tokenKey]tokenEntry
	nonces     map[string]time.Time
	nonceQueue []nonceEntry
	// rev counts changes to what a Checkpoint holds (see Revision).
	rev uint64
}

// New returns a sandbox seeded with w. The world should come from
// [DefaultWorld], [LoadWorld] or [ParseWorld], which validate it.
func New(w World, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		world:    clone(w),
		products: newProducts(),
	}
	s.Reset()
	return s
}

// Reset puts the state back to the world and forgets the call log, faults,
// webhooks, ClientTokens and nonces.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = s.world.state(s.opts.Now())
	s.seq = 0
	s.calls = nil
	s.faults = nil
	s.webhooks = nil
	s.tokens = map[tokenKey]tokenEntry{}
	s.nonces = map[string]time.Time{}
	s.nonceQueue = nil
	s.rev++
}

// State returns a deep copy of the current state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.st)
}

// Mutate runs fn on the live state under the server's lock, e.g. to take an
// instance's Cloud Assistant offline in a test. fn must not keep st.
func (s *Server) Mutate(fn func(st *State)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.st)
	s.rev++
}

// Revision is a number that changes whenever something a [Checkpoint]
// holds may have changed: an API call, a webhook received or forgotten,
// Mutate, Reset, a state replaced, Restore. A saver that checkpoints only
// when the revision moved saves every change and skips idle periods.
func (s *Server) Revision() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// ServeHTTP answers RPC API calls on any path except /_sandbox/, where the
// unsigned control endpoints live (see the package documentation).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	s.serveAPI(w, r)
}

// maxBody bounds request bodies.
const maxBody = 8 << 20

// reqCtx is one API request on its way through the server.
type reqCtx struct {
	method    string
	all       url.Values // query ∪ form body, as signed
	p         params
	version   string
	action    string
	product   *product
	caller    caller
	now       time.Time
	sourceIP  string
	userAgent string
	requestID string
	// changed is set by handlers that modified the state.
	changed bool
	// replayed is set when a ClientToken replay was answered from cache.
	replayed bool
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{
		method:    r.Method,
		now:       s.opts.Now(),
		sourceIP:  sourceIP(r),
		userAgent: r.UserAgent(),
		requestID: newRequestID(),
	}
	all, err := requestValues(r)
	if err != nil {
		s.finish(w, rc, nil, errBadRequest("InvalidParameter", "The request body is not readable: "+err.Error()))
		return
	}
	rc.all, rc.p = all, newParams(all)
	rc.version = firstNonEmpty(rc.p.get("Version"), r.Header.Get("x-acs-version"))
	rc.action = firstNonEmpty(rc.p.get("Action"), r.Header.Get("x-acs-action"))
	rc.product = s.products[rc.version]
	var h handler
	if rc.product != nil {
		h = rc.product.actions[rc.action]
	}
	if h == nil {
		s.finish(w, rc, nil, errNotFound("InvalidAction.NotFound",
			"Specified api is not found, please check your url and method."))
		return
	}

	if f := s.takeFault(rc); f != nil {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				s.recordLocked(rc, http.StatusRequestTimeout, "ClientGone", "the client went away during the injected delay", false)
				return
			}
		}
		switch f.Kind {
		case FaultDrop:
			s.recordLocked(rc, 0, "ConnectionDropped", "fault: connection dropped", false)
			panic(http.ErrAbortHandler)
		case FaultMalformed:
			s.recordLocked(rc, http.StatusOK, "MalformedBody", "fault: malformed body", false)
			w.Header().Set("Content-Type", "text/html;charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "<html><body>502 Bad Gateway (sandbox fault)</body>")
			return
		}
		if f.Code != "" || f.Status != 0 {
			s.finish(w, rc, nil, f.apiError())
			return
		}
	}

	s.mu.Lock()
	result, err := s.dispatch(rc, h)
	status, body := s.encode(rc, result, err)
	s.mu.Unlock()
	s.write(w, rc, status, body)
}

// dispatch authenticates rc, answers ClientToken replays and runs h. The
// caller must hold s.mu.
func (s *Server) dispatch(rc *reqCtx, h handler) (obj, error) {
	c, err := s.authenticate(rc)
	if err != nil {
		return nil, err
	}
	rc.caller = c
	token := rc.p.get("ClientToken")
	if token == "" || !rc.product.tokens[rc.action] {
		return h(s, rc)
	}
	key := tokenKey{AccessKeyID: c.AccessKeyID, Action: rc.action, Token: token}
	hash := paramsHash(rc.p)
	if e, ok := s.tokens[key]; ok && rc.now.Before(e.expires) {
		if e.hash != hash {
			return nil, errBadRequest("IdempotentParameterMismatch",
				"The request uses the same client token as a previous, but non-identical request.")
		}
		rc.replayed = true
		return e.result, nil
	}
	result, err := h(s, rc)
	if err == nil {
		s.tokens[key] = tokenEntry{hash: hash, result: result, created: rc.now, expires: rc.now.Add(s.opts.IdempotencyTTL)}
	}
	return result, err
}

// finish answers rc with err (or an empty success) outside the lock.
func (s *Server) finish(w http.ResponseWriter, rc *reqCtx, result obj, err error) {
	s.mu.Lock()
	status, body := s.encode(rc, result, err)
	s.mu.Unlock()
	s.write(w, rc, status, body)
}

// encode renders the response and records the call. The caller must hold
// s.mu.
func (s *Server) encode(rc *reqCtx, result obj, err error) (int, []byte) {
	status, body := http.StatusOK, obj{}
	code, message := "", ""
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
		}
		status, code, message = ae.Status, ae.Code, ae.Message
		host, prod := "sandbox", "sandbox"
		if rc.product != nil {
			host, prod = rc.product.host, rc.product.name
		}
		body = obj{
			"HostId":    host,
			"Code":      ae.Code,
			"Message":   ae.Message,
			"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(ae.Code) + "&product=" + url.QueryEscape(prod),
		}
		rc.changed = false
	} else {
		for k, v := range result {
			body[k] = v
		}
	}
	body["RequestId"] = rc.requestID
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	merr := enc.Encode(body)
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if merr != nil {
		status, code = http.StatusInternalServerError, "InternalError"
		data = []byte(`{"RequestId":"` + rc.requestID + `","HostId":"sandbox","Code":"InternalError","Message":"encode response","Recommend":""}`)
	}
	s.record(rc, status, code, message, rc.changed)
	return status, data
}

func (s *Server) write(w http.ResponseWriter, rc *reqCtx, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", rc.requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// requestValues merges the query and a form-encoded body.
func requestValues(r *http.Request) (url.Values, error) {
	all := url.Values{}
	for k, v := range r.URL.Query() {
		all[k] = append(all[k], v...)
	}
	if r.Body == nil {
		return all, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if len(body) > 0 && (ct == "application/x-www-form-urlencoded" || ct == "") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, v := range form {
			all[k] = append(all[k], v...)
		}
	}
	return all, nil
}

// sourceIP is the client address, X-Forwarded-For first: a demo can play
// an attacker's address and see it in ActionTrail.
func sourceIP(r *http.Request) string {
	if f := r.Header.Get("X-Forwarded-For"); f != "" {
		ip, _, _ := strings.Cut(f, ",")
		return strings.TrimSpace(ip)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

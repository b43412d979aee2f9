package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CheckpointVersion is the version of the [Checkpoint] format this package
// writes, and the only one [Server.Restore] reads.
const CheckpointVersion = 1

// Checkpoint is everything a [Server] needs to carry on after a restart as
// if it had never stopped: the state, the ClientToken answers (so that a
// call retried after the restart is a replay, not a second resource), the
// ID and sequence counters, the used signature nonces, the call log and the
// webhooks received. It is plain JSON; [Server.Checkpoint] takes one and
// [Server.Restore] puts it back, possibly into a new process.
//
// Times are absolute: a ClientToken answer restored later keeps the expiry
// it had, and one that expired meanwhile is dropped (a nonce likewise once
// its 15-minute window has passed).
//
// Not included, on purpose: the injected faults (an experiment's tool, not
// part of the emulated cloud; a restart clears them, and a persisted
// never-ending fault would make a restarted sandbox fail with no visible
// cause), the [Options] and the seed [World] (they belong to the restoring
// server; [Server.Reset] returns to its own world).
type Checkpoint struct {
	// Version is CheckpointVersion; Restore refuses any other.
	Version int `json:"version"`
	// TakenAt is the server's clock when the checkpoint was taken.
	TakenAt time.Time `json:"taken_at"`
	State   State     `json:"state"`
	// Counters continue the server's numbering.
	Counters Counters `json:"counters"`
	// ClientTokens are the answers a ClientToken replay gets, oldest first.
	ClientTokens []ClientTokenRecord `json:"client_tokens"`
	// Nonces are the SignatureNonces used within the last 15 minutes,
	// oldest first.
	Nonces []NonceRecord `json:"nonces"`
	// Calls is the call log, oldest first (at most [Options].MaxCalls are
	// restored: the newest).
	Calls []Call `json:"calls"`
	// Webhooks are what the webhook receiver got, oldest first (at most
	// [Options].MaxWebhooks are restored: the newest).
	Webhooks []Webhook `json:"webhooks"`
}

// Counters are the sequences a [Server] numbers things with.
type Counters struct {
	// Resource is the last number given to a resource ID (the 3 of
	// sg-sbx0000000003). Restore never sets it below a number the state
	// uses, so IDs of deleted resources are not handed out again.
	Resource int `json:"resource"`
	// Call is the Seq of the last call logged ([Call].Seq).
	Call int `json:"call"`
	// Webhook is the Seq of the last webhook received ([Webhook].Seq).
	Webhook int `json:"webhook"`
}

// ClientTokenRecord is the first successful answer to a request with a
// ClientToken. A later request with the same (AccessKeyID, Action, Token)
// and the same ParamsHash gets Response again until ExpiresAt; with other
// parameters it gets IdempotentParameterMismatch.
type ClientTokenRecord struct {
	AccessKeyID string `json:"access_key_id"`
	Action      string `json:"action"`
	Token       string `json:"token"`
	// ParamsHash is a SHA-256 of the business parameters (everything but
	// the signature, nonce, timestamp, credentials and the token).
	ParamsHash string `json:"params_hash"`
	// Response is the answer's body without its RequestId (each replay
	// gets a new one).
	Response  json.RawMessage `json:"response"`
	CreatedAt time.Time       `json:"created_at"`
	// ExpiresAt is CreatedAt plus [Options].IdempotencyTTL of the server
	// that answered; it is kept as is across a restore.
	ExpiresAt time.Time `json:"expires_at"`
}

// NonceRecord is a SignatureNonce an access key used at At.
type NonceRecord struct {
	AccessKeyID string    `json:"access_key_id"`
	Nonce       string    `json:"nonce"`
	At          time.Time `json:"at"`
}

// Checkpoint returns a deep copy of everything a restarted server needs to
// carry on (see [Checkpoint]). ClientToken answers and nonces that have
// expired by the server's clock are left out.
func (s *Server) Checkpoint() Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	cp := Checkpoint{
		Version:      CheckpointVersion,
		TakenAt:      now,
		State:        clone(s.st),
		Counters:     Counters{Resource: s.seq, Call: s.callSeq, Webhook: s.webhookSeq},
		ClientTokens: []ClientTokenRecord{},
		Nonces:       []NonceRecord{},
		Calls:        cloneCalls(s.calls),
		Webhooks:     cloneWebhooks(s.webhooks),
	}
	for k, e := range s.tokens {
		if !now.Before(e.expires) {
			continue
		}
		body, err := json.Marshal(e.result)
		if err != nil {
			// encode could not have answered it either: nothing to replay.
			s.log.Warn("sandbox checkpoint: client token answer not encodable", "action", k.Action, "token", k.Token, "error", err)
			continue
		}
		cp.ClientTokens = append(cp.ClientTokens, ClientTokenRecord{
			AccessKeyID: k.AccessKeyID, Action: k.Action, Token: k.Token, ParamsHash: e.hash,
			Response: body, CreatedAt: e.created, ExpiresAt: e.expires,
		})
	}
	slices.SortFunc(cp.ClientTokens, func(a, b ClientTokenRecord) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.AccessKeyID+"\x00"+a.Action+"\x00"+a.Token, b.AccessKeyID+"\x00"+b.Action+"\x00"+b.Token)
	})
	for _, n := range s.nonceQueue {
		if now.Sub(n.at) <= nonceWindow {
			cp.Nonces = append(cp.Nonces, NonceRecord{AccessKeyID: n.keyID, Nonce: n.nonce, At: n.at})
		}
	}
	return cp
}

// Restore replaces the server's state, ClientToken answers, counters,
// nonces, call log and webhooks with cp's, as if the server that took cp
// had kept running. Entries expired by the server's clock are dropped; the
// call log and webhooks keep their newest entries within the bounds of
// [Options]. Installed faults are left as they are.
//
// Restore refuses a checkpoint of another [CheckpointVersion] or with a
// malformed ClientToken record, and then changes nothing.
func (s *Server) Restore(cp Checkpoint) error {
	if cp.Version != CheckpointVersion {
		if cp.Version == 0 {
			return fmt.Errorf("restore sandbox checkpoint: it has no version (want %d); is it a checkpoint?", CheckpointVersion)
		}
		return fmt.Errorf("restore sandbox checkpoint: version %d is not supported (this sandbox reads version %d)", cp.Version, CheckpointVersion)
	}
	now := s.opts.Now()

	tokens := make(map[tokenKey]tokenEntry, len(cp.ClientTokens))
	var errs []error
	for i, r := range cp.ClientTokens {
		e, err := r.entry(s.opts.IdempotencyTTL)
		if err != nil {
			errs = append(errs, fmt.Errorf("client_tokens[%d]: %w", i, err))
			continue
		}
		k := tokenKey{AccessKeyID: r.AccessKeyID, Action: r.Action, Token: r.Token}
		if _, dup := tokens[k]; dup {
			errs = append(errs, fmt.Errorf("client_tokens[%d]: token %q of %s for %s appears twice", i, r.Token, r.Action, r.AccessKeyID))
			continue
		}
		if now.Before(e.expires) {
			tokens[k] = e
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore sandbox checkpoint: %w", err)
	}

	nonces := slices.Clone(cp.Nonces)
	slices.SortStableFunc(nonces, func(a, b NonceRecord) int { return a.At.Compare(b.At) })
	nonceSet := map[string]time.Time{}
	var queue []nonceEntry
	for _, n := range nonces {
		if now.Sub(n.At) > nonceWindow {
			continue
		}
		nonceSet[nonceKey(n.AccessKeyID, n.Nonce)] = n.At
		queue = append(queue, nonceEntry{keyID: n.AccessKeyID, nonce: n.Nonce, at: n.At})
	}

	st := clone(cp.State)
	calls := cp.Calls
	if over := len(calls) - s.opts.MaxCalls; over > 0 {
		calls = calls[over:]
	}
	calls = cloneCalls(calls)
	webhooks := cp.Webhooks
	if over := len(webhooks) - s.opts.MaxWebhooks; over > 0 {
		webhooks = webhooks[over:]
	}
	webhooks = cloneWebhooks(webhooks)
	seq := max(cp.Counters.Resource, maxResourceNumber(&st.ECS))
	callSeq := cp.Counters.Call
	for _, c := range calls {
		callSeq = max(callSeq, c.Seq)
	}
	webhookSeq := cp.Counters.Webhook
	for _, h := range webhooks {
		webhookSeq = max(webhookSeq, h.Seq)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
	s.seq, s.callSeq, s.webhookSeq = seq, callSeq, webhookSeq
	s.calls = calls
	s.webhooks = webhooks
	s.tokens = tokens
	s.nonces, s.nonceQueue = nonceSet, queue
	s.rev++
	return nil
}

// entry checks a record and returns it as the server keeps it. A record
// without ExpiresAt expires ttl after CreatedAt.
func (r ClientTokenRecord) entry(ttl time.Duration) (tokenEntry, error) {
	switch {
	case r.Action == "" || r.Token == "" || r.AccessKeyID == "":
		return tokenEntry{}, fmt.Errorf("access_key_id %q, action %q and token %q must all be set", r.AccessKeyID, r.Action, r.Token)
	case r.ParamsHash == "":
		return tokenEntry{}, fmt.Errorf("token %q of %s: params_hash is empty", r.Token, r.Action)
	case r.ExpiresAt.IsZero() && r.CreatedAt.IsZero():
		return tokenEntry{}, fmt.Errorf("token %q of %s: neither created_at nor expires_at is set", r.Token, r.Action)
	}
	// Numbers stay json.Number, so a replay answers the very digits of the
	// first answer.
	dec := json.NewDecoder(bytes.NewReader(r.Response))
	dec.UseNumber()
	var result obj
	if err := dec.Decode(&result); err != nil || result == nil {
		if err == nil {
			err = errors.New("it is null")
		}
		return tokenEntry{}, fmt.Errorf("token %q of %s: response is not a JSON object: %w", r.Token, r.Action, err)
	}
	e := tokenEntry{hash: r.ParamsHash, result: result, created: r.CreatedAt, expires: r.ExpiresAt}
	if e.expires.IsZero() {
		e.expires = r.CreatedAt.Add(ttl)
	}
	return e, nil
}

// maxResourceNumber is the highest counter number in the sandbox-made IDs
// (prefix-sbxNNNNNNNNNN) of e.
func maxResourceNumber(e *ECSState) int {
	n := 0
	see := func(id string) {
		i := strings.LastIndex(id, "-sbx")
		if i < 0 {
			return
		}
		if v, err := strconv.Atoi(id[i+len("-sbx"):]); err == nil {
			n = max(n, v)
		}
	}
	for _, x := range e.Instances {
		see(x.ID)
		for _, nic := range x.NetworkInterfaces {
			see(nic.ID)
		}
	}
	for _, g := range e.SecurityGroups {
		see(g.ID)
		for _, r := range g.Rules {
			see(r.ID)
		}
	}
	for _, d := range e.Disks {
		see(d.ID)
	}
	for _, x := range e.Snapshots {
		see(x.ID)
	}
	for _, v := range e.Invocations {
		see(v.InvokeID)
		see(v.CommandID)
	}
	return n
}

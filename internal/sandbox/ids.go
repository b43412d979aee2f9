package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// newRequestID returns an upper-case UUID, as the cloud's RequestId.
func newRequestID() string { return strings.ToUpper(newUUID()) }

// newUUID returns a random (version 4) UUID in lower case.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomString returns n random characters of alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const (
	alnumMixed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// nextID returns a new resource ID such as sg-sbx0000000003. IDs are
// deterministic (the counter restarts on Reset) and skip IDs a world
// already uses. The caller must hold s.mu.
func (s *Server) nextID(prefix string) string {
	for {
		s.seq++
		id := fmt.Sprintf("%s-sbx%010d", prefix, s.seq)
		if !s.ecsIDInUse(id) {
			return id
		}
	}
}

// ecsIDInUse reports whether an ECS resource already has the ID.
func (s *Server) ecsIDInUse(id string) bool {
	e := &s.st.ECS
	for _, x := range e.Instances {
		if x.ID == id || slices.ContainsFunc(x.NetworkInterfaces, func(n NetworkInterface) bool { return n.ID == id }) {
			return true
		}
	}
	for _, g := range e.SecurityGroups {
		if g.ID == id || slices.ContainsFunc(g.Rules, func(r Rule) bool { return r.ID == id }) {
			return true
		}
	}
	return slices.ContainsFunc(e.Disks, func(d Disk) bool { return d.ID == id }) ||
		slices.ContainsFunc(e.Snapshots, func(x Snapshot) bool { return x.ID == id }) ||
		slices.ContainsFunc(e.Invocations, func(v Invocation) bool { return v.InvokeID == id || v.CommandID == id })
}

// nextNumber returns a numeric ID (WAF, SAS) above base and above every
// ID of items, so that seeded IDs are never reused.
func nextNumber[T any](base int64, items []T, id func(T) int64) int64 {
	m := base
	for _, x := range items {
		m = max(m, id(x))
	}
	return m + 1
}

// tokenKey identifies a ClientToken: the same token from another key or
// for another action is another request.
type tokenKey struct {
	AccessKeyID string
	Action      string
	Token       string
}

// tokenEntry is the first successful answer to a ClientToken. It is
// forgotten at expires, an absolute time that a Checkpoint keeps.
type tokenEntry struct {
	hash    string
	result  obj
	created time.Time
	expires time.Time
}

// paramsHash hashes the business parameters of a request: everything but
// the signature, nonce, timestamp, credentials and the token itself.
func paramsHash(p params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		switch k {
		case "Signature", "SignatureNonce", "SignatureMethod", "SignatureVersion", "SignatureType",
			"Timestamp", "AccessKeyId", "SecurityToken", "Format", "ClientToken":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, p[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ecsTime formats a time as ECS does (minute precision, UTC).
func ecsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04Z")
}

// isoTime formats a time as most APIs do (second precision, UTC).
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timestampLayout)
}

package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	alnum      = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnumMixed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// nextID returns a new resource ID such as sg-sbx0000000003. IDs are
// deterministic: the counter restarts on Reset. The caller must hold s.mu.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-sbx%010d", prefix, s.seq)
}

// nextNumber returns a new numeric ID above base (WAF, SAS).
func (s *Server) nextNumber(base int64) int64 {
	s.seq++
	return base + int64(s.seq)
}

// tokenKey identifies a ClientToken: the same token from another key or
// for another action is another request.
type tokenKey struct {
	AccessKeyID string
	Action      string
	Token       string
}

// tokenEntry is the first successful answer to a ClientToken.
type tokenEntry struct {
	hash   string
	result obj
	at     time.Time
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

package sandbox

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// caller is who signed an accepted request.
type caller struct {
	AccessKeyID string
	// Type is ram-user (a permanent key) or assumed-role (an STS key).
	Type string
	// UserName is the RAM user owning a permanent key.
	UserName string
	// RoleName and SessionName describe an STS key.
	RoleName    string
	SessionName string
}

// principal names the caller for the call log: the RAM user, or
// role/session for STS credentials.
func (c caller) principal() string {
	if c.Type == "assumed-role" {
		return c.RoleName + "/" + c.SessionName
	}
	return c.UserName
}

// percentEncode is RFC 3986 encoding as signature v1 uses it: space %20,
// * %2A, ~ literal.
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// stringToSign builds signature v1's string to sign from every request
// parameter (query and form body) except Signature. Empty values are kept:
// the SDK signs SignatureType= with an empty value.
func stringToSign(method string, all url.Values) string {
	keys := make([]string, 0, len(all))
	for k := range all {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		for _, v := range all[k] {
			parts = append(parts, percentEncode(k)+"="+percentEncode(v))
		}
	}
	return method + "&" + percentEncode("/") + "&" + percentEncode(strings.Join(parts, "&"))
}

// signV1 returns Base64(HMAC-SHA1(secret + "&", stringToSign)).
func signV1(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// timestampLayout is the SDK's Timestamp format.
const timestampLayout = "2006-01-02T15:04:05Z"

// authenticate verifies a signature-v1 request and returns its caller. It
// checks, in order: the common parameters, the key's existence, the
// signature, the key's status, the STS token, the timestamp and the nonce.
// The caller must hold s.mu.
func (s *Server) authenticate(rc *reqCtx) (caller, error) {
	p := rc.p
	for _, k := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if p.get(k) == "" {
			return caller{}, errMissing(k)
		}
	}
	if m := p.get("SignatureMethod"); m != "HMAC-SHA1" {
		return caller{}, errBadRequest("InvalidParameter", fmt.Sprintf("The signature method %q is not supported; use HMAC-SHA1.", m))
	}
	if v := p.get("SignatureVersion"); v != "1.0" {
		return caller{}, errBadRequest("InvalidParameter", fmt.Sprintf("The signature version %q is not supported; use 1.0.", v))
	}
	if t := p.get("SignatureType"); t != "" {
		return caller{}, errBadRequest("InvalidParameter", fmt.Sprintf("The signature type %q is not supported by the sandbox.", t))
	}

	keyID := p.get("AccessKeyId")
	var (
		c      caller
		secret string
		ramKey *AccessKey
		temp   *TempCredential
	)
	for i := range s.st.RAM.Users {
		u := &s.st.RAM.Users[i]
		if k := findPtr(u.AccessKeys, func(k *AccessKey) bool { return k.ID == keyID }); k != nil {
			ramKey, secret = k, k.Secret
			c = caller{AccessKeyID: keyID, Type: "ram-user", UserName: u.Name}
		}
	}
	if ramKey == nil {
		temp = findPtr(s.st.STS.Credentials, func(t *TempCredential) bool { return t.AccessKeyID == keyID })
		if temp == nil {
			return caller{}, errNotFound("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		}
		secret = temp.Secret
		c = caller{AccessKeyID: keyID, Type: "assumed-role", RoleName: temp.RoleName, SessionName: temp.SessionName}
	}

	sts := stringToSign(rc.method, rc.all)
	want := signV1(secret, sts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(p.get("Signature"))) != 1 {
		return caller{}, errBadRequest("SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:"+sts)
	}

	token := p.get("SecurityToken")
	switch {
	case ramKey != nil && ramKey.Status != "Active":
		return caller{}, errBadRequest("InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
	case ramKey != nil && token != "":
		return caller{}, errBadRequest("InvalidSecurityToken.MismatchWithAccessKey", "The security token does not belong to the access key; permanent keys take no SecurityToken.")
	case temp != nil && token == "":
		return caller{}, errBadRequest("InvalidSecurityToken.Malformed", "The SecurityToken of the STS access key is missing.")
	case temp != nil && subtle.ConstantTimeCompare([]byte(token), []byte(temp.SecurityToken)) != 1:
		return caller{}, errBadRequest("InvalidSecurityToken.MismatchWithAccessKey", "The security token does not match the access key.")
	case temp != nil && !rc.now.Before(temp.Expiration):
		return caller{}, errBadRequest("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
	}

	if s.opts.ClockSkew >= 0 {
		ts, err := time.Parse(timestampLayout, p.get("Timestamp"))
		if err != nil {
			ts, err = time.Parse(time.RFC3339, p.get("Timestamp"))
		}
		if err != nil {
			return caller{}, errBadRequest("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
		}
		if d := rc.now.Sub(ts); d > s.opts.ClockSkew || d < -s.opts.ClockSkew {
			return caller{}, errBadRequest("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
		}
	}
	if !s.opts.AllowNonceReuse {
		if err := s.useNonce(keyID, p.get("SignatureNonce"), rc.now); err != nil {
			return caller{}, err
		}
	}
	if ramKey != nil {
		ramKey.LastUsed = rc.now
	}
	return c, nil
}

// nonceWindow is how long a SignatureNonce stays used.
const nonceWindow = 15 * time.Minute

// nonceEntry is a used SignatureNonce of an access key; the queue of them
// is in the order they were used.
type nonceEntry struct {
	keyID string
	nonce string
	at    time.Time
}

// nonceKey is the key of s.nonces.
func nonceKey(keyID, nonce string) string { return keyID + "/" + nonce }

// useNonce records a nonce, refusing one seen within the window.
func (s *Server) useNonce(keyID, nonce string, now time.Time) error {
	cut := 0
	for cut < len(s.nonceQueue) && now.Sub(s.nonceQueue[cut].at) > nonceWindow {
		delete(s.nonces, nonceKey(s.nonceQueue[cut].keyID, s.nonceQueue[cut].nonce))
		cut++
	}
	key := nonceKey(keyID, nonce)
	s.nonceQueue = s.nonceQueue[cut:]
	if _, used := s.nonces[key]; used {
		return &apiError{Status: http.StatusBadRequest, Code: "SignatureNonceUsed", Message: "Specified signature nonce was used already."}
	}
	s.nonces[key] = now
	s.nonceQueue = append(s.nonceQueue, nonceEntry{keyID: keyID, nonce: nonce, at: now})
	return nil
}

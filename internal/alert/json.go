package alert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// parseJSON parses one JSON value from data after checking that it is text,
// nests at most maxDepth deep and has at most maxItems members in any array
// or object. Numbers stay json.Number so that vendor IDs keep every digit.
// Invalid UTF-8 inside strings becomes U+FFFD (encoding/json's rule), so a
// GBK-encoded command line does not lose the alert.
func parseJSON(data []byte, maxDepth, maxItems int) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, decodeErr(ReasonEmpty, "the payload is empty")
	}
	if err := checkText(trimmed); err != nil {
		return nil, err
	}
	if err := checkShape(trimmed, maxDepth, maxItems); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, decodeErr(ReasonInvalidJSON, "%s", jsonErrorDetail(err, trimmed))
	}
	if rest := bytes.TrimSpace(trimmed[dec.InputOffset():]); len(rest) > 0 {
		return nil, decodeErr(ReasonInvalidJSON, "unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	return v, nil
}

// checkText rejects payloads that are clearly not text.
func checkText(data []byte) error {
	for _, magic := range []struct {
		prefix, name string
	}{
		{"\x1f\x8b", "gzip"}, {"\x28\xb5\x2f\xfd", "zstd"}, {"PK\x03\x04", "zip"},
		{"\x04\x22\x4d\x18", "lz4"}, {"\xff\xfe", "UTF-16"}, {"\xfe\xff", "UTF-16"},
	} {
		if bytes.HasPrefix(data, []byte(magic.prefix)) {
			return decodeErr(ReasonBinary, "the payload is %s data, not JSON text", magic.name)
		}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return decodeErr(ReasonBinary, "NUL byte at offset %d", i)
	}
	if c := data[0]; c != '{' && c != '[' && c != '"' && !utf8.Valid(data) {
		return decodeErr(ReasonBinary, "the payload is neither UTF-8 text nor JSON")
	}
	return nil
}

// checkShape scans data once, without allocating, for nesting depth and
// member counts, so that hostile payloads are refused before encoding/json
// builds them.
func checkShape(data []byte, maxDepth, maxItems int) error {
	var (
		inString, escaped bool
		depth             int
		counts            = make([]int, 0, 16) // separators seen per open container
	)
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return decodeErr(ReasonTooDeep, "objects and arrays nest deeper than %d at offset %d", maxDepth, i)
			}
			counts = append(counts, 0)
		case '}', ']':
			if depth > 0 {
				depth--
				counts = counts[:len(counts)-1]
			}
		case ',':
			if depth > 0 {
				counts[len(counts)-1]++
				if counts[len(counts)-1] >= maxItems {
					return decodeErr(ReasonTooManyItems, "an array or object has more than %d members (offset %d)", maxItems, i)
				}
			}
		}
	}
	return nil
}

func jsonErrorDetail(err error, data []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at offset %d", se, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Sprintf("unexpected end of input after %d bytes", len(data))
	}
	return err.Error()
}

// canonicalJSON encodes v with sorted object keys and no insignificant white
// space: the same payload with its keys in another order encodes alike.
func canonicalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// v came from encoding/json, so this cannot happen; hash the error
		// text rather than panic.
		return []byte(err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// hashID is the ID of a payload without a vendor ID: prefix, "-", and 32 hex
// digits of the SHA-256 of its canonical JSON.
func hashID(prefix string, v any) string {
	sum := sha256.Sum256(canonicalJSON(v))
	return prefix + "-" + hex.EncodeToString(sum[:16])
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

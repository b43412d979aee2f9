package alert

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of [DecodeOptions].
const (
	DefaultMaxBytes    = 1 << 20  // 1 MiB, config nats.max_alert_bytes
	DefaultMaxRawBytes = 64 << 10 // 64 KiB of original payload kept in Alert.Raw
	DefaultMaxDepth    = 32
	DefaultMaxItems    = 10_000
	// MaxEventsPerPayload bounds a DescribeSuspEvents page.
	MaxEventsPerPayload = 100
)

// DecodeOptions configures [Decode]. Zero fields take their defaults.
type DecodeOptions struct {
	// MaxBytes is the largest payload accepted; default [DefaultMaxBytes].
	MaxBytes int
	// MaxRawBytes is the largest original payload kept verbatim in
	// [Alert.Raw] (measured as canonical JSON); a larger one is replaced by
	// a summary marked with [TruncatedKey]. Default [DefaultMaxRawBytes].
	MaxRawBytes int
	// MaxDepth bounds the nesting of objects and arrays; default
	// [DefaultMaxDepth].
	MaxDepth int
	// MaxItems bounds the members of any one array or object; default
	// [DefaultMaxItems].
	MaxItems int
	// Now fills [Alert.Time] when the payload has no time; zero means
	// time.Now().
	Now time.Time
}

func (o DecodeOptions) withDefaults() DecodeOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRawBytes <= 0 {
		o.MaxRawBytes = DefaultMaxRawBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxItems <= 0 {
		o.MaxItems = DefaultMaxItems
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o
}

// Decode turns one payload received on subject into a normalized alert:
//
//  1. payloads larger than MaxBytes, empty, binary, malformed, too deep or
//     too wide are refused;
//  2. a CloudEvents structured-mode event (a "specversion" member) is
//     unwrapped: its data is decoded, its id, time, account and region fill
//     what the data lacks;
//  3. an object with the envelope's shape (a "type" member and only envelope
//     members) is taken as is, strictly: wrong types are invalid_field;
//  4. otherwise the decoder named by the subject's second token (alerts.
//     <source>.<type>) normalizes a vendor payload: sas, waf, ddos, cloudfw,
//     actiontrail. An ActionTrail CloudEvent (type "<product>:ActionTrail:
//     <kind>") goes to the actiontrail decoder whatever the subject;
//  5. any other token (a custom source, or soar for linkage alerts) accepts
//     only the envelope; a payload that is not one is unknown_source, or
//     invalid_field when it has a "type" but also members the envelope does
//     not know (most likely a typo such as "sorce_ip"), or missing_field
//     when it has only envelope members but no "type". On alerts.soar.>
//     everything is decoded as an envelope.
//
// The result has a stable ID (the vendor's, else a hash of the canonical
// payload, independent of key order), a severity from 1 to 5, the envelope
// limits applied (see [MaxListItems]), the original payload in Raw (cut to
// MaxRawBytes) and [Alert.Normalize] applied.
//
// Every failure is a [*DecodeError] whose Reason names the dead-letter
// subject. A payload holding several alerts (a DescribeSuspEvents page) is
// [ReasonMultipleAlerts]; use [DecodeAll] for those.
func Decode(subject string, data []byte, opts DecodeOptions) (Alert, error) {
	alerts, err := DecodeAll(subject, data, opts)
	if err != nil {
		return Alert{}, err
	}
	if len(alerts) != 1 {
		return Alert{}, decodeErr(ReasonMultipleAlerts, "the payload holds %d alerts; use DecodeAll", len(alerts))
	}
	return alerts[0], nil
}

// DecodeAll is [Decode] for payloads that may hold several alerts: a
// Security Center DescribeSuspEvents page becomes one alert per event (at
// most [MaxEventsPerPayload]), each with its own ID, so one page opens or
// joins one incident per event. Every other format yields exactly one alert.
// It fails as a whole: one bad event rejects the page.
func DecodeAll(subject string, data []byte, opts DecodeOptions) ([]Alert, error) {
	opts = opts.withDefaults()
	if len(data) > opts.MaxBytes {
		return nil, decodeErr(ReasonTooLarge, "%d bytes, the limit is %d", len(data), opts.MaxBytes)
	}
	v, err := parseJSON(data, opts.MaxDepth, opts.MaxItems)
	if err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, decodeErr(ReasonNotObject, "the payload is %s, want a JSON object", kindOf(v))
	}
	// Valid UTF-8 re-encodes at most twice as large (only U+2028 and U+2029
	// gain escapes, 3 bytes to 6), so a payload within half of MaxRawBytes
	// needs no size check for Raw.
	dc := &decodeContext{opts: opts, payload: top, rawFits: 2*len(data) <= opts.MaxRawBytes && utf8.Valid(data)}
	dc.source, dc.typeToken = subjectTokens(subject)

	body := object{m: top}
	if isCloudEvent(top) {
		ce, data, err := unwrapCloudEvent(top, opts)
		if err != nil {
			return nil, err
		}
		dc.ce = ce
		body = data
	}

	var alerts []Alert
	switch name := dc.decoderName(body); {
	case name == "envelope":
		a, err := decodeEnvelope(dc, body)
		if err != nil {
			return nil, err
		}
		alerts = []Alert{a}
	case name != "":
		alerts, err = vendorDecoders[name](dc, body)
		if err != nil {
			return nil, err
		}
	default:
		if body.has("type") || onlyEnvelopeKeys(body.m) {
			// Shaped like an envelope with members it does not know, or
			// without a type: report the member (or, through finish, the
			// missing type) instead of a vague unknown source. An envelope
			// that decodes must never come out as no alert at all.
			a, err := decodeEnvelope(dc, body)
			if err != nil {
				return nil, err
			}
			alerts = []Alert{a}
			break
		}
		return nil, decodeErr(ReasonUnknownSource, "no decoder for source %q (subject %q) and the payload is not an alert envelope (no \"type\" member); known sources: %s",
			dc.source, subject, strings.Join(VendorSources(), ", "))
	}
	for i := range alerts {
		a := &alerts[i]
		if err := finish(a); err != nil {
			if len(alerts) > 1 {
				err.Detail = "event " + strconv.Itoa(i) + ": " + err.Detail
			}
			return nil, err
		}
		a.Normalize(opts.Now)
	}
	return alerts, nil
}

// decodeContext is what a vendor decoder knows beyond the payload.
type decodeContext struct {
	opts DecodeOptions
	// source and typeToken are the subject's second and third tokens.
	source, typeToken string
	// ce is the CloudEvents envelope, nil for a bare payload.
	ce *cloudEvent
	// payload is the whole decoded payload (CloudEvent included), the Raw
	// of single-alert formats.
	payload map[string]any
	// page is set while decoding the events of a multi-alert payload.
	page bool
	// rawFits says the whole payload is known to fit in MaxRawBytes.
	rawFits bool
}

// vendorDecoder normalizes one vendor format. It fills the fields it knows;
// an empty ID gets a hash of the vendor object, a nil Raw the whole payload.
type vendorDecoder func(dc *decodeContext, o object) ([]Alert, error)

// vendorDecoders maps a subject source token to its decoder. It is never
// modified.
var vendorDecoders = map[string]vendorDecoder{
	"sas":         decodeSAS,
	"waf":         decodeWAF,
	"ddos":        decodeDDoS,
	"cloudfw":     decodeCloudFW,
	"actiontrail": decodeActionTrail,
}

// VendorSources returns the subject source tokens that have a vendor
// decoder, sorted.
func VendorSources() []string {
	return []string{"actiontrail", "cloudfw", "ddos", "sas", "waf"}
}

// decoderName picks the decoder of body: "envelope", a vendor decoder name,
// or "" when none applies.
func (dc *decodeContext) decoderName(body object) string {
	if dc.ce != nil && strings.Contains(dc.ce.Type, ":ActionTrail:") && !isEnvelopeShaped(body.m) {
		return "actiontrail"
	}
	if isEnvelopeShaped(body.m) || dc.source == "soar" {
		return "envelope"
	}
	if _, ok := vendorDecoders[dc.source]; ok {
		return dc.source
	}
	if dc.ce != nil {
		if name := decoderForCloudEventSource(dc.ce.Source); name != "" {
			return name
		}
	}
	return ""
}

// subjectTokens returns the second and third tokens of alerts.<source>.<type>.
func subjectTokens(subject string) (source, typ string) {
	parts := strings.Split(subject, ".")
	if len(parts) > 1 {
		source = parts[1]
	}
	if len(parts) > 2 {
		typ = parts[2]
	}
	return source, typ
}

// sourceName is the Alert.Source of a subject token: alibaba.<token> for the
// vendor tokens, the token itself otherwise.
func sourceName(token string) string {
	if _, ok := vendorDecoders[token]; ok {
		return "alibaba." + token
	}
	if token == "" || token == "*" || token == ">" {
		return "custom"
	}
	return token
}

// raw returns v for Alert.Raw, or a summary of it when its canonical JSON
// is larger than MaxRawBytes.
func (dc *decodeContext) raw(v any) any {
	if dc.rawFits {
		return v
	}
	enc := canonicalJSON(v)
	if len(enc) <= dc.opts.MaxRawBytes {
		return v
	}
	head := min(dc.opts.MaxRawBytes/2, 4096)
	return map[string]any{
		TruncatedKey: true,
		"bytes":      json.Number(strconv.Itoa(len(enc))),
		"sha256":     sha256Hex(enc),
		"head":       truncate(string(enc), head),
	}
}

package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/opensoar/soar/internal/suggest"
)

// envelopeKeys are the members of the envelope's JSON form.
var envelopeKeys = map[string]bool{
	"id": true, "source": true, "type": true, "severity": true, "title": true, "time": true,
	"account": true, "region": true, "source_ip": true, "resource": true, "http": true,
	"process": true, "file": true, "iocs": true, "count": true, "labels": true, "raw": true,
}

// isEnvelopeShaped reports whether m looks like an envelope: a string
// "type" and no member the envelope does not have.
func isEnvelopeShaped(m map[string]any) bool {
	if _, ok := m["type"].(string); !ok {
		return false
	}
	return onlyEnvelopeKeys(m)
}

// onlyEnvelopeKeys reports whether m is non-empty and has only envelope
// members.
func onlyEnvelopeKeys(m map[string]any) bool {
	for k := range m {
		if !envelopeKeys[k] {
			return false
		}
	}
	return len(m) > 0
}

// decodeEnvelope decodes an envelope strictly: unknown members (at any
// level) and wrong types are invalid_field. Leniencies: severity may be a
// level name ("high", "critical"); time may be any format parseTime knows;
// a missing severity is medium; a missing source comes from the subject; a
// missing id is the CloudEvent's id, else a hash of the payload.
func decodeEnvelope(dc *decodeContext, body object) (Alert, error) {
	var r reader
	fields := make(map[string]any, len(body.m))
	for k, v := range body.m {
		fields[k] = v
	}
	sev := SeverityMedium
	if v, ok := fields["severity"]; ok && v != nil {
		delete(fields, "severity")
		switch x := v.(type) {
		case json.Number:
			n, err := parseInt(x.String())
			if err != nil || n < SeverityInfo || n > SeverityCritical {
				return Alert{}, invalid("severity", "%s: want 1 (info) to 5 (critical)", clip(x.String(), 20))
			}
			sev = int(n)
		case string:
			s, ok := severityFromLevel(x)
			if !ok {
				return Alert{}, invalid("severity", "%q: want 1 to 5 or a level name (info, low, medium, high, critical)", clip(x, 40))
			}
			sev = s
		default:
			return Alert{}, invalid("severity", "want a number, got %s", kindOf(v))
		}
	}
	t, hasTime := r.time(object{m: fields}, "time")
	delete(fields, "time")
	if r.err != nil {
		return Alert{}, r.err
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return Alert{}, invalid("envelope", "%v", err)
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var a Alert
	if err := dec.Decode(&a); err != nil {
		return Alert{}, envelopeError(err)
	}
	a.Severity = sev
	if hasTime {
		a.Time = t
	}
	if a.Source == "" {
		a.Source = sourceName(dc.source)
	}
	if ce := dc.ce; ce != nil {
		if a.ID == "" {
			a.ID = ce.ID
		}
		if !hasTime {
			a.Time = ce.Time
		}
		if a.Account == "" {
			a.Account = ce.Account
		}
		if a.Region == "" {
			a.Region = ce.Region
		}
	}
	if a.ID == "" {
		a.ID = hashID("alert", body.m)
	}
	if a.Raw == nil {
		a.Raw = map[string]any{}
	}
	a.Raw = dc.raw(a.Raw)
	return a, nil
}

func envelopeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "envelope"
		}
		return invalid(field, "want %s, got a JSON %s", goTypeName(te.Type.String()), te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return invalid(name, "not a member of the alert envelope%s (see Alerts in README.md)", memberHint(name))
	}
	return invalid("envelope", "%s", strings.TrimPrefix(msg, "json: "))
}

// memberHint returns ` (did you mean "x"?)` for the envelope member nearest
// to name (at any level: encoding/json names only the member), or "".
func memberHint(name string) string {
	var members []string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				members = append(members, tag)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[Alert]())
	return suggest.DidYouMean(name, members)
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"):
		return "a number"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["):
		return "an object"
	case strings.Contains(t, "alert."):
		return "an object"
	}
	return t
}

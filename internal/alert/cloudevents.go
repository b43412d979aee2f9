package alert

import (
	"encoding/base64"
	"strings"
	"time"
)

// cloudEvent is the context of a CloudEvents structured-mode event
// (EventBridge delivers Alibaba Cloud events this way).
type cloudEvent struct {
	ID, Source, Type, Subject string
	Time                      time.Time
	// Account and Region are EventBridge's aliyunaccountid and
	// aliyunregionid extensions.
	Account, Region string
}

func isCloudEvent(m map[string]any) bool {
	_, ok := m["specversion"]
	return ok
}

// unwrapCloudEvent returns the event's context and its data, which must be
// an object: inline JSON, a string holding JSON, or data_base64.
func unwrapCloudEvent(m map[string]any, opts DecodeOptions) (*cloudEvent, object, error) {
	var r reader
	top := object{m: m}
	ce := &cloudEvent{
		ID:      r.str(top, "id"),
		Source:  r.str(top, "source"),
		Type:    r.str(top, "type"),
		Subject: r.str(top, "subject"),
		Account: r.str(top, "aliyunaccountid"),
		Region:  r.str(top, "aliyunregionid"),
	}
	if spec := r.str(top, "specversion"); spec != "" && !strings.HasPrefix(spec, "1.") && spec != "0.3" {
		r.fail(invalid("specversion", "%q: want 1.0", clip(spec, 20)))
	}
	if t, ok := r.time(top, "time"); ok {
		ce.Time = t
	}
	if r.err != nil {
		return nil, object{}, r.err
	}
	if ce.Type == "" {
		return nil, object{}, missing("type (CloudEvents)")
	}
	var data any
	switch d := m["data"].(type) {
	case map[string]any:
		return ce, object{m: d, path: "data"}, nil
	case nil:
		s, ok := m["data_base64"].(string)
		if !ok {
			return nil, object{}, missing("data (CloudEvents)")
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, object{}, invalid("data_base64", "not base64: %v", err)
		}
		if data, err = parseJSON(raw, opts.MaxDepth-1, opts.MaxItems); err != nil {
			return nil, object{}, prefixDetail(err, "data_base64: ")
		}
	case string:
		var err error
		if data, err = parseJSON([]byte(d), opts.MaxDepth-1, opts.MaxItems); err != nil {
			return nil, object{}, prefixDetail(err, "data: ")
		}
	default:
		data = d
	}
	obj, ok := data.(map[string]any)
	if !ok {
		return nil, object{}, decodeErr(ReasonNotObject, "CloudEvents data is %s, want a JSON object", kindOf(data))
	}
	return ce, object{m: obj, path: "data"}, nil
}

// decoderForCloudEventSource maps an EventBridge source (acs.<product>) to a
// vendor decoder, for subjects whose token names no vendor.
func decoderForCloudEventSource(source string) string {
	switch strings.TrimPrefix(strings.ToLower(source), "acs.") {
	case "sas", "aegis":
		return "sas"
	case "waf", "waf-openapi":
		return "waf"
	case "ddos", "ddosbgp", "ddoscoo", "ddosdip", "antiddos":
		return "ddos"
	case "cloudfw":
		return "cloudfw"
	case "actiontrail":
		return "actiontrail"
	}
	return ""
}

func prefixDetail(err error, prefix string) error {
	if de, ok := err.(*DecodeError); ok {
		return &DecodeError{Reason: de.Reason, Detail: prefix + de.Detail}
	}
	return err
}

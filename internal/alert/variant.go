package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Variant returns payload changed so that it decodes to an alert with a
// different ID (the vendor's ID member gets the suffix "-<n>"), and, when
// sourceIP is not empty, with that attacker IP. `soar publish --count` and
// load tests use it to make storms of distinct alerts from one sample.
// Anti-DDoS events name a victim, not an attacker: sourceIP is ignored
// there. Payloads that do not decode are returned unchanged with the decode
// error.
func Variant(subject string, payload []byte, n int, sourceIP string) ([]byte, error) {
	return variant(subject, payload, strconv.Itoa(n), n, sourceIP)
}

// VariantTag is [Variant] with a string in place of n: the vendor's ID
// member gets the suffix "-<tag>". soar publish tags storm copies with a
// per-run nonce and the copy number, so that a repeated storm is not
// dropped by the stream's duplicate window.
func VariantTag(subject string, payload []byte, tag, sourceIP string) ([]byte, error) {
	return variant(subject, payload, tag, tag, sourceIP)
}

// variant appends "-"+tag to the alert's ID; marker varies the payloads
// whose ID is a hash of their content.
func variant(subject string, payload []byte, tag string, marker any, sourceIP string) ([]byte, error) {
	if _, err := DecodeAll(subject, payload, DecodeOptions{}); err != nil {
		return payload, err
	}
	v, err := parseJSON(payload, DefaultMaxDepth, DefaultMaxItems)
	if err != nil {
		return payload, err
	}
	top := v.(map[string]any) // DecodeAll accepted it, so it is an object
	suffix := "-" + tag
	dc := &decodeContext{payload: top}
	dc.source, dc.typeToken = subjectTokens(subject)
	body := top
	if isCloudEvent(top) {
		top["id"] = str(top["id"]) + suffix
		ce, data, err := unwrapCloudEvent(top, DecodeOptions{}.withDefaults())
		if err != nil {
			return payload, err
		}
		dc.ce = ce
		body = data.m
		top["data"] = body // data given as a string or base64 becomes an object
		delete(top, "data_base64")
	}
	switch dc.decoderName(object{m: body}) {
	case "envelope":
		id, _ := body["id"].(string)
		if id == "" {
			id = hashID("alert", body)
		}
		body["id"] = id + suffix
		if sourceIP != "" {
			body["source_ip"] = sourceIP
		}
	case "sas":
		varySAS(body, suffix, sourceIP)
	case "waf":
		body["request_traceid"] = str(body["request_traceid"]) + suffix
		if sourceIP != "" {
			body["real_client_ip"] = sourceIP
			delete(body, "remote_addr")
			delete(body, "http_x_forwarded_for")
		}
	case "ddos":
		if dc.ce == nil {
			body["soar_variant"] = marker
		}
	case "cloudfw":
		body["event_id"] = str(body["event_id"]) + suffix
		if sourceIP != "" {
			key := "src_ip"
			if a, err := Decode(subject, payload, DecodeOptions{}); err == nil && a.SourceIP == str(body["dst_ip"]) {
				key = "dst_ip"
			}
			body[key] = sourceIP
		}
	case "actiontrail":
		body["eventId"] = str(body["eventId"]) + suffix
		if sourceIP != "" {
			body["sourceIpAddress"] = sourceIP
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return payload, fmt.Errorf("encode variant: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func varySAS(body map[string]any, suffix, ip string) {
	setIP := func(d map[string]any) {
		for _, k := range hostDetail.remoteIP {
			if _, ok := d[k]; ok {
				d[k] = ip
				return
			}
		}
		d["remote_ip"] = ip
	}
	if events, ok := body["SuspEvents"].([]any); ok {
		for _, e := range events {
			ev, ok := e.(map[string]any)
			if !ok {
				continue
			}
			ev["UniqueInfo"] = firstNonEmpty(str(ev["UniqueInfo"]), str(ev["AlarmUniqueInfo"]), str(ev["Id"])) + suffix
			if ip == "" {
				continue
			}
			rows, _ := ev["Details"].([]any)
			found := false
			for _, row := range rows {
				rm, ok := row.(map[string]any)
				if !ok {
					continue
				}
				for _, k := range hostDetail.remoteIP {
					if rm["Name"] == k {
						rm["Value"], found = ip, true
					}
				}
			}
			if !found {
				ev["Details"] = append(rows, map[string]any{"Name": "remote_ip", "Value": ip})
			}
		}
		return
	}
	if content, ok := body["content"].(map[string]any); ok {
		if u := str(content["uniqueInfo"]); u != "" {
			content["uniqueInfo"] = u + suffix
		} else {
			body["id"] = str(body["id"]) + suffix
		}
		if ip != "" {
			content["detail"] = map[string]any{"remote_ip": ip}
		}
		return
	}
	body["unique_info"] = str(body["unique_info"]) + suffix
	if ip == "" {
		return
	}
	switch d := body["detail"].(type) {
	case map[string]any:
		setIP(d)
	case string:
		var m map[string]any
		if json.Unmarshal([]byte(d), &m) != nil || m == nil {
			m = map[string]any{}
		}
		setIP(m)
		enc, _ := json.Marshal(m)
		body["detail"] = string(enc)
	default:
		body["detail"] = map[string]any{"remote_ip": ip}
	}
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

package alert

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Sample is a realistic alert for `soar publish --sample NAME`: one per
// shipped playbook, named after it, with values from the sandbox's default
// world (internal/sandbox/default_world.yaml: account 1234567890123456,
// web-01 = i-bp1sandboxweb01 at 47.96.10.20 / 172.16.1.10, db-01 =
// i-bp1sandboxdb001, www.example.com, RAM user alice with key
// LTAI5tSandboxAlice0001, attacker 203.0.113.7). Edit samples/*.json to
// change them.
type Sample struct {
	Name        string
	Subject     string
	Description string
	// Payload is the vendor payload as JSON, ready to publish.
	Payload []byte
}

//go:embed samples/*.json
var sampleFS embed.FS

// sampleFile is the JSON form of a sample; `soar publish FILE` accepts it
// too, taking the subject from the file.
type sampleFile struct {
	Name        string          `json:"name"`
	Subject     string          `json:"subject"`
	Description string          `json:"description"`
	Payload     json.RawMessage `json:"payload"`
}

// Samples returns the built-in samples sorted by name.
func Samples() []Sample {
	entries, err := sampleFS.ReadDir("samples")
	if err != nil {
		return nil
	}
	out := make([]Sample, 0, len(entries))
	for _, e := range entries {
		data, err := sampleFS.ReadFile(path.Join("samples", e.Name()))
		if err != nil {
			continue
		}
		s, ok, err := ParseSample(data)
		if err != nil || !ok {
			continue // TestSamples keeps the embedded files valid
		}
		if s.Name == "" {
			s.Name = strings.TrimSuffix(e.Name(), ".json")
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SampleByName returns the built-in sample called name.
func SampleByName(name string) (Sample, bool) {
	for _, s := range Samples() {
		if s.Name == name {
			return s, true
		}
	}
	return Sample{}, false
}

// SampleNames returns the names of the built-in samples, sorted.
func SampleNames() []string {
	var names []string
	for _, s := range Samples() {
		names = append(names, s.Name)
	}
	return names
}

// ParseSample reads the sample format: a JSON object with "subject" and
// "payload" (and optionally "name" and "description") and nothing else. ok
// is false when data is not in that format (a plain payload); err reports a
// sample that is malformed.
func ParseSample(data []byte) (s Sample, ok bool, err error) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return Sample{}, false, nil
	}
	if _, hasPayload := probe["payload"]; !hasPayload {
		return Sample{}, false, nil
	}
	if _, hasSubject := probe["subject"]; !hasSubject {
		return Sample{}, false, nil
	}
	for k := range probe {
		switch k {
		case "name", "subject", "description", "payload":
		default:
			return Sample{}, false, nil
		}
	}
	var f sampleFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Sample{}, true, fmt.Errorf("parse sample: %w", err)
	}
	if f.Subject == "" {
		return Sample{}, true, fmt.Errorf("parse sample: subject is empty")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, f.Payload); err != nil {
		return Sample{}, true, fmt.Errorf("parse sample %s: payload: %w", f.Name, err)
	}
	return Sample{Name: f.Name, Subject: f.Subject, Description: f.Description, Payload: buf.Bytes()}, true, nil
}

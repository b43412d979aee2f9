package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opensoar/soar/internal/config"
)

// Size limits of the receivers; longer texts are cut at a rune boundary and
// end in "…".
const (
	// dingTalkMaxBytes bounds a DingTalk markdown text.
	dingTalkMaxBytes = 20000
	// weComMaxBytes is WeCom's limit on markdown content.
	weComMaxBytes = 4096
	// slackMaxSection and slackMaxHeader are Slack's Block Kit limits, in
	// characters.
	slackMaxSection = 3000
	slackMaxHeader  = 150
	// slackMaxText bounds the fallback text.
	slackMaxText = 40000
)

// message is what every kind renders.
type message struct {
	Title    string
	Text     string
	Incident string
	Playbook string
	Step     string
	Channel  string
	Time     time.Time
}

// footer names the incident, playbook and step, leaving out empty parts.
func (m message) footer() string {
	var parts []string
	for _, p := range [][2]string{{"incident", m.Incident}, {"playbook", m.Playbook}, {"step", m.Step}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+p[1])
		}
	}
	return strings.Join(parts, " · ")
}

type dingTalkMarkdown struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
}

type weComMarkdown struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

type genericMessage struct {
	Title    string `json:"title"`
	Text     string `json:"text"`
	Incident string `json:"incident"`
	Playbook string `json:"playbook"`
	Step     string `json:"step"`
	Channel  string `json:"channel"`
	Time     string `json:"time"`
}

// render builds the request body of kind for m.
func render(kind string, m message) ([]byte, error) {
	switch kind {
	case config.ChannelDingTalk:
		var d dingTalkMarkdown
		d.MsgType = "markdown"
		d.Markdown.Title = m.Title
		d.Markdown.Text = markdown(m, dingTalkMaxBytes)
		return marshal(d)
	case config.ChannelWeCom:
		var w weComMarkdown
		w.MsgType = "markdown"
		w.Markdown.Content = markdown(m, weComMaxBytes)
		return marshal(w)
	case config.ChannelSlack:
		s := slackMessage{
			Text: truncateRunes(slackEscape(m.Title+": "+m.Text), slackMaxText),
			Blocks: []slackBlock{
				{Type: "header", Text: &slackText{Type: "plain_text", Text: truncateRunes(m.Title, slackMaxHeader)}},
				{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncateRunes(slackEscape(m.Text), slackMaxSection)}},
			},
		}
		if f := m.footer(); f != "" {
			s.Blocks = append(s.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: slackEscape(f)}}})
		}
		return marshal(s)
	case config.ChannelGeneric:
		return marshal(genericMessage{
			Title: m.Title, Text: m.Text, Incident: m.Incident, Playbook: m.Playbook, Step: m.Step,
			Channel: m.Channel, Time: m.Time.Format(time.RFC3339),
		})
	}
	return nil, fmt.Errorf("unknown channel kind %q", kind)
}

// markdown renders the DingTalk and WeCom text: a heading, the text and a
// quoted footer, with the text cut so that the whole fits in limit bytes.
func markdown(m message, limit int) string {
	head := "### " + m.Title + "\n\n"
	tail := ""
	if f := m.footer(); f != "" {
		tail = "\n\n> " + f
	}
	return head + truncateBytes(m.Text, limit-len(head)-len(tail)) + tail
}

// marshal encodes v as compact JSON without HTML escaping (robots render
// <font> tags and "&" as written).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// slackEscape escapes the three characters Slack's mrkdwn reserves for
// links and mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

const ellipsis = "…"

// truncateBytes cuts s to at most n bytes at a rune boundary, ending in "…"
// when anything was cut.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len(ellipsis)
	if n <= 0 {
		return ellipsis
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}

// truncateRunes cuts s to at most n characters, ending in "…" when anything
// was cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + ellipsis
}

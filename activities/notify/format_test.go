package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opensoar/soar/internal/config"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		s     string
		n     int
		bytes string
		runes string
	}{
		{"hello", 10, "hello", "hello"},
		{"hello", 5, "hello", "hello"},
		{"hello world", 8, "hello…", "hello w…"},
		{"挂马挂马", 9, "挂马…", "挂马挂马"},
		{"挂马挂马", 8, "挂…", "挂马挂马"},
		{"挂马挂马", 3, "…", "挂马…"},
	}
	for _, tc := range tests {
		if got := truncateBytes(tc.s, tc.n); got != tc.bytes {
			t.Errorf("truncateBytes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.bytes)
		}
		if got := truncateRunes(tc.s, tc.n); got != tc.runes {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.runes)
		}
	}
}

// TestRenderLimits checks that long texts are cut to each receiver's limit
// and that the footer naming the incident survives the cut.
func TestRenderLimits(t *testing.T) {
	m := message{Title: "挂马", Text: strings.Repeat("木马进程 kill 失败；", 2000), Incident: "pb.i-1", Playbook: "pb", Step: "page"}
	tests := []struct {
		kind  string
		field func(t *testing.T, body []byte) string
		limit int
		runes bool
	}{
		{config.ChannelWeCom, func(t *testing.T, b []byte) string {
			var w weComMarkdown
			mustUnmarshal(t, b, &w)
			return w.Markdown.Content
		}, weComMaxBytes, false},
		{config.ChannelDingTalk, func(t *testing.T, b []byte) string {
			var d dingTalkMarkdown
			mustUnmarshal(t, b, &d)
			return d.Markdown.Text
		}, dingTalkMaxBytes, false},
		{config.ChannelSlack, func(t *testing.T, b []byte) string {
			var s slackMessage
			mustUnmarshal(t, b, &s)
			return s.Blocks[1].Text.Text
		}, slackMaxSection, true},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			body, err := render(tc.kind, m)
			if err != nil {
				t.Fatalf("render() error: %v", err)
			}
			got := tc.field(t, body)
			size := len(got)
			if tc.runes {
				size = utf8.RuneCountInString(got)
			}
			if size > tc.limit || size < tc.limit-8 {
				t.Errorf("rendered text is %d long, want at most %d and close to it", size, tc.limit)
			}
			if !utf8.ValidString(got) {
				t.Errorf("rendered text is not valid UTF-8")
			}
			if !tc.runes && !strings.HasSuffix(got, "…\n\n> incident pb.i-1 · playbook pb · step page") {
				t.Errorf("rendered text ends %q, want the cut text and the footer", got[len(got)-80:])
			}
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
}

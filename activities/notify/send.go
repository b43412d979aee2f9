package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
)

const (
	// maxResponseBytes bounds how much of a response is read; robots answer
	// with a few dozen bytes.
	maxResponseBytes = 64 << 10
	// maxQuotedBytes bounds the part of a response quoted in an error.
	maxQuotedBytes = 200
)

// post sends body to endpoint and classifies the answer. The returned
// errors never contain endpoint, which holds the robot's token.
func (a *Activities) post(ctx context.Context, channel, kind, endpoint string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		// The error would quote the URL; endpoint was checked by resolve.
		return 0, notConfigured("notify channel %s: cannot build a request for the webhook URL", channel)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := a.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL with its token: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post to notify channel %s: %w", channel, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return resp.StatusCode, fmt.Errorf("read the answer of notify channel %s: %w", channel, err)
	}
	return resp.StatusCode, classify(channel, kind, resp.StatusCode, data)
}

// classify maps a receiver's answer onto Temporal's retry semantics: 408,
// 429 and 5xx retry; other non-2xx statuses are non-retryable
// [activities.ErrTypeCloudRejected]. DingTalk and WeCom robots answer HTTP
// 200 with an errcode: non-zero codes are errors, retryable only for
// "busy" and "too fast".
func classify(channel, kind string, status int, body []byte) error {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return fmt.Errorf("notify channel %s: %s answered HTTP %d: %s", channel, kind, status, quote(body))
	case status < 200 || status > 299:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("notify channel %s: %s rejected the message: HTTP %d: %s", channel, kind, status, quote(body)),
			activities.ErrTypeCloudRejected, nil)
	}
	if kind != config.ChannelDingTalk && kind != config.ChannelWeCom {
		return nil
	}
	var r struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ErrCode == nil || *r.ErrCode == 0 {
		// A robot always answers with an errcode; anything else (an empty
		// body from a relay) is taken as accepted.
		return nil
	}
	msg := fmt.Sprintf("notify channel %s: %s rejected the message: errcode %d: %s", channel, kind, *r.ErrCode, quote([]byte(r.ErrMsg)))
	if robotRetryable(kind, *r.ErrCode) {
		return errors.New(msg)
	}
	return temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeCloudRejected, nil)
}

// robotRetryable reports whether a robot's errcode is transient: -1
// "system busy" on both, DingTalk 130101 "send too fast" (20 messages a
// minute) and WeCom 45009 "api freq out of limit".
func robotRetryable(kind string, code int) bool {
	switch {
	case code == -1:
		return true
	case kind == config.ChannelDingTalk:
		return code == 130101
	case kind == config.ChannelWeCom:
		return code == 45009
	}
	return false
}

// quote returns the start of a response body for an error message, as
// printable single-line text.
func quote(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > maxQuotedBytes {
		n := maxQuotedBytes
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(empty body)"
	}
	return s
}

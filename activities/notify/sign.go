package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// dingTalkSign is the signature of DingTalk's "加签" security setting: the
// HMAC-SHA256 of "<timestamp>\n<secret>" keyed with the secret, in Base64
// (not yet URL-encoded). timestamp is in milliseconds; DingTalk refuses
// signatures more than an hour old.
func dingTalkSign(timestamp int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signDingTalk appends timestamp and sign to a DingTalk robot webhook URL
// (https://oapi.dingtalk.com/robot/send?access_token=…).
func signDingTalk(webhook, secret string, now time.Time) string {
	ts := now.UnixMilli()
	sep := "&"
	if !strings.Contains(webhook, "?") {
		sep = "?"
	}
	return webhook + sep + "timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(dingTalkSign(ts, secret))
}

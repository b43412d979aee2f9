package notify

import (
	"fmt"
	"net/url"

	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
)

// target is where a channel's messages go, resolved at call time. It holds
// secrets: never log or format it.
type target struct {
	url    string
	secret string
}

// resolve reads the channel's URL and signing secret from the configuration
// and the environment. The errors name the variables, never their values.
func (a *Activities) resolve(name string, ch config.Channel) (target, error) {
	switch ch.Kind {
	case config.ChannelDingTalk, config.ChannelWeCom, config.ChannelSlack, config.ChannelGeneric:
	default:
		return target{}, notConfigured("notify channel %s: kind %q, want dingtalk, wecom, slack or generic", name, ch.Kind)
	}
	var t target
	switch {
	case ch.URLEnv != "":
		t.url = a.getenv(ch.URLEnv)
		if t.url == "" {
			return target{}, notConfigured("notify channel %s: environment variable %s (url_env) is not set", name, ch.URLEnv)
		}
		if !httpURL(t.url) {
			return target{}, notConfigured("notify channel %s: environment variable %s (url_env) does not hold an http(s) URL", name, ch.URLEnv)
		}
	case ch.URL != "":
		t.url = ch.URL
		if !httpURL(t.url) {
			return target{}, notConfigured("notify channel %s: url is not an http(s) URL", name)
		}
	default:
		return target{}, notConfigured("notify channel %s: neither url nor url_env is set", name)
	}
	if ch.SecretEnv != "" {
		if ch.Kind != config.ChannelDingTalk {
			return target{}, notConfigured("notify channel %s: secret_env is only used by dingtalk channels, not %s", name, ch.Kind)
		}
		t.secret = a.getenv(ch.SecretEnv)
		if t.secret == "" {
			return target{}, notConfigured("notify channel %s: environment variable %s (secret_env) is not set", name, ch.SecretEnv)
		}
	}
	return t, nil
}

// httpURL reports whether s is an absolute http(s) URL. It never returns
// the parse error, which would quote the URL and its token.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func notConfigured(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), activities.ErrTypeNotConfigured, nil)
}

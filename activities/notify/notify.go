// Package notify implements the notify.webhook action: a message posted to
// a notification channel named in soar.yaml (DingTalk group robots, signed
// when the channel has a secret; WeCom group robots; Slack incoming webhooks;
// or a generic JSON receiver).
//
// Webhook URLs and signing secrets are read from the environment when the
// activity runs (config.Channel url_env and secret_env), so they never reach
// a playbook, workflow history or a log line; error messages name the
// environment variable, never its value.
//
// Idempotency: webhooks cannot deduplicate. A send the receiver accepted but
// whose response was lost (a timeout, a dropped connection) is retried by
// Temporal and the message then arrives twice. Receiver rejections (4xx,
// robot error codes) are non-retryable so that retries stay few; only 408,
// 429, 5xx, the robots' "too fast" codes and transport errors retry.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
)

// DefaultTimeout bounds one webhook request when [Options.HTTPClient] is nil.
const DefaultTimeout = 15 * time.Second

// Options are the dependencies of [New].
type Options struct {
	// Channels are the notification channels of soar.yaml (notify:).
	Channels map[string]config.Channel
	// Getenv reads the environment variables named by url_env and
	// secret_env; nil means os.Getenv.
	Getenv func(string) string
	// HTTPClient posts the messages; nil means a client with
	// [DefaultTimeout].
	HTTPClient *http.Client
	// Now is the clock for DingTalk signatures and the generic message's
	// time; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per message (channel, kind, status; never
	// the URL); nil discards.
	Logger *slog.Logger
}

// Activities implements notify.webhook. It is safe for concurrent use.
type Activities struct {
	channels map[string]config.Channel
	getenv   func(string) string
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
}

// New returns the notify activities for opts.
func New(opts Options) *Activities {
	a := &Activities{
		channels: maps.Clone(opts.Channels),
		getenv:   opts.Getenv,
		client:   opts.HTTPClient,
		now:      opts.Now,
		log:      opts.Logger,
	}
	if a.getenv == nil {
		a.getenv = os.Getenv
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: DefaultTimeout}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a
}

// Register registers Webhook under its action name [activities.NotifyWebhook].
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.Webhook, activity.RegisterOptions{Name: activities.NotifyWebhook})
}

// Webhook posts in.Text to the channel in.Channel. The title defaults to the
// playbook name; the message names the incident and step.
//
// Errors are Temporal application errors: an unknown channel or a missing
// environment variable is non-retryable [activities.ErrTypeNotConfigured],
// an empty text [activities.ErrTypeInvalidInput], a rejection by the
// receiver [activities.ErrTypeCloudRejected]; throttling, 5xx and transport
// errors are retryable. On dry-run the rendered message is returned in Plan
// and nothing is sent.
func (a *Activities) Webhook(ctx context.Context, in activities.NotifyWebhookInput) (activities.NotifyWebhookOutput, error) {
	out := activities.NotifyWebhookOutput{Channel: in.Channel}
	ch, ok := a.channels[in.Channel]
	if !ok {
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("notification channel %q is not configured in soar.yaml (notify:)", in.Channel),
			activities.ErrTypeNotConfigured, nil)
	}
	out.Kind = ch.Kind
	if strings.TrimSpace(in.Text) == "" {
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("notify channel %s: text is empty", in.Channel), activities.ErrTypeInvalidInput, nil)
	}
	t, err := a.resolve(in.Channel, ch)
	if err != nil {
		return out, err
	}
	now := a.now()
	body, err := render(ch.Kind, message{
		Title:    title(in),
		Text:     in.Text,
		Incident: in.Meta.Incident,
		Playbook: in.Meta.Playbook,
		Step:     in.Meta.Step,
		Channel:  in.Channel,
		Time:     now.UTC(),
	})
	if err != nil {
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("notify channel %s: %v", in.Channel, err), activities.ErrTypeNotConfigured, err)
	}
	how := "a " + ch.Kind + " message"
	if t.secret != "" {
		how = "a signed " + ch.Kind + " message"
	}
	if in.Meta.DryRun {
		out.DryRun = true
		out.Plan = []string{fmt.Sprintf("post %s to channel %s", how, in.Channel), string(body)}
		return out, nil
	}

	endpoint := t.url
	if ch.Kind == config.ChannelDingTalk && t.secret != "" {
		endpoint = signDingTalk(t.url, t.secret, now)
	}
	status, err := a.post(ctx, in.Channel, ch.Kind, endpoint, body)
	out.StatusCode = status
	if err != nil {
		a.log.WarnContext(ctx, "notification not delivered", "channel", in.Channel, "kind", ch.Kind,
			"incident", in.Meta.Incident, "status", status)
		return out, err
	}
	a.log.InfoContext(ctx, "notification sent", "channel", in.Channel, "kind", ch.Kind,
		"incident", in.Meta.Incident, "step", in.Meta.Step, "status", status)
	out.Changed = true
	out.Plan = []string{fmt.Sprintf("posted %s to channel %s", how, in.Channel)}
	return out, nil
}

// title is the message title: the step's, else the playbook name.
func title(in activities.NotifyWebhookInput) string {
	switch {
	case strings.TrimSpace(in.Title) != "":
		return in.Title
	case in.Meta.Playbook != "":
		return in.Meta.Playbook
	}
	return "soar"
}

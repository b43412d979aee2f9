package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	natsserver "github.com/nats-io/nats-server/v2/server"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// minLevelHandler drops records below min before they reach the wrapped
// handler: the embedded servers are chatty at info level.
type minLevelHandler struct {
	min slog.Leveler
	h   slog.Handler
}

func (m minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min.Level() && m.h.Enabled(ctx, l)
}

func (m minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return m.h.Handle(ctx, r)
}

func (m minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithAttrs(attrs)}
}

func (m minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithGroup(name)}
}

// serverLevel is the minimum level of the embedded servers' logs: the
// configured level, raised to error while the stack stops, when the Temporal
// services warn about each other going away.
type serverLevel struct {
	base     slog.Leveler
	stopping atomic.Bool
}

func (l *serverLevel) Level() slog.Level {
	if l.stopping.Load() {
		return max(l.base.Level(), slog.LevelError)
	}
	return l.base.Level()
}

// componentLogger returns logger tagged with the component name and filtered
// to min and above.
func componentLogger(logger *slog.Logger, min slog.Leveler, component string) *slog.Logger {
	return slog.New(minLevelHandler{min: min, h: logger.Handler()}).With("component", component)
}

// temporalLogger adapts *slog.Logger to the Temporal server's log.Logger.
// Panic, DPanic and Fatal log at error level and return: the server must not
// exit or panic the whole soar process through its logger. Fatal and Panic
// messages are also kept in fatal, to explain a failure that follows.
type temporalLogger struct {
	l     *slog.Logger
	fatal *fatalRecorder
}

var (
	_ tlog.Logger      = temporalLogger{}
	_ tlog.WithLogger  = temporalLogger{}
	_ tlog.SLogWrapper = temporalLogger{}
)

func (t temporalLogger) Debug(msg string, tags ...tag.Tag)  { t.log(slog.LevelDebug, msg, tags) }
func (t temporalLogger) Info(msg string, tags ...tag.Tag)   { t.log(slog.LevelInfo, msg, tags) }
func (t temporalLogger) Warn(msg string, tags ...tag.Tag)   { t.log(slog.LevelWarn, msg, tags) }
func (t temporalLogger) Error(msg string, tags ...tag.Tag)  { t.log(slog.LevelError, msg, tags) }
func (t temporalLogger) DPanic(msg string, tags ...tag.Tag) { t.log(slog.LevelError, msg, tags) }

func (t temporalLogger) Panic(msg string, tags ...tag.Tag) {
	t.fatal.record(msg, tags)
	t.log(slog.LevelError, msg, tags)
}

func (t temporalLogger) Fatal(msg string, tags ...tag.Tag) {
	t.fatal.record(msg, tags)
	t.log(slog.LevelError, msg, tags)
}

// With returns a logger with tags prepended to every record.
func (t temporalLogger) With(tags ...tag.Tag) tlog.Logger {
	return temporalLogger{l: slog.New(t.l.Handler().WithAttrs(tagAttrs(tags))), fatal: t.fatal}
}

// SLog exposes the underlying logger: the server's own slog bridge
// (log.NewSlogLogger) unwraps it instead of double-wrapping.
func (t temporalLogger) SLog() *slog.Logger { return t.l }

func (t temporalLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !t.l.Enabled(ctx, level) {
		return
	}
	t.l.LogAttrs(ctx, level, msg, tagAttrs(tags)...)
}

func tagAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(tags))
	for _, tg := range tags {
		attrs = append(attrs, slog.Any(tg.Key(), tg.Value()))
	}
	return attrs
}

// fatalRecorder keeps the first Fatal or Panic message the Temporal server
// logged, with its tags.
type fatalRecorder struct {
	mu  sync.Mutex
	msg string
}

func (f *fatalRecorder) record(msg string, tags []tag.Tag) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msg != "" {
		return
	}
	var b strings.Builder
	b.WriteString(msg)
	for _, tg := range tags {
		fmt.Fprintf(&b, " %s=%v", tg.Key(), tg.Value())
	}
	f.msg = b.String()
}

func (f *fatalRecorder) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

// natsLogger adapts *slog.Logger to nats-server's Logger. Fatalf logs at
// error level and returns; the server records listener failures itself and
// ReadyForConnections reports them.
type natsLogger struct {
	l *slog.Logger
}

var _ natsserver.Logger = natsLogger{}

func (n natsLogger) Noticef(format string, v ...any) { n.log(slog.LevelInfo, format, v) }
func (n natsLogger) Warnf(format string, v ...any)   { n.log(slog.LevelWarn, format, v) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n natsLogger) Errorf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n natsLogger) Debugf(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }
func (n natsLogger) Tracef(format string, v ...any)  { n.log(slog.LevelDebug-4, format, v) }

func (n natsLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !n.l.Enabled(ctx, level) {
		return
	}
	n.l.Log(ctx, level, fmt.Sprintf(format, v...)) //nolint:sloglint // bridged server message
}

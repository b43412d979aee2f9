package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/playbook"
)

// maxPublishFile bounds what soar publish and soar normalize read.
const maxPublishFile = 64 << 20

func runPublish(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "publish", "[FILE|-]",
		"Publish an alert to NATS JetStream with its alert ID as Nats-Msg-Id (so a repeat within the\n"+
			"stream's duplicate window is dropped), and print what the server stored. The alert is FILE,\n"+
			"- (stdin), or a built-in sample (--sample). FILE may be a vendor payload or an envelope (give\n"+
			"--subject), or a sample file {\"subject\", \"payload\"} that carries its subject.\n"+
			"The copies of a storm (--count, --distinct-ips) get the IDs <id>-<run>-1 … <id>-<run>-N, where\n"+
			"<run> is new on every run: repeating a storm publishes new alerts, while repeating a single\n"+
			"alert publishes the same ID again (dropped as a duplicate, as a redelivery would be).")
	natsURL := fs.String("nats-url", "", "NATS server URL (default: $SOAR_NATS_URL, else nats://127.0.0.1:4222)")
	subject := fs.String("subject", "", "subject to publish on, e.g. alerts.waf.sqli (required for a plain payload)")
	sampleName := fs.String("sample", "", "publish the built-in sample NAME (soar normalize without FILE lists them)")
	count := fs.Int("count", 1, "publish N copies, each with a distinct alert ID <id>-<run>-<n> (a storm; <run> changes every run)")
	distinctIPs := fs.Int("distinct-ips", 0, "spread the copies over K attacker IPs (203.0.113.x, then 198.18.0.0/15)")
	rate := fs.Float64("rate", 0, "copies per second (0: as fast as the server acknowledges)")
	creds := fs.String("creds", "", "NATS credentials file")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the server's acknowledgements")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *count < 1 || *distinctIPs < 0 || *rate < 0 {
		return errors.New("--count must be at least 1, --distinct-ips and --rate not negative")
	}
	if *distinctIPs > 254+1<<17 {
		return fmt.Errorf("--distinct-ips %d: at most %d", *distinctIPs, 254+1<<17)
	}
	subj, payload, err := publishInput(e, *sampleName, *subject, rest)
	if err != nil {
		return err
	}
	if err := checkPublishSubject(subj); err != nil {
		return err
	}
	url := *natsURL
	if url == "" {
		url = e.getenv("SOAR_NATS_URL")
	}
	if url == "" {
		url = nats.DefaultURL
	}
	var opts []nats.Option
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	nc, err := nats.Connect(url, append(opts, nats.Name("soar-publish"))...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w (is soar dev running?)", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	msgs, warning := buildCopies(subj, payload, *count, *distinctIPs, runNonce())
	if warning != "" {
		fmt.Fprintln(e.stderr, "warning: "+warning)
	}
	res, err := publishAll(ctx, js, subj, msgs, *rate, *timeout)
	if err != nil {
		return err
	}
	if len(msgs) == 1 && res.failed == 0 {
		state := "stored"
		if res.duplicates > 0 {
			state = "dropped as a duplicate of"
		}
		fmt.Fprintf(e.stdout, "alert %s %s stream %s seq %d\n", msgs[0].id, state, res.stream, res.lastSeq)
	}
	fmt.Fprintf(e.stdout, "published %d alert(s) to %s in %s (%.1f/s): %d stored, %d duplicate(s), %d failed\n",
		len(msgs), subj, res.elapsed.Round(time.Millisecond), float64(len(msgs))/max(res.elapsed.Seconds(), 1e-9),
		len(msgs)-res.duplicates-res.failed, res.duplicates, res.failed)
	if res.failed > 0 {
		fmt.Fprintf(e.stderr, "soar publish: %d publish(es) failed; first error: %v\n", res.failed, res.firstErr)
		return exitError{code: 1}
	}
	return nil
}

// publishInput returns the subject and payload to publish: a sample, a
// sample file, or a plain payload with --subject (which always wins).
func publishInput(e *env, sampleName, subject string, rest []string) (string, []byte, error) {
	if len(rest) > 1 {
		return "", nil, fmt.Errorf("one FILE at most, got %q", rest)
	}
	if sampleName != "" {
		if len(rest) > 0 {
			return "", nil, errors.New("give --sample or FILE, not both")
		}
		s, ok := alert.SampleByName(sampleName)
		if !ok {
			return "", nil, unknownSample(sampleName)
		}
		if subject == "" {
			subject = s.Subject
		}
		return subject, s.Payload, nil
	}
	if len(rest) == 0 {
		return "", nil, fmt.Errorf("give FILE, - for stdin, or --sample NAME (samples: %s)", strings.Join(alert.SampleNames(), ", "))
	}
	data, err := readInput(e, rest[0])
	if err != nil {
		return "", nil, err
	}
	s, isSample, err := alert.ParseSample(data)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", rest[0], err)
	}
	if isSample {
		if subject == "" {
			subject = s.Subject
		}
		data = s.Payload
	}
	if subject == "" {
		return "", nil, errors.New("--subject is required for a plain payload (e.g. --subject alerts.waf.sqli)")
	}
	return subject, data, nil
}

func unknownSample(name string) error {
	return fmt.Errorf("unknown sample %q%s; the samples are: %s",
		name, playbook.DidYouMean(name, alert.SampleNames()), strings.Join(alert.SampleNames(), ", "))
}

// readInput reads FILE, or stdin for "-".
func readInput(e *env, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPublishFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxPublishFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxPublishFile)
	}
	return data, nil
}

func checkPublishSubject(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n*>") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return fmt.Errorf("--subject %q is not a subject to publish on (dot-separated tokens, no wildcards)", s)
	}
	return nil
}

// outMsg is one copy to publish.
type outMsg struct {
	id   string // Nats-Msg-Id
	data []byte
}

// runNonce returns a short random tag that names one run of soar publish.
func runNonce() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b[:])
}

// buildCopies makes count copies of payload: the payload itself when
// count is 1 and no IPs are spread, else variants whose alert IDs get the
// suffix "-<nonce>-<i>" (and the i-th of distinctIPs attacker IPs). The
// nonce names the run, so that the copies of a storm repeated within the
// stream's duplicate window are new alerts, not duplicates of the last
// run's. The Nats-Msg-Id of a copy is its alert ID; a payload that does not
// decode (it will be dead-lettered) gets a hash of its bytes, and the
// warning says why.
func buildCopies(subject string, payload []byte, count, distinctIPs int, nonce string) ([]outMsg, string) {
	var warning string
	alerts, err := alert.DecodeAll(subject, payload, alert.DecodeOptions{})
	if err != nil {
		var de *alert.DecodeError
		if errors.As(err, &de) {
			warning = fmt.Sprintf("this payload will be dead-lettered on soar.dlq.%s: %s", de.Reason, de.Detail)
		}
		out := make([]outMsg, count)
		for i := range out {
			id := "msg-" + shortHash(payload)
			if count > 1 {
				id += "-" + nonce + "-" + strconv.Itoa(i+1)
			}
			out[i] = outMsg{id: id, data: payload}
		}
		return out, warning
	}
	if count == 1 && distinctIPs == 0 {
		return []outMsg{{id: messageID(alerts, payload), data: payload}}, ""
	}
	out := make([]outMsg, count)
	for i := range out {
		ip := ""
		if distinctIPs > 0 {
			ip = stormIP(i % distinctIPs)
		}
		data, err := alert.VariantTag(subject, payload, nonce+"-"+strconv.Itoa(i+1), ip)
		if err != nil {
			return nil, fmt.Sprintf("vary copy %d: %v", i+1, err)
		}
		as, err := alert.DecodeAll(subject, data, alert.DecodeOptions{})
		if err != nil {
			return nil, fmt.Sprintf("copy %d does not decode: %v", i+1, err)
		}
		out[i] = outMsg{id: messageID(as, data), data: data}
	}
	return out, warning
}

// messageID is the alert's ID, or a hash of the payload for a message that
// holds several alerts (a Security Center page).
func messageID(alerts []alert.Alert, payload []byte) string {
	if len(alerts) == 1 {
		return alerts[0].ID
	}
	return "msg-" + shortHash(payload)
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// stormIP is the i-th attacker address of a storm: 203.0.113.1-254 (TEST-NET-3),
// then 198.18.0.0/15 (the benchmarking range). Neither is a protected network.
func stormIP(i int) string {
	if i < 254 {
		return "203.0.113." + strconv.Itoa(i+1)
	}
	i -= 254
	return fmt.Sprintf("198.%d.%d.%d", 18+i>>16, (i>>8)&0xff, i&0xff)
}

type publishResult struct {
	stream             string
	lastSeq            uint64
	duplicates, failed int
	firstErr           error
	elapsed            time.Duration
}

// publishAll publishes msgs asynchronously, at most rate per second when
// rate > 0, waiting for acknowledgements in windows of 256.
func publishAll(ctx context.Context, js jetstream.JetStream, subject string, msgs []outMsg, rate float64, timeout time.Duration) (publishResult, error) {
	var res publishResult
	start := time.Now()
	const window = 256
	pending := make([]jetstream.PubAckFuture, 0, window)
	collect := func() error {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, f := range pending {
			select {
			case ack := <-f.Ok():
				res.stream, res.lastSeq = ack.Stream, ack.Sequence
				if ack.Duplicate {
					res.duplicates++
				}
			case err := <-f.Err():
				res.failed++
				if res.firstErr == nil {
					res.firstErr = err
				}
			case <-wctx.Done():
				return fmt.Errorf("waiting for acknowledgements: %w", wctx.Err())
			}
		}
		pending = pending[:0]
		return nil
	}
	for i, m := range msgs {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return res, ctx.Err()
				}
			}
		}
		f, err := js.PublishAsync(subject, m.data, jetstream.WithMsgID(m.id))
		if err != nil {
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
				return res, fmt.Errorf("no JetStream stream captures %s: start soar dev or soar ingest (they create the stream) or check the subject", subject)
			}
			res.failed++
			if res.firstErr == nil {
				res.firstErr = err
			}
			continue
		}
		pending = append(pending, f)
		if len(pending) == window {
			if err := collect(); err != nil {
				return res, err
			}
		}
	}
	if err := collect(); err != nil {
		return res, err
	}
	res.elapsed = time.Since(start)
	if res.failed == len(msgs) && res.firstErr != nil && (errors.Is(res.firstErr, jetstream.ErrNoStreamResponse) || errors.Is(res.firstErr, nats.ErrNoResponders)) {
		return res, fmt.Errorf("no JetStream stream captures %s: start soar dev or soar ingest (they create the stream) or check the subject", subject)
	}
	return res, nil
}

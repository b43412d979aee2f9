package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
)

func runNormalize(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "normalize", "[FILE|-]",
		"Decode an alert as soar ingest does and print the normalized envelope CEL sees (a JSON\n"+
			"array when the payload holds several alerts, e.g. a Security Center page). If it would be\n"+
			"dead-lettered, print the dead-letter subject, reason and detail instead, and exit 1.\n"+
			"FILE may be a sample file {\"subject\", \"payload\"} that carries its subject. The\n"+
			"dead-letter prefix and the size limit come from soar.yaml (--config) as in soar ingest.")
	configPath := fs.String("config", "", "soar.yaml whose nats.dlq_prefix and nats.max_alert_bytes apply (default: the built-in config)")
	subject := fs.String("subject", "", "the subject the alert arrives on, e.g. alerts.waf.sqli (it picks the decoder)")
	sampleName := fs.String("sample", "", "normalize the built-in sample NAME")
	maxBytes := fs.Int("max-bytes", 0, "largest alert accepted (default: nats.max_alert_bytes of the config)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *maxBytes < 0 {
		return usageError(fs, "--max-bytes must not be negative")
	}
	// The same config, with the same environment overrides, as soar ingest.
	cfg, err := config.Load(*configPath, e.getenv)
	if err != nil {
		return err
	}
	limit := cfg.NATS.MaxAlertBytes
	if *maxBytes > 0 {
		limit = *maxBytes
	}
	subj, payload, err := publishInput(e, *sampleName, *subject, rest)
	if err != nil {
		return err
	}
	alerts, err := alert.DecodeAll(subj, payload, alert.DecodeOptions{MaxBytes: limit})
	if err != nil {
		var de *alert.DecodeError
		if !errors.As(err, &de) {
			return err
		}
		fmt.Fprintf(e.stdout, "dead letter: %s.%s\nreason: %s\ndetail: %s\n", cfg.NATS.DLQPrefix, de.Reason, de.Reason, de.Detail)
		return exitError{code: 1}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	var v any = alerts
	if len(alerts) == 1 {
		v = alerts[0]
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write the alert: %w", err)
	}
	return nil
}

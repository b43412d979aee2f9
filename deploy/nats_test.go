package deploy

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/config"
)

// TestComposeNATS parses each NATS service's command line with
// nats-server's own flag parser (with its bind-mounted files read from
// here), so that a flag nats-server does not have fails the test, and
// checks that the servers accept messages larger than the largest alert:
// an oversized alert must reach soar ingest and be dead-lettered on
// soar.dlq.too_large, not be refused at publish.
func TestComposeNATS(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	cfg, err := config.Load("soar.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatalf("deploy/soar.yaml: %v", err)
	}
	maxAlert := cfg.NATS.MaxAlertBytes
	for _, name := range []string{"nats-1", "nats-2", "nats-3"} {
		s, ok := compose.Services[name]
		if !ok {
			t.Errorf("docker-compose.yml: service %s missing", name)
			continue
		}
		// Container paths of bind mounts (./file:/path) → the files here.
		args := append([]string(nil), s.Command...)
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 || !strings.HasPrefix(parts[0], "./") {
				continue // a named volume
			}
			for i, a := range args {
				if a == parts[1] {
					args[i] = parts[0]
				}
			}
		}
		fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		noop := func() {}
		opts, err := server.ConfigureOptions(fs, args, noop, noop, noop)
		if err != nil {
			t.Errorf("%s: nats-server %s: %v", name, strings.Join(s.Command, " "), err)
			continue
		}
		if opts == nil {
			t.Errorf("%s: the command line only asks for help or the version", name)
			continue
		}
		if opts.ServerName != name || !opts.JetStream {
			t.Errorf("%s: server name %q, JetStream %v; want %s with JetStream", name, opts.ServerName, opts.JetStream, name)
		}
		if opts.MaxPayload < 8<<20 || int(opts.MaxPayload) <= maxAlert {
			t.Errorf("%s: max_payload %d, want at least 8 MiB (above deploy/soar.yaml's nats.max_alert_bytes %d)", name, opts.MaxPayload, maxAlert)
		}
	}
}

package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

const (
	natsServerName = "soar-dev"
	// natsSyncInterval bounds what an OS crash or power loss can take from
	// JetStream's file store: publishes acknowledged in the last second. A
	// crash of the soar process alone loses nothing (the data is in the page
	// cache). It matches SQLite's synchronous=normal on the Temporal side.
	// SyncAlways (an fsync per message) cost far more; see BenchmarkJetStreamPublish.
	natsSyncInterval = time.Second
	// natsMaxPayload is the largest message the server accepts. It is above
	// nats.max_alert_bytes (1 MiB by default) so that an oversized alert
	// reaches the consumer and is dead-lettered on soar.dlq.too_large
	// instead of being refused at publish (the server default is 1 MiB).
	natsMaxPayload = 8 << 20
)

// natsConfig is what startNATS needs, resolved by Start.
type natsConfig struct {
	listen   *endpoint // nil = no TCP listener; port 0 = any free port
	storeDir string
	logger   *slog.Logger // already filtered to the server log level
}

// startNATS starts an embedded NATS server with JetStream and waits until it
// accepts connections.
func startNATS(nc natsConfig) (*natsserver.Server, error) {
	o := &natsserver.Options{
		ServerName:   natsServerName,
		JetStream:    true,
		StoreDir:     nc.storeDir,
		SyncInterval: natsSyncInterval,
		NoSigs:       true,
		NoLog:        true,
		DontListen:   nc.listen == nil,
		MaxPayload:   natsMaxPayload,
	}
	if nc.listen != nil {
		o.Host = nc.listen.host
		o.Port = nc.listen.port
		if o.Port == 0 {
			o.Port = natsserver.RANDOM_PORT // 0 would mean 4222
		}
	}
	s, err := natsserver.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	debug := nc.logger.Enabled(context.Background(), slog.LevelDebug)
	s.SetLoggerV2(natsLogger{l: nc.logger}, debug, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("nats server not ready within 10s (store %s); see the nats log lines above", nc.storeDir)
	}
	return s, nil
}

// natsInProcessURL is NATSURL without a TCP listener. nats.go needs a URL
// even with nats.InProcessServer but never dials it then; the reserved
// .invalid domain makes a dial without that option fail instead of reaching
// some other server on the default port (the server's own ClientURL would be
// nats://0.0.0.0:4222).
const natsInProcessURL = "nats://in-process.invalid:4222"

// natsClientURL is the URL clients dial: the listener's real address, or
// natsInProcessURL for an in-process-only server.
func natsClientURL(s *natsserver.Server, listening bool) string {
	if !listening {
		return natsInProcessURL
	}
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return s.ClientURL()
	}
	ep := endpoint{host: addr.IP.String(), port: addr.Port}.advertised()
	return "nats://" + ep.String()
}

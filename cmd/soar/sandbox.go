package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/opensoar/soar/internal/sandbox"
)

func runSandbox(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "sandbox", "",
		"Run the sandbox cloud: an emulator of the Alibaba Cloud API that the real SDK talks to\n"+
			"over plain HTTP, with signatures checked. Point soar (or any SDK client) at it with\n"+
			"SOAR_ALICLOUD_ENDPOINT=<addr> SOAR_ALICLOUD_SCHEME=http, and use the credentials it prints.\n"+
			"GET /_sandbox/state and /_sandbox/calls show what the actions did; POST\n"+
			"/_sandbox/webhooks/<channel> records notifications; POST /_sandbox/reset starts over.\n"+
			"With --tls-addr it also serves HTTPS, for clients that insist on it (the SDK's built-in\n"+
			"STS provider, WithScheme(\"HTTPS\")): trust the test CA written to --tls-ca, e.g.\n"+
			"SSL_CERT_FILE=sandbox-ca.pem.")
	addr := fs.String("addr", "127.0.0.1:18080", "address to listen on, host:port")
	worldPath := fs.String("world", "", "world file (YAML or JSON) to start from (default: the built-in world)")
	verbose := fs.Bool("verbose", false, "log every API call, reads included")
	tlsAddr := fs.String("tls-addr", "", "also serve HTTPS on this host:port, with a certificate of a test CA made at start (empty: no TLS)")
	tlsCA := fs.String("tls-ca", "sandbox-ca.pem", "with --tls-addr: file the test CA certificate (PEM) is written to, for SSL_CERT_FILE or a client's RootCAs")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}

	world := sandbox.DefaultWorld()
	if *worldPath != "" {
		var err error
		if world, err = sandbox.LoadWorld(*worldPath); err != nil {
			return err
		}
	}
	ln, err := listenSandboxAddr(*addr, "--addr")
	if err != nil {
		return err
	}
	defer ln.Close()
	var tlsLn net.Listener
	if *tlsAddr != "" {
		if tlsLn, err = listenSandboxTLS(*tlsAddr, *tlsCA); err != nil {
			return err
		}
		defer tlsLn.Close()
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	hs := &http.Server{
		Handler:           sandbox.New(world, sandbox.Options{Logger: logger}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	host := ln.Addr().String()
	fmt.Fprintf(e.stdout, "sandbox cloud listening on http://%s\n", host)
	if tlsLn != nil {
		fmt.Fprintf(e.stdout, "HTTPS on https://%s with a certificate of the test CA in %s (SSL_CERT_FILE=%s)\n", tlsLn.Addr(), *tlsCA, *tlsCA)
	}
	if id, secret, ok := world.EngineCredentials(); ok {
		fmt.Fprintf(e.stdout, "credentials: AccessKeyId %s, AccessKeySecret %s\n", id, secret)
	} else {
		fmt.Fprintln(e.stdout, "credentials: the world has no active access key; every API call will be refused")
	}
	fmt.Fprintf(e.stdout, "point the SDK at it: client.Domain = %q over http (soar: SOAR_ALICLOUD_ENDPOINT=%s SOAR_ALICLOUD_SCHEME=http)\n", host, host)
	fmt.Fprintf(e.stdout, "state: http://%[1]s/_sandbox/state  calls: http://%[1]s/_sandbox/calls  webhooks: http://%[1]s/_sandbox/webhooks\n", host)

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if tlsLn != nil {
		go func() { errc <- hs.Serve(tlsLn) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve sandbox: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down sandbox: %w", err)
	}
	fmt.Fprintln(e.stdout, "sandbox cloud stopped")
	return nil
}

// listenSandboxAddr listens on addr, naming flag when the address is busy.
func listenSandboxAddr(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: the address is already in use (another soar sandbox or soar dev?); choose another with %s", addr, flag)
		}
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// listenSandboxTLS listens on addr with TLS: a test CA is made for this
// run, its certificate written to caPath, and the listener presents a
// server certificate it signed for addr's host and localhost.
func listenSandboxTLS(addr, caPath string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--tls-addr %q: %w", addr, err)
	}
	ca, err := sandbox.NewTestCA([]string{host}, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(caPath, ca.CAPEM, 0o644); err != nil {
		return nil, fmt.Errorf("--tls-ca: write the test CA: %w", err)
	}
	ln, err := listenSandboxAddr(addr, "--tls-addr")
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, ca.TLSConfig()), nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/opensoar/soar/internal/sandbox"
)

func runSandbox(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "sandbox", "",
		"Run the sandbox cloud: an emulator of the Alibaba Cloud API that the real SDK talks to\n"+
			"over plain HTTP, with signatures checked. Point soar (or any SDK client) at it with\n"+
			"SOAR_ALICLOUD_ENDPOINT=<addr> and scheme http, and use the credentials it prints.\n"+
			"GET /_sandbox/state and /_sandbox/calls show what the actions did; POST\n"+
			"/_sandbox/webhooks/<channel> records notifications; POST /_sandbox/reset starts over.")
	addr := fs.String("addr", "127.0.0.1:18080", "address to listen on, host:port")
	worldPath := fs.String("world", "", "world file (YAML or JSON) to start from (default: the built-in world)")
	verbose := fs.Bool("verbose", false, "log every API call, reads included")
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is already in use (another soar sandbox or soar dev?); choose another with --addr", *addr)
		}
		return fmt.Errorf("listen on %s: %w", *addr, err)
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
	if id, secret, ok := world.EngineCredentials(); ok {
		fmt.Fprintf(e.stdout, "credentials: AccessKeyId %s, AccessKeySecret %s\n", id, secret)
	} else {
		fmt.Fprintln(e.stdout, "credentials: the world has no active access key; every API call will be refused")
	}
	fmt.Fprintf(e.stdout, "point the SDK at it: client.Domain = %q over http (soar: SOAR_ALICLOUD_ENDPOINT=%s)\n", host, host)
	fmt.Fprintf(e.stdout, "state: http://%[1]s/_sandbox/state  calls: http://%[1]s/_sandbox/calls  webhooks: http://%[1]s/_sandbox/webhooks\n", host)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
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

package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// uiServer is a running Temporal UI server.
type uiServer struct {
	srv  *uiserver.Server
	done chan struct{} // closed when srv.Start returns
	url  string
}

// startUI starts the Temporal UI server on listen, talking gRPC to frontend,
// and waits until /api/v1/settings answers.
//
// Write actions stay enabled: analysts send the "approve" Update from the UI.
// Who may approve is enforced in the workflow's validator with the principal
// the frontend stamps, not by UI flags (only DisableWriteActions is enforced
// server-side, and it would block Updates altogether).
func startUI(ctx context.Context, listen, frontend endpoint, namespace string, logger *slog.Logger) (*uiServer, error) {
	srv := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                listen.host,
		Port:                listen.port,
		TemporalGRPCAddress: frontend.String(),
		EnableUI:            true,
		DefaultNamespace:    namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true}, // plain HTTP on loopback
		HideLogs:            true,
		DisableNewsFetch:    true,
	}))
	u := &uiServer{srv: srv, done: make(chan struct{}), url: "http://" + listen.advertised().String()}
	go func() {
		defer close(u.done)
		// Start blocks until Stop. It exits the process if it cannot bind,
		// which is why Start checked the address first.
		if err := srv.Start(); err != nil {
			logger.Error("ui server stopped", "error", err)
		}
	}()
	if err := waitHTTP(ctx, u.url+"/api/v1/settings", u.done); err != nil {
		u.stop()
		return nil, fmt.Errorf("temporal ui on %s: %w", listen, err)
	}
	return u, nil
}

// stop closes the UI server and waits for its Start to return.
func (u *uiServer) stop() {
	u.srv.Stop()
	<-u.done
}

// waitHTTP polls url until it answers 200 OK, ctx ends or done closes.
func waitHTTP(ctx context.Context, url string, done <-chan struct{}) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last error: %v)", ctx.Err(), lastErr)
		case <-done:
			return fmt.Errorf("server stopped before it was ready (last error: %v)", lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

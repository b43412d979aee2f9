package devstack

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"
)

// AddrError reports a listen address that [Start] cannot use. Err is the
// listener's error: errors.Is(err, syscall.EADDRINUSE) tells a busy port.
type AddrError struct {
	Part string // "nats", "temporal" or "ui"
	Addr string // host:port as given
	Flag string // the soar dev flag that sets it, e.g. "--temporal-addr"
	Err  error
}

func (e *AddrError) Error() string {
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		other := "temporal server"
		if e.Part == "nats" {
			other = "nats-server"
		}
		return fmt.Sprintf("%s address %s is in use (another soar dev or %s running?); use %s",
			e.Part, e.Addr, other, e.Flag)
	}
	return fmt.Sprintf("%s address %s: %v; use %s", e.Part, e.Addr, e.Err, e.Flag)
}

func (e *AddrError) Unwrap() error { return e.Err }

// endpoint is a resolved listen address of one part of the stack.
type endpoint struct {
	host string // IP literal
	port int
}

func (e endpoint) String() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

// advertised is the address other parts dial: an unspecified bind address
// (0.0.0.0, ::) is reached through loopback.
func (e endpoint) advertised() endpoint {
	if ip := net.ParseIP(e.host); ip != nil && ip.IsUnspecified() {
		return endpoint{host: "127.0.0.1", port: e.port}
	}
	return e
}

// parseAddr parses host:port. An empty host or "localhost" means 127.0.0.1:
// the Temporal server needs IP literals.
func parseAddr(addr string) (endpoint, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return endpoint{}, err
	}
	switch host {
	case "", "localhost":
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil {
		return endpoint{}, fmt.Errorf("host %q is not an IP address", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return endpoint{}, fmt.Errorf("bad port %q", portStr)
	}
	return endpoint{host: host, port: port}, nil
}

// resolveAddr parses addr and makes sure it can be listened on now: a fixed
// port must be free, port 0 is replaced by a free port.
//
// The check cannot reserve the port: the servers bind it a few milliseconds
// later. It exists because neither the Temporal server nor the UI server
// report a bind failure as an error (one panics, the other exits).
func resolveAddr(part, flag, addr string) (endpoint, error) {
	fail := func(err error) (endpoint, error) {
		return endpoint{}, &AddrError{Part: part, Addr: addr, Flag: flag, Err: err}
	}
	ep, err := parseAddr(addr)
	if err != nil {
		return fail(err)
	}
	if ep.port == 0 {
		if ep.port, err = freePort(ep.host); err != nil {
			return fail(err)
		}
		return ep, nil
	}
	l, err := net.Listen("tcp", ep.String())
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			err = opErr.Err // drop "listen tcp 127.0.0.1:7233:", the message names the address
		}
		return fail(err)
	}
	if err := l.Close(); err != nil {
		return fail(err)
	}
	return ep, nil
}

// freePort returns a port on host that is free to listen on.
//
// On Linux, ports handed out for port 0 are random and may repeat soon after
// the listener closes. Connecting to the port and closing the accepted end
// first leaves the port in TIME_WAIT, during which the kernel does not hand it
// out again for port 0 while an explicit bind (SO_REUSEADDR, Go's default)
// still succeeds. The Temporal server's freeport package does the same.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("find a free port: unexpected address %v", l.Addr())
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return addr.Port, nil // sequential allocation: no reuse soon
	}
	dialAddr := *addr
	if dialAddr.IP.IsUnspecified() {
		dialAddr.IP = net.IPv4(127, 0, 0, 1)
	}
	c, err := net.DialTCP("tcp", nil, &dialAddr)
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	// The server side must close first for the port to enter TIME_WAIT.
	if err := s.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return addr.Port, nil
}

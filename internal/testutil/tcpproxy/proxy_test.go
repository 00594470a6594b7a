package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echo is a line echo server.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line and reads it back within 300ms.
func roundTrip(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		err = errors.New("echoed " + line)
	}
	return err
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestProxy(t *testing.T) {
	p := Start(t, echo(t))
	open := dial(t, p)
	if err := roundTrip(open); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Cut()
	if err := roundTrip(open); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an open connection after Cut: %v, want it closed", err)
	}
	if err := roundTrip(dial(t, p)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection after Cut: %v, want it refused", err)
	}

	p.Restore()
	if err := roundTrip(dial(t, p)); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	p.Stall()
	stalled := dial(t, p)
	if err := roundTrip(stalled); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection after Stall: %v, want no answer until the deadline", err)
	}
	p.Restore()
	if err := roundTrip(stalled); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection accepted while stalled, after Restore: %v, want it closed", err)
	}
	if err := roundTrip(dial(t, p)); err != nil {
		t.Fatalf("after Restore from Stall: %v", err)
	}
}

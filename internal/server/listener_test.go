package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// healthConn is a raw client connection asking for /healthz over
// HTTP/1.1, which keeps the connection open unless told otherwise.
type healthConn struct {
	c net.Conn
	r *bufio.Reader
}

const healthRequest = "GET /healthz HTTP/1.1\r\nHost: agentgate\r\n\r\n"

// dialHealth connects and sends the first part bytes of the request
// (all of it when part is 0).
func dialHealth(t *testing.T, addr string, part int) *healthConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	h := &healthConn{c: c, r: bufio.NewReader(c)}
	if part == 0 {
		part = len(healthRequest)
	}
	h.send(t, healthRequest[:part])
	return h
}

func (h *healthConn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := h.c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// answer reads the answer to the request, waiting at most d.
func (h *healthConn) answer(d time.Duration) (*http.Response, error) {
	_ = h.c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

func mustAnswer(t *testing.T, h *healthConn) *http.Response {
	t.Helper()
	resp, err := h.answer(5 * time.Second)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %+v, %v", resp, err)
	}
	return resp
}

// serving runs serve on a loopback listener until the test ends, and
// returns the listener's address.
func serving(t *testing.T, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// boundServer is a server bounded to maxConns connections, with metrics
// and the default idle timeout.
func boundServer(maxConns int) (*Server, *telemetry.Metrics) {
	return boundServerIdle(maxConns, config.Default().Server.IdleTimeout)
}

func boundServerIdle(maxConns int, idle time.Duration) (*Server, *telemetry.Metrics) {
	gin.SetMode(gin.ReleaseMode)
	reg, _ := providers.NewRegistry()
	gatherer := prometheus.NewRegistry()
	m := telemetry.New(gatherer)
	cfg := config.Server{MaxConnections: maxConns, IdleTimeout: idle, ShutdownTimeout: time.Second}
	return New(Options{Config: cfg, Providers: reg, Metrics: m, Gatherer: gatherer}), m
}

func serveWithBound(t *testing.T, maxConns int) (string, *telemetry.Metrics) {
	t.Helper()
	s, m := boundServer(maxConns)
	return serving(t, s.Serve), m
}

// waitGauge waits until g reads want.
func waitGauge(t *testing.T, g prometheus.Gauge, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(g) != want {
		if time.Now().After(deadline) {
			t.Fatalf("gauge = %v, want %v", testutil.ToFloat64(g), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeBoundsConnections: with server.max_connections at 2 and two
// connections busy sending a request, a third client's request is not
// answered until one of them finishes and closes; the open connections
// are counted.
func TestServeBoundsConnections(t *testing.T) {
	addr, m := serveWithBound(t, 2)
	// Two requests whose headers have not all arrived: neither is idle.
	first, second := dialHealth(t, addr, 20), dialHealth(t, addr, 20)
	waitGauge(t, m.HTTPConnectionsOpen, 2)
	if got := testutil.ToFloat64(m.HTTPConnectionsMax); got != 2 {
		t.Fatalf("connections max = %v", got)
	}

	third := dialHealth(t, addr, 0) // connects: the kernel's backlog holds it
	if resp, err := third.answer(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection was served beyond the bound: %+v, %v", resp, err)
	}
	if got := testutil.ToFloat64(m.HTTPConnectionsOpen); got != 2 {
		t.Fatalf("connections open = %v beyond the bound", got)
	}
	// The first request completes; at the bound its connection is not
	// kept alive, so its slot goes to the third.
	first.send(t, healthRequest[20:])
	if resp := mustAnswer(t, first); !resp.Close {
		t.Fatal("a connection was kept alive at the bound")
	}
	mustAnswer(t, third)
	second.send(t, healthRequest[20:])
	mustAnswer(t, second)
	_ = second.c.Close()
	_ = third.c.Close()
	waitGauge(t, m.HTTPConnectionsOpen, 0)
}

// TestServeClosesConnectionsAtTheBound: the answer on the connection that
// reaches the bound closes it, so connections turn over; an idle
// keep-alive connection is not closed under its client, and connections
// are kept alive again once the open ones fall to three quarters of the
// bound.
func TestServeClosesConnectionsAtTheBound(t *testing.T) {
	addr, m := serveWithBound(t, 2)
	idle := dialHealth(t, addr, 0)
	if resp := mustAnswer(t, idle); resp.Close {
		t.Fatal("below the bound a connection was not kept alive")
	}
	waitGauge(t, m.HTTPConnectionsOpen, 1)
	second := dialHealth(t, addr, 0)
	if resp := mustAnswer(t, second); !resp.Close {
		t.Fatal("the answer at the bound kept its connection alive")
	}
	waitGauge(t, m.HTTPConnectionsOpen, 1)
	// The idle connection still serves, and is kept alive again.
	idle.send(t, healthRequest)
	if resp := mustAnswer(t, idle); resp.Close {
		t.Fatal("keep-alives stayed off below the bound")
	}
}

// TestServeIdleTimeoutFreesSlots: keep-alive connections that carry no
// request hold their slots only for server.idle_timeout; then a client
// waiting at the bound is served.
func TestServeIdleTimeoutFreesSlots(t *testing.T) {
	tests := []struct {
		name   string
		idle   time.Duration
		served bool
	}{
		{name: "short idle timeout", idle: 200 * time.Millisecond, served: true},
		{name: "default idle timeout", idle: config.Default().Server.IdleTimeout, served: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, m := boundServerIdle(4, tc.idle)
			addr := serving(t, s.Serve)
			for range 3 { // below the bound: kept alive, then idle
				if resp := mustAnswer(t, dialHealth(t, addr, 0)); resp.Close {
					t.Fatal("below the bound a connection was not kept alive")
				}
			}
			dialHealth(t, addr, 20) // the fourth slot, busy
			waitGauge(t, m.HTTPConnectionsOpen, 4)
			waiting := dialHealth(t, addr, 0)
			// Under the 5 s header timeout of the busy connection.
			resp, err := waiting.answer(2 * time.Second)
			if tc.served && (err != nil || resp.StatusCode != http.StatusOK) {
				t.Fatalf("the waiting client was not served once idle connections timed out: %+v, %v", resp, err)
			}
			if !tc.served && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("idle connections gave up their slots before the idle timeout: %+v, %v", resp, err)
			}
		})
	}
}

// TestServeUnboundedConnections: 0 sets no bound; connections are still
// counted.
func TestServeUnboundedConnections(t *testing.T) {
	addr, m := serveWithBound(t, 0)
	var conns []*healthConn
	for range 3 {
		conns = append(conns, dialHealth(t, addr, 0))
	}
	for _, h := range conns {
		if resp := mustAnswer(t, h); resp.Close {
			t.Fatal("a connection was not kept alive without a bound")
		}
	}
	waitGauge(t, m.HTTPConnectionsOpen, 3)
	if got := testutil.ToFloat64(m.HTTPConnectionsMax); got != 0 {
		t.Fatalf("connections max = %v", got)
	}
}

// TestHealthListenerAnswersAtTheBound: with the main listener at its
// bound, the health listener still answers probes and scrapes at once.
func TestHealthListenerAnswersAtTheBound(t *testing.T) {
	s, m := boundServer(1)
	mainAddr, healthAddr := serving(t, s.Serve), serving(t, s.ServeHealth)

	busy := dialHealth(t, mainAddr, 20) // holds the one slot
	waitGauge(t, m.HTTPConnectionsOpen, 1)
	waiting := dialHealth(t, mainAddr, 0)
	if resp, err := waiting.answer(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the main listener answered beyond its bound: %+v, %v", resp, err)
	}
	probe := dialHealth(t, healthAddr, 0)
	if resp := mustAnswer(t, probe); resp.StatusCode != http.StatusOK {
		t.Fatalf("probe = %d", resp.StatusCode)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + healthAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "agentgate_http_connections_open 1") {
		t.Fatalf("scrape = %d %.300s", resp.StatusCode, body)
	}
	if resp, err := client.Get("http://" + healthAddr + "/api/v1/agents"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the health listener served the API: %+v, %v", resp, err)
	}
	busy.send(t, healthRequest[20:])
	mustAnswer(t, busy)
	mustAnswer(t, waiting)
}

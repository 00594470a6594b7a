package server

import (
	"net"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"
)

// Connections.
//
// server.max_connections bounds the connections a replica holds open.
// Every open connection keeps a goroutine and its read and write buffers,
// about 50 KB once the decision bound (admit.go in the gate) makes the
// rest wait, so without a bound a replica's memory grows with however
// many clients connect. netutil.LimitListener accepts at most that many at
// once: one more is accepted when one closes, and until then waits in the
// kernel's listen backlog (a client sees a slow connect, not an error).
// The bound is on the TCP listener, under TLS, so a handshake in progress
// counts too.
//
// At the bound every answer carries "Connection: close", until the open
// connections fall to three quarters of it, so that busy connections turn
// over and a waiting client (or the kubelet's probe, on the same port) is
// accepted as soon as an answer is written. Idle connections are not
// closed early: a client may be sending on one as it closes, and a POST
// that fails that way is not retried by most clients. They close after
// server.idle_timeout (2 minutes by default) without a request.

// limitConnections returns ln accepting at most max connections at once;
// ln itself when max is 0.
func limitConnections(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, max)
}

// connTracker counts the connections the server holds open (its state
// method is the http.Server's ConnState hook) and says when answers
// should close theirs.
type connTracker struct {
	// max is the bound; 0: none (only counted).
	max int64
	// gauge, when set, follows the count.
	gauge prometheus.Gauge
	open  atomic.Int64
	// closing is set from reaching the bound until the count falls to
	// three quarters of it.
	closing atomic.Bool
}

func newConnTracker(max int, gauge prometheus.Gauge) *connTracker {
	return &connTracker{max: int64(max), gauge: gauge}
}

// state counts a connection when accepted and no longer once it is
// closed or hijacked.
func (t *connTracker) state(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		n := t.open.Add(1)
		if t.gauge != nil {
			t.gauge.Inc()
		}
		if t.max > 0 && n >= t.max {
			t.closing.Store(true)
		}
	case http.StateClosed, http.StateHijacked:
		n := t.open.Add(-1)
		if t.gauge != nil {
			t.gauge.Dec()
		}
		if t.max > 0 && n <= t.max*3/4 {
			t.closing.Store(false)
		}
	}
}

// closeAtTheBound is the middleware that asks for the connection to be
// closed after the answer while the tracker is closing.
func (t *connTracker) closeAtTheBound(c *gin.Context) {
	if t.closing.Load() {
		c.Header("Connection", "close")
	}
	c.Next()
}

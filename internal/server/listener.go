package server

import (
	"net"
	"net/http"
	"sync/atomic"

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
// Idle keep-alive connections would otherwise hold slots that waiting
// clients (and the kubelet's probes, on the same port) need: when the
// bound is reached the server closes its idle connections and answers
// with "Connection: close" until the open connections fall to three
// quarters of the bound.

// limitConnections returns ln accepting at most max connections at once;
// ln itself when max is 0.
func limitConnections(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, max)
}

// connTracker counts the connections srv holds open (its ConnState hook)
// and turns keep-alives off while the bound is reached.
type connTracker struct {
	srv *http.Server
	// max is the bound; 0: none (only counted).
	max int64
	// gauge, when set, follows open.
	gauge prometheus.Gauge
	open  atomic.Int64
	// closing is set while keep-alives are off.
	closing atomic.Bool
}

// trackConnections installs a connTracker on srv.
func trackConnections(srv *http.Server, max int, gauge prometheus.Gauge) *connTracker {
	t := &connTracker{srv: srv, max: int64(max), gauge: gauge}
	srv.ConnState = t.state
	return t
}

// state counts a connection when accepted and no longer once it is
// closed or hijacked; while keep-alives are off it closes a connection
// that turns idle after the server's sweep of idle connections.
func (t *connTracker) state(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateIdle:
		if t.closing.Load() {
			_ = c.Close()
		}
	case http.StateNew:
		n := t.open.Add(1)
		if t.gauge != nil {
			t.gauge.Inc()
		}
		if t.max > 0 && n >= t.max && t.closing.CompareAndSwap(false, true) {
			// Closes the idle connections and stops keeping any open.
			t.srv.SetKeepAlivesEnabled(false)
		}
	case http.StateClosed, http.StateHijacked:
		n := t.open.Add(-1)
		if t.gauge != nil {
			t.gauge.Dec()
		}
		if t.max > 0 && n <= t.max*3/4 && t.closing.CompareAndSwap(true, false) {
			t.srv.SetKeepAlivesEnabled(true)
		}
	}
}

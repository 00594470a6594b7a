package tcpproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections from Addr to a target. Cut closes every open
// connection and refuses new ones until Restore; Stall closes them too but
// then accepts new ones and forwards nothing, as a network that drops
// packets does.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cut    bool
	stall  chan struct{} // closed by Restore; nil when not stalled
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	closed chan struct{}
}

// Start listens on a loopback port and forwards to target; the proxy
// stops when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every connection and refuses new ones: the target looks down.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Stall drops every connection and then accepts new ones without ever
// forwarding a byte: the target neither answers nor refuses, so a client
// waits until its own deadline. Restore ends it.
func (p *Proxy) Stall() {
	p.Cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	if p.stall == nil {
		p.stall = make(chan struct{})
	}
}

// Restore forwards connections again; connections accepted while stalled
// are closed.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		if stall := p.stall; stall != nil {
			p.mu.Unlock()
			p.wg.Add(1)
			go p.hold(in, stall)
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src) // a cut connection ends here
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// hold keeps a connection accepted while stalled open, unanswered, until
// Restore or the end of the test.
func (p *Proxy) hold(c net.Conn, stall <-chan struct{}) {
	defer p.wg.Done()
	select {
	case <-stall:
	case <-p.closed:
	}
	_ = c.Close()
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	close(p.closed)
	p.Cut()
	p.wg.Wait()
}

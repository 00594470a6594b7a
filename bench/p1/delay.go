package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"
)

// delayProxy forwards loopback connections to a TCP target, delivering
// every chunk read in either direction d after it was read: a network
// between agentgate and PostgreSQL with a round trip of 2d, for a
// database on another host.
type delayProxy struct {
	ln     net.Listener
	target string
	d      time.Duration
	wg     sync.WaitGroup
}

// startDelay listens on a loopback port and forwards to target.
func startDelay(target string, d time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, d: d}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *delayProxy) addr() string { return p.ln.Addr().String() }

func (p *delayProxy) close() {
	_ = p.ln.Close()
	p.wg.Wait()
}

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { p.pipe(up, c); done <- struct{}{} }()
			go func() { p.pipe(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// chunk is what was read, and when.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk d after it was read, in order.
func (p *delayProxy) pipe(dst io.WriteCloser, src io.Reader) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b: b[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range q { // drained to the end, so the reader never blocks
		if failed {
			continue
		}
		time.Sleep(time.Until(c.at.Add(p.d)))
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			_ = dst.Close()
		}
	}
	_ = dst.Close()
}

// throughDelay returns dsn with its host replaced by a delay proxy's.
func throughDelay(dsn string, d time.Duration) (string, *delayProxy, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "", nil, errors.New("-pg-delay needs a postgres:// URL with a host")
	}
	p, err := startDelay(u.Host, d)
	if err != nil {
		return "", nil, fmt.Errorf("delay proxy: %w", err)
	}
	u.Host = p.addr()
	return u.String(), p, nil
}

// roundTrip is the median time of a SELECT 1 on one connection to dsn.
func roundTrip(ctx context.Context, dsn string) (time.Duration, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL through the delay proxy: %w", err)
	}
	defer conn.Close()
	times := make([]time.Duration, 0, 50)
	for range cap(times) {
		start := time.Now()
		var one int
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return 0, fmt.Errorf("PostgreSQL through the delay proxy: %w", err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// proxyOnly serves a delay proxy in front of o.pg until ctx ends.
func proxyOnly(ctx context.Context, o options) error {
	if o.pgDelay <= 0 {
		return errors.New("-proxy-only needs -pg-delay")
	}
	dsn, p, err := throughDelay(o.pg, o.pgDelay)
	if err != nil {
		return err
	}
	defer p.close()
	rt, err := roundTrip(ctx, dsn)
	if err != nil {
		return fmt.Errorf("round trip through the proxy: %w", err)
	}
	fmt.Printf("%s\nround trip %s (median of 50 SELECT 1); serving until interrupted\n", dsn, rt.Round(10*time.Microsecond))
	<-ctx.Done()
	return nil
}

package server

import (
	"context"
	"sync"
)

// background runs work a request starts that outlives its answer (the
// rollback an SRE or an alert asked for). The server owns it: Drain, which
// Serve calls after the listener closed, waits for it.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// Go runs fn in a goroutine with the server's background context.
func (b *background) Go(fn func(ctx context.Context)) {
	b.wg.Go(func() { fn(b.ctx) })
}

// Drain waits for the running work until ctx ends, then cancels it and
// waits for it to return; it reports whether the work finished by itself.
func (b *background) Drain(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
	}
	b.cancel()
	<-done
	return false
}

// Drain waits for the work requests started (see background) until ctx
// ends, then cancels what is left and waits for it to stop.
func (s *Server) Drain(ctx context.Context) {
	if !s.bg.Drain(ctx) {
		s.log.Warn("background work cancelled at shutdown")
	}
}

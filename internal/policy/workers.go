package policy

import (
	"sync"
)

// Workers runs policy evaluations on a fixed set of goroutines.
//
// OPA's evaluator recurses deeply: a goroutine that has evaluated the
// built-in policy once carries a stack of about 128 KiB, which the
// collector gives back only gradually. Evaluated on the request's own
// goroutine, every open connection soon holds such a stack: a replica with
// a thousand open requests kept over 200 MiB of goroutine stacks. On
// Workers only the workers' stacks grow; a request's goroutine hands its
// evaluation over and waits with a small one.
type Workers struct {
	jobs    chan workerJob
	closing chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

type workerJob struct {
	fn   func()
	done chan struct{}
}

// NewWorkers starts n evaluation goroutines (at least one). Close stops
// them.
func NewWorkers(n int) *Workers {
	w := &Workers{jobs: make(chan workerJob), closing: make(chan struct{})}
	for range max(n, 1) {
		w.wg.Go(w.loop)
	}
	return w
}

func (w *Workers) loop() {
	for {
		select {
		case j := <-w.jobs:
			j.fn()
			j.done <- struct{}{}
		case <-w.closing:
			return
		}
	}
}

// run runs fn on a worker and returns when it has: in the order callers
// came, as workers free up. With no workers (nil) or once they are closed
// fn runs on the caller's goroutine.
func (w *Workers) run(fn func()) {
	if w == nil {
		fn()
		return
	}
	done := make(chan struct{}, 1)
	// A panic is the caller's, as it would be without workers.
	var panicked any
	job := func() {
		defer func() { panicked = recover() }()
		fn()
	}
	select {
	case w.jobs <- workerJob{fn: job, done: done}:
		<-done
	case <-w.closing:
		job()
	}
	if panicked != nil {
		panic(panicked)
	}
}

// Close stops the workers once the evaluations they are running end;
// later evaluations run on their callers' goroutines.
func (w *Workers) Close() {
	w.once.Do(func() { close(w.closing) })
	w.wg.Wait()
}

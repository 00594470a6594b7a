package policy

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/policies"
)

func TestWorkers(t *testing.T) {
	t.Run("at most n at once, every call run", func(t *testing.T) {
		w := NewWorkers(3)
		defer w.Close()
		var running, most, ran atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				w.run(func() {
					n := running.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(time.Millisecond)
					running.Add(-1)
					ran.Add(1)
				})
			})
		}
		wg.Wait()
		if ran.Load() != 40 || most.Load() > 3 {
			t.Fatalf("ran %d of 40, at most %d at once (3 workers)", ran.Load(), most.Load())
		}
	})
	t.Run("a panic is the caller's and the worker lives on", func(t *testing.T) {
		w := NewWorkers(1)
		defer w.Close()
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want boom", r)
				}
			}()
			w.run(func() { panic("boom") })
		}()
		done := false
		w.run(func() { done = true })
		if !done {
			t.Fatal("the worker did not run the next call")
		}
	})
	t.Run("after Close calls run on the caller", func(t *testing.T) {
		w := NewWorkers(2)
		w.Close()
		done := false
		w.run(func() { done = true })
		if !done {
			t.Fatal("call not run after Close")
		}
	})
	t.Run("nil runs on the caller", func(t *testing.T) {
		var w *Workers
		done := false
		w.run(func() { done = true })
		if !done {
			t.Fatal("call not run")
		}
	})
}

// TestWorkersKeepCallersStacksSmall: an evaluation on Workers leaves its
// caller's goroutine with a small stack; on the caller's own goroutine the
// built-in policy's evaluation grows it to about 128 KiB.
func TestWorkersKeepCallersStacksSmall(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection shrinks stacks meanwhile
	w := NewWorkers(2)
	defer w.Close()
	e, err := New(context.Background(), Options{FS: policies.FS(), SkipTests: true, Workers: w})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	in := agentInput(testAgent(func(a *agents.Agent) { a.ExpiresAt = &expires }),
		testEvent(func(e *event.Event) { e.Environment = "preview-12" }))
	if _, err := e.Evaluate(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	const callers = 200
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.StackInuse
	var wg sync.WaitGroup
	block := make(chan struct{})
	defer close(block)
	for range callers {
		wg.Add(1)
		go func() {
			if _, err := e.Evaluate(context.Background(), in); err != nil {
				t.Error(err)
			}
			wg.Done()
			<-block // hold the goroutine, and its stack
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&ms)
	if per := (int64(ms.StackInuse) - int64(before)) / callers; per > 32<<10 {
		t.Fatalf("each caller's goroutine holds %d KiB of stack after an evaluation, want at most 32", per>>10)
	}
}

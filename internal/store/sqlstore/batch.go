package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// Group commit.
//
// InSharedTx lets concurrent callers share one transaction: a committer
// goroutine takes every call waiting when it is free (up to maxBatch), runs
// them in one transaction, commits once, and only then answers them. When
// a call's function fails, the batch is rolled back and its calls re-run
// one transaction each, so the failing call gets its error and the others
// still commit. Calls
// are run in the order they were queued, so each sees the writes of those
// before it, exactly as consecutive transactions would. The durable commit
// (an fsync on SQLite with synchronous=FULL, a WAL flush on PostgreSQL)
// and, on PostgreSQL, the audit chain's advisory lock are paid once per
// batch instead of once per call.

const (
	// maxBatch bounds the calls sharing one transaction, so that one
	// batch's latency stays bounded whatever the load.
	maxBatch = 64
	// batchQueue is how many calls may wait for the committer.
	batchQueue = 1024
	// batchTimeout bounds one batch's transaction.
	batchTimeout = 30 * time.Second
)

// ErrClosed is returned to calls made or still queued when the store
// closes.
var ErrClosed = errors.New("sqlstore: store closed")

// Call states: queued, taken into a batch, or given up by its caller
// before it was taken.
const (
	itemQueued int32 = iota
	itemTaken
	itemWithdrawn
)

// batchItem is one queued call.
type batchItem struct {
	ctx   context.Context
	fn    func(ctx context.Context, q store.Queries) error
	done  chan error
	state atomic.Int32
}

// committer runs the shared transactions.
type committer struct {
	s       *Store
	queue   chan *batchItem
	closing chan struct{}
	stopped chan struct{}
	once    sync.Once
	closed  sync.Once
	// batches and calls count what was committed (for tests and stats).
	batches, calls atomic.Int64
}

func newCommitter(s *Store) *committer {
	return &committer{s: s, queue: make(chan *batchItem, batchQueue), closing: make(chan struct{}), stopped: make(chan struct{})}
}

// start runs the committer goroutine once.
func (c *committer) start() {
	c.once.Do(func() { go c.loop() })
}

// close stops the committer after its current batch and fails what is
// still queued with ErrClosed.
func (c *committer) close() {
	c.start() // so that stopped is closed even if nothing was queued
	c.closed.Do(func() { close(c.closing) })
	<-c.stopped
	for {
		select {
		case it := <-c.queue:
			if it.state.CompareAndSwap(itemQueued, itemTaken) {
				it.done <- ErrClosed
			}
		default:
			return
		}
	}
}

func (c *committer) loop() {
	defer close(c.stopped)
	items := make([]*batchItem, 0, maxBatch)
	for {
		items = items[:0]
		select {
		case it := <-c.queue:
			items = append(items, it)
		case <-c.closing:
			return
		}
		// Take everyone who queued while the last batch committed.
	gather:
		for len(items) < maxBatch {
			select {
			case it := <-c.queue:
				items = append(items, it)
			default:
				break gather
			}
		}
		c.run(items)
	}
}

// InSharedTx runs fn in a transaction that it may share with concurrent
// callers (group commit): an error rolls back fn's writes only (the batch
// is re-run call by call when one fails, so fn may run twice and must not
// keep anything from a run whose error it returned or that was rolled
// back), and InSharedTx returns once the transaction holding fn's writes
// has committed (or failed). fn's context carries ctx's values and the
// batch's deadline, not ctx's cancellation: a call is either given up
// before its batch begins or waited for until its batch commits.
func (s *Store) InSharedTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := s.batch
	c.start()
	it := &batchItem{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.queue <- it:
	case <-c.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("sqlstore: waiting for the committer: %w", context.Cause(ctx))
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		if it.state.CompareAndSwap(itemQueued, itemWithdrawn) {
			return fmt.Errorf("sqlstore: waiting for the committer: %w", context.Cause(ctx))
		}
		// Already in a batch: its outcome is decided by the commit.
		return <-it.done
	case <-c.stopped:
		// Queued as the store closed, after the queue was drained.
		if it.state.CompareAndSwap(itemQueued, itemWithdrawn) {
			return ErrClosed
		}
		return <-it.done
	}
}

// run executes one batch and answers its calls. The calls run one after
// the other in one transaction without savepoints (a savepoint costs two
// round trips per call on PostgreSQL); if any call fails, the transaction
// is rolled back and every call of the batch is run again in its own
// transaction, so that a failing call undoes only its own writes. A call
// may therefore run twice; only the run whose transaction commits counts.
func (c *committer) run(items []*batchItem) {
	taken := items[:0]
	for _, it := range items {
		if it.state.CompareAndSwap(itemQueued, itemTaken) {
			taken = append(taken, it)
		}
	}
	if len(taken) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	failed := -1
	err := c.s.inTx(ctx, func(q *queries) error {
		for i, it := range taken {
			// A call's pending writes go with the next call's first
			// statement or the commit: one round trip less per call. One
			// that fails there fails that call or the commit, and the
			// batch runs again call by call, where each fails as its own.
			if err := runItem(ctx, it, q); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if failed < 0 && errors.Is(err, errBroken) {
		// A write the commit carried failed, not the commit itself: the
		// calls run again one by one, as when a call fails.
		failed = len(taken) - 1
	}
	switch {
	case err == nil:
		c.batches.Add(1)
		c.calls.Add(int64(len(taken)))
		for _, it := range taken {
			it.done <- nil
		}
	case failed < 0 || len(taken) == 1:
		// The commit failed, or the batch was one call: nothing of it
		// holds, and a second run would fail the same way.
		for _, it := range taken {
			it.done <- err
		}
	default:
		for _, it := range taken {
			err := c.s.inTx(ctx, func(q *queries) error { return runItem(ctx, it, q) })
			if err == nil {
				c.batches.Add(1)
				c.calls.Add(1)
			}
			it.done <- err
		}
	}
}

// runItem runs one call on the shared transaction, with the batch's
// deadline and the call's context values (a trace, say); a panic becomes
// its error, so that one bad call cannot take the committer down.
func runItem(batch context.Context, it *batchItem, q *queries) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlstore: panic in a shared transaction: %v", r)
		}
	}()
	return it.fn(valuesOf{Context: batch, values: it.ctx}, &queries{s: q.s, tx: q.tx, raw: q.raw, st: q.st})
}

// valuesOf is a context with one context's deadline and cancellation and
// another's values.
type valuesOf struct {
	context.Context
	values context.Context
}

func (c valuesOf) Value(key any) any { return c.values.Value(key) }

// BatchStats reports how many shared transactions committed and how many
// calls they carried.
func (s *Store) BatchStats() (batches, calls int64) {
	return s.batch.batches.Load(), s.batch.calls.Load()
}

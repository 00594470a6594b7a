package gate

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/principal"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// admission bounds the decisions the gate works on at once, so that a
// burst is worked through at the replica's pace instead of every open
// request at the same time (which, at 1,000 of them, decided a fifth fewer
// per second with a p99 60% higher). A decision over the bound waits for a
// slot for as long as its request's context allows, at most maxQueued of
// them; beyond that one is refused at once. Either refusal is 503 with
// Retry-After: nothing was decided or recorded.
//
// Waiting decisions are served fairly across the principals that sent
// them, so that one agent's burst does not hold up everyone else's
// decisions: each principal with decisions waiting is a line, the lines
// take turns (one decision each, a new principal's line joining at the
// end of the round), and within a line decisions keep the order they
// came. When every place is taken, a newcomer takes the place of the
// newest decision of the longest line if that line is longer than the
// newcomer's would be; otherwise the newcomer is the one refused.
//
// A line is an agent's: the decisions of every principal the agent was
// last identified by wait in one line, so that an agent registered under
// several principals (a GitHub App and a GitLab bot user, say) gets one
// turn, not one per principal. The admission learns which agent a
// principal is from each decision's identification (learn), since the
// line must be chosen before the decision reads the registry; a principal
// not yet seen, or identified as no agent, is its own line. A principal
// is keyed in its canonical form, so another spelling of the same account
// is the same line. What the admission remembers only orders waiting
// decisions: a principal moved to another agent waits in its old agent's
// line until its next decision is identified.
type admission struct {
	max, maxQueued int
	metrics        *telemetry.Metrics

	mu       sync.Mutex
	inFlight int
	queued   int
	// lines holds one *line per agent (or principal) with a decision
	// waiting, in turn order; turn is the element served next.
	lines  list.List
	turn   *list.Element
	byName map[string]*list.Element
	// agentOf is the agent each canonical principal was last identified
	// as, at most maxKnownPrincipals of them; known guards it (taken
	// inside mu, never the other way round).
	known   sync.RWMutex
	agentOf map[string]string
}

// maxKnownPrincipals bounds what the admission remembers of principals
// (about 100 bytes each); past it, it starts again empty.
const maxKnownPrincipals = 1 << 16

// line is the waiting decisions of one agent (or of one principal that
// is no known agent's), oldest first.
type line struct {
	key     string
	waiting []*waiter
}

// waiter is one waiting decision; ready receives nil when the decision is
// given a slot, or the error it is refused with when its place is taken.
type waiter struct {
	ready chan error
}

func newAdmission(inFlight, maxQueued int, m *telemetry.Metrics) *admission {
	if inFlight <= 0 {
		return nil
	}
	return &admission{max: inFlight, maxQueued: max(maxQueued, 0), metrics: m, byName: map[string]*list.Element{},
		agentOf: map[string]string{}}
}

// canonical is p in its canonical form, or p when it has none.
func canonical(p string) string {
	if c, err := principal.Canonical(p); err == nil {
		return c
	}
	return p
}

// lineOf is the line a principal's decisions wait in: its agent's when
// known, its own otherwise.
func (a *admission) lineOf(p string) string {
	c := canonical(p)
	a.known.RLock()
	id, ok := a.agentOf[c]
	a.known.RUnlock()
	if ok {
		return "agent " + id
	}
	return "principal " + c
}

// learn records that principal c, in canonical form (the identified
// event's), was identified as agent agentID ("": as no agent).
func (a *admission) learn(c, agentID string) {
	if a == nil {
		return
	}
	a.known.RLock()
	id, ok := a.agentOf[c]
	a.known.RUnlock()
	if ok == (agentID != "") && id == agentID {
		return // the common case: nothing new
	}
	a.known.Lock()
	defer a.known.Unlock()
	if agentID == "" {
		delete(a.agentOf, c)
		return
	}
	if _, ok := a.agentOf[c]; !ok && len(a.agentOf) >= maxKnownPrincipals {
		clear(a.agentOf)
	}
	a.agentOf[c] = agentID
}

// enter takes a slot for a decision of principal p, waiting for one while
// ctx lasts; release gives it back. A nil admission admits everything.
func (a *admission) enter(ctx context.Context, p string) (release func(), err error) {
	if a == nil {
		return func() {}, nil
	}
	a.mu.Lock()
	if a.inFlight < a.max {
		// Slots are handed straight to waiting decisions, so a free one
		// means that nothing waits.
		a.inFlight++
		a.mu.Unlock()
		a.gauge(func(m *telemetry.Metrics) { m.DecisionsInFlight.Inc() })
		return a.leave, nil
	}
	key := a.lineOf(p)
	if a.queued >= a.maxQueued && !a.evictFor(key) {
		a.mu.Unlock()
		a.shed(telemetry.ShedQueueFull)
		return nil, a.queueFull()
	}
	w := &waiter{ready: make(chan error, 1)}
	a.push(key, w)
	a.mu.Unlock()
	a.gauge(func(m *telemetry.Metrics) { m.DecisionsQueued.Inc() })

	select {
	case err := <-w.ready:
		return a.granted(err)
	case <-ctx.Done():
	}
	a.mu.Lock()
	removed := a.remove(key, w)
	a.mu.Unlock()
	if !removed {
		// Given a slot or refused as the context ended.
		release, err := a.granted(<-w.ready)
		if err != nil {
			return nil, err
		}
		release()
	} else {
		a.gauge(func(m *telemetry.Metrics) { m.DecisionsQueued.Dec() })
	}
	a.shed(telemetry.ShedWaitEnded)
	cause := context.Cause(ctx)
	if errors.Is(cause, context.Canceled) {
		return nil, apperr.Wrap(apperr.KindCanceled, cause, "the request ended while waiting for a decision slot")
	}
	return nil, apperr.Wrap(apperr.KindUnavailable, cause,
		"waited for one of %d decision slots until the request's deadline; nothing was decided, retry shortly", a.max)
}

// granted reads what a waiter was told: a slot (its release) or a refusal.
// The waiter is no longer counted as queued either way.
func (a *admission) granted(err error) (func(), error) {
	a.gauge(func(m *telemetry.Metrics) { m.DecisionsQueued.Dec() })
	if err != nil {
		return nil, err
	}
	a.gauge(func(m *telemetry.Metrics) { m.DecisionsInFlight.Inc() })
	return a.leave, nil
}

// leave gives a slot back: to the next waiting decision in turn, or free.
func (a *admission) leave() {
	a.gauge(func(m *telemetry.Metrics) { m.DecisionsInFlight.Dec() })
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.pop(); w != nil {
		w.ready <- nil // the slot passes to w: inFlight is unchanged
		return
	}
	a.inFlight--
}

func (a *admission) queueFull() error {
	return apperr.New(apperr.KindUnavailable,
		"too many decisions in flight (%d, and %d waiting); nothing was decided, retry shortly", a.max, a.maxQueued)
}

// push queues w in key's line; a new line joins at the end of the round.
// a.mu is held.
func (a *admission) push(key string, w *waiter) {
	e, ok := a.byName[key]
	if !ok {
		l := &line{key: key}
		if a.turn == nil {
			e = a.lines.PushBack(l)
			a.turn = e
		} else {
			e = a.lines.InsertBefore(l, a.turn)
		}
		a.byName[key] = e
	}
	l := e.Value.(*line)
	l.waiting = append(l.waiting, w)
	a.queued++
}

// pop takes the oldest waiting decision of the line whose turn it is, and
// passes the turn on; nil when nothing waits. a.mu is held.
func (a *admission) pop() *waiter {
	e := a.turn
	if e == nil {
		return nil
	}
	l := e.Value.(*line)
	w := l.waiting[0]
	l.waiting[0] = nil
	l.waiting = l.waiting[1:]
	a.queued--
	a.turn = e.Next()
	if len(l.waiting) == 0 {
		a.drop(e)
	}
	if a.turn == nil {
		a.turn = a.lines.Front()
	}
	return w
}

// remove takes w out of key's line; false when it is no longer waiting
// (given a slot or refused). a.mu is held.
func (a *admission) remove(key string, w *waiter) bool {
	e, ok := a.byName[key]
	if !ok {
		return false
	}
	l := e.Value.(*line)
	for i, x := range l.waiting {
		if x != w {
			continue
		}
		l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
		a.queued--
		if len(l.waiting) == 0 {
			if a.turn == e {
				a.turn = e.Next()
			}
			a.drop(e)
			if a.turn == nil {
				a.turn = a.lines.Front()
			}
		}
		return true
	}
	return false
}

// evictFor makes a place for a decision of key when every place is taken:
// the newest decision of the longest line is refused if that line is
// longer than key's would be with the newcomer. a.mu is held.
func (a *admission) evictFor(key string) bool {
	mine := 1
	if e, ok := a.byName[key]; ok {
		mine += len(e.Value.(*line).waiting)
	}
	var longest *list.Element
	for e := a.lines.Front(); e != nil; e = e.Next() {
		if longest == nil || len(e.Value.(*line).waiting) > len(longest.Value.(*line).waiting) {
			longest = e
		}
	}
	if longest == nil || len(longest.Value.(*line).waiting) <= mine {
		return false
	}
	l := longest.Value.(*line)
	w := l.waiting[len(l.waiting)-1]
	l.waiting[len(l.waiting)-1] = nil
	l.waiting = l.waiting[:len(l.waiting)-1]
	a.queued--
	a.shed(telemetry.ShedQueueFull)
	w.ready <- a.queueFull()
	return true
}

// drop removes an emptied line. a.mu is held.
func (a *admission) drop(e *list.Element) {
	delete(a.byName, e.Value.(*line).key)
	a.lines.Remove(e)
}

func (a *admission) shed(reason string) {
	a.gauge(func(m *telemetry.Metrics) { m.DecisionsShed.WithLabelValues(reason).Inc() })
}

func (a *admission) gauge(f func(m *telemetry.Metrics)) {
	if a.metrics != nil {
		f(a.metrics)
	}
}

package sqlstore

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// The registry cache.
//
// Every decision asks which agent a principal belongs to and whether a kill
// switch stops it; both change rarely. The store keeps the answers (found
// or not) in memory and forgets all of them whenever agents, principals or
// kill switches change:
//
//   - a write through this store forgets them when its transaction commits
//     (an autocommit write, when its statement returns), so that whoever
//     made the change, and every decision after it, sees it;
//   - a write by another process is reported by the dialect's watcher
//     (PostgreSQL: a trigger's NOTIFY, delivered when the writer commits);
//     while the watcher is not listening, the cache is not used at all;
//   - an answer older than registryCacheTTL is asked again, which bounds
//     what a writer nobody reports (a second process on one SQLite file,
//     against the documentation) can hide.
//
// An answer is kept only if nothing changed while it was read: the change
// count is taken before the read and compared after it.

const (
	// registryCacheTTL bounds how long an answer is served.
	registryCacheTTL = 5 * time.Second
	// registryCacheMax bounds each map (an agent's answer, with its key,
	// measured 0.9 KB of heap: a full map of agents is about 17 MiB); past
	// it the map starts again empty, and answers are read until it fills
	// again.
	registryCacheMax = 20_000
)

// registryCache holds the registry's answers; see above.
type registryCache struct {
	mu sync.Mutex
	// changes counts the changes seen; an answer read across one is not kept.
	changes uint64
	// live is false while changes made elsewhere could go unreported.
	live   bool
	agents map[string]cached[agents.Agent]
	kills  map[killKey]cached[store.KillSwitch]
}

type killKey struct{ agentID, owner string }

// cached is one answer: a value, or the not-found error it was.
type cached[V any] struct {
	v   V
	err error
	at  time.Time
}

func newRegistryCache(live bool) *registryCache {
	return &registryCache{live: live, agents: map[string]cached[agents.Agent]{}, kills: map[killKey]cached[store.KillSwitch]{}}
}

// changed forgets every answer.
func (c *registryCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes++
	clear(c.agents)
	clear(c.kills)
}

// setLive turns the cache on or off, forgetting every answer either way:
// after a gap in the watch, nothing read before it can be trusted.
func (c *registryCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.changes++
	clear(c.agents)
	clear(c.kills)
}

// lookup answers from m when it can, and otherwise loads the answer and
// keeps it unless something changed meanwhile. Only values and not-found
// errors are kept; any other error is returned and forgotten.
func lookup[K comparable, V any](c *registryCache, m map[K]cached[V], key K, load func() (V, error)) (V, error) {
	c.mu.Lock()
	if !c.live {
		c.mu.Unlock()
		return load()
	}
	if e, ok := m[key]; ok && time.Since(e.at) < registryCacheTTL {
		c.mu.Unlock()
		return e.v, e.err
	}
	before := c.changes
	c.mu.Unlock()
	at := time.Now()
	v, err := load()
	if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
		return v, err
	}
	c.mu.Lock()
	if c.live && c.changes == before {
		if len(m) >= registryCacheMax {
			clear(m)
		}
		m[key] = cached[V]{v: v, err: err, at: at}
	}
	c.mu.Unlock()
	return v, err
}

// AgentByPrincipal returns the agent the principal is bound to, or
// ErrNotFound, from the registry cache when it can.
func (s *Store) AgentByPrincipal(ctx context.Context, principal string) (agents.Agent, error) {
	a, err := lookup(s.reg, s.reg.agents, principal, func() (agents.Agent, error) {
		return s.queries.AgentByPrincipal(ctx, principal)
	})
	return cloneAgent(a), err
}

// MatchKillSwitch returns the active switch that stops the agent, or
// ErrNotFound, from the registry cache when it can.
func (s *Store) MatchKillSwitch(ctx context.Context, agentID, owner string) (store.KillSwitch, error) {
	k, err := lookup(s.reg, s.reg.kills, killKey{agentID, owner}, func() (store.KillSwitch, error) {
		return s.queries.MatchKillSwitch(ctx, agentID, owner)
	})
	if k.ReleasedAt != nil {
		at := *k.ReleasedAt
		k.ReleasedAt = &at
	}
	return k, err
}

// registryChanged records that x changed agents, principals or kill
// switches: the cache forgets its answers when x's transaction commits, or
// now for a write that committed on its own.
func (x *queries) registryChanged() {
	if x.st != nil {
		x.st.registry = true
		return
	}
	x.s.reg.changed()
}

// cloneAgent copies a so that a caller changing its lists or labels does
// not change the cached answer.
func cloneAgent(a agents.Agent) agents.Agent {
	a.Capabilities = slices.Clone(a.Capabilities)
	a.Environments = slices.Clone(a.Environments)
	a.Namespaces = slices.Clone(a.Namespaces)
	a.Principals = slices.Clone(a.Principals)
	a.Labels = maps.Clone(a.Labels)
	if a.ExpiresAt != nil {
		at := *a.ExpiresAt
		a.ExpiresAt = &at
	}
	return a
}

// RegistryCacheLive reports whether the registry cache serves answers: on
// a backend with a watcher, whether it is watching now.
func (s *Store) RegistryCacheLive() bool {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	return s.reg.live
}

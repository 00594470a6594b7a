package rollback

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// History is the deployment history rollbacks go back through;
// store.DeploymentStore implements it.
type History interface {
	// ListDeployments returns matching deployments, newest first.
	ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error)
}

// Store is everything the engine persists; store.Store is one.
type Store interface {
	store.WatchStore
	store.RollbackStore
	store.IncidentStore
}

// MemoryStore is an in-process Store for tests and single-replica use.
type MemoryStore struct {
	mu        sync.Mutex
	watches   map[string]Watch
	rollbacks map[string]Rollback
	incidents map[string]Incident
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{watches: map[string]Watch{}, rollbacks: map[string]Rollback{}, incidents: map[string]Incident{}}
}

// cloneWatch copies the readings so callers cannot alias stored state.
func cloneWatch(w Watch) Watch {
	w.Readings = slices.Clone(w.Readings)
	return w
}

// CreateWatch implements WatchStore.
func (m *MemoryStore) CreateWatch(_ context.Context, w Watch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.watches[w.ID]; ok {
		return fmt.Errorf("watch %s: %w", w.ID, store.ErrConflict)
	}
	for _, o := range m.watches {
		if o.DeploymentID == w.DeploymentID && o.Live() {
			return fmt.Errorf("deployment %s already has live watch %s: %w", w.DeploymentID, o.ID, store.ErrConflict)
		}
	}
	m.watches[w.ID] = cloneWatch(w)
	return nil
}

// UpdateWatch implements WatchStore.
func (m *MemoryStore) UpdateWatch(_ context.Context, w Watch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.watches[w.ID]; !ok {
		return fmt.Errorf("watch %s: %w", w.ID, store.ErrNotFound)
	}
	m.watches[w.ID] = cloneWatch(w)
	return nil
}

// GetWatch implements WatchStore.
func (m *MemoryStore) GetWatch(_ context.Context, id string) (Watch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.watches[id]
	if !ok {
		return Watch{}, fmt.Errorf("watch %s: %w", id, store.ErrNotFound)
	}
	return cloneWatch(w), nil
}

// DueWatches implements WatchStore.
func (m *MemoryStore) DueWatches(_ context.Context, now time.Time, limit int) ([]Watch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Watch
	for _, w := range m.watches {
		if w.Live() && !w.NextAt.After(now) {
			out = append(out, cloneWatch(w))
		}
	}
	slices.SortFunc(out, func(a, b Watch) int { return a.NextAt.Compare(b.NextAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListWatches implements WatchStore.
func (m *MemoryStore) ListWatches(_ context.Context, live bool, limit int) ([]Watch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Watch
	for _, w := range m.watches {
		if !live || w.Live() {
			out = append(out, cloneWatch(w))
		}
	}
	slices.SortFunc(out, func(a, b Watch) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CreateRollback implements RollbackStore.
func (m *MemoryStore) CreateRollback(_ context.Context, r Rollback) (Rollback, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.createRollback(r)
}

func (m *MemoryStore) createRollback(r Rollback) (Rollback, bool, error) {
	if _, ok := m.rollbacks[r.ID]; ok {
		return Rollback{}, false, fmt.Errorf("rollback %s: %w", r.ID, store.ErrConflict)
	}
	for _, o := range m.rollbacks {
		if o.Key == r.Key && o.State.Active() {
			return o, false, nil
		}
	}
	m.rollbacks[r.ID] = r
	return r, true, nil
}

// GetRollback implements RollbackStore.
func (m *MemoryStore) GetRollback(_ context.Context, id string) (Rollback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rollbacks[id]
	if !ok {
		return Rollback{}, fmt.Errorf("rollback %s: %w", id, store.ErrNotFound)
	}
	return r, nil
}

// ClaimRollback implements RollbackStore.
func (m *MemoryStore) ClaimRollback(_ context.Context, id string, at time.Time) (Rollback, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rollbacks[id]
	if !ok {
		return Rollback{}, false, fmt.Errorf("rollback %s: %w", id, store.ErrNotFound)
	}
	if r.State != RollbackPending {
		return r, false, nil
	}
	r.State, r.UpdatedAt = RollbackRunning, at
	m.rollbacks[id] = r
	return r, true, nil
}

// UpdateRollback implements RollbackStore.
func (m *MemoryStore) UpdateRollback(_ context.Context, r Rollback) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rollbacks[r.ID]; !ok {
		return fmt.Errorf("rollback %s: %w", r.ID, store.ErrNotFound)
	}
	m.rollbacks[r.ID] = r
	return nil
}

// PendingRollbacks implements RollbackStore.
func (m *MemoryStore) PendingRollbacks(_ context.Context, limit int) ([]Rollback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Rollback
	for _, r := range m.rollbacks {
		if r.State == RollbackPending {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Rollback) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListRollbacks implements RollbackStore: newest first.
func (m *MemoryStore) ListRollbacks(_ context.Context, limit int) ([]Rollback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Rollback, 0, len(m.rollbacks))
	for _, r := range m.rollbacks {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rollback) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// OpenIncident implements IncidentStore.
func (m *MemoryStore) OpenIncident(_ context.Context, r Rollback, now time.Time, window time.Duration) (Rollback, Incident, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := IncidentKey(r.Target, r.FromDeploymentID)
	if inc, ok := m.incidents[key]; ok && inc.Open(now, window) {
		inc.Join(now, r.Target.Source)
		inc.Sources = slices.Clone(inc.Sources)
		m.incidents[key] = inc
		stored, ok := m.rollbacks[inc.RollbackID]
		if !ok {
			return Rollback{}, Incident{}, false, fmt.Errorf("incident %s: rollback %s: %w", inc, inc.RollbackID, store.ErrNotFound)
		}
		return stored, inc, false, nil
	}
	stored, created, err := m.createRollback(r)
	if err != nil {
		return Rollback{}, Incident{}, false, err
	}
	inc := NewIncident(r, now)
	inc.RollbackID = stored.ID
	m.incidents[key] = inc
	return stored, inc, created, nil
}

// ResolveIncidents implements IncidentStore.
func (m *MemoryStore) ResolveIncidents(_ context.Context, targetKey string, at time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, inc := range m.incidents {
		if inc.TargetKey == targetKey && inc.Firing {
			inc.Resolve(at)
			m.incidents[k] = inc
			n++
		}
	}
	return n, nil
}

// GetIncident implements IncidentStore.
func (m *MemoryStore) GetIncident(_ context.Context, key string) (Incident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inc, ok := m.incidents[key]
	if !ok {
		return Incident{}, fmt.Errorf("incident %q: %w", key, store.ErrNotFound)
	}
	inc.Sources = slices.Clone(inc.Sources)
	return inc, nil
}

package wfwatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Reconcile compares the leases held with the Workflows in the cache and
// queues releases: for a finished Workflow at once, for a missing one once
// it has been missing on passes at least Options.OrphanAfter apart. Leases
// in namespaces the Watcher does not watch are left to their TTL.
func (w *Watcher) Reconcile(ctx context.Context) error {
	keys, err := w.o.Releaser.HeldKeys(ctx, w.o.Quota)
	if err != nil {
		return fmt.Errorf("wfwatch: reconcile: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.passes.Add(1)
	now := w.o.Now()
	suspects := map[string]time.Time{}
	for _, key := range keys {
		ns, _, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		inf := w.informers[""]
		if inf == nil {
			inf = w.informers[ns]
		}
		if inf == nil {
			continue // not watched: the lease TTL applies
		}
		obj, exists, err := inf.GetStore().GetByKey(key)
		if err != nil {
			return fmt.Errorf("wfwatch: reconcile %s: %w", key, err)
		}
		if !exists {
			first, seen := w.suspects[key]
			switch {
			case !seen:
				suspects[key] = now
			case now.Sub(first) >= w.o.OrphanAfter:
				w.queue.Add(release{key: key, cause: CauseOrphaned})
			default:
				suspects[key] = first
			}
			continue
		}
		if u, ok := obj.(*unstructured.Unstructured); ok {
			if phase := phaseOf(u); w.completed(u, phase) {
				w.queue.Add(release{key: key, cause: CauseCompleted, phase: phase, uid: string(u.GetUID())})
			}
		}
	}
	w.suspects = suspects
	return nil
}

package wfwatch

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// CachedObject returns the cached Workflow of key, or nil.
func (w *Watcher) CachedObject(key string) *unstructured.Unstructured {
	for _, inf := range w.informers {
		obj, ok, err := inf.GetStore().GetByKey(key)
		if err == nil && ok {
			if u, isU := obj.(*unstructured.Unstructured); isU {
				return u
			}
		}
	}
	return nil
}

// Passes returns the reconcile passes done.
func (w *Watcher) Passes() int64 { return w.passes.Load() }

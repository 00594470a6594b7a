package argo

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/internal/store"
)

// fakeAttributions maps "<kind>/<namespace>/<name>" to the agent principal
// behind it.
type fakeAttributions map[string]string

var _ AttributionSource = fakeAttributions(nil)

func (f fakeAttributions) AttributionOf(_ context.Context, kind, ns, name string) (store.Attribution, error) {
	p, ok := f[kind+"/"+ns+"/"+name]
	if !ok {
		return store.Attribution{}, fmt.Errorf("attribution: %w", store.ErrNotFound)
	}
	return store.Attribution{Kind: kind, Namespace: ns, Name: name, AgentID: "ag-1", Principal: p}, nil
}

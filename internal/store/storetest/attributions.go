package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

func testAttributions(t *testing.T, s suite) {
	t.Run("put, read, replace, and not found", func(t *testing.T) {
		st := s.open(t)
		ctx := context.Background()
		now := baseTime()
		_, err := st.AttributionOf(ctx, "CronWorkflow", "agents", "nightly")
		wantErr(t, err, store.ErrNotFound)
		a := store.Attribution{Kind: "CronWorkflow", Namespace: "agents", Name: "nightly", AgentID: "ag-1",
			Principal: "k8s:system:serviceaccount:agents:claude-bot", CreatedAt: now}
		must(t, st.PutAttribution(ctx, a))
		got, err := st.AttributionOf(ctx, "CronWorkflow", "agents", "nightly")
		must(t, err)
		equal(t, "attribution", got, a)
		// Another kind or namespace with the same name is another object.
		_, err = st.AttributionOf(ctx, "Workflow", "agents", "nightly")
		wantErr(t, err, store.ErrNotFound)
		_, err = st.AttributionOf(ctx, "CronWorkflow", "other", "nightly")
		wantErr(t, err, store.ErrNotFound)
		// Written again (the object was re-admitted): the newest wins.
		b := a
		b.AgentID, b.Principal, b.CreatedAt = "ag-2", "k8s:system:serviceaccount:agents:other-bot", now.Add(time.Hour)
		must(t, st.InTx(ctx, func(ctx context.Context, q store.Queries) error { return q.PutAttribution(ctx, b) }))
		got, err = st.AttributionOf(ctx, "CronWorkflow", "agents", "nightly")
		must(t, err)
		equal(t, "replaced attribution", got, b)
	})

	t.Run("purge by kind and age", func(t *testing.T) {
		st := s.open(t)
		ctx := context.Background()
		now := baseTime()
		for _, a := range []store.Attribution{
			{Kind: "Workflow", Namespace: "agents", Name: "old", AgentID: "ag-1", Principal: "k8s:a", CreatedAt: now.Add(-100 * time.Hour)},
			{Kind: "Workflow", Namespace: "agents", Name: "new", AgentID: "ag-1", Principal: "k8s:a", CreatedAt: now},
			{Kind: "CronWorkflow", Namespace: "agents", Name: "old-cron", AgentID: "ag-1", Principal: "k8s:a", CreatedAt: now.Add(-100 * time.Hour)},
		} {
			must(t, st.PutAttribution(ctx, a))
		}
		n, err := st.PurgeAttributions(ctx, "Workflow", now.Add(-72*time.Hour))
		must(t, err)
		if n != 1 {
			t.Fatalf("purged %d, want 1", n)
		}
		_, err = st.AttributionOf(ctx, "Workflow", "agents", "old")
		wantErr(t, err, store.ErrNotFound)
		for _, key := range [][2]string{{"Workflow", "new"}, {"CronWorkflow", "old-cron"}} {
			if _, err := st.AttributionOf(ctx, key[0], "agents", key[1]); err != nil {
				t.Fatalf("%s %s purged: %v", key[0], key[1], err)
			}
		}
	})
}

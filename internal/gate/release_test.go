package gate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

func TestReleaseByKey(t *testing.T) {
	f := newFixture(t)
	f.agent(t, "bot")
	f.agent(t, "other")
	ctx := context.Background()
	take := func(principal, key string) {
		t.Helper()
		d := policy.Decision{Allow: true, Quotas: []policy.QuotaSpec{{Name: "concurrent_workflows", Kind: policy.QuotaConcurrency,
			Limit: 5, Key: key, TTL: policy.Duration(time.Hour)}}}
		res, err := f.gate(stubEvaluator{d: d}).Decide(ctx, gate.Request{Event: event.Event{Provider: "argo", Kind: event.KindWorkflow,
			Phase: event.PhaseStart, Repo: key, Principal: principal}})
		if err != nil || res.Outcome != gate.Allow {
			t.Fatalf("take %s: outcome %s err %v", key, res.Outcome, err)
		}
	}
	take("github:bot[bot]", "team-a/wf-1")
	take("github:bot[bot]", "team-a/wf-2")
	take("github:other[bot]", "team-a/wf-2")
	g := f.gate(stubEvaluator{})

	keys, err := g.HeldKeys(ctx, "concurrent_workflows")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys, []string{"team-a/wf-1", "team-a/wf-2"}; !slices.Equal(got, want) {
		t.Fatalf("held keys %v, want %v", got, want)
	}

	tests := []struct {
		name   string
		key    string
		agents int
	}{
		{name: "a key two agents hold", key: "team-a/wf-2", agents: 2},
		{name: "the same key again changes nothing", key: "team-a/wf-2", agents: 0},
		{name: "a key nobody holds", key: "team-a/never", agents: 0},
		{name: "the last key", key: "team-a/wf-1", agents: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, f.store, audit.KindRelease)
			rel, err := g.ReleaseByKey(ctx, gate.ReleaseRequest{Quota: "concurrent_workflows", Key: tc.key, Provider: "argo",
				EventKind: event.KindWorkflow, Namespace: "team-a", Cause: "completed", Message: "workflow Succeeded",
				Actor: "argo-watch", Details: map[string]string{"phase": "Succeeded", "cause": "ignored: taken by the gate"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rel) != tc.agents {
				t.Fatalf("released %d leases (%+v), want %d", len(rel), rel, tc.agents)
			}
			recs := auditRecords(t, f.store, audit.KindRelease)
			if len(recs)-before != tc.agents {
				t.Fatalf("%d release records added, want %d", len(recs)-before, tc.agents)
			}
			for _, r := range recs[before:] {
				if r.AgentName == "" || r.Owner != "alice" || r.Repo != tc.key || r.Details["cause"] != "completed" ||
					r.Details["phase"] != "Succeeded" || r.Message != "workflow Succeeded" || r.Actor != "argo-watch" {
					t.Fatalf("release record %+v", r)
				}
			}
		})
	}
	keys, err = g.HeldKeys(ctx, "concurrent_workflows")
	if err != nil || len(keys) != 0 {
		t.Fatalf("held keys after releasing all: %v %v", keys, err)
	}
	if _, err := g.ReleaseByKey(ctx, gate.ReleaseRequest{Quota: "concurrent_workflows"}); err == nil {
		t.Fatal("release without a key accepted")
	}
}

func auditRecords(t *testing.T, st store.Store, kind audit.Kind) []audit.Record {
	t.Helper()
	recs, err := st.QueryAudit(context.Background(), store.AuditQuery{Kind: kind, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func auditCount(t *testing.T, st store.Store, kind audit.Kind) int {
	return len(auditRecords(t, st, kind))
}

package storetest

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

func testDeployments(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	base := baseTime()
	deploy := func(id, repo, env, sha string, at time.Duration) store.Deployment {
		return store.Deployment{ID: id, Provider: "github", Repo: repo, Environment: env, SHA: sha, Ref: "refs/heads/main",
			AgentID: "a1", Principal: "github:bot[bot]", Handles: map[string]string{"run_id": id}, At: base.Add(at)}
	}
	for _, d := range []store.Deployment{
		deploy("d1", "acme/api", "production", "sha1", 0),
		deploy("d2", "acme/api", "production", "sha2", time.Minute),
		deploy("d3", "acme/api", "staging", "sha3", 2*time.Minute),
		deploy("d4", "acme/web", "production", "sha4", 3*time.Minute),
		deploy("d5", "acme/api", "production", "sha5", 4*time.Minute),
	} {
		must(t, st.RecordDeployment(ctx, d))
	}
	t.Run("redelivery conflicts", func(t *testing.T) {
		wantErr(t, st.RecordDeployment(ctx, deploy("d1", "acme/api", "production", "sha1", 0)), store.ErrConflict)
	})
	t.Run("incomplete deployment is invalid", func(t *testing.T) {
		wantKind(t, st.RecordDeployment(ctx, store.Deployment{ID: "x", Provider: "github"}), apperr.KindInvalid)
	})
	tests := []struct {
		name   string
		filter store.DeploymentFilter
		want   []string
	}{
		{name: "newest first for one target", filter: store.DeploymentFilter{Provider: "github", Repo: "acme/api", Environment: "production"}, want: []string{"d5", "d2", "d1"}},
		{name: "limit", filter: store.DeploymentFilter{Provider: "github", Repo: "acme/api", Environment: "production", Limit: 2}, want: []string{"d5", "d2"}},
		{name: "other environment", filter: store.DeploymentFilter{Provider: "github", Repo: "acme/api", Environment: "staging"}, want: []string{"d3"}},
		{name: "other provider", filter: store.DeploymentFilter{Provider: "gitlab", Repo: "acme/api", Environment: "production"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.ListDeployments(ctx, tc.filter)
			must(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d deployments, want %v", len(got), tc.want)
			}
			for i, d := range got {
				if d.ID != tc.want[i] {
					t.Fatalf("deployment %d = %s, want %s", i, d.ID, tc.want[i])
				}
			}
		})
	}
	t.Run("round trip", func(t *testing.T) {
		got, err := st.ListDeployments(ctx, store.DeploymentFilter{Provider: "github", Repo: "acme/web", Environment: "production"})
		must(t, err)
		want := deploy("d4", "acme/web", "production", "sha4", 3*time.Minute)
		if len(got) != 1 || got[0].SHA != want.SHA || got[0].Handles["run_id"] != "d4" || !got[0].At.Equal(want.At) || got[0].Principal != want.Principal {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

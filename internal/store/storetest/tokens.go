package storetest

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

func testTokens(t *testing.T, s suite) {
	t.Run("put, get, conflict, not found", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		tok := store.Token{Hash: "h1", AgentID: "a1", CreatedAt: baseTime()}
		must(t, st.PutToken(ctx, tok))
		got, err := st.TokenByHash(ctx, "h1")
		must(t, err)
		equal(t, "token", got, tok)
		wantErr(t, st.PutToken(ctx, store.Token{Hash: "h1", AgentID: "a2", CreatedAt: baseTime()}), store.ErrConflict)
		_, err = st.TokenByHash(ctx, "h2")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("expire sets none or later expiries to at", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		at := now.Add(time.Hour)
		earlier, later := now.Add(time.Minute), now.Add(48*time.Hour)
		tests := []struct {
			name  string
			tok   store.Token
			after *time.Time
		}{
			{name: "no expiry gets at", tok: store.Token{Hash: "none", AgentID: "a1"}, after: &at},
			{name: "later expiry moves to at", tok: store.Token{Hash: "later", AgentID: "a1", ExpiresAt: &later}, after: &at},
			{name: "earlier expiry is kept", tok: store.Token{Hash: "earlier", AgentID: "a1", ExpiresAt: &earlier}, after: &earlier},
			{name: "other agent untouched", tok: store.Token{Hash: "other", AgentID: "a2"}, after: nil},
		}
		for _, tc := range tests {
			tc.tok.CreatedAt = now
			must(t, st.PutToken(ctx, tc.tok))
		}
		must(t, st.ExpireTokens(ctx, "a1", at))
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.TokenByHash(ctx, tc.tok.Hash)
				must(t, err)
				equal(t, "expires", got.ExpiresAt, tc.after)
			})
		}
	})
}

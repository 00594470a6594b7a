package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/testutil/tlstest"
)

// TestAuditStreamClientGoneIsNotAnError: a reader that stops an export or
// a streamed verification half-way is logged at INFO, not at ERROR (which
// would page whoever watches the server's errors).
func TestAuditStreamClientGoneIsNotAnError(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ADMISSION_DATA_DIR": dir, "ADMISSION_AUTH_BOOTSTRAP_TOKEN": adminToken,
		"ADMISSION_STORE_SQLITE_PATH": filepath.Join(dir, "agentgate.db")}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var logs tlstest.SyncBuffer
	a, err := New(t.Context(), Options{Config: cfg, Providers: testProviders, Announce: io.Discard,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Enough records (about 4 MB) that the stream outlasts the socket's buffers.
	err = a.Store.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
		for i := range 4000 {
			r := &audit.Record{ID: fmt.Sprintf("r-%d", i), Time: time.Now(), Kind: audit.KindAdminChange, Actor: "test",
				Message: strings.Repeat("x", 1000)}
			if err := q.AppendAudit(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Server.Handler())
	defer srv.Close()
	for _, path := range []string{"/api/v1/audit/export", "/api/v1/audit/verify?progress=true"} {
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			cancel()
			resp.Body.Close()
		})
	}
	what := map[string]string{"/api/v1/audit/export": "audit export", "/api/v1/audit/verify?progress=true": "audit verification"}
	for path, name := range what {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), name+" stopped: the client went away") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no INFO line for the client going away; logs:\n%s", path, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a client going away was logged as an error:\n%s", logs.String())
	}
}

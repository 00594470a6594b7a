package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testutil/tlstest"
)

// TestSlowBody408: a client that sends its headers and then trickles the
// body past the server's read timeout gets 408 with the API's error body,
// and the server logs no ERROR line (the server is not at fault).
func TestSlowBody408(t *testing.T) {
	for _, path := range []string{"/webhooks/generic", "/api/v1/agents"} {
		t.Run(path, func(t *testing.T) {
			logs := &tlstest.SyncBuffer{}
			dir := t.TempDir()
			env := map[string]string{
				"ADMISSION_DATA_DIR": dir, "ADMISSION_AUTH_BOOTSTRAP_TOKEN": adminToken,
				"ADMISSION_WEBHOOKS_GENERIC_SECRET": webhookSecret, "ADMISSION_SERVER_READ_TIMEOUT": "300ms",
				"ADMISSION_ARGO_WATCH_ENABLED": "false",
			}
			cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(context.Background(), Options{Config: cfg, Providers: testProviders, Announce: io.Discard,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Server.Serve(ctx, ln) }()
			t.Cleanup(func() { cancel(); <-done })

			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: agentgate\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":", path, adminToken)
			for range 3 { // a byte at a time, slower than the read timeout allows
				time.Sleep(200 * time.Millisecond)
				_, _ = conn.Write([]byte(" "))
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal(raw, &body) != nil || body.Error.Code != "request_timeout" {
				t.Fatalf("slow body = %d %s, want 408 request_timeout", resp.StatusCode, raw)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("a client's slow body was logged as an error:\n%s", logs.String())
			}
		})
	}
}

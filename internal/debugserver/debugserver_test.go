package debugserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeProfilesUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, slog.New(slog.DiscardHandler)) }()
	base := "http://" + ln.Addr().String()
	tests := []struct {
		name, path, want string
	}{
		{name: "index", path: "/debug/pprof/", want: "heap"},
		{name: "heap profile", path: "/debug/pprof/heap?debug=1", want: "heap profile"},
		{name: "goroutines", path: "/debug/pprof/goroutine?debug=1", want: "goroutine profile"},
		{name: "cpu profile", path: "/debug/pprof/profile?seconds=1", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) || len(body) == 0 {
				t.Fatalf("%s: %d, %d bytes", tc.path, resp.StatusCode, len(body))
			}
		})
	}
	if resp, err := http.Get(base + "/api/v1/agents"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the debug listener served %d for an API path", resp.StatusCode)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop after cancel")
	}
}

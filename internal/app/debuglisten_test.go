package app

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDebugListener: with server.debug_listen set, a running service
// serves its runtime profiles there, and not on the API listener.
func TestDebugListener(t *testing.T) {
	api, debug := freeAddr(t), freeAddr(t)
	h := newHarness(t, "sqlite", func(c *config.Config) {
		c.Server.Listen, c.Server.DebugListen = api, debug
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.app.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}()
	get := func(url string) (int, string) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				defer resp.Body.Close()
				buf := make([]byte, 4096)
				n, _ := resp.Body.Read(buf)
				return resp.StatusCode, string(buf[:n])
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if code, body := get("http://" + debug + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("debug listener answered %d: %.200s", code, body)
	}
	if code, _ := get("http://" + api + "/debug/pprof/"); code != http.StatusNotFound && code != http.StatusUnauthorized {
		t.Fatalf("the API listener served profiles: %d", code)
	}
}

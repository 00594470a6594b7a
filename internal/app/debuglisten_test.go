package app

import (
	"context"
	"io"
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

// get asks url until the listener answers (it starts with Run), and
// returns the status and the start of the body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs h's app until the test ends.
func run(t *testing.T, h *harness) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

// TestHealthListener: with server.health_listen set, a running service
// answers its probes and scrapes there too.
func TestHealthListener(t *testing.T) {
	api, health := freeAddr(t), freeAddr(t)
	h := newHarness(t, "sqlite", func(c *config.Config) {
		c.Server.Listen, c.Server.HealthListen = api, health
	})
	run(t, h)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "agentgate_http_connections_max 2048"} {
		if code, body := get(t, "http://"+health+path); code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("health listener %s: %d %.300s", path, code, body)
		}
	}
	if code, _ := get(t, "http://"+health+"/api/v1/agents"); code != http.StatusNotFound {
		t.Errorf("the health listener served the API: %d", code)
	}
}

// TestDebugListener: with server.debug_listen set, a running service
// serves its runtime profiles there, and not on the API listener.
func TestDebugListener(t *testing.T) {
	api, debug := freeAddr(t), freeAddr(t)
	h := newHarness(t, "sqlite", func(c *config.Config) {
		c.Server.Listen, c.Server.DebugListen = api, debug
	})
	run(t, h)
	if code, body := get(t, "http://"+debug+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("debug listener answered %d: %.200s", code, body)
	}
	if code, _ := get(t, "http://"+api+"/debug/pprof/"); code != http.StatusNotFound && code != http.StatusUnauthorized {
		t.Fatalf("the API listener served profiles: %d", code)
	}
}

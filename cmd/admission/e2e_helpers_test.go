package main

import (
	"context"
	"io"
	"testing"

	agentgate "github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/config"
)

// startApp builds the whole service from ADMISSION_* variables in env,
// through the real provider registry, and closes it when the test ends.
func startApp(t *testing.T, env map[string]string) *agentgate.App {
	t.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := agentgate.New(context.Background(), agentgate.Options{Config: cfg, Providers: buildProviders, Announce: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

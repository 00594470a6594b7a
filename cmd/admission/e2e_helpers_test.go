package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	agentgate "github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/config"
)

// startApp builds the whole service from ADMISSION_* variables in env,
// through the real provider registry, and closes it when the test ends.
func startApp(t *testing.T, env map[string]string) *agentgate.App {
	t.Helper()
	return startAppFile(t, "", env)
}

// startAppFile is startApp with a config file as well (for keys the
// environment cannot set, such as maps).
func startAppFile(t *testing.T, yaml string, env map[string]string) *agentgate.App {
	t.Helper()
	path := ""
	if yaml != "" {
		path = filepath.Join(t.TempDir(), "agentgate.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
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

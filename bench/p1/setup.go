package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"gopkg.in/yaml.v3"

	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/policies"
)

// buildsPerHour is the limit the benchmark's policy copy gives trusted
// coding agents (builds per hour and concurrent Workflows), so that no
// decision of a run is denied by a quota.
const buildsPerHour = 100_000_000

// policyDir writes the built-in policy set to dir with the trusted coding
// agents' builds_per_hour raised to buildsPerHour, and returns it as a
// bundle for OPA.
func policyDir(dir string) (policy.Bundle, error) {
	src := policies.FS()
	err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, name)
		if err != nil {
			return err
		}
		if name == "data/tiers.yaml" {
			if b, err = raiseLimit(b); err != nil {
				return err
			}
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return policy.Bundle{}, fmt.Errorf("policy copy: %w", err)
	}
	return policy.ReadBundle(os.DirFS(dir))
}

func raiseLimit(b []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	limits, _ := doc["tiers"].(map[string]any)["limits"].(map[string]any)
	trusted, ok := limits["coding"].(map[string]any)["trusted"].(map[string]any)
	if !ok {
		return nil, errors.New("tiers.yaml: no tiers.limits.coding.trusted")
	}
	trusted["builds_per_hour"] = buildsPerHour
	trusted["concurrent_workflows"] = buildsPerHour
	return yaml.Marshal(doc)
}

// opaDir writes b for `opa run --server DIR`: the modules, and data.json
// holding the data document at data.agentgate.
func opaDir(dir string, b policy.Bundle) error {
	for name, src := range b.Modules {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			return err
		}
	}
	data, err := json.Marshal(map[string]any{policy.DataRoot: b.Data})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "data.json"), data, 0o644)
}

// goInstall builds pkg@version into the cache's bin directory once and
// returns the binary.
func goInstall(ctx context.Context, cache, pkg, version, name string) (string, error) {
	bin := filepath.Join(cache, "bin-"+version, name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", pkg+"@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", pkg, version, err, out)
	}
	return bin, nil
}

// buildAgentgate builds this checkout's admission binary.
func buildAgentgate(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "admission")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/admission")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/admission (run from the repository root): %w\n%s", err, out)
	}
	return bin, nil
}

// process is a server the benchmark started.
type process struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  *os.File
}

// start runs bin with args and env, logging to dir/name.log, and waits
// until ready answers 200.
func start(ctx context.Context, dir, name, url, ready string, env []string, bin string, args ...string) (*process, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, url: url, cmd: cmd, log: logf}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("%s never became ready (see %s)", name, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	_ = p.log.Close()
}

// rss reads the process's resident set and its peak, in bytes.
func (p *process) rss() (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return cur, peak
}

// cpu reads the process's user plus system CPU time so far.
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces), from ") ".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
}

// freeAddr returns a free loopback address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// pgSchema creates a fresh schema on the PostgreSQL at dsn and returns a
// DSN using it and a function dropping it.
func pgSchema(ctx context.Context, dsn string) (string, func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", dsn, err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	schema := "agentgate_bench_" + hex.EncodeToString(r[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		return "", nil, err
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	drop := func() {
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
		_ = db.Close()
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

// post sends v as JSON and checks the status.
func post(ctx context.Context, c *http.Client, url, token string, v any, want int) ([]byte, error) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s: status %d: %s", url, resp.StatusCode, out.Bytes())
	}
	return out.Bytes(), nil
}

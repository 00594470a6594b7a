package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
)

// served is an `admission serve` process of the crash test.
type served struct {
	url string
	cmd *exec.Cmd
}

func serveBinary(t *testing.T, bin string, env []string) *served {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "ADMISSION_SERVER_LISTEN=" + addr, "ADMISSION_LOG_LEVEL=warn"}, env...)
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{url: "http://" + addr, cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("admission serve never became ready:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKillNineLosesNoAnsweredDecision sends signed webhooks from many
// workers to the real binary, kills it with SIGKILL mid-load (shared
// transactions in flight), restarts it on the same store and checks that
// every decision it answered is in the audit log and the chain verifies.
func TestKillNineLosesNoAnsweredDecision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := filepath.Join(t.TempDir(), "admission")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const secret = "crash-generic-secret-0123456789"
	stores := []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{name: "sqlite", env: func(t *testing.T) []string { return []string{"ADMISSION_DATA_DIR=" + t.TempDir()} }},
		{name: "postgres", env: func(t *testing.T) []string {
			return []string{"ADMISSION_DATA_DIR=" + t.TempDir(), "ADMISSION_STORE_DRIVER=postgres", "ADMISSION_STORE_POSTGRES_DSN=" + pgtest.DSN(t)}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			env := append(st.env(t), "ADMISSION_AUTH_BOOTSTRAP_TOKEN="+e2eAdmin, "ADMISSION_WEBHOOKS_GENERIC_SECRET="+secret)
			srv := serveBinary(t, bin, env)
			for i := range 8 {
				b, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("crash-%d", i), "type": "coding", "owner": "ops", "tier": "trusted",
					"capabilities": []string{"build"}, "principals": []string{fmt.Sprintf("github:crash-%d[bot]", i)}})
				req, _ := http.NewRequest(http.MethodPost, srv.url+"/api/v1/agents", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+e2eAdmin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusCreated {
					t.Fatalf("provision: %v %v", err, resp)
				}
				resp.Body.Close()
			}
			var (
				mu      sync.Mutex
				acked   []string
				n       atomic.Int64
				stop    atomic.Bool
				workers sync.WaitGroup
			)
			client := &http.Client{Timeout: 5 * time.Second}
			for range 16 {
				workers.Go(func() {
					for !stop.Load() {
						i := n.Add(1)
						body, _ := json.Marshal(map[string]any{"kind": "build", "repo": "acme/api", "sha": fmt.Sprintf("%040x", i),
							"principal": fmt.Sprintf("github:crash-%d[bot]", i%8)})
						req, _ := http.NewRequest(http.MethodPost, srv.url+"/webhooks/generic", bytes.NewReader(body))
						req.Header.Set("X-Agentgate-Delivery", fmt.Sprintf("crash-%d", i))
						req.Header.Set("X-Agentgate-Signature-256", providers.SignHMACSHA256([]byte(secret), body))
						resp, err := client.Do(req)
						if err != nil {
							continue // the server died: not answered
						}
						var ans struct {
							Decisions []struct {
								DecisionID string `json:"decision_id"`
							} `json:"decisions"`
						}
						err = json.NewDecoder(resp.Body).Decode(&ans)
						resp.Body.Close()
						if err == nil && resp.StatusCode == http.StatusOK && len(ans.Decisions) == 1 {
							mu.Lock()
							acked = append(acked, ans.Decisions[0].DecisionID)
							mu.Unlock()
						}
					}
				})
			}
			time.Sleep(1500 * time.Millisecond)
			_ = srv.cmd.Process.Signal(syscall.SIGKILL)
			_ = srv.cmd.Wait()
			stop.Store(true)
			workers.Wait()
			if len(acked) < 50 {
				t.Fatalf("only %d decisions answered before the kill", len(acked))
			}

			srv = serveBinary(t, bin, env)
			recorded := map[string]bool{}
			req, _ := http.NewRequest(http.MethodGet, srv.url+"/api/v1/audit/export", nil)
			req.Header.Set("Authorization", "Bearer "+e2eAdmin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var rec struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(sc.Bytes(), &rec) == nil {
					recorded[rec.ID] = true
				}
			}
			resp.Body.Close()
			lost := 0
			for _, id := range acked {
				if !recorded[id] {
					lost++
				}
			}
			if lost > 0 {
				t.Fatalf("%d of %d answered decisions are missing after kill -9", lost, len(acked))
			}
			req, _ = http.NewRequest(http.MethodGet, srv.url+"/api/v1/audit/verify", nil)
			req.Header.Set("Authorization", "Bearer "+e2eAdmin)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				OK      bool  `json:"ok"`
				Checked int64 `json:"checked"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if !v.OK || v.Checked < int64(len(acked)) {
				t.Fatalf("audit chain after kill -9: %+v (answered %d)", v, len(acked))
			}
			t.Logf("%d decisions answered before kill -9, all recorded; chain of %d verifies", len(acked), v.Checked)
		})
	}
}

package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/policies"
)

const slackSigning = "slack-signing-secret"

// fakeSlack answers the Slack Web API methods agentgate calls and records
// them ("method form").
type fakeSlack struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.mu.Lock()
	f.calls = append(f.calls, method+" "+r.Form.Encode())
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch method {
	case "chat.postMessage", "chat.update":
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C0PROD","ts":"1767225000.000100"}`))
	case "users.info":
		_, _ = w.Write([]byte(`{"ok":true,"user":{"id":"U0APPROVER","name":"alice","profile":{"email":"alice@example.com"}}}`))
	case "usergroups.list":
		_, _ = w.Write([]byte(`{"ok":true,"usergroups":[{"id":"S0SRE","handle":"sre-oncall"}]}`))
	case "usergroups.users.list":
		_, _ = w.Write([]byte(`{"ok":true,"users":["U0APPROVER"]}`))
	default:
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
}

// wait returns the recorded calls once one of them starts with method.
func (f *fakeSlack) wait(t *testing.T, method string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, c := range f.calls {
			if strings.HasPrefix(c, method+" ") {
				out := append([]string(nil), f.calls...)
				f.calls = nil
				f.mu.Unlock()
				return out
			}
		}
		f.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("Slack never saw %s", method)
	return nil
}

// policyDir is the built-in policy set with production approvers set to
// the Slack user group @sre-oncall.
func policyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS(), p)
		if err != nil {
			return err
		}
		if p == "data/settings.yaml" {
			b = []byte(strings.Replace(string(b), "production:\n        - role:admin", "production:\n        - \"@sre-oncall\"", 1))
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// click posts a signed block_actions interaction as Slack does.
func click(t *testing.T, h http.Handler, user, approvalID string) int {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "username": "alice", "name": "alice"},
		"container": map[string]any{"type": "message", "message_ts": "1767225000.000100", "channel_id": "C0PROD"},
		"channel":   map[string]any{"id": "C0PROD"}, "trigger_id": "1.2.3",
		"message": map[string]any{"ts": "1767225000.000100"},
		"actions": []map[string]any{{"action_id": "agentgate_approve", "block_id": "agentgate_actions",
			"value": approvalID, "type": "button", "action_ts": "1767225598.412377"}},
	})
	body := "payload=" + url.QueryEscape(string(payload))
	ts := fmt.Sprint(time.Now().Unix())
	mac := hmac.New(sha256.New, []byte(slackSigning))
	mac.Write([]byte("v0:" + ts + ":" + body))
	req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestSlackApprovalEndToEnd: a GitHub deployment protection rule held for
// approval is announced in Slack; a member of the approver group clicks
// Approve; GitHub's deployment callback is approved and the Slack message
// loses its buttons.
func TestSlackApprovalEndToEnd(t *testing.T) {
	sl := &fakeSlack{}
	slackSrv := httptest.NewServer(sl)
	t.Cleanup(slackSrv.Close)
	gh := &fakeGitHub{}
	ghSrv := httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)
	env := map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin, "ADMISSION_POLICY_DIR": policyDir(t),
		"ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret, "ADMISSION_GITHUB_TOKEN": "gh-test-token", "ADMISSION_GITHUB_BASE_URL": ghSrv.URL + "/",
		"ADMISSION_SLACK_BOT_TOKEN": "xoxb-test", "ADMISSION_SLACK_SIGNING_SECRET": slackSigning, "ADMISSION_SLACK_CHANNEL": "C0PROD",
		"ADMISSION_SLACK_API_URL": slackSrv.URL + "/api/",
	}
	a := startApp(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Dispatch.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; _ = a.Slack.Shutdown(context.Background()) })
	e := &e2e{t: t, h: a.Server.Handler(), gh: gh, api: ghSrv.URL + "/"}

	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "release-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"production"}, "principals": []string{"github:release-bot[bot]"}}, http.StatusCreated, nil)
	_, ans := e.deliver("deployment_protection_rule", e.fixture("deployment_protection_rule.requested", "coder-bot[bot]", "release-bot[bot]"), true)
	if ans.Decisions[0].Outcome != "approval_required" {
		t.Fatalf("held deployment: %+v", ans)
	}
	id := ans.Decisions[0].Approval.ID
	posted := sl.wait(t, "chat.postMessage")
	if !strings.Contains(strings.Join(posted, "\n"), "agentgate_approve") || !strings.Contains(strings.Join(posted, "\n"), url.QueryEscape(id)) {
		t.Fatalf("Slack message lacks the Approve button for %s: %v", id, posted)
	}

	if code := click(t, e.h, "U0APPROVER", id); code != http.StatusOK {
		t.Fatalf("interaction answered %d", code)
	}
	calls := gh.waitCalls(t, 1)
	if !strings.Contains(calls[0], "/deployment_protection_rule") || !strings.Contains(calls[0], `"state":"approved"`) {
		t.Fatalf("GitHub saw %v", calls)
	}
	updated := strings.Join(sl.wait(t, "chat.update"), "\n")
	if strings.Contains(updated, "agentgate_approve") {
		t.Fatalf("the resolved message still has buttons: %s", updated)
	}
	var ap struct {
		State      string `json:"state"`
		ResolvedBy string `json:"resolved_by"`
	}
	e.call(http.MethodGet, "/api/v1/approvals/"+id, nil, http.StatusOK, &ap)
	if ap.State != "approved" || ap.ResolvedBy != "U0APPROVER" {
		t.Fatalf("approval = %+v", ap)
	}
}

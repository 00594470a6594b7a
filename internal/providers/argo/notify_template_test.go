package argo

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/agentgate/agentgate/internal/secret"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

// renderShippedTemplate renders the webhook body of the notifications
// template shipped in deploy/argocd the way Argo CD's notifications
// controller does: text/template with Sprig's functions (without env and
// expandenv), the Application as unstructured JSON under "app".
func renderShippedTemplate(t *testing.T, app map[string]any) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "argocd", "notifications.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(b, []byte("\n---\n"))
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(docs[0], &cm); err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Webhook map[string]struct {
			Method string `json:"method"`
			Body   string `json:"body"`
		} `json:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["template.agentgate-sync"]), &tmpl); err != nil {
		t.Fatal(err)
	}
	hook, ok := tmpl.Webhook["agentgate"]
	if !ok || hook.Method != http.MethodPost {
		t.Fatalf("template.agentgate-sync has no POST webhook for service agentgate: %+v", tmpl)
	}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	tp, err := template.New("agentgate-sync").Funcs(funcs).Parse(hook.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tp.Execute(&out, map[string]any{"app": app, "context": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestShippedNotificationTemplate: the shipped template, rendered for a
// sync that just succeeded, is a report agentgate parses, and it carries
// the history id of the sync (what a rollback goes back to).
func TestShippedNotificationTemplate(t *testing.T) {
	raw, err := os.ReadFile(fixtures.Path("argo", "argocd", "shop.agent-account.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		edit        func(app map[string]any)
		wantHistory string
	}{
		{name: "a succeeded sync carries its history id", wantHistory: "8", edit: func(app map[string]any) {
			status := app["status"].(map[string]any)
			status["operationState"].(map[string]any)["phase"] = "Succeeded"
			status["history"] = append(status["history"].([]any), map[string]any{
				"id": int64(8), "revision": "8f2c1d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6", "deployedAt": "2026-11-22T02:12:00Z"})
		}},
		{name: "an application without history yet", wantHistory: "", edit: func(app map[string]any) {
			status := app["status"].(map[string]any)
			status["operationState"].(map[string]any)["phase"] = "Succeeded"
			delete(status, "history")
		}},
	}
	p := newProvider(t, Options{HookToken: secret.New(testHookToken, "test")})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var app map[string]any
			if err := utiljson.Unmarshal(raw, &app); err != nil {
				t.Fatal(err)
			}
			tc.edit(app)
			body := renderShippedTemplate(t, app)
			d, err := p.Parse(http.Header{}, body)
			if err != nil {
				t.Fatalf("Parse of the rendered template: %v\n%s", err, body)
			}
			if len(d.Events) != 1 {
				t.Fatalf("events %+v from\n%s", d.Events, body)
			}
			ev := d.Events[0]
			if ev.Action != "succeeded" || ev.Principal != "argocd:claude-deployer" || ev.Environment != "production" ||
				ev.SHA != "8f2c1d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6" {
				t.Fatalf("event %+v", ev)
			}
			if got := ev.Handles[HandleHistoryID]; got != tc.wantHistory {
				t.Fatalf("history_id handle %q, want %q; body:\n%s", got, tc.wantHistory, body)
			}
		})
	}
}

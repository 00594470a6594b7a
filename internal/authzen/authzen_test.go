package authzen

import (
	"context"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

// specDefaults is the specification's example of an evaluations request
// with a default subject, context and action, overridden by the third.
const specDefaults = `{
  "subject": {"type": "user", "id": "alice@acmecorp.com"},
  "context": {"time": "2024-05-31T15:22-07:00"},
  "action": {"name": "can_read"},
  "evaluations": [
    {"resource": {"type": "document", "id": "boxcarring.md"}},
    {"resource": {"type": "document", "id": "subject-search.md"}},
    {"action": {"name": "can_edit"}, "resource": {"type": "document", "id": "resource-search.md"}}
  ]
}`

func TestDecodeBatch(t *testing.T) {
	list, semantic, err := DecodeBatch([]byte(specDefaults))
	if err != nil {
		t.Fatal(err)
	}
	if semantic != ExecuteAll || len(list) != 3 || list[0].Subject.ID != "alice@acmecorp.com" || list[1].Action.Name != "can_read" ||
		list[2].Action.Name != "can_edit" || list[2].Resource.ID != "resource-search.md" || list[2].Context["time"] != "2024-05-31T15:22-07:00" {
		t.Fatalf("decoded %+v", list)
	}
	tests := []struct {
		name, body, wantErr string
	}{
		{name: "a single evaluation without the array", body: `{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"1"}}`},
		{name: "no subject anywhere", body: `{"evaluations":[{"action":{"name":"x"},"resource":{"type":"t","id":"1"}}]}`, wantErr: "evaluations[0].subject"},
		{name: "a subject without an id", body: `{"subject":{"type":"user"},"action":{"name":"x"},"resource":{"type":"t","id":"1"}}`, wantErr: "subject with a type and an id"},
		{name: "an action without a name", body: `{"subject":{"type":"user","id":"a"},"action":{},"resource":{"type":"t","id":"1"}}`, wantErr: "action with a name"},
		{name: "an unknown semantic", body: `{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"1"},"options":{"evaluations_semantic":"any"}}`, wantErr: "evaluations_semantic"},
		{name: "two objects", body: `{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"1"}} {}`, wantErr: "after its JSON object"},
		{name: "not an object", body: `[1]`, wantErr: "JSON object"},
		{name: "too many", body: `{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"1"},"evaluations":[` +
			strings.TrimSuffix(strings.Repeat(`{},`, maxEvaluations+1), ",") + `]}`, wantErr: "at most 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeBatch([]byte(tc.body))
			if (err == nil) != (tc.wantErr == "") || err != nil && (!strings.Contains(err.Error(), tc.wantErr) || apperr.KindOf(err) != apperr.KindInvalid) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

type fakeAgents map[string]agents.Agent

func (f fakeAgents) Get(_ context.Context, name string) (agents.Agent, error) {
	a, ok := f[name]
	if !ok {
		return agents.Agent{}, apperr.NotFound("agent %q not found", name)
	}
	return a, nil
}

func TestToEvent(t *testing.T) {
	reg := fakeAgents{"mcp-bot": {Name: "mcp-bot", Principals: []string{"github:mcp-bot[bot]"}}, "ghost": {Name: "ghost"}}
	ev := func(s, a, r string) Evaluation {
		e, err := DecodeEvaluation([]byte(`{"subject":` + s + `,"action":` + a + `,"resource":` + r + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name    string
		e       Evaluation
		check   func(t *testing.T, ev event.Event)
		wantErr string
	}{
		{name: "the specification's example", e: ev(`{"type":"user","id":"alice@acmecorp.com"}`, `{"name":"can_read"}`, `{"type":"todo","id":"1"}`),
			check: func(t *testing.T, ev event.Event) {
				if ev.Principal != "user:alice@acmecorp.com" || ev.Kind != event.KindAPI || ev.Action != "can_read" ||
					ev.Labels["resource_type"] != "todo" || ev.Labels["resource_id"] != "1" || ev.Labels["api_call"] != "true" || ev.Provider != Provider {
					t.Fatalf("%+v", ev)
				}
			}},
		{name: "an agent by name calling a tool", e: ev(`{"type":"agent","id":"mcp-bot","properties":{"session_id":"s-1","initiator":"github:dana"}}`,
			`{"name":"tools/call"}`, `{"type":"tool","id":"github.create_issue","properties":{"repo":"acme/api"}}`),
			check: func(t *testing.T, ev event.Event) {
				if ev.Principal != "github:mcp-bot[bot]" || ev.SessionID != "s-1" || ev.Initiator != "github:dana" || ev.Repo != "acme/api" || ev.Kind != event.KindAPI {
					t.Fatalf("%+v", ev)
				}
			}},
		{name: "a deploy to an environment", e: ev(`{"type":"agent","id":"github:mcp-bot[bot]"}`, `{"name":"deploy"}`,
			`{"type":"environment","id":"production","properties":{"repo":"acme/api","sha":"abc"}}`),
			check: func(t *testing.T, ev event.Event) {
				if ev.Kind != event.KindDeploy || ev.Action != "requested" || ev.Environment != "production" || ev.SHA != "abc" || ev.Labels["api_call"] != "" {
					t.Fatalf("%+v", ev)
				}
			}},
		{name: "an unknown agent", e: ev(`{"type":"agent","id":"nobody"}`, `{"name":"x"}`, `{"type":"t","id":"1"}`), wantErr: "not found"},
		{name: "an agent without a principal", e: ev(`{"type":"agent","id":"ghost"}`, `{"name":"x"}`, `{"type":"t","id":"1"}`), wantErr: "no principal"},
		{name: "a non-string property", e: ev(`{"type":"user","id":"a","properties":{"initiator":7}}`, `{"name":"x"}`, `{"type":"t","id":"1"}`),
			wantErr: "subject.properties.initiator must be a string"},
		{name: "a principal with a zero-width space", e: ev(`{"type":"agent","id":"github:mcp-bot\u200b[bot]"}`, `{"name":"x"}`, `{"type":"t","id":"1"}`),
			wantErr: "format character"},
		{name: "a provider as the type", e: ev(`{"type":"GitHub","id":"octocat"}`, `{"name":"x"}`, `{"type":"t","id":"1"}`),
			check: func(t *testing.T, ev event.Event) {
				if ev.Principal != "github:octocat" || ev.Machine {
					t.Fatalf("%+v", ev)
				}
			}},
		{name: "machine shapes under a person's type", e: ev(`{"type":"user","id":"system:serviceaccount:agents:claude-bot"}`, `{"name":"x"}`, `{"type":"t","id":"1"}`),
			check: func(t *testing.T, ev event.Event) {
				if !ev.Machine {
					t.Fatalf("a service account as a user is not a machine: %+v", ev)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ToEvent(context.Background(), reg, tc.e)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

// FuzzDecodeBatch: no request body makes decoding fail other than by
// refusing, and every evaluation it returns is complete.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(specDefaults))
	f.Add([]byte(`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"1"}}`))
	f.Add([]byte(`{"evaluations":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		list, _, err := DecodeBatch(body)
		if err != nil {
			return
		}
		for _, e := range list {
			if e.Subject == nil || e.Action == nil || e.Resource == nil || e.Subject.ID == "" || e.Action.Name == "" || e.Resource.ID == "" {
				t.Fatalf("incomplete evaluation %+v from %q", e, body)
			}
		}
	})
}

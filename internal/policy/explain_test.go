package policy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

const sampleInput = `{
  "event": {
    "provider": "github",
    "kind": "deploy",
    "repo": "acme/api",
    "environment": "production",
    "principal": "github:shipit[bot]",
    "machine": true
  },
  "agent": {
    "id": "ag_shipit",
    "name": "shipit",
    "type": "deployment",
    "owner": "team-platform",
    "capabilities": ["deploy"],
    "tier": "established",
    "state": "active",
    "environments": ["staging", "production"],
    "namespaces": ["*"],
    "principals": ["github:shipit[bot]"],
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
    "version": 3
  },
  "unregistered_agent": false,
  "usage": {"builds_per_hour": {"used": 3, "limit": 30}},
  "now": "2025-06-01T12:00:00Z"
}`

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string // substrings of the error; nil for success
	}{
		{name: "sample", input: sampleInput},
		{name: "event only", input: `{"event": {"provider": "generic", "kind": "build", "principal": "generic:x"}}`},
		{name: "not JSON", input: `{`, want: []string{"JSON object"}},
		{name: "an array", input: `[]`, want: []string{"JSON object"}},
		{name: "null", input: `null`, want: []string{"not null"}},
		{name: "missing event", input: `{"agent": null}`, want: []string{"input.event is required"}},
		{
			name:  "unknown top-level fields are all named",
			input: `{"event": {}, "agnet": {}, "evnt": 1, "now": ""}`,
			want:  []string{`"agnet", "evnt"`, "event, agent, unregistered_agent, usage, now"},
		},
		{name: "unknown event field", input: `{"event": {"environmnet": "prod"}}`, want: []string{"environmnet"}},
		{name: "unknown agent field", input: `{"event": {}, "agent": {"teir": "new"}}`, want: []string{"teir"}},
		{name: "wrong type", input: `{"event": {"kind": 3}}`, want: []string{"kind"}},
		{name: "trailing data", input: `{"event": {}} {}`, want: []string{"JSON object", "after top-level value"}},
		{name: "bad now", input: `{"event": {}, "now": "yesterday"}`, want: []string{"input.now", "RFC 3339"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInput([]byte(tt.input))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("DecodeInput: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("DecodeInput succeeded")
			}
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Errorf("error kind %s, want %s", apperr.KindOf(err), apperr.KindInvalid)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEvalFile(t *testing.T) {
	ctx := context.Background()
	e := builtinEngine(t)
	res, err := EvalFile(ctx, e, []byte(sampleInput))
	if err != nil {
		t.Fatalf("EvalFile: %v", err)
	}
	if !res.Decision.Allow || res.Decision.RequireApproval == nil || res.Revision != e.Revision() {
		t.Errorf("result = %+v, want an allowed decision that needs approval", res)
	}

	// A missing now is the current time: an agent that expired a minute ago
	// is refused.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	in := strings.Replace(sampleInput, `"now": "2025-06-01T12:00:00Z"`, `"now": ""`, 1)
	in = strings.Replace(in, `"version": 3`, `"version": 3, "expires_at": "`+past+`"`, 1)
	res, err = EvalFile(ctx, e, []byte(in))
	if err != nil {
		t.Fatalf("EvalFile: %v", err)
	}
	if res.Decision.Allow || res.Decision.Deny[0].Rule != "agent_expired" {
		t.Errorf("decision = %+v, want agent_expired", res.Decision)
	}

	// The event is validated as the gate validates it.
	_, err = EvalFile(ctx, e, []byte(`{"event": {"kind": "build", "principal": "github:x"}}`))
	if err == nil || !strings.Contains(err.Error(), "provider") {
		t.Errorf("EvalFile without a provider: err = %v", err)
	}
}

func FuzzEvalFile(f *testing.F) {
	for _, seed := range []string{
		sampleInput,
		`{"event": {"provider": "github", "kind": "build", "principal": "github:octocat"}}`,
		`{"event": {"provider": "gitlab", "kind": "deploy", "environment": "review/x", "namespace": "web", "phase": "end", "principal": "gitlab:project_1_bot"}, "unregistered_agent": true}`,
		`{"event": {"provider": "argo", "kind": "sync", "principal": "k8s:system:serviceaccount:ci:agent", "labels": {"api_call": "true"}}, "agent": {"type": "x", "tier": "trusted", "state": "active", "environments": null, "expires_at": "2262-01-01T00:00:00Z"}}`,
		`{"event": {}, "agent": {}, "usage": {"a": {"used": -1}}, "now": "2025-01-01T00:00:00.123456789+05:30"}`,
		`{"event": {"provider": "github", "kind": "workflow", "principal": "github:\u00ff", "environment": "prod-{a,b}"}}`,
		`[]`, `null`, `{"event": null}`, `{"event": {"cost": {"minutes": 1e308}}}`,
	} {
		f.Add([]byte(seed))
	}
	e := builtinEngine(f)
	encode := newInputEncoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		res, err := EvalFile(ctx, e, data)
		if err == nil {
			d := res.Decision
			if !d.Enforcement.Valid() || (d.Allow && len(d.Deny) > 0) || res.Revision == "" {
				t.Fatalf("inconsistent decision %+v for %s", res, data)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
		}
		in, err := DecodeInput(data)
		if err != nil {
			return
		}
		// The fast input encoder agrees with encoding/json on anything
		// DecodeInput accepts.
		want, wantErr := inputValueJSON(&in)
		got, gotErr := encode(&in)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("encoder err %v, JSON err %v", gotErr, wantErr)
		}
		if wantErr == nil && got.Compare(want) != 0 {
			t.Fatalf("encoder %v, JSON %v", got, want)
		}
	})
}

package agentfile

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
)

const twoAgents = `---
apiVersion: agentgate.io/v1
kind: Agent
name: pay-coder
type: coding
owner: payments@example.com
capabilities: [build]
environments: [staging]
principals: ["github:pay-coder[bot]"]
labels: {team: payments}
---
kind: Agent
name: pay-deployer
type: deployment
owner: payments@example.com
tier: established
capabilities:
  - deploy
environments: [staging, production]
namespaces: [payments]
principals: ["argocd:pay-deployer"]
expires_at: 2027-06-30T00:00:00Z
---
`

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantNames []string
		wantErr   string
	}{
		{name: "two documents", in: twoAgents, wantNames: []string{"pay-coder", "pay-deployer"}},
		{name: "empty file", in: ""},
		{name: "only separators", in: "---\n---\n"},
		{name: "unknown field", in: "kind: Agent\nname: a\nowner: x\nteir: trusted\n", wantErr: "field teir not found"},
		{name: "state is not declared", in: "kind: Agent\nname: a\nstate: active\n", wantErr: "field state not found"},
		{name: "other kind", in: "kind: KillSwitch\nname: a\n", wantErr: `kind is "KillSwitch", want "Agent"`},
		{name: "no kind", in: "name: a\n", wantErr: `kind is "", want "Agent"`},
		{name: "other version", in: "apiVersion: agentgate.io/v2\nkind: Agent\nname: a\n", wantErr: `apiVersion "agentgate.io/v2"`},
		{name: "no name", in: "kind: Agent\ntype: coding\n", wantErr: "document 1: name is required"},
		{name: "second document bad", in: "kind: Agent\nname: a\n---\nkind: Agent\nname: [x]\n", wantErr: "document 2"},
		{name: "not YAML", in: "kind: Agent\n  name: : :\n", wantErr: "document 1"},
		{name: "a list, not a document", in: "- kind: Agent\n", wantErr: "document 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := Parse("agents.yaml", []byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || apperr.KindOf(err) != apperr.KindInvalid {
					t.Fatalf("err = %v, want an invalid-input error containing %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "agents.yaml: ") {
					t.Fatalf("err %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range docs {
				names = append(names, d.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Fatalf("names %v, want %v", names, tc.wantNames)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	docs, err := Parse("agents.yaml", []byte(twoAgents))
	if err != nil {
		t.Fatal(err)
	}
	s := docs[1].Spec()
	exp := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	if s.Type != "deployment" || s.Tier != agents.TierEstablished || strings.Join(s.Capabilities, ",") != "deploy" ||
		strings.Join(s.Environments, ",") != "staging,production" || s.ExpiresAt == nil || !s.ExpiresAt.Equal(exp) ||
		docs[1].APIVersion != APIVersion {
		t.Fatalf("spec %+v", s)
	}
	if docs[0].Labels["team"] != "payments" || docs[0].Tier != "" {
		t.Fatalf("first document %+v", docs[0])
	}
}

// TestRoundTrip: what `agents get -o yaml` writes, apply reads back as the
// same agent.
func TestRoundTrip(t *testing.T) {
	exp := time.Date(2027, 6, 30, 12, 0, 0, 0, time.FixedZone("CEST", 7200))
	a := agents.Agent{ID: "id-1", Name: "pay-deployer", Type: "deployment", Owner: "payments@example.com", Tier: agents.TierTrusted,
		State: agents.StateSuspended, Capabilities: []string{"deploy"}, Environments: []string{"staging", "production"},
		Namespaces: []string{}, Principals: []string{"argocd:pay-deployer"}, Labels: map[string]string{"team": "payments"}, ExpiresAt: &exp}
	var buf bytes.Buffer
	if err := Write(&buf, []Document{FromAgent(a), FromAgent(agents.Agent{Name: "b", Type: "coding", Owner: "o"})}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "suspended") || strings.Contains(buf.String(), "id-1") {
		t.Fatalf("runtime state written into the file:\n%s", buf.String())
	}
	docs, err := Parse("out.yaml", buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	s := docs[0].Spec()
	if s.Name != a.Name || s.Owner != a.Owner || s.Tier != a.Tier || !s.ExpiresAt.Equal(exp) ||
		strings.Join(s.Principals, ",") != "argocd:pay-deployer" || s.Labels["team"] != "payments" {
		t.Fatalf("read back %+v from\n%s", s, buf.String())
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(twoAgents))
	f.Add([]byte("kind: Agent\nname: a\n"))
	f.Add([]byte("---\n- x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse("fuzz.yaml", data)
		if err != nil {
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
			}
			return
		}
		for _, d := range docs {
			if d.Kind != Kind || d.APIVersion != APIVersion || d.Name == "" {
				t.Fatalf("accepted %+v", d)
			}
		}
		// What was read writes and reads back to the same documents.
		var buf bytes.Buffer
		if err := Write(&buf, docs); err != nil {
			t.Fatal(err)
		}
		again, err := Parse("again.yaml", buf.Bytes())
		if err != nil || len(again) != len(docs) {
			t.Fatalf("re-read: %d documents, %v\n%s", len(again), err, buf.String())
		}
	})
}

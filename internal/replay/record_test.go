package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
)

func sampleInput() policy.Input {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	return policy.Input{
		Event: event.Event{Provider: "github", Kind: event.KindBuild, Action: "requested", Repo: "acme/payments", Ref: "refs/heads/fix-flaky",
			SHA: "9f2c4e1d8b7a6c5e4f3a2b1c0d9e8f7a6b5c4d3e", Principal: "github:pay-coder[bot]",
			Trigger: event.Trigger{Prompt: "fix the flaky checkout test and open a pull request", Reasoning: "the retry loop masks a race",
				Source: "slack", TriggeredBy: "dana"},
			Handles: map[string]string{"run_id": "30433642", "workflow": "ci.yml"}, Labels: map[string]string{"event": "workflow_run"}},
		Agent: &agents.Agent{ID: "549b7c41-d3e2-4659-b32d-705fc3478075", Name: "pay-coder", Type: "coding", Owner: "payments@example.com",
			Tier: agents.TierNew, State: agents.StateActive, Capabilities: []string{"build", "deploy"}, Environments: []string{"staging", "preview-*"},
			Principals: []string{"github:pay-coder[bot]"}, Labels: map[string]string{"team": "payments"}, ExpiresAt: &exp, Version: 3},
		Usage: map[string]policy.Usage{"builds_per_hour": {Used: 7, Limit: 20}, "concurrent_environments": {Used: 1, Limit: 2}},
		Now:   "2026-12-04T12:00:00.123456Z",
	}
}

func TestCodecRoundTrip(t *testing.T) {
	var c Codec
	in := sampleInput()
	d := policy.Decision{Allow: true, Deny: []policy.Reason{{Rule: "scope.environment"}, {Rule: "capability"}, {Rule: "capability"}},
		Warnings: []policy.Reason{{Rule: "unregistered_agent", Enforcement: policy.Warn}}}
	b, err := c.Encode(&in, "sha256:abc", d)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	got, err := c.Decode(42, at, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 42 || !got.Time.Equal(at) || got.Revision != "sha256:abc" || got.Input.Agent.Name != "pay-coder" ||
		got.Input.Event.Trigger.Prompt != in.Event.Trigger.Prompt || got.Input.Usage["builds_per_hour"].Used != 7 ||
		got.Decision.Outcome != Deny || strings.Join(got.Decision.Deny, ",") != "capability,scope.environment" ||
		strings.Join(got.Decision.Warn, ",") != "unregistered_agent" {
		t.Fatalf("round trip = %+v", got)
	}
	for name, bad := range map[string][]byte{"empty": nil, "not zstd": []byte("{}"), "truncated": b[:len(b)/2]} {
		if _, err := c.Decode(1, at, bad); err == nil {
			t.Errorf("%s decoded", name)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		d    policy.Decision
		want string
	}{
		{name: "allowed", d: policy.Decision{Allow: true}, want: Allow},
		{name: "allow false", d: policy.Decision{}, want: Deny},
		{name: "denied", d: policy.Decision{Allow: true, Deny: []policy.Reason{{Rule: "x"}}}, want: Deny},
		{name: "held", d: policy.Decision{Allow: true, RequireApproval: &policy.ApprovalRequirement{Reason: "prod"}}, want: ApprovalRequired},
		{name: "denied over held", d: policy.Decision{Deny: []policy.Reason{{Rule: "x"}}, RequireApproval: &policy.ApprovalRequirement{}}, want: Deny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.d).Outcome; got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
		})
	}
}

func TestReport(t *testing.T) {
	r := NewReport(1)
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	rec := func(seq int64, s Summary) Recorded {
		return Recorded{Seq: seq, Time: at.Add(time.Duration(seq) * time.Minute), Revision: "old", Decision: s}
	}
	allow, deny := Summary{Outcome: Allow}, Summary{Outcome: Deny, Deny: []string{"capability"}}
	r.Add(rec(1, allow), allow, nil)
	r.Add(rec(2, allow), deny, nil)
	r.Add(rec(3, allow), deny, nil)
	r.Add(rec(4, deny), allow, nil)
	r.Add(rec(5, deny), Summary{Outcome: Deny, Deny: []string{"scope.environment"}}, nil)
	r.Add(rec(6, allow), Summary{}, errTest)
	if r.Decisions != 6 || r.Changed != 4 || r.Errors != 1 || r.Transitions["allow -> deny"] != 2 || r.Transitions["deny -> allow"] != 1 ||
		r.Transitions["deny (other rules)"] != 1 || r.Rules["capability"] != (RuleChange{Added: 2, Removed: 2}) ||
		r.Rules["scope.environment"] != (RuleChange{Added: 1}) || r.Revisions["old"] != 6 {
		t.Fatalf("report %+v", r)
	}
	if len(r.Examples) != 4 || r.Examples[0].Seq != 2 || r.Examples[3].Error == "" {
		t.Fatalf("examples (one per change) %+v", r.Examples)
	}
	if got := strings.Join(r.SortedTransitions(), "|"); got != "allow -> deny|deny (other rules)|deny -> allow" {
		t.Fatalf("transitions in order %s", got)
	}
	if !r.From.Equal(at.Add(time.Minute)) || !r.To.Equal(at.Add(6*time.Minute)) {
		t.Fatalf("window %s to %s", r.From, r.To)
	}
}

var errTest = errorString("undefined decision")

type errorString string

func (e errorString) Error() string { return string(e) }

// BenchmarkEncode is the cost a decision pays to keep its input, and what
// it stores (bytes/record).
func BenchmarkEncode(b *testing.B) {
	var c Codec
	in := sampleInput()
	d := policy.Decision{Allow: true}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.Encode(&in, "sha256:03c64037d41520c6", d)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/record")
}

func BenchmarkDecode(b *testing.B) {
	var c Codec
	in := sampleInput()
	raw, _ := c.Encode(&in, "sha256:03c64037d41520c6", policy.Decision{Allow: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(1, time.Time{}, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecode: whatever bytes the store holds, Decode refuses or returns a
// record with a decision.
func FuzzDecode(f *testing.F) {
	var c Codec
	in := sampleInput()
	good, _ := c.Encode(&in, "sha256:abc", policy.Decision{Allow: true})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte(`{"revision":"x"}`))
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := c.Decode(7, time.Unix(0, 0), b)
		if err == nil && (r.Decision.Outcome == "" || r.Seq != 7) {
			t.Fatalf("decoded %+v", r)
		}
	})
}

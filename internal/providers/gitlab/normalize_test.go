package gitlab

import (
	"testing"

	"github.com/agentgate/agentgate/internal/event"
)

func TestJobCost(t *testing.T) {
	rates := map[string]float64{"gpu": 0.25, "linux": 0.008, "default": 0.01}
	dur := func(s float64) *float64 { return &s }
	tests := []struct {
		name  string
		d     *float64
		tags  []string
		rates map[string]float64
		want  *event.Cost
	}{
		{name: "one second is a minute", d: dur(1), tags: []string{"linux"}, rates: rates, want: &event.Cost{Minutes: 1, Amount: 0.008, Currency: "USD"}},
		{name: "exact minutes are not rounded up", d: dur(120), tags: []string{"linux"}, rates: rates, want: &event.Cost{Minutes: 2, Amount: 0.016, Currency: "USD"}},
		{name: "first tag with a rate", d: dur(61), tags: []string{"docker", "GPU", "linux"}, rates: rates, want: &event.Cost{Minutes: 2, Amount: 0.5, Currency: "USD"}},
		{name: "default rate", d: dur(180), tags: []string{"windows"}, rates: rates, want: &event.Cost{Minutes: 3, Amount: 0.03, Currency: "USD"}},
		{name: "no rates", d: dur(180), rates: nil, want: &event.Cost{Minutes: 3, Currency: "USD"}},
		{name: "no duration", d: nil, rates: rates},
		{name: "zero duration", d: dur(0), rates: rates},
		{name: "negative duration", d: dur(-5), rates: rates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := jobCost(tc.d, tc.tags, tc.rates)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("jobCost = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoginActor(t *testing.T) {
	tests := []struct {
		login   string
		machine bool
	}{
		{"jsmith", false},
		{"project_42_bot_5f3a9c", true},
		{"group_7_bot_abc", true},
		{"project_42_bot", true},
		{"service_account_group_9_1a2b", true},
		{"project_bot", false},
	}
	for _, tc := range tests {
		t.Run(tc.login, func(t *testing.T) {
			a := loginActor(tc.login)
			if a.principal != "gitlab:"+tc.login || a.machine != tc.machine {
				t.Fatalf("actor = %+v", a)
			}
		})
	}
}

func TestQualifyRef(t *testing.T) {
	tests := []struct {
		name, ref string
		tag       bool
		want      string
	}{
		{name: "branch", ref: "main", want: "refs/heads/main"},
		{name: "tag", ref: "v1.0", tag: true, want: "refs/tags/v1.0"},
		{name: "merge request ref", ref: "refs/merge-requests/1/head", want: "refs/merge-requests/1/head"},
		{name: "empty", ref: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := qualifyRef(tc.ref, tc.tag); got != tc.want {
				t.Fatalf("qualifyRef = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPipelineTrigger(t *testing.T) {
	trailer := "Fix\n\nAgent-Id: from-trailer"
	tests := []struct {
		name string
		vars []variable
		msg  string
		want event.Trigger
	}{
		{name: "variables win", vars: []variable{{Key: "AGENT_ID", Value: "from-var"}}, msg: trailer,
			want: event.Trigger{AgentID: "from-var", Source: sourcePipelineVariables}},
		{name: "trailers without variables", msg: trailer, want: event.Trigger{AgentID: "from-trailer", Source: sourceCommitTrailer}},
		{name: "blank variables fall back", vars: []variable{{Key: "AGENT_ID", Value: "  "}}, msg: trailer,
			want: event.Trigger{AgentID: "from-trailer", Source: sourceCommitTrailer}},
		{name: "neither", msg: "Fix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pipelineTrigger(tc.vars, tc.msg); got != tc.want {
				t.Fatalf("trigger = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestShaFromCommitURL(t *testing.T) {
	sha := "279484c09fbe69ededfced8c1bb6e6d24616b468"
	tests := []struct{ name, in, want string }{
		{name: "commit URL", in: "http://x/root/p/-/commit/" + sha, want: sha},
		{name: "not hex", in: "http://x/-/commit/" + "z" + sha[1:], want: ""},
		{name: "short", in: "http://x/-/commit/279484c0", want: ""},
		{name: "none", in: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := shaFromCommitURL(tc.in); got != tc.want {
				t.Fatalf("= %q, want %q", got, tc.want)
			}
		})
	}
}

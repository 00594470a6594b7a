package event

import (
	"strings"
	"testing"
)

func TestPrincipalLooksMachine(t *testing.T) {
	tests := []struct {
		principal string
		want      bool
	}{
		{"github:dependabot[bot]", true},
		{"github:octocat", false},
		{"github-app:release-bot", true},
		{"gitlab:project_42_bot_1f2e3d", true},
		{"gitlab:group_7_bot_abc", true},
		{"gitlab:project_bot", false},
		{"gitlab:alice", false},
		{"gitlab:service_account_6018816a18e515214e0c34c2b1b7a8e0", true},
		{"gitlab:service_account_group_42_b3f1c2d4e5", true},
		{"gitlab:service_account_", false},
		{"k8s:system:serviceaccount:ci:agent", true},
		{"k8s:jane@example.com", false},
		{"argocd:proj:payments:role:deployer", true},
		{"argocd:admin", false},
		{"nocolon[bot]", false},
	}
	for _, tc := range tests {
		t.Run(tc.principal, func(t *testing.T) {
			if got := PrincipalLooksMachine(tc.principal); got != tc.want {
				t.Fatalf("= %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLooksMachine(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want bool
	}{
		{name: "provider says machine", ev: Event{Principal: "github:someone", Machine: true}, want: true},
		{name: "claims an agent id", ev: Event{Principal: "github:someone", Trigger: Trigger{AgentID: "a1"}}, want: true},
		{name: "human", ev: Event{Principal: "github:someone"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ev.LooksMachine(); got != tc.want {
				t.Fatalf("= %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := func() Event { return Event{Provider: "generic", Kind: KindBuild, Principal: "github:x"} }
	tests := []struct {
		name    string
		mutate  func(*Event)
		wantErr string
	}{
		{name: "minimal event", mutate: func(*Event) {}},
		{name: "no provider", mutate: func(e *Event) { e.Provider = "" }, wantErr: "event.provider"},
		{name: "no kind", mutate: func(e *Event) { e.Kind = "" }, wantErr: "event.kind is required"},
		{name: "bad kind", mutate: func(e *Event) { e.Kind = "nuke" }, wantErr: `"nuke"`},
		{name: "bad phase", mutate: func(e *Event) { e.Phase = "middle" }, wantErr: "event.phase"},
		{name: "unqualified principal", mutate: func(e *Event) { e.Principal = "x" }, wantErr: "provider-qualified"},
		{name: "long repo", mutate: func(e *Event) { e.Repo = strings.Repeat("r", 513) }, wantErr: "event.repo"},
		{name: "long prompt", mutate: func(e *Event) { e.Trigger.Prompt = strings.Repeat("p", 8193) }, wantErr: "prompt"},
		{name: "too many handles", mutate: func(e *Event) {
			e.Handles = map[string]string{}
			for i := 0; i < 65; i++ {
				e.Handles[strings.Repeat("k", i+1)] = "v"
			}
		}, wantErr: "event.handles"},
		{name: "negative cost", mutate: func(e *Event) { e.Cost = &Cost{Amount: -1} }, wantErr: "cost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ok()
			tc.mutate(&ev)
			err := ev.Validate()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

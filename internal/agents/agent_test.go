package agents

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := func() Agent {
		return Agent{Name: "coder-1", Type: TypeCoding, Owner: "alice", Tier: TierNew, State: StateActive,
			Principals: []string{"github:coder-1[bot]", "k8s:system:serviceaccount:ci:coder"}}
	}
	tests := []struct {
		name    string
		mutate  func(*Agent)
		wantErr string
	}{
		{name: "valid", mutate: func(*Agent) {}},
		{name: "custom type", mutate: func(a *Agent) { a.Type = "security-scanner" }},
		{name: "upper-case name", mutate: func(a *Agent) { a.Name = "Coder" }, wantErr: "name"},
		{name: "empty owner", mutate: func(a *Agent) { a.Owner = " " }, wantErr: "owner"},
		{name: "bad tier", mutate: func(a *Agent) { a.Tier = "god" }, wantErr: "tier"},
		{name: "bad state", mutate: func(a *Agent) { a.State = "zombie" }, wantErr: "state"},
		{name: "bad principal", mutate: func(a *Agent) { a.Principals = []string{"coder"} }, wantErr: "principal"},
		{name: "principal with space", mutate: func(a *Agent) { a.Principals = []string{"github:a b"} }, wantErr: "principal"},
		{name: "duplicate principal", mutate: func(a *Agent) { a.Principals = []string{"github:x", "github:x"} }, wantErr: "twice"},
		{name: "empty environment", mutate: func(a *Agent) { a.Environments = []string{""} }, wantErr: "environments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := ok()
			tc.mutate(&a)
			err := a.Validate()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestTierRankAndExpiry(t *testing.T) {
	if TierNew.Rank() != 0 || TierTrusted.Rank() != 2 || Tier("x").Rank() != -1 {
		t.Fatal("tier ranks")
	}
	now := time.Now()
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	for _, tc := range []struct {
		exp  *time.Time
		want bool
	}{{nil, false}, {&past, true}, {&future, false}, {&now, true}} {
		a := Agent{ExpiresAt: tc.exp}
		if a.Expired(now) != tc.want {
			t.Fatalf("Expired(%v) != %v", tc.exp, tc.want)
		}
	}
}

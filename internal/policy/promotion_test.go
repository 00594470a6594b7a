package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
)

func TestAssess(t *testing.T) {
	ctx := context.Background()
	coder := agents.Agent{ID: "a-1", Name: "pay-coder", Type: "coding", Owner: "payments@example.com", Tier: agents.TierNew, State: agents.StateActive,
		CreatedAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	clean := TrackRecord{Days: 30, Decisions: 80, Allowed: 78, Denied: 2, DaysSinceKill: -1, DaysSinceRollback: -1, DaysSinceTierChange: -1, AgeDays: 64}
	builtin := builtinEngine(t)
	tests := []struct {
		name         string
		engine       *Engine
		agent        agents.Agent
		record       TrackRecord
		wantEligible bool
		wantTo       agents.Tier
		wantReason   string
		wantErr      string
	}{
		{name: "a clean busy new coder", engine: builtin, agent: coder, record: clean, wantEligible: true, wantTo: agents.TierEstablished,
			wantReason: "meets every threshold"},
		{name: "killed yesterday", engine: builtin, agent: coder, record: func() TrackRecord { r := clean; r.DaysSinceKill = 1; return r }(),
			wantTo: agents.TierEstablished, wantReason: "no kill switch, rollback or tier change for 14 days"},
		{name: "a set without promotion rules", engine: engineWith(t, map[string]string{"promotion.rego": "", "promotion_test.rego": ""}),
			agent: coder, record: clean, wantErr: ErrNoPromotionRules.Error()},
		{name: "a malformed assessment", engine: engineWith(t, map[string]string{"promotion_test.rego": "",
			"promotion.rego": "package agentgate.promotion\nassessment := \"yes\"\n"}), agent: coder, record: clean, wantErr: "malformed"},
		{name: "an assessment proposing a tier that does not exist", engine: engineWith(t, map[string]string{"promotion_test.rego": "",
			"promotion.rego": "package agentgate.promotion\nassessment := {\"eligible\": true, \"to\": \"root\", \"reasons\": [], \"criteria\": []}\n"}),
			agent: coder, record: clean, wantErr: `proposes tier "root"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.engine.Assess(ctx, PromotionInput{Agent: tc.agent, Record: tc.record, Now: "2026-12-04T12:00:00Z"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Assess = %+v, %v; want error %q", a, err, tc.wantErr)
				}
				if tc.wantErr == ErrNoPromotionRules.Error() && !errors.Is(err, ErrNoPromotionRules) {
					t.Fatalf("error %v is not ErrNoPromotionRules", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Eligible != tc.wantEligible || a.To != tc.wantTo || !strings.Contains(strings.Join(a.Reasons, "; "), tc.wantReason) ||
				a.Revision != tc.engine.Revision() || len(a.Criteria) != 4 {
				t.Fatalf("Assess = %+v", a)
			}
		})
	}
}

package policy

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/policies"
)

func TestEngineBuiltinPolicies(t *testing.T) {
	builtin := builtinEngine(t)
	warnNamespace := engineWith(t, map[string]string{
		"data/settings.yaml": builtinFile(t, "data/settings.yaml", "scope.namespace: enforce", "scope.namespace: warn"),
	})
	dryrunEnvironment := engineWith(t, map[string]string{
		"data/settings.yaml": builtinFile(t, "data/settings.yaml", "scope.environment: enforce", "scope.environment: dryrun"),
	})
	globalWarn := engineWith(t, map[string]string{
		"data/settings.yaml": builtinFile(t, "data/settings.yaml", "mode: enforce", "mode: warn"),
	})
	expired := time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC)
	later := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name   string
		engine *Engine
		in     Input
		// deny and warnings are "rule/enforcement", sorted.
		deny, warnings []string
		quotas         []QuotaSpec
		approval       *ApprovalRequirement
		enforcement    Enforcement
		anomaly        *AnomalyThresholds
	}{
		{
			name:    "new coding agent build charges 20 builds per hour",
			in:      agentInput(testAgent(), testEvent()),
			quotas:  []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name:    "trusted coding agent build charges 200 builds per hour",
			in:      agentInput(testAgent(func(a *agents.Agent) { a.Tier = agents.TierTrusted }), testEvent()),
			quotas:  []QuotaSpec{rate("builds_per_hour", 200, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 60, MaxRequestsPerMinute: 24000},
		},
		{
			name:    "custom type uses the default row",
			in:      agentInput(testAgent(func(a *agents.Agent) { a.Type = "security-scanner" }), testEvent()),
			quotas:  []QuotaSpec{rate("builds_per_hour", 10, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "preview deploy holds an environment lease",
			in:   agentInput(testAgent(), testEvent(deployTo("preview-7"))),
			quotas: []QuotaSpec{
				lease(2, "acme/api/preview-7"),
			},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "workflow marked as an API call charges both rates",
			in: agentInput(testAgent(), testEvent(func(e *event.Event) {
				e.Kind = event.KindWorkflow
				e.Labels = map[string]string{"api_call": "true"}
			})),
			quotas: []QuotaSpec{
				rate("api_calls_per_minute", 500, time.Minute),
				rate("builds_per_hour", 20, time.Hour),
			},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "unregistered bot is denied",
			in: Input{Event: testEvent(func(e *event.Event) { e.Principal = "github:rogue[bot]" }),
				UnregisteredAgent: true, Now: testNow},
			deny: []string{"unregistered_agent/enforce"},
		},
		{
			name:    "suspended agent is denied",
			in:      agentInput(testAgent(func(a *agents.Agent) { a.State = agents.StateSuspended }), testEvent()),
			deny:    []string{"agent_inactive/enforce"},
			quotas:  []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name:    "expired agent is denied",
			in:      agentInput(testAgent(func(a *agents.Agent) { a.ExpiresAt = &expired }), testEvent()),
			deny:    []string{"agent_expired/enforce"},
			quotas:  []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name:    "agent expiring later is allowed",
			in:      agentInput(testAgent(func(a *agents.Agent) { a.ExpiresAt = &later }), testEvent()),
			quotas:  []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "staging-only agent deploying to production is denied",
			in: agentInput(testAgent(func(a *agents.Agent) { a.Environments = []string{"staging"} }),
				testEvent(deployTo("production"))),
			deny:    []string{"scope.environment/enforce"},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "established deployment agent needs approval for production",
			in:   agentInput(deployer(agents.TierEstablished), testEvent(deployTo("production"))),
			approval: &ApprovalRequirement{
				Approvers: []string{"role:admin"},
				TTL:       Duration(4 * time.Hour),
			},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 40, MaxRequestsPerMinute: 6000},
		},
		{
			name:    "trusted deployment agent deploys to production",
			in:      agentInput(deployer(agents.TierTrusted), testEvent(deployTo("production"))),
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 60, MaxRequestsPerMinute: 24000},
		},
		{
			name: "namespace outside the agent's scope is denied",
			in: agentInput(testAgent(), testEvent(func(e *event.Event) {
				e.Kind, e.Namespace = event.KindWorkflow, "payments"
			})),
			deny:    []string{"scope.namespace/enforce"},
			quotas:  []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "missing capability only warns by default",
			in: agentInput(testAgent(func(a *agents.Agent) { a.Capabilities = []string{"build"} }),
				testEvent(deployTo("staging"))),
			warnings: []string{"capability/warn"},
			anomaly:  &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name:   "namespace rule in warn mode allows with a warning",
			engine: warnNamespace,
			in: agentInput(testAgent(), testEvent(func(e *event.Event) {
				e.Kind, e.Namespace = event.KindWorkflow, "payments"
			})),
			warnings: []string{"scope.namespace/warn"},
			quotas:   []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			anomaly:  &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name:   "environment rule in dryrun mode allows and records",
			engine: dryrunEnvironment,
			in: agentInput(testAgent(func(a *agents.Agent) { a.Environments = []string{"staging"} }),
				testEvent(deployTo("qa"))),
			warnings: []string{"scope.environment/dryrun"},
			anomaly:  &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name:        "global warn mode is reported with the denial",
			engine:      globalWarn,
			in:          agentInput(testAgent(func(a *agents.Agent) { a.State = agents.StateKilled }), testEvent()),
			deny:        []string{"agent_inactive/enforce"},
			quotas:      []QuotaSpec{rate("builds_per_hour", 20, time.Hour)},
			enforcement: Warn,
			anomaly:     &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
		{
			name: "human is allowed and charged nothing",
			in: Input{Event: testEvent(func(e *event.Event) {
				e.Principal, e.Machine, e.Kind, e.Environment = "github:octocat", false, event.KindDeploy, "production"
			}), Now: testNow},
		},
		{
			name: "end event carries the lease so it can be released",
			in: agentInput(testAgent(func(a *agents.Agent) { a.State = agents.StateSuspended }),
				testEvent(deployTo("preview-7"), func(e *event.Event) { e.Phase = event.PhaseEnd })),
			quotas:  []QuotaSpec{lease(2, "acme/api/preview-7")},
			anomaly: &AnomalyThresholds{MaxDenialsPerMinute: 20, MaxRequestsPerMinute: 1200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.engine
			if e == nil {
				e = builtin
			}
			res, err := e.Evaluate(context.Background(), tt.in)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			d := res.Decision
			if !strings.HasPrefix(res.Revision, "sha256:") || len(res.Revision) != len("sha256:")+16 {
				t.Errorf("revision %q is not sha256:<16 hex>", res.Revision)
			}
			if want := len(tt.deny) == 0; d.Allow != want {
				t.Errorf("allow = %v, want %v (deny %v)", d.Allow, want, d.Deny)
			}
			if got := ruleIDs(d.Deny); !slices.Equal(got, nonNil(tt.deny)) {
				t.Errorf("deny = %v, want %v", got, tt.deny)
			}
			if got := ruleIDs(d.Warnings); !slices.Equal(got, nonNil(tt.warnings)) {
				t.Errorf("warnings = %v, want %v", got, tt.warnings)
			}
			for _, r := range slices.Concat(d.Deny, d.Warnings) {
				if r.Message == "" {
					t.Errorf("reason %s has no message", r.Rule)
				}
			}
			if got, want := sortedQuotas(d.Quotas), sortedQuotas(tt.quotas); !slices.Equal(got, want) {
				t.Errorf("quotas = %+v, want %+v", got, want)
			}
			switch {
			case tt.approval == nil && d.RequireApproval != nil:
				t.Errorf("require_approval = %+v, want none", d.RequireApproval)
			case tt.approval != nil && d.RequireApproval == nil:
				t.Errorf("require_approval is missing")
			case tt.approval != nil:
				a := d.RequireApproval
				if !slices.Equal(a.Approvers, tt.approval.Approvers) || a.TTL != tt.approval.TTL || a.Reason == "" {
					t.Errorf("require_approval = %+v, want approvers %v ttl %v and a reason", a, tt.approval.Approvers, tt.approval.TTL)
				}
			}
			wantMode := tt.enforcement
			if wantMode == "" {
				wantMode = Enforce
			}
			if d.Enforcement != wantMode {
				t.Errorf("enforcement = %q, want %q", d.Enforcement, wantMode)
			}
			switch {
			case tt.anomaly == nil && d.Anomaly != nil:
				t.Errorf("anomaly = %+v, want none", d.Anomaly)
			case tt.anomaly != nil && (d.Anomaly == nil || *d.Anomaly != *tt.anomaly):
				t.Errorf("anomaly = %+v, want %+v", d.Anomaly, tt.anomaly)
			}
		})
	}
}

func TestEngineMessages(t *testing.T) {
	e := builtinEngine(t)
	in := agentInput(testAgent(func(a *agents.Agent) { a.Environments = []string{"staging"} }), testEvent(deployTo("production")))
	res, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Decision.Deny) != 1 {
		t.Fatalf("deny = %v", res.Decision.Deny)
	}
	msg := res.Decision.Deny[0].Message
	for _, want := range []string{`agent "fixer"`, "ag_fixer", `environment "production"`, `"staging"`, "add the environment"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %s", msg, want)
		}
	}

	in = Input{Event: testEvent(func(e *event.Event) { e.Principal = "gitlab:project_7_bot_ab12" }), UnregisteredAgent: true, Now: testNow}
	res, err = e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if msg := res.Decision.Deny[0].Message; !strings.Contains(msg, `"gitlab:project_7_bot_ab12"`) {
		t.Errorf("unregistered message %q does not name the principal", msg)
	}
}

// TestBuiltinRegoTests runs the Rego tests of the built-in policies, so
// `go test ./...` fails when any of them fails.
func TestBuiltinRegoTests(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := RunTests(context.Background(), policies.FS(), &out, false)
	if err != nil {
		t.Fatalf("RunTests: %v\n%s", err, out.String())
	}
	if failed > 0 || passed < 30 {
		t.Fatalf("Rego tests: %d passed, %d failed\n%s", passed, failed, out.String())
	}
	t.Logf("%d Rego tests passed", passed)
}

func TestEngineStatus(t *testing.T) {
	e := builtinEngine(t)
	s := e.Status()
	if !s.Ready || s.Source != "embedded" || s.LastError != "" || s.LoadedAt.IsZero() || s.Revision != e.Revision() {
		t.Errorf("status = %+v", s)
	}
	// The revision depends only on the set's content.
	again := builtinEngine(t)
	if again.Revision() != e.Revision() {
		t.Errorf("revision changed between loads: %s, %s", e.Revision(), again.Revision())
	}
	changed := engineWith(t, map[string]string{
		"data/tiers.yaml": builtinFile(t, "data/tiers.yaml", "builds_per_hour: 20", "builds_per_hour: 25"),
	})
	if changed.Revision() == e.Revision() {
		t.Error("changing data did not change the revision")
	}
	res, err := changed.Evaluate(context.Background(), agentInput(testAgent(), testEvent()))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Decision.Quotas[0].Limit; got != 25 {
		t.Errorf("limit = %d, want 25 from the changed data", got)
	}
	if res.Revision != changed.Revision() {
		t.Errorf("result revision %s, engine %s", res.Revision, changed.Revision())
	}
}

func TestNewErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Options{}); err == nil {
		t.Error("New without FS succeeded")
	}
	// The built-in set passes its own tests when New runs them.
	if _, err := New(ctx, Options{FS: policies.FS()}); err != nil {
		t.Errorf("New with tests: %v", err)
	}
	failing := overlay(t, policies.FS(), map[string]string{
		"extra_test.rego": "package agentgate.extra_test\n\ntest_fails if false\n",
	})
	if _, err := New(ctx, Options{FS: failing}); err == nil || !strings.Contains(err.Error(), "test_fails") {
		t.Errorf("New with a failing test: err = %v", err)
	}
	if _, err := New(ctx, Options{FS: failing, SkipTests: true}); err != nil {
		t.Errorf("New with a failing test and SkipTests: %v", err)
	}
}

func TestEvaluateConcurrentWithReload(t *testing.T) {
	ctx := context.Background()
	e := builtinEngine(t)
	// Without their Rego tests the sets reload quickly.
	noTests := withoutRegoTests(t)
	base := overlay(t, policies.FS(), noTests)
	noTests["data/tiers.yaml"] = builtinFile(t, "data/tiers.yaml", "builds_per_hour: 20", "builds_per_hour: 21")
	other := overlay(t, policies.FS(), noTests)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 6 {
			fsys := other
			if i%2 == 1 {
				fsys = base
			}
			if err := e.Reload(ctx, fsys, "test"); err != nil {
				t.Errorf("Reload: %v", err)
			}
		}
	}()
	in := agentInput(testAgent(), testEvent())
	for {
		res, err := e.Evaluate(ctx, in)
		if err != nil {
			t.Fatalf("Evaluate during reload: %v", err)
		}
		if l := res.Decision.Quotas[0].Limit; l != 20 && l != 21 {
			t.Fatalf("limit %d", l)
		}
		_ = e.Status()
		select {
		case <-done:
			return
		default:
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e := builtinEngine(b)
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]Input{
		"agent build into preview": agentInput(testAgent(func(a *agents.Agent) { a.ExpiresAt = &expires }),
			testEvent(func(e *event.Event) { e.Environment = "preview-12" })),
		"production approval": agentInput(deployer(agents.TierEstablished), testEvent(deployTo("production"))),
		"denied out of scope": agentInput(testAgent(), testEvent(deployTo("qa"))),
		"human":               {Event: testEvent(func(e *event.Event) { e.Principal = "github:octocat" }), Now: testNow},
	}
	ctx := context.Background()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		in := cases[name]
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Evaluate(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

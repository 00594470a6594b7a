package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// RunOptions gives the suite access a backend has beyond the contract.
type RunOptions struct {
	// Exec runs raw SQL, with $1, $2 ... placeholders, against the database
	// behind s, bypassing the store. The tamper tests use it to edit and
	// delete stored audit records (table audit_log: seq, hash, body) and
	// check that verification catches it; without it they are skipped.
	Exec func(s store.Store, query string, args ...any) error
}

// suite is one Run: how to get a fresh store, and the options.
type suite struct {
	open func(t *testing.T) store.Store
	opts RunOptions
}

// Run runs the conformance suite against fresh stores from open.
func Run(t *testing.T, open func(t *testing.T) store.Store, opts ...RunOptions) {
	s := suite{open: open}
	if len(opts) > 0 {
		s.opts = opts[0]
	}
	groups := []struct {
		name string
		run  func(t *testing.T, s suite)
	}{
		{"Lifecycle", testLifecycle},
		{"Agents", testAgents},
		{"Tokens", testTokens},
		{"KillSwitches", testKillSwitches},
		{"Quotas", testQuotas},
		{"QuotasConcurrent", testQuotasConcurrent},
		{"PrepareCharge", testPrepareCharge},
		{"Deliveries", testDeliveries},
		{"Approvals", testApprovals},
		{"ApprovalMessages", testApprovalMessages},
		{"Audit", testAudit},
		{"AuditTamper", testAuditTamper},
		{"AuditTimeWindows", testAuditTimeWindows},
		{"AuditCounts", testAuditCounts},
		{"Costs", testCosts},
		{"Deployments", testDeployments},
		{"Rollbacks", testRollbacks},
		{"Promotions", testPromotions},
		{"Inputs", testInputs},
		{"Counters", testCounters},
		{"LeaderLease", testLeaderLease},
		{"Transactions", testTransactions},
		{"SharedTransactions", testSharedTransactions},
		{"AppendsInOneTransaction", testAppendsInOneTransaction},
		{"AppendDecision", testAppendDecision},
		{"RegistryReads", testRegistryReads},
		{"Attributions", testAttributions},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, s)
		})
	}
}

// baseTime is the suite's "now": a fixed UTC instant with whole microseconds,
// so values survive every backend unchanged.
func baseTime() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantErr fails unless errors.Is(err, target) and err carries target's kind.
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
	if want := apperr.KindOf(target); apperr.KindOf(err) != want {
		t.Fatalf("error kind = %s, want %s (%v)", apperr.KindOf(err), want, err)
	}
}

// wantKind fails unless err has the given kind.
func wantKind(t testing.TB, err error, kind apperr.Kind) {
	t.Helper()
	if err == nil || apperr.KindOf(err) != kind {
		t.Fatalf("error = %v, want kind %s", err, kind)
	}
}

// equal fails unless got deep-equals want.
func equal[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// concurrently runs fn(i) for i in [0, n) on n goroutines released at the
// same instant and returns once all are done.
func concurrently(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// newAgent returns a valid agent with every field set.
func newAgent(name string, principals ...string) agents.Agent {
	now := baseTime()
	expires := now.Add(90 * 24 * time.Hour)
	return agents.Agent{
		ID:           "id-" + name,
		Name:         name,
		Type:         agents.TypeCoding,
		Owner:        "team-" + name,
		Capabilities: []string{"open_pr", "deploy:staging"},
		Tier:         agents.TierNew,
		State:        agents.StateActive,
		Environments: []string{"staging"},
		Namespaces:   []string{"ci"},
		Principals:   principals,
		Labels:       map[string]string{"cost-center": "42"},
		ExpiresAt:    &expires,
		CreatedAt:    now,
		UpdatedAt:    now,
		Version:      1,
	}
}

// createAgent stores a and returns it.
func createAgent(t testing.TB, st store.Store, a agents.Agent) agents.Agent {
	t.Helper()
	must(t, st.CreateAgent(context.Background(), a))
	return a
}

// decisionRecord returns an audit record of an admission decision.
func decisionRecord(i int, agentID, outcome string) *audit.Record {
	return &audit.Record{
		ID:       fmt.Sprintf("rec-%d", i),
		Time:     baseTime().Add(time.Duration(i) * time.Second),
		Kind:     audit.KindDecision,
		AgentID:  agentID,
		Owner:    "team-" + agentID,
		Provider: "github",
		Repo:     "acme/api",
		SHA:      "0123456789abcdef",
		Decision: &audit.Decision{Outcome: outcome, Reasons: []string{"policy says so"}},
		Quotas:   []audit.Quota{{Name: "deploys", Used: int64(i), Limit: 100}},
	}
}

// verifyChain scans the whole audit log and returns how many records
// verified and the first break, if any.
func verifyChain(t testing.TB, st store.Store) (int64, *audit.Break) {
	t.Helper()
	res, err := audit.VerifyChain(context.Background(), st.ScanAudit, nil)
	must(t, err)
	return res.Checked, res.Break
}

package approval_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/enforce"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
)

// fakeCI is a provider whose held changes the tests release.
type fakeCI struct {
	mu       sync.Mutex
	releases []string
}

func (*fakeCI) Name() string                     { return "fakeci" }
func (*fakeCI) Verify(http.Header, []byte) error { return nil }
func (*fakeCI) Parse(http.Header, []byte) (providers.Delivery, error) {
	return providers.Delivery{}, nil
}
func (f *fakeCI) Release(_ context.Context, ev event.Event, approved bool, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	verdict := "rejected"
	if approved {
		verdict = "approved"
	}
	f.releases = append(f.releases, ev.SHA+" "+verdict+" "+comment)
	return nil
}

// inline runs a job at once, as the dispatcher would on its first attempt.
type inline struct{}

func (inline) Submit(j enforce.Job) { _ = j.Run(context.Background()) }

type fixture struct {
	svc   *approval.Service
	store store.Store
	ci    *fakeCI
	now   *time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ci := &fakeCI{}
	reg, err := providers.NewRegistry(ci)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &fixture{store: st, ci: ci, now: &now}
	f.svc = approval.New(approval.Options{Store: st, Providers: reg, Dispatch: inline{}, Now: func() time.Time { return *f.now }})
	return f
}

func (f *fixture) pending(t *testing.T, id, sha string, approvers []string, triggeredBy string) {
	t.Helper()
	err := f.store.CreateApproval(context.Background(), store.Approval{
		ID: id, State: store.ApprovalPending, AgentID: "a1", Owner: "platform", Provider: "fakeci", Repo: "acme/api",
		SHA: sha, Environment: "production", Reason: "production", Approvers: approvers,
		Event:     event.Event{Provider: "fakeci", Kind: event.KindDeploy, SHA: sha, Environment: "production", Principal: "github-app:bot", Trigger: event.Trigger{TriggeredBy: triggeredBy}},
		CreatedAt: *f.now, ExpiresAt: f.now.Add(4 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

var (
	admin    = approval.Approver{Name: "ada", Role: config.RoleAdmin}
	operator = approval.Approver{Name: "oscar", Role: config.RoleOperator}
	viewer   = approval.Approver{Name: "vera", Role: config.RoleViewer}
)

func TestResolveRules(t *testing.T) {
	tests := []struct {
		name        string
		approvers   []string
		triggeredBy string
		who         approval.Approver
		approve     bool
		reason      string
		wantKind    apperr.Kind
		wantRelease string
	}{
		{name: "admin approves a role:admin change", approvers: []string{"role:admin"}, who: admin, approve: true, wantRelease: "approved Approved by ada through agentgate"},
		{name: "operator is not role:admin", approvers: []string{"role:admin"}, who: operator, approve: true, wantKind: apperr.KindForbidden},
		{name: "role:operator admits admins too", approvers: []string{"role:operator"}, who: admin, approve: true, wantRelease: "approved"},
		{name: "named approver", approvers: []string{"vera"}, who: viewer, approve: true, wantRelease: "approved"},
		{name: "user: prefix", approvers: []string{"user:vera"}, who: viewer, approve: true, wantRelease: "approved"},
		{name: "member of an approver group", approvers: []string{"@sre-oncall"}, who: approval.Approver{Name: "U0SLACK", Groups: []string{"@sre-oncall"}}, approve: true, wantRelease: "approved Approved by U0SLACK"},
		{name: "not a member of the approver group", approvers: []string{"@sre-oncall"}, who: approval.Approver{Name: "U0SLACK", Groups: []string{"@devs"}}, approve: true, wantKind: apperr.KindForbidden},
		{name: "no approvers means admins", who: operator, approve: true, wantKind: apperr.KindForbidden},
		{name: "agents never approve", approvers: []string{"role:viewer"}, who: approval.Approver{Name: "agent:bot", Role: config.RoleAgent, Agent: true}, approve: true, wantKind: apperr.KindForbidden},
		{name: "the prompter cannot approve", approvers: []string{"role:admin"}, triggeredBy: "ADA", who: admin, approve: true, wantKind: apperr.KindForbidden},
		{name: "the prompter cannot approve under another identity", approvers: []string{"@sre"}, triggeredBy: "bob@example.com", who: approval.Approver{Name: "U0BOB", Groups: []string{"@sre"}, Aliases: []string{"bob@example.com"}}, approve: true, wantKind: apperr.KindForbidden},
		{name: "the owner may approve by default", approvers: []string{"role:admin"}, who: approval.Approver{Name: "platform", Role: config.RoleAdmin}, approve: true, wantRelease: "approved"},
		{name: "the owner is excluded by policy", approvers: []string{"role:admin", "!owner"}, who: approval.Approver{Name: "platform", Role: config.RoleAdmin}, approve: true, wantKind: apperr.KindForbidden},
		{name: "!owner alone still means admins", approvers: []string{"!owner"}, who: admin, approve: true, wantRelease: "approved"},
		{name: "reject needs a reason", approvers: []string{"role:admin"}, who: admin, wantKind: apperr.KindInvalid},
		{name: "reject with a reason", approvers: []string{"role:admin"}, who: admin, reason: "not during the freeze", wantRelease: "rejected Rejected by ada through agentgate: not during the freeze"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.pending(t, "ap1", "sha1", tc.approvers, tc.triggeredBy)
			a, err := f.svc.Resolve(context.Background(), tc.who, "ap1", tc.approve, tc.reason)
			if tc.wantKind != "" {
				if apperr.KindOf(err) != tc.wantKind {
					t.Fatalf("err = %v, want %s", err, tc.wantKind)
				}
				if len(f.ci.releases) != 0 {
					t.Fatal("a refused resolution released the change")
				}
				got, _ := f.store.GetApproval(context.Background(), "ap1")
				if got.State != store.ApprovalPending {
					t.Fatalf("state = %s after a refusal", got.State)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.ResolvedBy != tc.who.Name || len(f.ci.releases) != 1 || !strings.Contains(f.ci.releases[0], tc.wantRelease) {
				t.Fatalf("approval %+v, releases %v", a, f.ci.releases)
			}
			recs, err := f.store.QueryAudit(context.Background(), store.AuditQuery{Kind: "approval"})
			if err != nil || len(recs) != 1 || recs[0].Approver != tc.who.Name || recs[0].ApprovalID != "ap1" {
				t.Fatalf("audit = %+v (%v)", recs, err)
			}
		})
	}
}

func TestRefusalsAreAudited(t *testing.T) {
	f := newFixture(t)
	f.pending(t, "ap1", "sha1", []string{"role:admin"}, "")
	if _, err := f.svc.Resolve(context.Background(), viewer, "ap1", true, ""); apperr.KindOf(err) != apperr.KindForbidden {
		t.Fatalf("err = %v", err)
	}
	recs, _ := f.store.QueryAudit(context.Background(), store.AuditQuery{Kind: "approval"})
	if len(recs) != 1 || recs[0].Decision.Outcome != "refused" || recs[0].Actor != "vera" {
		t.Fatalf("audit = %+v", recs)
	}
}

func TestConcurrentClicksOneWins(t *testing.T) {
	f := newFixture(t)
	f.pending(t, "ap1", "sha1", []string{"role:operator"}, "")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := approval.Approver{Name: "op" + string(rune('a'+i)), Role: config.RoleOperator}
			_, errs[i] = f.svc.Resolve(context.Background(), who, "ap1", i%2 == 0, "r")
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case apperr.KindOf(err) != apperr.KindConflict || !strings.Contains(err.Error(), "already"):
			t.Fatalf("loser error = %v", err)
		}
	}
	if won != 1 || len(f.ci.releases) != 1 {
		t.Fatalf("winners = %d, releases = %v", won, f.ci.releases)
	}
}

func TestExpireDue(t *testing.T) {
	f := newFixture(t)
	f.pending(t, "old", "sha-old", nil, "")
	*f.now = f.now.Add(2 * time.Hour)
	f.pending(t, "new", "sha-new", nil, "")
	*f.now = f.now.Add(3 * time.Hour) // "old" is 5h old (TTL 4h), "new" 3h
	n, err := f.svc.ExpireDue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("expired %d (%v), want 1", n, err)
	}
	old, _ := f.store.GetApproval(context.Background(), "old")
	fresh, _ := f.store.GetApproval(context.Background(), "new")
	if old.State != store.ApprovalExpired || fresh.State != store.ApprovalPending {
		t.Fatalf("states: old %s, new %s", old.State, fresh.State)
	}
	if len(f.ci.releases) != 1 || !strings.HasPrefix(f.ci.releases[0], "sha-old rejected approval expired") {
		t.Fatalf("releases = %v", f.ci.releases)
	}
	if _, err := f.svc.Resolve(context.Background(), admin, "old", true, ""); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("approving an expired approval: %v", err)
	}
}

func TestOverdueApprovalCannotBeApproved(t *testing.T) {
	f := newFixture(t)
	f.pending(t, "late", "sha-late", []string{"role:admin"}, "")
	*f.now = f.now.Add(5 * time.Hour)
	_, err := f.svc.Resolve(context.Background(), admin, "late", true, "")
	if apperr.KindOf(err) != apperr.KindConflict || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v", err)
	}
	got, _ := f.store.GetApproval(context.Background(), "late")
	if got.State != store.ApprovalExpired || len(f.ci.releases) != 1 || !strings.Contains(f.ci.releases[0], "rejected approval expired") {
		t.Fatalf("state %s, releases %v", got.State, f.ci.releases)
	}
}

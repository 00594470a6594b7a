package argo

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/secret"
)

// gateGolden is the recorded outcome of one hook request.
type gateGolden struct {
	Event      event.Event `json:"event"`
	DeliveryID string      `json:"delivery_id"`
	Scope      string      `json:"scope"`
}

// TestGateRequest asks the gate as the hook Job does, against an httptest
// Argo CD, and compares the events with testdata/golden/gate.*.json.
func TestGateRequest(t *testing.T) {
	apps := readFixtures(t, "argocd")
	tests := []struct {
		name, fixture, app, phase string
		principal                 string
		machine                   bool
		query                     string
	}{
		{name: "human sync", fixture: "shop.human", app: "shop", principal: "argocd:alice@example.com"},
		{name: "agent account sync", fixture: "shop.agent-account", app: "shop", principal: "argocd:claude-deployer"},
		{name: "project role", fixture: "shop.project-role", app: "shop", principal: "argocd:proj:shop:role:ci", machine: true},
		{name: "automated", fixture: "shop.automated", app: "shop", principal: PrincipalAutomated},
		{name: "app in another namespace", fixture: "team-a.web", app: "team-a/web", principal: "argocd:claude-deployer", query: "appNamespace=team-a"},
		{name: "postsync report", fixture: "shop.agent-account", app: "shop", phase: "PostSync", principal: "argocd:claude-deployer"},
	}
	f := newFakeArgoCD(t)
	p := newProvider(t, hookOptions(f))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.set(apps[tc.fixture], http.StatusOK)
			ev, id, scope, err := p.GateRequest(context.Background(), hookHeaders(testHookToken, tc.app, tc.phase))
			if err != nil {
				t.Fatalf("GateRequest: %v", err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid event: %v", err)
			}
			if ev.Principal != tc.principal || ev.Machine != tc.machine {
				t.Fatalf("principal = %q machine %v, want %q %v", ev.Principal, ev.Machine, tc.principal, tc.machine)
			}
			if scope != ev.Repo {
				t.Fatalf("scope %q is not the event's repo %q (polls would find no approval)", scope, ev.Repo)
			}
			calls := f.recorded()
			if len(calls) != 1 || calls[0].Token != "Bearer "+testArgoCDToken || calls[0].Query != tc.query {
				t.Fatalf("Argo CD calls = %+v", calls)
			}
			again, id2, _, err := p.GateRequest(context.Background(), hookHeaders(testHookToken, tc.app, tc.phase))
			if err != nil || id2 != id || again.Repo != ev.Repo {
				t.Fatalf("asking again gave delivery %q (%v), want %q", id2, err, id)
			}
			checkGolden(t, "gate."+strings.ReplaceAll(tc.name, " ", "-"), gateGolden{Event: ev, DeliveryID: id, Scope: scope})
		})
	}
}

// TestGateRequestRefused covers what the hook gate refuses.
func TestGateRequestRefused(t *testing.T) {
	apps := readFixtures(t, "argocd")
	f := newFakeArgoCD(t)
	tests := []struct {
		name    string
		opts    func(Options) Options
		headers http.Header
		app     []byte
		status  int
		kind    apperr.Kind
		want    string
	}{
		{name: "no hook token configured", opts: func(o Options) Options { o.HookToken = secret.Secret{}; return o },
			headers: hookHeaders(testHookToken, "shop", ""), kind: apperr.KindUnauthenticated, want: "not configured"},
		{name: "missing token", headers: hookHeaders("", "shop", ""), kind: apperr.KindUnauthenticated, want: "missing bearer"},
		{name: "wrong token", headers: hookHeaders("hook-token-0123456789abcdeX", "shop", ""), kind: apperr.KindUnauthenticated, want: "does not match"},
		{name: "short token", headers: hookHeaders("h", "shop", ""), kind: apperr.KindUnauthenticated, want: "does not match"},
		{name: "basic auth", headers: http.Header{"Authorization": {"Basic " + testHookToken}, HeaderApplication: {"shop"}}, kind: apperr.KindUnauthenticated, want: "missing bearer"},
		{name: "no application", headers: hookHeaders(testHookToken, "", ""), kind: apperr.KindInvalid, want: "missing X-Agentgate-Application"},
		{name: "bad application", headers: hookHeaders(testHookToken, "../admin", ""), kind: apperr.KindInvalid, want: "is not <app>"},
		{name: "bad phase", headers: hookHeaders(testHookToken, "shop", "sync"), kind: apperr.KindInvalid, want: "is not presync or postsync"},
		{name: "no sync running", headers: hookHeaders(testHookToken, "shop", ""), app: apps["shop.idle"], kind: apperr.KindConflict, want: "no sync operation in progress"},
		{name: "unknown app", headers: hookHeaders(testHookToken, "nope", ""), status: http.StatusNotFound, kind: apperr.KindNotFound, want: `no application "nope"`},
		{name: "Argo CD refuses agentgate", headers: hookHeaders(testHookToken, "shop", ""), status: http.StatusForbidden, kind: apperr.KindUnavailable, want: "applications, get"},
		{name: "Argo CD fails", headers: hookHeaders(testHookToken, "shop", ""), status: http.StatusBadGateway, kind: apperr.KindUnavailable, want: "answered 502"},
		{name: "Argo CD not JSON", headers: hookHeaders(testHookToken, "shop", ""), app: []byte("<html>"), kind: apperr.KindUnavailable, want: "not an Application"},
		{name: "wrong Argo CD token", opts: func(o Options) Options { o.ArgoCDToken = secret.New("stale", "test"); return o },
			headers: hookHeaders(testHookToken, "shop", ""), kind: apperr.KindUnavailable, want: "refused agentgate's token (401)"},
		{name: "no Argo CD token", opts: func(o Options) Options { o.ArgoCDToken = secret.Secret{}; return o },
			headers: hookHeaders(testHookToken, "shop", ""), kind: apperr.KindUnavailable, want: "argo.argocd_token"},
		{name: "no Argo CD URL", opts: func(o Options) Options { o.ArgoCDURL = ""; return o },
			headers: hookHeaders(testHookToken, "shop", ""), kind: apperr.KindUnavailable, want: "argo.argocd_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := hookOptions(f)
			if tc.opts != nil {
				o = tc.opts(o)
			}
			app, status := tc.app, tc.status
			if app == nil {
				app = apps["shop.human"]
			}
			if status == 0 {
				status = http.StatusOK
			}
			f.set(app, status)
			_, _, _, err := newProvider(t, o).GateRequest(context.Background(), tc.headers)
			if err == nil || apperr.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (%s), want %s containing %q", err, apperr.KindOf(err), tc.kind, tc.want)
			}
			if strings.Contains(err.Error(), testArgoCDToken) || strings.Contains(err.Error(), testHookToken) {
				t.Fatal("a token leaked into the error")
			}
			if tc.kind == apperr.KindUnauthenticated && len(f.recorded()) != 0 {
				t.Fatal("called Argo CD for an unauthenticated hook")
			}
		})
	}
}

func TestArgoCDPrincipal(t *testing.T) {
	tests := []struct {
		user      string
		automated bool
		want      string
		machine   bool
	}{
		{user: "admin", want: "argocd:admin"},
		{user: "alice@example.com", want: "argocd:alice@example.com"},
		{user: "proj:shop:ci", want: "argocd:proj:shop:role:ci", machine: true},
		{user: "proj:shop:role:ci", want: "argocd:proj:shop:role:ci", machine: true},
		{user: "proj:shop", want: "argocd:proj:shop", machine: true},
		{user: "proj::ci", want: "argocd:proj::ci", machine: true},
		{automated: true, want: PrincipalAutomated},
		{user: "bob", automated: true, want: PrincipalAutomated},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			got, machine := argoCDPrincipal(tc.user, tc.automated)
			if got != tc.want || machine != tc.machine {
				t.Fatalf("= %q %v, want %q %v", got, machine, tc.want, tc.machine)
			}
			if machine != event.PrincipalLooksMachine(got) {
				t.Fatalf("machine %v disagrees with event.PrincipalLooksMachine(%q)", machine, got)
			}
		})
	}
}

func TestParseApplication(t *testing.T) {
	tests := []struct {
		in, ns, name string
		ok           bool
	}{
		{in: "shop", name: "shop", ok: true},
		{in: " team-a/web ", ns: "team-a", name: "web", ok: true},
		{in: "a.b-c", name: "a.b-c", ok: true},
		{in: "Shop", ok: false},
		{in: "-shop", ok: false},
		{in: "shop-", ok: false},
		{in: "a/b/c", ok: false},
		{in: "/web", ok: false},
		{in: strings.Repeat("a", 254), ok: false},
	}
	for _, tc := range tests {
		ns, name, err := parseApplication(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (ns != tc.ns || name != tc.name)) {
			t.Errorf("parseApplication(%q) = %q, %q, %v", tc.in, ns, name, err)
		}
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"argocd.example.com", "ftp://argocd", "https://user:pw@argocd.example.com", "http://"} {
		if _, err := New(Options{ArgoCDURL: u}); err == nil {
			t.Errorf("New accepted Argo CD URL %q", u)
		}
	}
}

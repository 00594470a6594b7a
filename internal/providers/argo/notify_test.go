package argo

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/secret"
)

func TestNotificationParse(t *testing.T) {
	const sha = "8f2c1d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"
	tests := []struct {
		name, body string
		kind       apperr.Kind
		ignored    bool
		action     string
		principal  string
		delivery   string
		env        string
	}{
		{name: "succeeded", body: `{"app":"shop","app_namespace":"argocd","project":"shop","phase":"Succeeded","revision":"` + sha + `","started_at":"2026-11-22T02:10:00Z","initiated_by":"claude-deployer","automated":"false","destination_namespace":"shop-prod","environment":"production","history_id":"8"}`,
			action: event.ActionSucceeded, principal: "argocd:claude-deployer", delivery: "notify-succeeded-shop-8", env: "production"},
		{name: "automated failure elsewhere", body: `{"app":"web","app_namespace":"team-a","phase":"Failed","revision":"` + sha + `","started_at":"2026-11-22T02:10:00+01:00","automated":"true","destination_namespace":"web-staging"}`,
			action: "failed", principal: PrincipalAutomated, delivery: "notify-failed-team-a/web-20261122T011000Z", env: "web-staging"},
		{name: "running", body: `{"app":"shop","phase":"Running","initiated_by":"x"}`, ignored: true},
		{name: "template rendered missing values", body: `{"app":"shop","phase":"Succeeded","revision":"` + sha + `","history_id":"<no value>","started_at":"2026-11-22T02:10:00Z","initiated_by":"<no value>","automated":"true","destination_namespace":"shop-prod"}`,
			action: event.ActionSucceeded, principal: PrincipalAutomated, delivery: "notify-succeeded-shop-20261122T021000Z", env: "shop-prod"},
		{name: "not JSON", body: `nope`, kind: apperr.KindInvalid},
		{name: "bad app", body: `{"app":"Shop!","phase":"Succeeded","initiated_by":"x","revision":"r"}`, kind: apperr.KindInvalid},
		{name: "no key", body: `{"app":"shop","phase":"Succeeded","initiated_by":"x"}`, kind: apperr.KindInvalid},
		{name: "nobody", body: `{"app":"shop","phase":"Succeeded","revision":"r"}`, kind: apperr.KindInvalid},
	}
	p := newProvider(t, Options{HookToken: secret.New(testHookToken, "test")})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := p.Parse(http.Header{}, []byte(tc.body))
			if tc.kind != "" {
				if apperr.KindOf(err) != tc.kind {
					t.Fatalf("err = %v, want %s", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.ignored {
				if d.Ignored == "" || len(d.Events) != 0 {
					t.Fatalf("want ignored, got %+v", d)
				}
				return
			}
			if len(d.Events) != 1 {
				t.Fatalf("events = %+v", d.Events)
			}
			ev := d.Events[0]
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
			if ev.Action != tc.action || ev.Principal != tc.principal || d.ID != tc.delivery || ev.Environment != tc.env || ev.Phase != event.PhaseReport || ev.SHA != sha {
				t.Fatalf("delivery %q event %+v", d.ID, ev)
			}
		})
	}
}

func TestNotificationVerify(t *testing.T) {
	p := newProvider(t, Options{HookToken: secret.New(testHookToken, "test")})
	if err := p.Verify(hookHeaders(testHookToken, "", ""), nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, h := range []http.Header{hookHeaders("", "", ""), hookHeaders("wrong", "", "")} {
		if err := p.Verify(h, nil); apperr.KindOf(err) != apperr.KindUnauthenticated {
			t.Fatalf("Verify(%v) = %v", h, err)
		}
	}
	if err := newProvider(t, Options{}).Verify(hookHeaders(testHookToken, "", ""), nil); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("Verify without a token = %v", err)
	}
}

// FuzzNotificationParse checks that notifications are refused as invalid,
// ignored with a reason, or turned into valid events.
func FuzzNotificationParse(f *testing.F) {
	f.Add([]byte(`{"app":"shop","phase":"Succeeded","initiated_by":"proj:shop:ci","revision":"r","history_id":"x"}`))
	f.Add([]byte(`{"app":"a","app_namespace":"b","phase":"Error","automated":"TRUE","started_at":"2026-01-01T00:00:00Z"}`))
	p := newProvider(f, Options{HookToken: secret.New(testHookToken, "test")})
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := p.Parse(http.Header{}, body)
		if err != nil {
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
			}
			return
		}
		if len(d.Events) == 0 && d.Ignored == "" {
			t.Fatalf("no events and no reason: %+v", d)
		}
		for _, ev := range d.Events {
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid event: %v", err)
			}
		}
	})
}

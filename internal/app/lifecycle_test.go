package app

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAgentLifecycle: promotion, suspension, token rotation and
// decommission, each audited and each visible in the next decision.
func TestAgentLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		a, token := h.provision(codingAgent("life-bot"))
		p := "github:life-bot[bot]"
		var got agentOut

		h.mustCall(http.MethodPost, "/api/v1/agents/life-bot/promote", adminToken, map[string]any{"reason": "30 days clean"}, http.StatusOK, &got)
		if got.Tier != "established" {
			t.Fatalf("tier after promote = %s", got.Tier)
		}
		var promo struct {
			Items []struct {
				Actor   string            `json:"actor"`
				Details map[string]string `json:"details"`
			} `json:"items"`
		}
		h.mustCall(http.MethodGet, "/api/v1/audit?kind=promotion&agent="+a.ID, viewerToken, nil, http.StatusOK, &promo)
		if len(promo.Items) != 1 || promo.Items[0].Actor != "bootstrap-admin" || promo.Items[0].Details["reason"] != "30 days clean" {
			t.Fatalf("promotion audit = %+v", promo.Items)
		}
		h.mustCall(http.MethodPost, "/api/v1/agents/life-bot/demote", adminToken, map[string]any{"reason": "noisy", "to": "trusted"}, http.StatusConflict, nil)

		h.mustCall(http.MethodPost, "/api/v1/agents/"+a.ID+"/suspend", operatorToken, map[string]any{"reason": "investigating"}, http.StatusOK, &got)
		if d := h.decide(build(p)); d.Decisions[0].Outcome != "deny" || d.rules()[0] != "agent_inactive" {
			t.Fatalf("suspended agent: %+v", d.Decisions[0])
		}
		h.mustCall(http.MethodPost, "/api/v1/agents/"+a.ID+"/suspend", operatorToken, nil, http.StatusConflict, nil)
		h.mustCall(http.MethodPost, "/api/v1/agents/"+a.ID+"/resume", operatorToken, nil, http.StatusOK, &got)
		if d := h.decide(build(p)); d.Decisions[0].Outcome != "allow" {
			t.Fatalf("resumed agent: %+v", d.Decisions[0])
		}

		var rot struct {
			Token         string    `json:"token"`
			OldValidUntil time.Time `json:"old_valid_until"`
		}
		h.mustCall(http.MethodPost, "/api/v1/agents/"+a.ID+"/rotate", adminToken, nil, http.StatusOK, &rot)
		if rot.Token == token || !rot.OldValidUntil.After(time.Now()) {
			t.Fatalf("rotation = %+v", rot)
		}
		h.mustCall(http.MethodGet, "/api/v1/me", token, nil, http.StatusOK, nil) // grace period
		h.mustCall(http.MethodGet, "/api/v1/me", rot.Token, nil, http.StatusOK, nil)

		expiry := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		h.mustCall(http.MethodPatch, "/api/v1/agents/"+a.ID, adminToken, map[string]any{"expires_at": expiry}, http.StatusOK, nil)
		if d := h.decide(build(p)); d.rules()[0] != "agent_expired" {
			t.Fatalf("expired agent: %+v", d.Decisions[0])
		}

		h.mustCall(http.MethodPost, "/api/v1/agents/"+a.ID+"/decommission", adminToken, map[string]any{"reason": "retired"}, http.StatusOK, &got)
		if got.State != "decommissioned" {
			t.Fatalf("state = %s", got.State)
		}
		h.mustCall(http.MethodGet, "/api/v1/me", rot.Token, nil, http.StatusUnauthorized, nil)
		h.mustCall(http.MethodPost, "/api/v1/agents/"+a.ID+"/resume", operatorToken, nil, http.StatusConflict, nil)
		// Its principal is free again; the old agent's history stays.
		if d := h.decide(build(p)); !d.Decisions[0].Unregistered {
			t.Fatalf("decommissioned agent's principal still bound: %+v", d.Decisions[0])
		}
		h.provision(codingAgent("life-bot-2"))
		spec := codingAgent("life-bot-3")
		spec["principals"] = []string{p}
		h.provision(spec)
		h.mustCall(http.MethodGet, "/api/v1/agents/"+a.ID, viewerToken, nil, http.StatusOK, &got)
		if got.State != "decommissioned" {
			t.Fatalf("history lost: %+v", got)
		}
	})
}

// TestKillSwitches: agent, owner and global switches stop the very next
// decision, reject pending approvals, and release returns things to normal.
func TestKillSwitches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		deployer, _ := h.provision(map[string]any{
			"name": "ship-bot", "type": "deployment", "owner": "sre-oncall", "tier": "established",
			"environments": []string{"staging", "production"}, "principals": []string{"github-app:ship-bot"},
		})
		h.provision(codingAgent("other-bot"))
		pending := h.decide(deploy("github-app:ship-bot", "production"))
		if pending.Decisions[0].Outcome != "approval_required" {
			t.Fatalf("setup: %+v", pending.Decisions[0])
		}
		var ks struct {
			ID     string `json:"id"`
			Scope  string `json:"scope"`
			Target string `json:"target"`
		}
		h.mustCall(http.MethodPost, "/api/v1/agents/ship-bot/kill", operatorToken, map[string]any{"reason": "deleted a bucket"}, http.StatusOK, &ks)
		if ks.Target != deployer.ID {
			t.Fatalf("kill switch = %+v", ks)
		}
		d := h.decide(deploy("github-app:ship-bot", "staging"))
		if d.Decisions[0].Outcome != "deny" || d.rules()[0] != "killswitch" || !strings.Contains(d.Decisions[0].Reasons[0].Message, "deleted a bucket") {
			t.Fatalf("killed agent: %+v", d.Decisions[0])
		}
		var ap struct {
			State        string `json:"state"`
			ResolvedNote string `json:"resolved_note"`
		}
		h.mustCall(http.MethodGet, "/api/v1/approvals/"+pending.Decisions[0].Approval.ID, viewerToken, nil, http.StatusOK, &ap)
		if ap.State != "rejected" || !strings.Contains(ap.ResolvedNote, "kill switch") {
			t.Fatalf("pending approval after kill: %+v", ap)
		}
		if o := h.decide(build("github:other-bot[bot]")).Decisions[0].Outcome; o != "allow" {
			t.Fatalf("an agent kill switch stopped another agent: %s", o)
		}
		// The owner (an operator named sre-oncall) may release it.
		h.mustCall(http.MethodDelete, "/api/v1/killswitches/"+ks.ID, operatorToken, nil, http.StatusOK, nil)
		var ag agentOut
		h.mustCall(http.MethodGet, "/api/v1/agents/ship-bot", viewerToken, nil, http.StatusOK, &ag)
		if ag.State != "active" {
			t.Fatalf("state after release = %s", ag.State)
		}
		if o := h.decide(deploy("github-app:ship-bot", "staging")).Decisions[0].Outcome; o != "allow" {
			t.Fatalf("after release: %s", o)
		}

		h.mustCall(http.MethodPost, "/api/v1/killswitches", operatorToken, map[string]any{"scope": "owner", "target": "alice@example.com", "reason": "alice's agents misbehave"}, http.StatusCreated, &ks)
		if o := h.decide(build("github:other-bot[bot]")).Decisions[0].Outcome; o != "deny" {
			t.Fatalf("owner switch: %s", o)
		}
		h.mustCall(http.MethodDelete, "/api/v1/killswitches/"+ks.ID, operatorToken, nil, http.StatusForbidden, nil)
		h.mustCall(http.MethodDelete, "/api/v1/killswitches/"+ks.ID, adminToken, nil, http.StatusOK, nil)
		h.mustCall(http.MethodDelete, "/api/v1/killswitches/"+ks.ID, adminToken, nil, http.StatusConflict, nil)

		h.mustCall(http.MethodPost, "/api/v1/killswitches", operatorToken, map[string]any{"scope": "global", "reason": "incident 4711"}, http.StatusCreated, &ks)
		for _, ev := range []map[string]any{build("github:other-bot[bot]"), deploy("github-app:ship-bot", "staging"), build("github:unknown[bot]")} {
			if d := h.decide(ev); d.rules()[0] != "killswitch" {
				t.Fatalf("global switch let %v through: %+v", ev["principal"], d.Decisions[0])
			}
		}
		if o := h.decide(build("github:alice")).Decisions[0].Outcome; o != "allow" {
			t.Fatalf("a global agent kill switch stopped a human: %s", o)
		}
		var list struct {
			Items []struct{ Scope string } `json:"items"`
		}
		h.mustCall(http.MethodGet, "/api/v1/killswitches", viewerToken, nil, http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0].Scope != "global" {
			t.Fatalf("active switches = %+v", list.Items)
		}
	})
}

// TestAnomalyDetectorTripsKillSwitch: an agent that keeps getting denied is
// stopped automatically, the trip is audited, and an admin can reset it.
func TestAnomalyDetectorTripsKillSwitch(t *testing.T) {
	h := newHarness(t, "sqlite")
	a, _ := h.provision(codingAgent("runaway-bot"))
	tripped := -1
	for i := 0; i < 60; i++ {
		d := h.decide(deploy("github:runaway-bot[bot]", "production"))
		if slices.Contains(d.rules(), "killswitch") {
			tripped = i
			break
		}
	}
	if tripped < 0 {
		t.Fatal("60 denials in a minute did not trip the anomaly detector")
	}
	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Source string `json:"source"`
			Target string `json:"target"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/killswitches", viewerToken, nil, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Source != "anomaly" || list.Items[0].Target != a.ID {
		t.Fatalf("switches = %+v", list.Items)
	}
	var recs struct {
		Items []struct {
			Actor   string `json:"actor"`
			Message string `json:"message"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=kill", viewerToken, nil, http.StatusOK, &recs)
	if len(recs.Items) != 1 || recs.Items[0].Actor != "anomaly-detector" || !strings.Contains(recs.Items[0].Message, "denials within a minute") {
		t.Fatalf("kill audit = %+v", recs.Items)
	}
	h.mustCall(http.MethodDelete, "/api/v1/killswitches/"+list.Items[0].ID, adminToken, map[string]any{"reason": "false alarm"}, http.StatusOK, nil)
	if o := h.decide(build("github:runaway-bot[bot]")).Decisions[0].Outcome; o != "allow" {
		t.Fatalf("after reset: %s", o)
	}
}

// TestOperationalEndpoints: health, readiness and metrics.
func TestOperationalEndpoints(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("metrics-bot"))
	h.decide(build("github:metrics-bot[bot]"))
	h.mustCall(http.MethodGet, "/healthz", "", nil, http.StatusOK, nil)
	var ready struct {
		Status string `json:"status"`
		Policy struct {
			Ready    bool   `json:"ready"`
			Revision string `json:"revision"`
		} `json:"policy"`
	}
	h.mustCall(http.MethodGet, "/readyz", "", nil, http.StatusOK, &ready)
	if ready.Status != "ready" || !ready.Policy.Ready || !strings.HasPrefix(ready.Policy.Revision, "sha256:") {
		t.Fatalf("readyz = %+v", ready)
	}
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	rec := newRecorder()
	h.h.ServeHTTP(rec, req)
	body := rec.Body.String()
	for _, want := range []string{
		`agentgate_decisions_total{agent_type="coding",effective="allow",outcome="allow",provider="generic"} 1`,
		`agentgate_decision_duration_seconds_count{provider="generic"} 1`,
		`agentgate_killswitches_active{scope="global"} 0`,
		`agentgate_webhook_requests_total{provider="generic",result="decided"} 1`,
		`agentgate_policy_last_reload_ok 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The decision was committed in a shared transaction (group commit).
	for _, want := range []string{`(?m)^agentgate_store_shared_transactions_total [1-9]`, `(?m)^agentgate_store_shared_transaction_decisions_total [1-9]`} {
		if !regexp.MustCompile(want).MatchString(body) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestApprovalsThroughTheAPI: only the policy's approvers resolve a held
// change; the first resolution wins and the loser is told who won.
func TestApprovalsThroughTheAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		h.provision(map[string]any{
			"name": "prod-bot", "type": "deployment", "owner": "platform-team", "tier": "established",
			"environments": []string{"production"}, "principals": []string{"github-app:prod-bot"},
		})
		held := h.decide(deploy("github-app:prod-bot", "production")).Decisions[0].Approval
		if held == nil {
			t.Fatal("no approval")
		}
		path := "/api/v1/approvals/" + held.ID
		h.mustCall(http.MethodPost, path+"/approve", viewerToken, nil, http.StatusForbidden, nil)
		h.mustCall(http.MethodPost, path+"/reject", adminToken, nil, http.StatusBadRequest, nil)
		var ap struct {
			State      string `json:"state"`
			ResolvedBy string `json:"resolved_by"`
		}
		h.mustCall(http.MethodPost, path+"/approve", adminToken, map[string]any{"reason": "change ticket 42"}, http.StatusOK, &ap)
		if ap.State != "approved" || ap.ResolvedBy != "bootstrap-admin" {
			t.Fatalf("approval = %+v", ap)
		}
		var out answer
		if code := h.call(http.MethodPost, path+"/reject", adminToken, map[string]any{"reason": "late"}, &out); code != http.StatusConflict || !strings.Contains(out.Error.Message, "already approved by bootstrap-admin") {
			t.Fatalf("second resolution = %d %+v", code, out.Error)
		}
		h.mustCall(http.MethodPost, "/api/v1/approvals/nope/approve", adminToken, nil, http.StatusNotFound, nil)
	})
}

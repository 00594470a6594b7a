package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDecisions walks the quickstart: allowed, denied and held decisions for
// agents, humans and unregistered bots, each recorded in the audit log.
func TestDecisions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		coder, _ := h.provision(codingAgent("coder-1"))
		deployer, _ := h.provision(map[string]any{
			"name": "release-bot", "type": "deployment", "owner": "platform-team", "tier": "established",
			"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"},
			"principals": []string{"github-app:release-bot"},
		})
		tests := []struct {
			name      string
			event     map[string]any
			outcome   string
			rules     []string
			agent     string
			unregistd bool
		}{
			{name: "coding agent build is allowed", event: build("github:coder-1[bot]"), outcome: "allow", agent: coder.ID},
			{name: "coding agent to staging is allowed", event: deploy("github:coder-1[bot]", "staging"), outcome: "allow", agent: coder.ID},
			{name: "staging-only agent to production is denied", event: deploy("github:coder-1[bot]", "production"), outcome: "deny", rules: []string{"scope.environment"}, agent: coder.ID},
			{name: "deployment agent to production waits for a human", event: deploy("github-app:release-bot", "production"), outcome: "approval_required", rules: []string{"approval"}, agent: deployer.ID},
			{name: "human is allowed", event: deploy("github:alice", "production"), outcome: "allow"},
			{name: "unregistered bot is denied", event: build("github:mystery[bot]"), outcome: "deny", rules: []string{"unregistered_agent"}, unregistd: true},
			{name: "claimed agent id on a human principal is an unregistered agent", event: func() map[string]any {
				ev := build("github:carol")
				ev["trigger"] = map[string]any{"agent_id": "ghost-agent"}
				return ev
			}(), outcome: "deny", rules: []string{"unregistered_agent"}, unregistd: true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := h.auditCount()
				a := h.decide(tc.event)
				d := a.Decisions[0]
				if d.Outcome != tc.outcome || d.Effective != tc.outcome {
					t.Fatalf("outcome = %s/%s, want %s: %+v", d.Outcome, d.Effective, tc.outcome, d)
				}
				if !slices.Equal(a.rules(), tc.rules) {
					t.Fatalf("rules = %v, want %v (%+v)", a.rules(), tc.rules, d.Reasons)
				}
				if d.Unregistered != tc.unregistd || d.PolicyRevision == "" || d.DecisionID == "" {
					t.Fatalf("decision = %+v", d)
				}
				if h.auditCount() != before+1 {
					t.Fatal("the decision is not in the audit log")
				}
				var recs struct {
					Items []struct {
						ID       string `json:"id"`
						AgentID  string `json:"agent_id"`
						Decision struct {
							Outcome        string `json:"outcome"`
							PolicyRevision string `json:"policy_revision"`
						} `json:"decision"`
						Trigger *struct{ Prompt string } `json:"trigger"`
					} `json:"items"`
				}
				h.mustCall(http.MethodGet, fmt.Sprintf("/api/v1/audit?after=%d", before), viewerToken, nil, http.StatusOK, &recs)
				r := recs.Items[0]
				if r.ID != d.DecisionID || r.AgentID != tc.agent || r.Decision.Outcome != tc.outcome || r.Decision.PolicyRevision != d.PolicyRevision {
					t.Fatalf("audit record %+v does not match decision %+v", r, d)
				}
				trig, _ := tc.event["trigger"].(map[string]any)
				if p, ok := trig["prompt"]; ok && (r.Trigger == nil || r.Trigger.Prompt != p) {
					t.Fatalf("trigger not carried into the audit record: %+v", r.Trigger)
				}
				if tc.outcome == "approval_required" {
					var ap struct {
						State       string `json:"state"`
						Environment string `json:"environment"`
						AgentID     string `json:"agent_id"`
					}
					h.mustCall(http.MethodGet, "/api/v1/approvals/"+d.Approval.ID, viewerToken, nil, http.StatusOK, &ap)
					if ap.State != "pending" || ap.Environment != "production" || ap.AgentID != deployer.ID {
						t.Fatalf("approval = %+v", ap)
					}
				}
			})
		}
		var v struct {
			OK      bool  `json:"ok"`
			Checked int64 `json:"checked"`
		}
		h.mustCall(http.MethodGet, "/api/v1/audit/verify", viewerToken, nil, http.StatusOK, &v)
		if !v.OK || v.Checked < int64(len(tests)) {
			t.Fatalf("verify = %+v", v)
		}
	})
}

// TestBuildQuotaExactUnderConcurrency: N concurrent webhooks against a
// quota of K admit exactly K, and quota usage is visible to the agent.
func TestBuildQuotaExactUnderConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		_, token := h.provision(codingAgent("burst-bot"))
		const n = 35
		var wg sync.WaitGroup
		outcomes := make(chan string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outcomes <- h.decide(build("github:burst-bot[bot]")).Decisions[0].Outcome
			}()
		}
		wg.Wait()
		close(outcomes)
		count := map[string]int{}
		for o := range outcomes {
			count[o]++
		}
		if count["allow"] != 20 || count["deny"] != n-20 {
			t.Fatalf("outcomes = %v, want exactly 20 allowed (the new coding tier's builds_per_hour)", count)
		}
		a := h.decide(build("github:burst-bot[bot]"))
		if !slices.Contains(a.rules(), "quota.builds_per_hour") || !strings.Contains(a.Decisions[0].Reasons[0].Message, "20 of 20") {
			t.Fatalf("over-quota reason = %+v", a.Decisions[0].Reasons)
		}
		var me struct {
			Quotas []struct {
				Name  string `json:"name"`
				Used  int64  `json:"used"`
				Limit int64  `json:"limit"`
			} `json:"quotas"`
		}
		h.mustCall(http.MethodGet, "/api/v1/me", token, nil, http.StatusOK, &me)
		if len(me.Quotas) != 1 || me.Quotas[0].Used != 20 || me.Quotas[0].Limit != 20 {
			t.Fatalf("/me quotas = %+v", me.Quotas)
		}
	})
}

// TestEphemeralEnvironmentLeases: two preview environments at once for a
// new coding agent; the third waits until an end event releases one.
func TestEphemeralEnvironmentLeases(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("preview-bot"))
	p := "github:preview-bot[bot]"
	for _, env := range []string{"preview-1", "preview-2"} {
		if o := h.decide(deploy(p, env)).Decisions[0].Outcome; o != "allow" {
			t.Fatalf("%s: %s", env, o)
		}
	}
	if o := h.decide(deploy(p, "preview-1")).Decisions[0].Outcome; o != "allow" {
		t.Fatalf("re-deploying a held environment must not need a new lease: %s", o)
	}
	third := h.decide(deploy(p, "preview-3"))
	if third.Decisions[0].Outcome != "deny" || !slices.Contains(third.rules(), "quota.concurrent_environments") {
		t.Fatalf("third environment: %+v", third.Decisions[0])
	}
	end := deploy(p, "preview-1")
	end["phase"], end["action"] = "end", "stopped"
	end["cost"] = map[string]any{"minutes": 12.5, "amount": 0.1, "currency": "USD"}
	released := h.decide(end)
	if !slices.Equal(released.Decisions[0].Released, []string{"concurrent_environments:acme/api/preview-1"}) {
		t.Fatalf("released = %v", released.Decisions[0].Released)
	}
	if o := h.decide(deploy(p, "preview-3")).Decisions[0].Outcome; o != "allow" {
		t.Fatalf("after release: %s", o)
	}
	// A killed agent's environments still go away: the end event is
	// refused like everything else, but its lease is released.
	h.mustCall(http.MethodPost, "/api/v1/agents/preview-bot/kill", operatorToken, map[string]any{"reason": "stop"}, http.StatusOK, nil)
	end2 := deploy(p, "preview-2")
	end2["phase"] = "end"
	killed := h.decide(end2).Decisions[0]
	if killed.Outcome != "deny" || !slices.Equal(killed.Released, []string{"concurrent_environments:acme/api/preview-2"}) {
		t.Fatalf("killed agent's end event: %+v", killed)
	}
	var costs struct {
		Items []struct {
			Key     string  `json:"key"`
			Minutes float64 `json:"minutes"`
			Amount  float64 `json:"amount"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/costs?by=owner", viewerToken, nil, http.StatusOK, &costs)
	if len(costs.Items) != 1 || costs.Items[0].Key != "alice@example.com" || costs.Items[0].Minutes != 12.5 {
		t.Fatalf("costs = %+v", costs.Items)
	}
}

// TestEvaluateIsADryRun: evaluate explains without charging or storing
// anything but an evaluate audit record.
func TestEvaluateIsADryRun(t *testing.T) {
	h := newHarness(t, "sqlite")
	_, token := h.provision(codingAgent("dry-bot"))
	var out struct {
		Items []struct {
			Result struct {
				Outcome string `json:"outcome"`
				DryRun  bool   `json:"dry_run"`
				Quotas  []struct {
					Name string `json:"name"`
					Used int64  `json:"used"`
				} `json:"quotas"`
				Reasons []struct{ Rule string } `json:"reasons"`
			} `json:"result"`
		} `json:"items"`
	}
	for i := 0; i < 3; i++ {
		h.mustCall(http.MethodPost, "/api/v1/evaluate", viewerToken, map[string]any{"event": build("github:dry-bot[bot]")}, http.StatusOK, &out)
	}
	r := out.Items[0].Result
	if r.Outcome != "allow" || !r.DryRun || len(r.Quotas) != 1 || r.Quotas[0].Used != 0 {
		t.Fatalf("evaluate = %+v", r)
	}
	h.mustCall(http.MethodPost, "/api/v1/evaluate", viewerToken, map[string]any{"event": deploy("github:dry-bot[bot]", "production")}, http.StatusOK, &out)
	if out.Items[0].Result.Outcome != "deny" || out.Items[0].Result.Reasons[0].Rule != "scope.environment" {
		t.Fatalf("evaluate production = %+v", out.Items[0].Result)
	}
	var me struct{ Quotas []json.RawMessage }
	h.mustCall(http.MethodGet, "/api/v1/me", token, nil, http.StatusOK, &me)
	if len(me.Quotas) != 0 {
		t.Fatalf("evaluate charged a quota: %s", me.Quotas)
	}
	var page struct {
		Items []struct{ Kind string } `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=evaluate", viewerToken, nil, http.StatusOK, &page)
	if len(page.Items) != 4 {
		t.Fatalf("evaluate audit records = %d, want 4", len(page.Items))
	}
	// Raw provider payloads are parsed by the provider (signature not needed).
	raw := map[string]any{"provider": "generic", "headers": map[string]string{"X-Agentgate-Delivery": "x"}, "payload": build("github:dry-bot[bot]")}
	h.mustCall(http.MethodPost, "/api/v1/evaluate", viewerToken, raw, http.StatusOK, &out)
	if out.Items[0].Result.Outcome != "allow" {
		t.Fatalf("raw evaluate = %+v", out.Items[0].Result)
	}
}

// TestReportEvents: reports of what already happened are recorded (cost,
// deployment history) but never charged, held or refused.
func TestReportEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		h.provision(map[string]any{
			"name": "ship-bot", "type": "deployment", "owner": "platform-team", "tier": "established",
			"environments": []string{"production"}, "principals": []string{"github-app:ship-bot"},
		})
		report := func(action, sha, id string) map[string]any {
			ev := deploy("github-app:ship-bot", "production")
			ev["phase"], ev["action"], ev["sha"] = "report", action, sha
			ev["handles"] = map[string]string{"deployment_id": id, "run_id": "r-" + id}
			return ev
		}
		for i, sha := range []string{"aaa", "bbb"} {
			d := h.decide(report("succeeded", sha, fmt.Sprint(i)))
			if d.Decisions[0].Effective != "allow" || d.Decisions[0].Approval != nil || len(d.Decisions[0].Quotas) != 0 {
				t.Fatalf("report: %+v", d.Decisions[0])
			}
		}
		h.decide(report("succeeded", "bbb", "1")) // a redelivered report is recorded once
		h.decide(report("failed", "ccc", "2"))    // only successes are history
		job := build("github-app:ship-bot")
		job["phase"], job["action"] = "report", "completed"
		job["cost"] = map[string]any{"minutes": 3, "amount": 0.024, "currency": "USD"}
		h.decide(job)

		var hist struct {
			Items []struct {
				SHA     string            `json:"sha"`
				AgentID string            `json:"agent_id"`
				Handles map[string]string `json:"handles"`
			} `json:"items"`
		}
		h.mustCall(http.MethodGet, "/api/v1/deployments?provider=generic&repo=acme/api&environment=production", viewerToken, nil, http.StatusOK, &hist)
		if len(hist.Items) != 2 || hist.Items[0].SHA != "bbb" || hist.Items[1].SHA != "aaa" || hist.Items[0].AgentID == "" || hist.Items[0].Handles["run_id"] != "r-1" {
			t.Fatalf("history = %+v", hist.Items)
		}
		h.mustCall(http.MethodGet, "/api/v1/deployments?provider=generic", viewerToken, nil, http.StatusBadRequest, nil)
		var costs struct {
			Items []struct {
				Key     string  `json:"key"`
				Minutes float64 `json:"minutes"`
			} `json:"items"`
		}
		h.mustCall(http.MethodGet, "/api/v1/costs?by=type", viewerToken, nil, http.StatusOK, &costs)
		if len(costs.Items) != 1 || costs.Items[0].Key != "deployment" || costs.Items[0].Minutes != 3 {
			t.Fatalf("costs = %+v", costs.Items)
		}
	})
}

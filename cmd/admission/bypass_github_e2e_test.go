package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The GITHUB_TOKEN suite: a deployment a workflow step creates with its
// GITHUB_TOKEN names github-actions[bot] (or github-pages[bot]) as its
// creator. It is the run's: a person's deploy is not refused as an
// unregistered agent, and an agent's deploy stays the agent's.

// tokenDeployGate delivers the protection rule of a GITHUB_TOKEN deployment
// to production (run 289782451) and returns the decision.
func tokenDeployGate(t *testing.T, e *e2e) (string, []string) {
	t.Helper()
	code, a := e.deliver("deployment_protection_rule", e.fixture("deployment_protection_rule.requested.github-token"), true)
	if code != http.StatusOK || len(a.Decisions) != 1 {
		t.Fatalf("protection rule = %d %+v", code, a)
	}
	var audit struct {
		Items []struct {
			Principal string `json:"principal"`
			AgentName string `json:"agent_name"`
			Decision  struct {
				Reasons      []string `json:"reasons"`
				Unregistered bool     `json:"unregistered_agent"`
			} `json:"decision"`
		} `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &audit)
	if len(audit.Items) == 0 {
		t.Fatal("no decision recorded")
	}
	last := audit.Items[len(audit.Items)-1]
	return a.Decisions[0].Outcome, append([]string{"principal=" + last.Principal, "agent=" + last.AgentName}, last.Decision.Reasons...)
}

func registerCoderBot(e *e2e) {
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "coder-bot", "type": "coding", "owner": "alice",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"}, "principals": []string{"github:coder-bot[bot]"}}, http.StatusCreated, nil)
}

func TestBypassGitHubTokenDeployHuman(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	e.gh.addRun("289782451", "octocat", "User")
	outcome, why := tokenDeployGate(t, e)
	if outcome != "allow" || !strings.Contains(strings.Join(why, " "), "principal=github:octocat") {
		t.Fatalf("a person's GITHUB_TOKEN deploy = %s %v, want allowed as github:octocat", outcome, why)
	}
}

func TestBypassGitHubTokenDeployByAgent(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	e.gh.addRun("289782451", "coder-bot[bot]", "Bot")
	outcome, why := tokenDeployGate(t, e)
	joined := strings.Join(why, " ")
	if outcome != "deny" || !strings.Contains(joined, "agent=coder-bot") || !strings.Contains(joined, "scope.environment") {
		t.Fatalf("an agent's GITHUB_TOKEN deploy to production = %s %v, want denied as coder-bot by scope.environment", outcome, why)
	}
}

func TestBypassGitHubTokenDeployRunUnknown(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	// The run cannot be read: the deployment stays the token's, a machine
	// identity no agent holds, and fails closed.
	outcome, why := tokenDeployGate(t, e)
	if outcome != "deny" || !strings.Contains(strings.Join(why, " "), "unregistered_agent") {
		t.Fatalf("a GITHUB_TOKEN deploy whose run is unknown = %s %v, want denied as an unregistered agent", outcome, why)
	}
}

func TestBypassGitHubTokenDeployChainedToken(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	// A run that the token itself triggered (workflow_dispatch from a
	// step) names no person: it is not taken for a human.
	e.gh.addRun("289782451", "github-actions[bot]", "Bot")
	outcome, why := tokenDeployGate(t, e)
	if outcome != "deny" {
		t.Fatalf("a GITHUB_TOKEN deploy of a token-triggered run = %s %v, want denied", outcome, why)
	}
}

func TestBypassGitHubTokenPagesDeploy(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	code, a := e.deliver("deployment", e.fixture("deployment.created.pages"), true)
	if code != http.StatusOK || len(a.Decisions) != 1 || a.Decisions[0].Outcome != "allow" {
		t.Fatalf("a person's Pages deployment = %d %+v, want allowed", code, a)
	}
	code, a = e.deliver("deployment", e.fixture("deployment.created.github-token.agent", "production", "production"), true)
	if code != http.StatusOK || len(a.Decisions) != 1 {
		t.Fatalf("an agent's GITHUB_TOKEN deployment = %d %+v", code, a)
	}
	_, why := lastDecision(t, e)
	if !strings.Contains(strings.Join(why, " "), "agent=coder-bot") {
		t.Fatalf("an agent's GITHUB_TOKEN deployment was decided as %v, want coder-bot", why)
	}
}

func lastDecision(t *testing.T, e *e2e) (string, []string) {
	t.Helper()
	var audit struct {
		Items []struct {
			Principal string `json:"principal"`
			AgentName string `json:"agent_name"`
		} `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &audit)
	if len(audit.Items) == 0 {
		t.Fatal("no decision recorded")
	}
	last := audit.Items[len(audit.Items)-1]
	return last.Principal, []string{"principal=" + last.Principal, "agent=" + last.AgentName}
}

// TestBypassCopilotApprovedByHuman: a run of GitHub's Copilot coding agent
// that a person approved ("Approve and run workflows") names the person
// as its triggering actor. It stays the agent's — refused while Copilot is
// no registered agent, not passed as the person's — and once registered it
// is decided as the agent, acting for that person.
func TestBypassCopilotApprovedByHuman(t *testing.T) {
	e := newE2E(t)
	code, a := e.deliver("workflow_run", e.fixture("workflow_run.requested.copilot"), true)
	if code != http.StatusOK || len(a.Decisions) != 1 || a.Decisions[0].Outcome != "deny" {
		t.Fatalf("an unregistered Copilot run approved by a person = %d %+v, want denied", code, a)
	}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "copilot", "type": "coding", "owner": "platform-team",
		"capabilities": []string{"build"}, "environments": []string{"staging"}, "principals": []string{"github:Copilot"}}, http.StatusCreated, nil)
	code, a = e.deliver("workflow_run", e.fixture("workflow_run.requested.copilot"), true)
	if code != http.StatusOK || len(a.Decisions) != 1 || a.Decisions[0].Outcome != "allow" {
		t.Fatalf("a registered Copilot's run = %d %+v, want allowed", code, a)
	}
	var audit struct {
		Items []struct {
			Principal    string `json:"principal"`
			AgentName    string `json:"agent_name"`
			Initiator    string `json:"initiator"`
			ActorIsAgent bool   `json:"actor_is_agent"`
		} `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &audit)
	last := audit.Items[len(audit.Items)-1]
	if last.Principal != "github:copilot" || last.AgentName != "copilot" || last.Initiator != "github:codertocat" || !last.ActorIsAgent {
		t.Fatalf("decision recorded as %+v, want the copilot agent acting for github:codertocat", last)
	}
}

// TestBypassSpoofedTriggeringActorInputs: an agent that names a person in
// what it writes (a commit trailer, the deployment payload) stays the
// agent: identity comes only from GitHub's account data.
func TestBypassSpoofedTriggeringActorInputs(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	// The commit's trailers say "Agent-Triggered-By: octocat".
	body := e.fixture("workflow_run.requested.bot-trailers")
	code, a := e.deliver("workflow_run", body, true)
	if code != http.StatusOK || len(a.Decisions) != 1 {
		t.Fatalf("= %d %+v", code, a)
	}
	principal, why := lastDecision(t, e)
	if principal != "github:coder-bot[bot]" || !strings.Contains(strings.Join(why, " "), "agent=coder-bot") {
		t.Fatalf("a run whose commit names a person was decided as %v, want coder-bot", why)
	}
}

// TestBypassGitLabServiceAccount: a GitLab service account — what GitLab
// Duo's agents act as, with a person's composite identity — is an agent,
// not a person: unregistered, its pipeline is refused.
func TestBypassGitLabServiceAccount(t *testing.T) {
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin, "ADMISSION_WEBHOOKS_GITLAB_TOKEN": glHookToken,
	})
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab", bytes.NewReader(glFixture(t, "pipeline.pending.service-account")))
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("X-Gitlab-Event-UUID", "uuid-service-account")
	req.Header.Set("X-Gitlab-Token", glHookToken)
	rec := httptest.NewRecorder()
	a.Server.Handler().ServeHTTP(rec, req)
	var ans ghAnswer
	_ = json.Unmarshal(rec.Body.Bytes(), &ans)
	if rec.Code != http.StatusOK || len(ans.Decisions) != 1 || ans.Decisions[0].Outcome != "deny" {
		t.Fatalf("a GitLab service account's pipeline = %d %s, want refused as an unregistered agent", rec.Code, rec.Body)
	}
}

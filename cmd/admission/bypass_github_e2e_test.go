package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
// what it writes (a commit trailer, the deployment payload, a run title
// made from dispatch inputs) stays the agent, acting for nobody: identity
// comes only from GitHub's account data, and what the agent wrote is only
// its claim in the trigger.
func TestBypassSpoofedTriggeringActorInputs(t *testing.T) {
	tests := []struct {
		name, event, fixture string
		replace              []string
	}{
		// The commit's trailers say "Agent-Triggered-By: octocat".
		{name: "commit trailer", event: "workflow_run", fixture: "workflow_run.requested.bot-trailers"},
		{name: "deployment payload", event: "deployment", fixture: "deployment.created.github-token.agent", replace: []string{
			`\"prompt\": \"Ship the login fix to staging\"`, `\"triggered_by\": \"octocat\", \"initiator\": \"github:octocat\"`,
		}},
		// run-name: "Deploy for ${{ inputs.requested_by }}" puts dispatch
		// inputs into the run's title.
		{name: "dispatch inputs in the run title", event: "deployment", fixture: "deployment.created.github-token.agent", replace: []string{
			`"display_title": "Fix the flaky login test"`, `"display_title": "Deploy for octocat (triggering_actor: octocat)"`,
			`"event": "push"`, `"event": "workflow_dispatch"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			registerCoderBot(e)
			body := e.fixture(tc.fixture, tc.replace...)
			if !bytes.Contains(body, []byte("octocat")) {
				t.Fatal("the fixture names no person")
			}
			code, a := e.deliver(tc.event, body, true)
			if code != http.StatusOK || len(a.Decisions) != 1 {
				t.Fatalf("= %d %+v", code, a)
			}
			got := lastIdentities(t, e)
			if got.Principal != "github:coder-bot[bot]" || got.AgentName != "coder-bot" || got.Initiator != "" || !got.ActorIsAgent {
				t.Fatalf("an agent naming a person in what it writes was decided as %+v, want coder-bot acting for nobody", got)
			}
		})
	}
}

// identities are the identities a decision record names.
type identities struct {
	Principal    string `json:"principal"`
	AgentName    string `json:"agent_name"`
	Initiator    string `json:"initiator"`
	ActorIsAgent bool   `json:"actor_is_agent"`
	Decision     struct {
		Reasons []string `json:"reasons"`
	} `json:"decision"`
}

// lastIdentities returns the identities of the last decision recorded.
func lastIdentities(t *testing.T, e *e2e) identities {
	t.Helper()
	var audit struct {
		Items []identities `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &audit)
	if len(audit.Items) == 0 {
		t.Fatal("no decision recorded")
	}
	return audit.Items[len(audit.Items)-1]
}

// addApprovedRun makes the fake know run id whose actor (the bot whose
// run it is) differs from its triggering actor (the person who approved
// it), as GitHub reports a Copilot coding agent's run.
func (f *fakeGitHub) addApprovedRun(id, actor, actorType, by, byType string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs == nil {
		f.runs = map[string]string{}
	}
	f.runs[id] = fmt.Sprintf(`{"id": %s, "name": "deploy", "event": "pull_request", "status": "in_progress", "head_sha": "4f2c9e1", "run_attempt": 1, `+
		`"actor": {"login": %q, "id": 198982749, "type": %q, "site_admin": false}, "triggering_actor": {"login": %q, "id": 21031067, "type": %q, "site_admin": false}}`,
		id, actor, actorType, by, byType)
}

// TestBypassCopilotWithoutRegistration: a GITHUB_TOKEN deploy to
// production from a Copilot coding agent's run that a person approved is
// refused as an unregistered agent while Copilot is registered as none,
// and recorded as Copilot acting for that person.
func TestBypassCopilotWithoutRegistration(t *testing.T) {
	e := newE2E(t)
	registerCoderBot(e)
	e.gh.addApprovedRun("289782451", "Copilot", "Bot", "octocat", "User")
	outcome, why := tokenDeployGate(t, e)
	if outcome != "deny" || !strings.Contains(strings.Join(why, " "), "unregistered_agent") {
		t.Fatalf("an unregistered Copilot's production deploy = %s %v, want refused as an unregistered agent", outcome, why)
	}
	got := lastIdentities(t, e)
	if got.Principal != "github:copilot" || got.Initiator != "github:octocat" || !got.ActorIsAgent || got.AgentName != "" {
		t.Fatalf("recorded as %+v, want the unregistered github:copilot acting for github:octocat", got)
	}
}

// TestBypassCopilotAppBotWithoutRegistration: the Copilot coding agent's
// App bot (copilot-swe-agent[bot]) is the same agent: it does not escape
// a registration check that github:copilot would fail, and once Copilot is
// registered it is held to that agent's scope.
func TestBypassCopilotAppBotWithoutRegistration(t *testing.T) {
	e := newE2E(t)
	e.gh.addApprovedRun("289782451", "copilot-swe-agent[bot]", "Bot", "octocat", "User")
	outcome, why := tokenDeployGate(t, e)
	if outcome != "deny" || !strings.Contains(strings.Join(why, " "), "unregistered_agent") {
		t.Fatalf("an unregistered Copilot App's production deploy = %s %v, want refused as an unregistered agent", outcome, why)
	}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "copilot", "type": "coding", "owner": "platform-team",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"}, "principals": []string{"github:Copilot"}}, http.StatusCreated, nil)
	outcome, why = tokenDeployGate(t, e)
	joined := strings.Join(why, " ")
	if outcome != "deny" || !strings.Contains(joined, "agent=copilot") || !strings.Contains(joined, "scope.environment") {
		t.Fatalf("a staging-only Copilot's production deploy = %s %v, want denied as copilot by scope.environment", outcome, why)
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

// TestBypassGitLabCompositeIdentityClaimsPerson: a GitLab service account
// (a GitLab Duo agent's composite identity) that names a person in its
// pipeline variables stays the agent it is registered as, acting for
// nobody: GitLab's hook payloads do not say whom a composite identity acts
// for, and the variables are the agent's own words.
func TestBypassGitLabCompositeIdentityClaimsPerson(t *testing.T) {
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin, "ADMISSION_WEBHOOKS_GITLAB_TOKEN": glHookToken,
	})
	e := &e2e{t: t, h: a.Server.Handler()}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "duo-developer", "type": "coding", "owner": "platform-team",
		"capabilities": []string{"build"}, "environments": []string{"staging"},
		"principals": []string{"gitlab:service_account_6018816a18e515214e0c34c2b1b7a8e0"}}, http.StatusCreated, nil)
	body := glFixture(t, "pipeline.pending.service-account", `"variables": []`,
		`"variables": [{"key": "AGENT_TRIGGERED_BY", "value": "alice"}, {"key": "GITLAB_USER_LOGIN", "value": "alice"}]`)
	if !bytes.Contains(body, []byte("alice")) {
		t.Fatal("the fixture names no person")
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab", bytes.NewReader(body))
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("X-Gitlab-Event-UUID", "uuid-composite-claims")
	req.Header.Set("X-Gitlab-Token", glHookToken)
	rec := httptest.NewRecorder()
	a.Server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("pipeline hook = %d %s", rec.Code, rec.Body)
	}
	got := lastIdentities(t, e)
	if got.Principal != "gitlab:service_account_6018816a18e515214e0c34c2b1b7a8e0" || got.AgentName != "duo-developer" || got.Initiator != "" || !got.ActorIsAgent {
		t.Fatalf("a service account naming a person in its variables was decided as %+v, want duo-developer acting for nobody", got)
	}
}

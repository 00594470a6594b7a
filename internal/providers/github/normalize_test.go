package github

import (
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/event"
)

func TestJobCost(t *testing.T) {
	start := time.Date(2024, 5, 15, 10, 0, 0, 0, time.UTC)
	rates := map[string]float64{"gpu": 0.25, "ubuntu-latest": 0.008, "default": 0.01}
	job := func(d time.Duration, labels ...string) *gh.WorkflowJob {
		return &gh.WorkflowJob{
			StartedAt:   &gh.Timestamp{Time: start},
			CompletedAt: &gh.Timestamp{Time: start.Add(d)},
			Labels:      labels,
		}
	}
	tests := []struct {
		name  string
		job   *gh.WorkflowJob
		rates map[string]float64
		want  *event.Cost
	}{
		{name: "one second is a minute", job: job(time.Second, "ubuntu-latest"), rates: rates,
			want: &event.Cost{Minutes: 1, Amount: 0.008, Currency: "USD"}},
		{name: "exact minutes are not rounded up", job: job(2*time.Minute, "ubuntu-latest"), rates: rates,
			want: &event.Cost{Minutes: 2, Amount: 0.016, Currency: "USD"}},
		{name: "first label with a rate", job: job(61*time.Second, "self-hosted", "gpu", "ubuntu-latest"), rates: rates,
			want: &event.Cost{Minutes: 2, Amount: 0.5, Currency: "USD"}},
		{name: "default rate", job: job(3*time.Minute, "windows-latest"), rates: rates,
			want: &event.Cost{Minutes: 3, Amount: 0.03, Currency: "USD"}},
		{name: "no rates", job: job(3*time.Minute, "windows-latest"), rates: nil,
			want: &event.Cost{Minutes: 3, Currency: "USD"}},
		{name: "never started", job: &gh.WorkflowJob{CompletedAt: &gh.Timestamp{Time: start}}, rates: rates},
		{name: "no duration", job: job(0, "gpu"), rates: rates},
		{name: "completed before started", job: job(-time.Minute, "gpu"), rates: rates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := jobCost(tc.job, tc.rates)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("jobCost = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	user := func(login, typ string) *gh.User { return &gh.User{Login: gh.String(login), Type: gh.String(typ)} }
	human, bot := user("octocat", "User"), user("coder-bot[bot]", "Bot")
	tests := []struct {
		name string
		got  func() (actor, error)
		want actor
		err  bool
	}{
		{name: "run: triggering actor first (a person's re-run)", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{TriggeringActor: human, Actor: bot, RunAttempt: gh.Int(2)}, bot)
		}, want: actor{principal: "github:octocat"}},
		{name: "run: a bot's first run a person approved is the bot's, for the person", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{TriggeringActor: human, Actor: user("Copilot", "Bot"), RunAttempt: gh.Int(1)}, human)
		}, want: actor{principal: "github:Copilot", machine: true, initiator: "github:octocat"}},
		{name: "run: the Copilot coding agent's App bot is Copilot", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{TriggeringActor: human, Actor: user("copilot-swe-agent[bot]", "Bot"), RunAttempt: gh.Int(1)}, human)
		}, want: actor{principal: "github:Copilot", machine: true, initiator: "github:octocat"}},
		{name: "run: the Copilot App bot is a machine whatever its type says", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{Actor: user("Copilot-SWE-Agent[bot]", "User")}, human)
		}, want: actor{principal: "github:Copilot", machine: true}},
		{name: "run: Copilot chat's App is another bot", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{Actor: user("Copilot[bot]", "Bot")}, human)
		}, want: actor{principal: "github:Copilot[bot]", machine: true}},
		{name: "run: a person's run started by a bot's re-run is the bot's", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{TriggeringActor: bot, Actor: human, RunAttempt: gh.Int(2)}, bot)
		}, want: actor{principal: "github:coder-bot[bot]", machine: true}},
		{name: "run: actor next", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{Actor: bot}, human)
		}, want: actor{principal: "github:coder-bot[bot]", machine: true}},
		{name: "run: sender last", got: func() (actor, error) {
			return runActor(&gh.WorkflowRun{TriggeringActor: &gh.User{}}, human)
		}, want: actor{principal: "github:octocat"}},
		{name: "run: nobody", got: func() (actor, error) { return runActor(nil, nil) }, err: true},
		{name: "deployment: an App", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: user("release-bot[bot]", "Bot")}, &gh.App{Slug: gh.String("release-bot")}, nil, human)
		}, want: actor{principal: "github-app:release-bot", machine: true}},
		{name: "deployment: the Copilot coding agent's App is Copilot", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: user("copilot-swe-agent[bot]", "Bot")}, &gh.App{Slug: gh.String("copilot-swe-agent")}, nil, human)
		}, want: actor{principal: "github:Copilot", machine: true}},
		{name: "deployment: GitHub Actions is not the actor", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: human}, &gh.App{Slug: gh.String("github-actions")}, nil, bot)
		}, want: actor{principal: "github:octocat"}},
		{name: "deployment: creator", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: bot}, nil, nil, human)
		}, want: actor{principal: "github:coder-bot[bot]", machine: true}},
		{name: "deployment: sender", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{}, nil, nil, human)
		}, want: actor{principal: "github:octocat"}},
		{name: "deployment: GITHUB_TOKEN of a human's run", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: user("github-actions[bot]", "Bot")}, &gh.App{Slug: gh.String("github-actions")},
				&gh.WorkflowRun{TriggeringActor: human, Actor: human}, user("github-actions[bot]", "Bot"))
		}, want: actor{principal: "github:octocat", token: "github-actions[bot]"}},
		{name: "deployment: Pages GITHUB_TOKEN of an agent's run", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: user("github-pages[bot]", "Bot")}, nil, &gh.WorkflowRun{TriggeringActor: bot}, human)
		}, want: actor{principal: "github:coder-bot[bot]", machine: true, token: "github-pages[bot]"}},
		{name: "deployment: GITHUB_TOKEN without the run is looked up", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{Creator: user("github-actions[bot]", "Bot")}, nil, nil, human)
		}, want: actor{principal: "github:github-actions[bot]", machine: true, viaRun: true, token: "github-actions[bot]"}},
		{name: "deployment: the sender does not stand in for the token's run", got: func() (actor, error) {
			return deploymentActor(&gh.Deployment{}, nil, nil, user("github-actions[bot]", "Bot"))
		}, want: actor{principal: "github:github-actions[bot]", machine: true, viaRun: true, token: "github-actions[bot]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if tc.err != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("actor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRunIDFromURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "run page", in: "https://github.com/a/b/actions/runs/123", want: "123"},
		{name: "job page", in: "https://github.com/a/b/actions/runs/123/job/9", want: "123"},
		{name: "query", in: "https://github.com/a/b/actions/runs/123?check_suite_focus=true", want: "123"},
		{name: "callback", in: "https://api.github.com/repos/a/b/actions/runs/77/deployment_protection_rule", want: "77"},
		{name: "not a number", in: "https://github.com/a/b/actions/runs/12x", want: ""},
		{name: "no run", in: "https://example.com/deploy/1", want: ""},
		{name: "empty", in: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runIDFromURL(tc.in); got != tc.want {
				t.Fatalf("runIDFromURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

package github

import (
	"strings"
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

// FuzzRunIDFromURL: the run id read from a callback or run URL is either
// nothing or the digits right after the first "/actions/runs/", at most 20
// of them, ending the path segment.
func FuzzRunIDFromURL(f *testing.F) {
	for _, s := range []string{
		"https://api.github.com/repos/a/b/actions/runs/77/deployment_protection_rule",
		"https://github.com/a/b/actions/runs/123?x=1", "/actions/runs/", "/actions/runs/1#", "/actions/runs/99999999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		id := runIDFromURL(u)
		if id == "" {
			return
		}
		const marker = "/actions/runs/"
		i := strings.Index(u, marker)
		if i < 0 || !strings.HasPrefix(u[i+len(marker):], id) || len(id) > 20 {
			t.Fatalf("runIDFromURL(%q) = %q, not the run segment", u, id)
		}
		for _, c := range id {
			if c < '0' || c > '9' {
				t.Fatalf("runIDFromURL(%q) = %q, not digits", u, id)
			}
		}
		if rest := u[i+len(marker)+len(id):]; rest != "" && !strings.ContainsRune("/?#", rune(rest[0])) {
			t.Fatalf("runIDFromURL(%q) = %q, but the segment goes on with %q", u, id, rest)
		}
	})
}

// FuzzDeploymentActor: whoever a deployment is attributed to is one of the
// accounts GitHub names (the App, the creator, the run's actors, the
// sender); a GITHUB_TOKEN deployment is never the sender's; and only a
// machine acts for someone else.
func FuzzDeploymentActor(f *testing.F) {
	f.Add("github-actions[bot]", "Bot", "github-actions", "coder-bot[bot]", "Bot", "octocat", "User", 1, "octocat", "User", true)
	f.Add("github-pages[bot]", "Bot", "", "Copilot", "Bot", "octocat", "User", 1, "hubot", "User", true)
	f.Add("octocat", "User", "copilot-swe-agent", "", "", "", "", 0, "octocat", "User", false)
	f.Add("GitHub-Actions[bot]", "Bot", "", "", "", "", "", 0, "mallory", "User", false)
	f.Fuzz(func(t *testing.T, creator, creatorType, slug, runBy, runByType, trig, trigType string, attempt int, sender, senderType string, withRun bool) {
		user := func(login, typ string) *gh.User { return &gh.User{Login: gh.String(login), Type: gh.String(typ)} }
		var run *gh.WorkflowRun
		if withRun {
			run = &gh.WorkflowRun{Actor: user(runBy, runByType), TriggeringActor: user(trig, trigType), RunAttempt: gh.Int(attempt)}
		}
		a, err := deploymentActor(&gh.Deployment{Creator: user(creator, creatorType)}, &gh.App{Slug: gh.String(slug)}, run, user(sender, senderType))
		if err != nil {
			return
		}
		named := map[string]bool{"github-app:" + strings.TrimSpace(slug): true, "github:" + copilotLogin: true}
		for _, l := range []string{creator, runBy, trig, sender} {
			named["github:"+strings.TrimSpace(l)] = true
		}
		if !named[a.principal] && a.principal != "github:"+strings.ToLower(strings.TrimSpace(creator)) {
			t.Fatalf("attributed to %q, an account the payload does not name", a.principal)
		}
		if a.token != "" {
			run := map[string]bool{"github:" + a.token: true, "github:" + copilotLogin: true,
				"github:" + strings.TrimSpace(runBy): withRun, "github:" + strings.TrimSpace(trig): withRun}
			if !run[a.principal] {
				t.Fatalf("a GITHUB_TOKEN deployment attributed to %q, not the run's actors or the token", a.principal)
			}
		}
		if a.initiator != "" && (!a.machine || a.initiator == a.principal) {
			t.Fatalf("actor %+v acts for someone but is no machine, or acts for itself", a)
		}
	})
}

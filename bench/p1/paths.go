package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/argo"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/secret"
)

// webhookPath is one way a decision reaches agentgate: the request its
// sender makes for the i-th build and the event agentgate derives from it.
type webhookPath struct {
	name string
	// size is the body's size, for the report.
	size int
	// request builds the i-th delivery to the agentgate at base; run makes
	// delivery ids unique across runs.
	request func(ctx context.Context, base string, run, i int64) (*http.Request, error)
	// allowed reads agentgate's answer: nil when it allowed the build.
	allowed func(status int, body []byte) error
	// event is what agentgate's provider derives from the i-th delivery,
	// for OPA's input.
	event func(ctx context.Context, i int64) (event.Event, error)
}

const (
	githubSecret = "p1-github-secret-0123456789"
	// argoServiceAccount runs the benchmark's Workflows; agents may use it.
	argoServiceAccount = "agent-runner"
	argoNamespace      = "agents"
)

func githubPrincipal(i int) string { return "github:" + agentName(i) + "[bot]" }
func argoPrincipal(i int) string {
	return "k8s:system:serviceaccount:" + argoNamespace + ":" + agentName(i)
}

// paths returns the webhook paths named in names (generic, github, argo).
func paths(names []string, agentsN int) ([]*webhookPath, error) {
	var out []*webhookPath
	for _, n := range names {
		var p *webhookPath
		var err error
		switch n {
		case "generic":
			p = genericPath(agentsN)
		case "github":
			p, err = githubPath(agentsN)
		case "argo":
			p, err = argoPath(agentsN)
		default:
			err = fmt.Errorf("unknown path %q (have generic, github, argo)", n)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// genericPath is a signed generic webhook of one build.
func genericPath(agentsN int) *webhookPath {
	parser := generic.New(benchSecret)
	return &webhookPath{name: "generic", size: len(buildBody(0, agentsN)), allowed: agentgateAllowed,
		request: func(ctx context.Context, base string, run, i int64) (*http.Request, error) {
			body := buildBody(i, agentsN)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/generic", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set(generic.HeaderDelivery, fmt.Sprintf("p1-%d-%d", run, i))
			req.Header.Set(generic.HeaderSignature, providers.SignHMACSHA256([]byte(benchSecret), body))
			return req, nil
		},
		event: func(_ context.Context, i int64) (event.Event, error) {
			return onlyEvent(parser.Parse(http.Header{generic.HeaderDelivery: {"x"}}, buildBody(i, agentsN)))
		},
	}
}

// githubPath is GitHub's workflow_run "requested" delivery of a run an
// agent's bot account started: the copilot fixture with its repository,
// organization, workflow and user objects filled out to the full shape
// GitHub's webhook documentation gives them, about 20 KB.
func githubPath(agentsN int) (*webhookPath, error) {
	raw, err := os.ReadFile(filepath.Join("testdata", "github", "workflow_run.requested.copilot.json"))
	if err != nil {
		return nil, fmt.Errorf("github path: %w (run from the repository root)", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("github path: %w", err)
	}
	fullShape(tmpl)
	wr := tmpl["workflow_run"].(map[string]any)
	wr["id"], wr["head_sha"] = "@@RUN_ID@@", "@@SHA@@"
	for _, u := range []map[string]any{wr["actor"].(map[string]any), wr["triggering_actor"].(map[string]any), tmpl["sender"].(map[string]any)} {
		u["login"], u["type"] = "@@LOGIN@@", "Bot"
	}
	shape, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	body := func(i int64) ([]byte, error) {
		return []byte(strings.NewReplacer(`"@@RUN_ID@@"`, fmt.Sprint(9_000_000_000+i), "@@SHA@@", fmt.Sprintf("%040x", i),
			"@@LOGIN@@", agentName(int(i)%agentsN)+"[bot]").Replace(string(shape))), nil
	}
	first, err := body(0)
	if err != nil {
		return nil, err
	}
	parser, err := github.New(github.Options{WebhookSecret: secret.New(githubSecret, "bench")})
	if err != nil {
		return nil, err
	}
	headers := func(delivery string, b []byte) http.Header {
		return http.Header{"X-Github-Event": {"workflow_run"}, "X-Github-Delivery": {delivery},
			"X-Hub-Signature-256": {providers.SignHMACSHA256([]byte(githubSecret), b)}, "Content-Type": {"application/json"}}
	}
	return &webhookPath{name: "github", size: len(first), allowed: agentgateAllowed,
		request: func(ctx context.Context, base string, run, i int64) (*http.Request, error) {
			b, err := body(i)
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/github", bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			req.Header = headers(fmt.Sprintf("%d-%d", run, i), b)
			return req, nil
		},
		event: func(_ context.Context, i int64) (event.Event, error) {
			b, err := body(i)
			if err != nil {
				return event.Event{}, err
			}
			return onlyEvent(parser.Parse(headers("x", b), b))
		},
	}, nil
}

// argoPath is the AdmissionReview kube-apiserver sends when an agent's
// service account creates a Workflow: the agent fixture, as that agent,
// with a fresh uid and name per request.
func argoPath(agentsN int) (*webhookPath, error) {
	raw, err := os.ReadFile(filepath.Join("testdata", "argo", "admission", "workflow.create.agent.json"))
	if err != nil {
		return nil, fmt.Errorf("argo path: %w (run from the repository root)", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("argo path: %w", err)
	}
	req := tmpl["request"].(map[string]any)
	req["uid"] = "@@UID@@"
	req["userInfo"].(map[string]any)["username"] = "@@USER@@"
	obj := req["object"].(map[string]any)
	meta := obj["metadata"].(map[string]any)
	meta["name"], meta["uid"] = "hello-world-@@UID@@", "wf-@@UID@@"
	delete(meta["annotations"].(map[string]any), "agentgate.io/agent-id")
	obj["spec"].(map[string]any)["serviceAccountName"] = argoServiceAccount
	shape, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	body := func(run, i int64) ([]byte, error) {
		return []byte(strings.NewReplacer("@@UID@@", fmt.Sprintf("p1-%d-%d", run, i),
			"@@USER@@", strings.TrimPrefix(argoPrincipal(int(i)%agentsN), "k8s:")).Replace(string(shape))), nil
	}
	first, err := body(0, 0)
	if err != nil {
		return nil, err
	}
	parser, err := argo.New(argo.Options{})
	if err != nil {
		return nil, err
	}
	return &webhookPath{name: "argo", size: len(first), allowed: admissionAllowed,
		request: func(ctx context.Context, base string, run, i int64) (*http.Request, error) {
			b, err := body(run, i)
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/argo/admission?timeout=10s", bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		},
		event: func(ctx context.Context, i int64) (event.Event, error) {
			b, err := body(0, i)
			if err != nil {
				return event.Event{}, err
			}
			var got []event.Event
			_, err = parser.Review(ctx, b, argo.DeciderFunc(func(_ context.Context, ev event.Event, _ string) (argo.Verdict, error) {
				got = append(got, ev)
				return argo.Verdict{Effective: event.OutcomeAllow, DecisionID: "x"}, nil
			}))
			if err != nil {
				return event.Event{}, err
			}
			if len(got) != 1 {
				return event.Event{}, fmt.Errorf("argo path: the review asked for %d decisions, want 1", len(got))
			}
			return got[0], nil
		},
	}, nil
}

func onlyEvent(d providers.Delivery, err error) (event.Event, error) {
	if err != nil {
		return event.Event{}, err
	}
	if len(d.Events) != 1 {
		return event.Event{}, fmt.Errorf("the delivery holds %d events, want 1", len(d.Events))
	}
	return d.Events[0], nil
}

// admissionAllowed reads an AdmissionReview answer: allowed.
func admissionAllowed(status int, body []byte) error {
	var rev struct {
		Response *struct {
			Allowed bool `json:"allowed"`
			Status  *struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &rev) != nil || rev.Response == nil {
		return fmt.Errorf("agentgate answered %d: %.200s", status, body)
	}
	if !rev.Response.Allowed {
		return errors.New("agentgate refused the Workflow: " + fmt.Sprint(rev.Response.Status))
	}
	return nil
}

// repoURLs are the URL fields GitHub's webhook payloads carry on every
// repository object, as paths under the repository's API URL.
var repoURLs = map[string]string{"forks_url": "/forks", "keys_url": "/keys{/key_id}",
	"collaborators_url": "/collaborators{/collaborator}", "teams_url": "/teams", "hooks_url": "/hooks",
	"issue_events_url": "/issues/events{/number}", "events_url": "/events", "assignees_url": "/assignees{/user}",
	"branches_url": "/branches{/branch}", "tags_url": "/tags", "blobs_url": "/git/blobs{/sha}",
	"git_tags_url": "/git/tags{/sha}", "git_refs_url": "/git/refs{/sha}", "trees_url": "/git/trees{/sha}",
	"languages_url": "/languages", "stargazers_url": "/stargazers", "contributors_url": "/contributors",
	"subscribers_url": "/subscribers", "subscription_url": "/subscription", "commits_url": "/commits{/sha}",
	"git_commits_url": "/git/commits{/sha}", "comments_url": "/comments{/number}",
	"issue_comment_url": "/issues/comments{/number}", "contents_url": "/contents/{+path}",
	"compare_url": "/compare/{base}...{head}", "merges_url": "/merges", "archive_url": "/{archive_format}{/ref}",
	"downloads_url": "/downloads", "issues_url": "/issues{/number}", "pulls_url": "/pulls{/number}",
	"milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
	"labels_url": "/labels{/name}", "releases_url": "/releases{/id}"}

// userURLs are the URL fields of an account object, under its API URL.
var userURLs = map[string]string{"followers_url": "/followers", "following_url": "/following{/other_user}",
	"gists_url": "/gists{/gist_id}", "starred_url": "/starred{/owner}{/repo}", "subscriptions_url": "/subscriptions",
	"organizations_url": "/orgs", "repos_url": "/repos", "events_url": "/events{/privacy}",
	"received_events_url": "/received_events"}

// fullShape fills the repository and account objects of a workflow_run
// payload out to the fields GitHub's documentation shows for them.
func fullShape(p map[string]any) {
	wr := p["workflow_run"].(map[string]any)
	for _, r := range []any{p["repository"], wr["repository"], wr["head_repository"]} {
		repo, ok := r.(map[string]any)
		if !ok {
			continue
		}
		api, name := fmt.Sprint(repo["url"]), fmt.Sprint(repo["full_name"])
		for k, path := range repoURLs {
			repo[k] = api + path
		}
		for k, v := range map[string]any{"git_url": "git://github.com/" + name + ".git", "ssh_url": "git@github.com:" + name + ".git",
			"clone_url": "https://github.com/" + name + ".git", "svn_url": "https://github.com/" + name,
			"size": 504, "stargazers_count": 1, "watchers_count": 1, "language": "Go",
			"has_issues": true, "has_projects": true, "has_downloads": true, "has_wiki": true, "has_pages": false,
			"has_discussions": false, "forks_count": 0, "mirror_url": nil, "archived": false, "disabled": false,
			"open_issues_count": 3, "license": nil, "allow_forking": true, "is_template": false,
			"web_commit_signoff_required": false, "topics": []any{}, "forks": 0, "open_issues": 3, "watchers": 1,
			"homepage": nil} {
			if _, ok := repo[k]; !ok {
				repo[k] = v
			}
		}
		if owner, ok := repo["owner"].(map[string]any); ok {
			fillAccount(owner)
		}
	}
	for _, a := range []any{p["sender"], wr["actor"], wr["triggering_actor"]} {
		if acc, ok := a.(map[string]any); ok {
			fillAccount(acc)
		}
	}
	if org, ok := p["organization"].(map[string]any); ok {
		api := fmt.Sprint(org["url"])
		for k, path := range map[string]string{"events_url": "/events", "hooks_url": "/hooks", "issues_url": "/issues",
			"members_url": "/members{/member}", "public_members_url": "/public_members{/member}"} {
			org[k] = api + path
		}
		org["avatar_url"] = "https://avatars.githubusercontent.com/u/38302899?v=4"
	}
}

// fillAccount adds an account object's URL fields from its login.
func fillAccount(acc map[string]any) {
	api := "https://api.github.com/users/" + fmt.Sprint(acc["login"])
	for k, path := range userURLs {
		acc[k] = api + path
	}
	for k, v := range map[string]any{"avatar_url": "https://avatars.githubusercontent.com/u/38302899?v=4", "gravatar_id": "", "site_admin": false} {
		if _, ok := acc[k]; !ok {
			acc[k] = v
		}
	}
}

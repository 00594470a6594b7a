package rollback

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/store"
)

// ArgoCDConfig configures the Argo CD executor.
type ArgoCDConfig struct {
	// BaseURL is the Argo CD server, e.g. https://argocd.example.com.
	BaseURL string
	// Token is an Argo CD API token (an account with applications, get,
	// update and sync on the apps it may roll back).
	Token string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// ArgoCDExecutor rolls an application back to a history id. Argo CD
// refuses to roll back an application with automated sync, so the
// executor switches auto-sync off first and says so in Result.Steps; the
// operator turns it back on once the bad revision is fixed in Git.
type ArgoCDExecutor struct{ api apiClient }

// NewArgoCDExecutor builds the executor.
func NewArgoCDExecutor(c ArgoCDConfig) *ArgoCDExecutor {
	h := http.Header{}
	if c.Token != "" {
		h.Set("Authorization", "Bearer "+c.Token)
	}
	return &ArgoCDExecutor{api: newAPIClient(ProviderArgo, c.BaseURL, c.HTTPClient, h)}
}

// argoApp is the part of an Argo CD Application the executor reads.
type argoApp struct {
	Spec struct {
		SyncPolicy *struct {
			Automated json.RawMessage `json:"automated"`
		} `json:"syncPolicy"`
	} `json:"spec"`
	Status struct {
		// History lists the application's synced revisions, oldest first;
		// Argo CD keeps the last revisionHistoryLimit (10 by default).
		History []argoHistory `json:"history"`
	} `json:"status"`
}

// argoHistory is one entry of an Application's status.history.
type argoHistory struct {
	ID       int64  `json:"id"`
	Revision string `json:"revision"`
	// Revisions is set instead of Revision for a multi-source application.
	Revisions []string `json:"revisions"`
}

// has reports whether the entry synced revision rev (a commit sha, or 7
// characters or more of one, a tag or a chart version).
func (h argoHistory) has(rev string) bool {
	for _, r := range append([]string{h.Revision}, h.Revisions...) {
		if r == "" {
			continue
		}
		if r == rev || (len(rev) >= 7 && strings.HasPrefix(r, rev)) {
			return true
		}
	}
	return false
}

// historyID picks the history entry to roll back to when the deployment
// recorded none (a sync reported by a notification template without
// history_id): the newest entry, other than the current one, that synced
// the deployment's revision; without a revision, the entry before the
// current one.
func historyID(app argoApp, to store.Deployment) (int64, string, error) {
	h := app.Status.History
	if len(h) < 2 {
		return 0, "", permanent("argo: application history has %d entries, none before the current sync to roll back to", len(h))
	}
	rev := strings.TrimSpace(to.Handles["revision"])
	if rev == "" {
		rev = to.SHA
	}
	if rev == "" {
		prev := h[len(h)-2]
		return prev.ID, fmt.Sprintf("history id %d, the sync before the current one (deployment %s names no revision)", prev.ID, to.ID), nil
	}
	for i := len(h) - 2; i >= 0; i-- {
		if h[i].has(rev) {
			return h[i].ID, fmt.Sprintf("history id %d, the newest earlier sync of revision %s", h[i].ID, rev), nil
		}
	}
	return 0, "", permanent("argo: no earlier entry of the application's history (last %d syncs) synced revision %s", len(h), rev)
}

// Rollback implements Executor: GET the application, PATCH
// spec.syncPolicy.automated away if set, then POST its rollback to the
// previous deployment's history_id, or, when the deployment recorded none,
// to the id found in the application's history (see historyID). The
// application is the deployment's application handle, else the target's App.
func (a *ArgoCDExecutor) Rollback(ctx context.Context, t Target, to store.Deployment) (Result, error) {
	res := Result{Provider: ProviderArgo, Method: "argocd_rollback"}
	name := to.Handles["application"]
	if name == "" {
		name = t.App
	}
	if name == "" {
		return res, permanent("argo: deployment %s names no application", to.ID)
	}
	var id int64
	if v := strings.TrimSpace(to.Handles["history_id"]); v != "" {
		n, err := positiveInt(to, "history_id")
		if err != nil {
			return res, err
		}
		id = n
	}
	ns := to.Handles["app_namespace"]
	query := ""
	if ns != "" {
		query = "?appNamespace=" + url.QueryEscape(ns)
	}
	appPath := "/api/v1/applications/" + url.PathEscape(name)
	var app argoApp
	if err := a.api.do(ctx, http.MethodGet, appPath+query, nil, &app); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "GET "+appPath)
	if id == 0 {
		n, why, err := historyID(app, to)
		if err != nil {
			return res, err
		}
		id = n
		res.Steps = append(res.Steps, "resolved from the application's history: "+why)
	}
	if sp := app.Spec.SyncPolicy; sp != nil && len(sp.Automated) > 0 && string(sp.Automated) != "null" {
		patch := map[string]any{
			"name": name, "patchType": "merge",
			"patch": `{"spec":{"syncPolicy":{"automated":null}}}`,
		}
		if ns != "" {
			patch["appNamespace"] = ns
		}
		if err := a.api.do(ctx, http.MethodPatch, appPath+query, patch, nil); err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, "PATCH "+appPath+": automated sync switched off (Argo CD refuses to roll back an auto-synced app); re-enable it after fixing Git")
	}
	body := map[string]any{"name": name, "id": id}
	if ns != "" {
		body["appNamespace"] = ns
	}
	if err := a.api.do(ctx, http.MethodPost, appPath+"/rollback", body, nil); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "POST "+appPath+"/rollback")
	res.Ref = strconv.FormatInt(id, 10)
	return res, nil
}

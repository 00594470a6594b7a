package rollback

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

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
}

// Rollback implements Executor: GET the application, PATCH
// spec.syncPolicy.automated away if set, then POST its rollback to the
// previous deployment's history_id. The application is the deployment's
// application handle, else the target's App.
func (a *ArgoCDExecutor) Rollback(ctx context.Context, t Target, to store.Deployment) (Result, error) {
	res := Result{Provider: ProviderArgo, Method: "argocd_rollback"}
	name := to.Handles["application"]
	if name == "" {
		name = t.App
	}
	if name == "" {
		return res, permanent("argo: deployment %s names no application", to.ID)
	}
	historyID, err := positiveInt(to, "history_id")
	if err != nil {
		return res, err
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
	body := map[string]any{"name": name, "id": historyID}
	if ns != "" {
		body["appNamespace"] = ns
	}
	if err := a.api.do(ctx, http.MethodPost, appPath+"/rollback", body, nil); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "POST "+appPath+"/rollback")
	res.Ref = strconv.FormatInt(historyID, 10)
	return res, nil
}

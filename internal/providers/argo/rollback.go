package argo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

var (
	_ rollback.Executor     = (*Provider)(nil)
	_ rollback.ReadyChecker = (*Provider)(nil)
)

// RollbackReady implements rollback.ReadyChecker: rolling an application
// back needs the Argo CD API.
func (p *Provider) RollbackReady() error {
	if p.cd == nil || !p.cd.token.IsSet() {
		return errors.New("argo: rolling back needs the Argo CD API (argo.argocd_url and argo.argocd_token)")
	}
	return nil
}

// maxErrorBody bounds how much of an Argo CD error answer is kept.
const maxErrorBody = 2048

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
		return 0, "", rollback.Permanent("argo: application history has %d entries, none before the current sync to roll back to", len(h))
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
	return 0, "", rollback.Permanent("argo: no earlier entry of the application's history (last %d syncs) synced revision %s", len(h), rev)
}

// Rollback implements rollback.Executor through the provider's Argo CD
// client (argo.argocd_url, argo.argocd_token): GET the application, PATCH
// spec.syncPolicy.automated away if set (Argo CD refuses to roll back an
// auto-synced application; the operator turns it back on once the bad
// revision is fixed in Git, and the result's steps say so), then POST its
// rollback to the earlier deployment's history_id, or, when the deployment
// recorded none, to the id found in the application's history (see
// historyID). The application is the deployment's application handle,
// else the target's App.
func (p *Provider) Rollback(ctx context.Context, t rollback.Target, to store.Deployment) (rollback.Result, error) {
	res := rollback.Result{Provider: Name, Method: "argocd_rollback"}
	if err := p.RollbackReady(); err != nil {
		return res, &providers.PermanentError{Err: err}
	}
	name := to.Handles["application"]
	if name == "" {
		name = t.App
	}
	if name == "" {
		return res, rollback.Permanent("argo: deployment %s names no application", to.ID)
	}
	var id int64
	if v := strings.TrimSpace(to.Handles["history_id"]); v != "" {
		n, err := rollback.PositiveHandle(to, "history_id")
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
	if err := p.cd.call(ctx, http.MethodGet, appPath+query, nil, &app); err != nil {
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
		if err := p.cd.call(ctx, http.MethodPatch, appPath+query, patch, nil); err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, "PATCH "+appPath+": automated sync switched off (Argo CD refuses to roll back an auto-synced app); re-enable it after fixing Git")
	}
	body := map[string]any{"name": name, "id": id}
	if ns != "" {
		body["appNamespace"] = ns
	}
	if err := p.cd.call(ctx, http.MethodPost, appPath+"/rollback", body, nil); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "POST "+appPath+"/rollback")
	res.Ref = strconv.FormatInt(id, 10)
	return res, nil
}

// call sends a JSON request to the Argo CD API and decodes a 2xx answer
// into out (when not nil). Failures are classified for the rollback
// engine: 429, 408 and 5xx are retryable (honouring Retry-After), other
// 4xx permanent, transport errors retryable.
func (c *argoCDClient) call(ctx context.Context, method, path string, in, out any) error {
	op := "argo: " + method + " " + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return rollback.Permanent("%s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.request(ctx, method, c.base+path, body)
	if err != nil {
		return rollback.Permanent("%s: %w", op, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &providers.RetryableError{Err: fmt.Errorf("%s: %w", op, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			return nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAppBytes)).Decode(out); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: decode response: %w", op, err)
		}
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	err = fmt.Errorf("%s: %s: %s", op, resp.Status, strings.TrimSpace(string(msg)))
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests, s == http.StatusRequestTimeout, s >= 500:
		wait, _ := providers.ParseRetryAfter(resp.Header, time.Now())
		return &providers.RetryableError{Err: err, Wait: wait}
	}
	return &providers.PermanentError{Err: err}
}

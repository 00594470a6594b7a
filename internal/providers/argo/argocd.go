package argo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/secret"
)

// maxAppBytes caps an Application read from the Argo CD API.
const maxAppBytes = 8 << 20

// argoCDClient reads Applications from the Argo CD API.
type argoCDClient struct {
	base  string
	token secret.Secret
	hc    *http.Client
}

// application is the part of an Argo CD Application the gate reads.
type application struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Project     string      `json:"project"`
		Source      *appSource  `json:"source"`
		Sources     []appSource `json:"sources"`
		Destination struct {
			Server    string `json:"server"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"destination"`
	} `json:"spec"`
	Operation *operation `json:"operation"`
	Status    struct {
		Sync struct {
			Revision  string   `json:"revision"`
			Revisions []string `json:"revisions"`
		} `json:"sync"`
		OperationState *struct {
			Operation  operation  `json:"operation"`
			Phase      string     `json:"phase"`
			StartedAt  *time.Time `json:"startedAt"`
			SyncResult *struct {
				Revision  string   `json:"revision"`
				Revisions []string `json:"revisions"`
			} `json:"syncResult"`
		} `json:"operationState"`
		History []struct {
			ID int64 `json:"id"`
		} `json:"history"`
	} `json:"status"`
}

type appSource struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision"`
	Chart          string `json:"chart"`
}

// operation is an Application's sync operation.
type operation struct {
	Sync *struct {
		Revision  string   `json:"revision"`
		Revisions []string `json:"revisions"`
	} `json:"sync"`
	InitiatedBy struct {
		Username  string `json:"username"`
		Automated bool   `json:"automated"`
	} `json:"initiatedBy"`
}

// application fetches GET /api/v1/applications/{name}?appNamespace={ns}.
// A missing app is apperr.KindNotFound; Argo CD unreachable, refusing
// agentgate's token or failing is apperr.KindUnavailable.
func (c *argoCDClient) application(ctx context.Context, ns, name string) (*application, error) {
	if c == nil {
		return nil, apperr.New(apperr.KindUnavailable, "the Argo CD API is not configured (argo.argocd_url); cannot read application %q", name)
	}
	if !c.token.IsSet() {
		return nil, apperr.New(apperr.KindUnavailable, "no Argo CD API token configured (argo.argocd_token); cannot read application %q", name)
	}
	u := c.base + "/api/v1/applications/" + url.PathEscape(name)
	if ns != "" {
		u += "?appNamespace=" + url.QueryEscape(ns)
	}
	req, err := c.request(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("argo: build Argo CD request: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, apperr.Wrap(apperr.KindUnavailable, err, "cannot reach the Argo CD API to read application %q", name)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAppBytes+1))
	if err != nil {
		return nil, apperr.Wrap(apperr.KindUnavailable, err, "reading application %q from Argo CD", name)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, apperr.New(apperr.KindNotFound, "Argo CD has no application %q (check the %s header)", qualified(ns, name), HeaderApplication)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// Argo CD answers 403 for an app the account may not see as well
		// as for a missing one when RBAC hides it.
		return nil, apperr.New(apperr.KindUnavailable, "Argo CD refused agentgate's token (%d) reading application %q: give its account \"applications, get\" on it", resp.StatusCode, qualified(ns, name))
	case resp.StatusCode != http.StatusOK:
		return nil, apperr.New(apperr.KindUnavailable, "Argo CD answered %d reading application %q", resp.StatusCode, qualified(ns, name))
	case len(body) > maxAppBytes:
		return nil, apperr.New(apperr.KindUnavailable, "application %q from Argo CD exceeds %d bytes", qualified(ns, name), maxAppBytes)
	}
	var app application
	if err := json.Unmarshal(body, &app); err != nil {
		return nil, apperr.Wrap(apperr.KindUnavailable, err, "Argo CD answered application %q with a body that is not an Application: %s", name, jsonProblem(err))
	}
	return &app, nil
}

// request builds a call to the Argo CD API with agentgate's token; body,
// when not nil, is sent as JSON.
func (c *argoCDClient) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "agentgate")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// qualified is "<ns>/<name>", or name without a namespace.
func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

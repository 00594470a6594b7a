package argo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Notification is the body Argo CD notifications send to POST
// /webhooks/argo: the webhook template in docs/integrations/argo.md fills
// it from the Application when an operation completes.
type Notification struct {
	// App and AppNamespace name the Application.
	App          string `json:"app"`
	AppNamespace string `json:"app_namespace"`
	Project      string `json:"project"`
	// Phase is the operation's phase: Succeeded, Failed or Error report;
	// anything else is ignored.
	Phase string `json:"phase"`
	// Revision is the synced revision (operationState.syncResult.revision).
	Revision  string `json:"revision"`
	StartedAt string `json:"started_at"`
	// InitiatedBy and Automated are operationState.operation.initiatedBy.
	InitiatedBy string `json:"initiated_by"`
	// Automated is "true" for the automated sync policy (a string, as a
	// template renders it).
	Automated            string `json:"automated"`
	DestinationServer    string `json:"destination_server"`
	DestinationNamespace string `json:"destination_namespace"`
	// Environment is the agentgate.io/environment annotation, if any.
	Environment string `json:"environment"`
	// HistoryID is the id of the operation's history entry (the last one).
	HistoryID string `json:"history_id"`
}

// blankMissing trims every field and empties those a template rendered
// from a missing value ("<no value>").
func (n *Notification) blankMissing() {
	for _, f := range []*string{&n.App, &n.AppNamespace, &n.Project, &n.Phase, &n.Revision, &n.StartedAt,
		&n.InitiatedBy, &n.Automated, &n.DestinationServer, &n.DestinationNamespace, &n.Environment, &n.HistoryID} {
		if *f = strings.TrimSpace(*f); *f == "<no value>" {
			*f = ""
		}
	}
}

// Verify implements providers.Provider for Argo CD notifications: the hook
// token as "Authorization: Bearer" (set in the webhook service's headers).
func (p *Provider) Verify(h http.Header, _ []byte) error { return p.checkHookToken(h) }

// Parse implements providers.Provider: an Argo CD notification (see
// Notification) of a completed sync is a report of the sync — action
// succeeded (deployment history, what rollbacks return to) or failed.
// Operations still running are ignored.
func (p *Provider) Parse(_ http.Header, body []byte) (providers.Delivery, error) {
	var n Notification
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&n); err != nil {
		return providers.Delivery{}, apperr.Wrap(apperr.KindInvalid, err, "body is not an agentgate Argo CD notification: %s", jsonProblem(err))
	}
	n.blankMissing()
	ns, name := n.AppNamespace, n.App
	if !validName(name) || (ns != "" && !validName(ns)) {
		return providers.Delivery{}, apperr.Invalid("notification app %q (namespace %q) is not a Kubernetes name", clip(name, 100), clip(ns, 100))
	}
	repo := name
	if ns != "" && ns != p.cdNamespace {
		repo = ns + "/" + name
	}
	var action string
	switch strings.TrimSpace(n.Phase) {
	case "Succeeded":
		action = event.ActionSucceeded
	case "Failed", "Error":
		action = "failed"
	default:
		return providers.Delivery{Ignored: "operation phase " + strconv.Quote(clip(n.Phase, 32)) + " is not reported"}, nil
	}
	key := firstNonEmpty(n.HistoryID, n.StartedAt, n.Revision)
	if key == "" {
		return providers.Delivery{}, apperr.Invalid("notification for %q has none of history_id, started_at, revision", repo)
	}
	if t, err := time.Parse(time.RFC3339, n.StartedAt); err == nil && n.HistoryID == "" {
		key = t.UTC().Format("20060102T150405Z")
	}
	automated := strings.EqualFold(strings.TrimSpace(n.Automated), "true")
	if !automated && strings.TrimSpace(n.InitiatedBy) == "" {
		return providers.Delivery{}, apperr.Invalid("notification for %q names no initiated_by and is not automated", repo)
	}
	principal, machine := argoCDPrincipal(n.InitiatedBy, automated)
	rev := clip(strings.TrimSpace(n.Revision), maxField)
	ev := event.Event{
		Provider:    Name,
		Kind:        event.KindSync,
		Action:      action,
		Phase:       event.PhaseReport,
		Repo:        clip(repo, maxField),
		Environment: clip(firstNonEmpty(n.Environment, n.DestinationNamespace), maxField),
		Namespace:   clip(strings.TrimSpace(n.DestinationNamespace), maxField),
		Principal:   principal,
		Machine:     machine,
	}
	if isSHA(rev) {
		ev.SHA = rev
	}
	h := fields{}
	h.set(HandleApplication, name)
	h.set(HandleAppNamespace, ns)
	h.set(HandleProject, n.Project)
	h.set(HandleRevision, rev)
	h.set(HandleDestinationServer, n.DestinationServer)
	h.set(HandleOperationStarted, n.StartedAt)
	if _, err := strconv.ParseInt(strings.TrimSpace(n.HistoryID), 10, 64); err == nil {
		h.set(HandleHistoryID, n.HistoryID)
	}
	ev.Handles = h.orNil()
	l := fields{}
	l.set("project", n.Project)
	l.set("automated", strconv.FormatBool(automated))
	ev.Labels = l.orNil()
	return providers.Delivery{ID: clip("notify-"+action+"-"+repo+"-"+strings.TrimSpace(key), maxField), Events: []event.Event{ev}}, nil
}

package rollback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Alert labels that make an Alertmanager alert a rollback target.
const (
	// LabelProvider names the provider that deployed: github, gitlab, argo.
	LabelProvider = "agentgate_provider"
	// LabelRepo names the repository ("owner/name", a GitLab project path)
	// as deployments record it.
	LabelRepo = "agentgate_repo"
	// LabelApp names the Argo CD application; used as the repo when
	// agentgate_repo is absent.
	LabelApp = "agentgate_app"
	// LabelEnvironment names the deployment environment.
	LabelEnvironment = "agentgate_environment"
	// LabelNamespace optionally names the Kubernetes namespace.
	LabelNamespace = "agentgate_namespace"
	// LabelAction is "rollback" (the default) or "notify" (report the
	// target, do not roll back).
	LabelAction = "agentgate_action"
)

// Target actions.
const (
	ActionRollback = "rollback"
	ActionNotify   = "notify"
)

// MaxWebhookBytes bounds an Alertmanager payload.
const MaxWebhookBytes = 1 << 20

// Webhook is an Alertmanager webhook payload (version 4).
type Webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a webhook payload.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Alert and payload statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// ParseWebhook decodes and checks an Alertmanager webhook body: version
// "4", a firing or resolved status on the payload and on every alert.
func ParseWebhook(body []byte) (Webhook, error) {
	if len(body) > MaxWebhookBytes {
		return Webhook{}, fmt.Errorf("alertmanager payload of %d bytes exceeds %d", len(body), MaxWebhookBytes)
	}
	var w Webhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return Webhook{}, fmt.Errorf("decode alertmanager payload: %w", err)
	}
	if dec.More() {
		return Webhook{}, errors.New("decode alertmanager payload: trailing data after the JSON object")
	}
	if w.Version != "4" {
		return Webhook{}, fmt.Errorf("alertmanager payload version %q, want \"4\"", w.Version)
	}
	if w.Status != StatusFiring && w.Status != StatusResolved {
		return Webhook{}, fmt.Errorf("alertmanager payload status %q, want firing or resolved", w.Status)
	}
	for i, a := range w.Alerts {
		if a.Status != StatusFiring && a.Status != StatusResolved {
			return Webhook{}, fmt.Errorf("alert %d: status %q, want firing or resolved", i, a.Status)
		}
	}
	return w, nil
}

// Targets maps the payload's firing alerts to rollback targets by their
// agentgate_* labels (see the Label constants). Alerts without
// agentgate_provider are not about agentgate and are left out silently;
// resolved alerts are left out; an alert that names a provider but not a
// repo or app and an environment, or has an unknown agentgate_action, is
// an error in errs (the others are still returned). Alerts for the same
// target are merged: the first one (by order in the payload) is kept.
func Targets(w Webhook) (targets []Target, errs error) {
	seen := map[string]bool{}
	var problems []error
	for i, a := range w.Alerts {
		if a.Status != StatusFiring {
			continue
		}
		t, ok := targetOf(a)
		if !ok {
			continue
		}
		if t.Repo == "" || t.Environment == "" {
			problems = append(problems, fmt.Errorf("alert %d (%s): %s needs %s or %s and %s", i, a.Fingerprint, LabelProvider, LabelRepo, LabelApp, LabelEnvironment))
			continue
		}
		if t.Action != ActionRollback && t.Action != ActionNotify {
			problems = append(problems, fmt.Errorf("alert %d (%s): %s %q, want %s or %s", i, a.Fingerprint, LabelAction, t.Action, ActionRollback, ActionNotify))
			continue
		}
		if seen[t.Key()] {
			continue
		}
		seen[t.Key()] = true
		targets = append(targets, t)
	}
	return targets, errors.Join(problems...)
}

// Resolved returns the targets whose alerts the payload reports resolved
// and none firing: their incidents stop firing (Engine.ResolveAlerts).
// Alerts without usable agentgate_* labels are left out.
func Resolved(w Webhook) []Target {
	firing := map[string]bool{}
	for _, t := range alertTargets(w, StatusFiring) {
		firing[t.Key()] = true
	}
	var out []Target
	for _, t := range alertTargets(w, StatusResolved) {
		if !firing[t.Key()] {
			firing[t.Key()] = true // once
			out = append(out, t)
		}
	}
	return out
}

// alertTargets maps the alerts of one status that name a provider, a
// repo or app and an environment to targets.
func alertTargets(w Webhook, status string) []Target {
	var out []Target
	for _, a := range w.Alerts {
		if a.Status != status {
			continue
		}
		if t, ok := targetOf(a); ok && t.Repo != "" && t.Environment != "" {
			out = append(out, t)
		}
	}
	return out
}

// targetOf reads an alert's agentgate_* labels; ok is false when it names
// no provider (the alert is not about agentgate).
func targetOf(a Alert) (Target, bool) {
	l := a.Labels
	provider := strings.ToLower(strings.TrimSpace(l[LabelProvider]))
	if provider == "" {
		return Target{}, false
	}
	t := Target{
		Provider:    provider,
		Repo:        strings.TrimSpace(l[LabelRepo]),
		App:         strings.TrimSpace(l[LabelApp]),
		Environment: strings.TrimSpace(l[LabelEnvironment]),
		Namespace:   strings.TrimSpace(l[LabelNamespace]),
		Action:      strings.TrimSpace(l[LabelAction]),
		Source:      SourceAlert,
		Fingerprint: a.Fingerprint,
		StartsAt:    a.StartsAt,
		Reason:      alertReason(a),
	}
	if t.Repo == "" {
		t.Repo = t.App
	}
	if t.Action == "" {
		t.Action = ActionRollback
	}
	return t, true
}

// alertReason describes an alert: its name and summary.
func alertReason(a Alert) string {
	name := a.Labels["alertname"]
	if name == "" {
		name = "alert"
	}
	if s := a.Annotations["summary"]; s != "" {
		return "alertmanager: " + name + ": " + s
	}
	return "alertmanager: " + name
}

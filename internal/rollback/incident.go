package rollback

import (
	"strings"
	"time"
)

// DefaultIncidentWindow is how long an incident stays open after its last
// trigger (or its alert's resolution) when Config.IncidentWindow is unset.
const DefaultIncidentWindow = 30 * time.Minute

// Incident is one spike after one deployment. Every automatic trigger of
// a rollback of that deployment while the incident is open joins it: a
// repeat notification of a firing alert, another alert of the same group,
// a flap (the alert resolves and fires again), a watch that trips on the
// same spike. An incident has one rollback, and so one consequence for the
// agent. SRE requests through the API are not incidents: a person who asks
// again is asking again.
type Incident struct {
	// Key is IncidentKey of the target and the deployment rolled back.
	Key string `json:"key"`
	// TargetKey is Target.Key() of the target.
	TargetKey    string `json:"target_key"`
	DeploymentID string `json:"deployment_id"`
	// RollbackID is the incident's one rollback.
	RollbackID string    `json:"rollback_id"`
	OpenedAt   time.Time `json:"opened_at"`
	// LastAt is the last trigger, or the resolution of the incident's
	// alerts, whichever came later.
	LastAt time.Time `json:"last_at"`
	// Firing is set while an alert of the incident is firing: set by an
	// alert trigger, cleared when Alertmanager reports the target's alerts
	// resolved. A firing incident stays open however long Alertmanager's
	// repeat_interval is.
	Firing bool `json:"firing"`
	// Triggers counts the triggers that opened or joined the incident.
	Triggers int `json:"triggers"`
	// Sources lists the kinds of trigger seen (alert, watch), each once.
	Sources []string `json:"sources,omitempty"`
}

// IncidentKey identifies an incident: the target (provider, repo and
// environment) and the deployment rolled back.
func IncidentKey(t Target, deploymentID string) string {
	return t.Key() + "\x00" + deploymentID
}

// Open reports whether a trigger at now joins the incident: while an
// alert of it fires, and for window after its last trigger or resolution.
func (i *Incident) Open(now time.Time, window time.Duration) bool {
	return i.Firing || now.Before(i.LastAt.Add(window))
}

// Join records a trigger of source at now.
func (i *Incident) Join(now time.Time, source string) {
	i.Triggers++
	if now.After(i.LastAt) {
		i.LastAt = now
	}
	if source == SourceAlert {
		i.Firing = true
	}
	for _, s := range i.Sources {
		if s == source {
			return
		}
	}
	i.Sources = append(i.Sources, source)
}

// Resolve records that the incident's alerts resolved at at.
func (i *Incident) Resolve(at time.Time) {
	i.Firing = false
	if at.After(i.LastAt) {
		i.LastAt = at
	}
}

// NewIncident opens an incident of the deployment with rollback r.
func NewIncident(r Rollback, now time.Time) Incident {
	i := Incident{Key: IncidentKey(r.Target, r.FromDeploymentID), TargetKey: r.Target.Key(),
		DeploymentID: r.FromDeploymentID, RollbackID: r.ID, OpenedAt: now, LastAt: now}
	i.Join(now, r.Target.Source)
	return i
}

// String names the incident for logs: repo, environment and deployment.
func (i Incident) String() string {
	return strings.ReplaceAll(i.Key, "\x00", " ")
}

package rollback

import "time"

// WatchStatus is a watch as GET /api/v1/rollback/watches shows it:
// what is watched, by which query, where it stands and when it is next
// read.
type WatchStatus struct {
	ID           string `json:"id"`
	Provider     string `json:"provider"`
	Repo         string `json:"repo"`
	Environment  string `json:"environment"`
	Namespace    string `json:"namespace,omitempty"`
	App          string `json:"app,omitempty"`
	DeploymentID string `json:"deployment_id"`
	SHA          string `json:"sha,omitempty"`
	AgentID      string `json:"agent_id,omitempty"`
	// Agent is the agent's name, when it is still registered.
	Agent string `json:"agent,omitempty"`
	// Query is the PromQL the watch runs, its template filled in.
	Query          string    `json:"query"`
	Threshold      float64   `json:"threshold,omitempty"`
	BaselineFactor float64   `json:"baseline_factor,omitempty"`
	Baseline       float64   `json:"baseline"`
	State          State     `json:"state"`
	Detail         string    `json:"detail,omitempty"`
	Breaches       int       `json:"breaches"`
	TripAfter      int       `json:"trip_after"`
	Interval       string    `json:"interval"`
	StartedAt      time.Time `json:"started_at"`
	EndsAt         time.Time `json:"ends_at"`
	// NextCheck is when the watch is next read; absent once it ended.
	NextCheck   *time.Time `json:"next_check,omitempty"`
	LastReading *Reading   `json:"last_reading,omitempty"`
	RollbackID  string     `json:"rollback_id,omitempty"`
}

// StatusOf summarizes a watch; Agent is left for the caller to name.
func StatusOf(w Watch) WatchStatus {
	q, err := RenderQuery(w.Query, VarsOf(&w))
	if err != nil {
		q = w.Query
	}
	v := WatchStatus{
		ID: w.ID, Provider: w.Provider, Repo: w.Repo, Environment: w.Environment, Namespace: w.Namespace, App: w.App,
		DeploymentID: w.DeploymentID, SHA: w.SHA, AgentID: w.AgentID, Query: q, Threshold: w.Threshold,
		BaselineFactor: w.BaselineFactor, Baseline: w.Baseline, State: w.State, Detail: w.Detail, Breaches: w.Breaches,
		TripAfter: w.TripAfter, Interval: w.Interval.String(), StartedAt: w.StartedAt, EndsAt: w.EndsAt, RollbackID: w.RollbackID,
	}
	if w.Live() {
		next := w.NextAt
		v.NextCheck = &next
	}
	if n := len(w.Readings); n > 0 {
		r := w.Readings[n-1]
		v.LastReading = &r
	}
	return v
}

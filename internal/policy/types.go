package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
)

// Query is the policy document every decision is read from.
const Query = "data.agentgate.admission.decision"

// Enforcement is how a decision (or one rule's verdict) is applied.
type Enforcement string

// Enforcement modes.
const (
	// Enforce applies the verdict.
	Enforce Enforcement = "enforce"
	// Warn allows, but surfaces the verdict to the sender as a warning.
	Warn Enforcement = "warn"
	// DryRun allows and only records the verdict.
	DryRun Enforcement = "dryrun"
)

// Valid reports whether e is a known mode.
func (e Enforcement) Valid() bool { return e == Enforce || e == Warn || e == DryRun }

// Input is the document a policy is evaluated against (design §5).
type Input struct {
	Event             event.Event      `json:"event"`
	Agent             *agents.Agent    `json:"agent"`
	UnregisteredAgent bool             `json:"unregistered_agent"`
	Usage             map[string]Usage `json:"usage"`
	Now               string           `json:"now"`
	// Initiator is whom the actor acts for (event.initiator), identified
	// like the actor; null when the provider names nobody.
	Initiator *Initiator `json:"initiator"`
}

// Initiator is the identity an actor acts for, so that rules can require
// both to be allowed.
type Initiator struct {
	Principal string `json:"principal"`
	// Agent is the registered agent the initiator is, if any.
	Agent *agents.Ref `json:"agent"`
	// UnregisteredAgent is true when the initiator looks machine-driven
	// but is no registered agent.
	UnregisteredAgent bool `json:"unregistered_agent"`
}

// Usage is an agent's current use of one quota.
type Usage struct {
	Used  int64 `json:"used"`
	Limit int64 `json:"limit"`
}

// Reason is one rule's verdict. Policies may emit a plain string (taken as an
// enforced reason of rule "policy") or an object with rule, message and
// enforcement.
type Reason struct {
	Rule        string      `json:"rule"`
	Message     string      `json:"message"`
	Enforcement Enforcement `json:"enforcement,omitempty"`
}

// UnmarshalJSON accepts a string or an object.
func (r *Reason) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*r = Reason{Rule: "policy", Message: s, Enforcement: Enforce}
		return nil
	}
	type plain Reason
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("reason must be a string or {rule, message, enforcement}: %w", err)
	}
	*r = Reason(p)
	if r.Enforcement == "" {
		r.Enforcement = Enforce
	}
	if !r.Enforcement.Valid() {
		return fmt.Errorf("reason %q: enforcement %q is not enforce, warn or dryrun", r.Rule, r.Enforcement)
	}
	return nil
}

// String renders "rule: message".
func (r Reason) String() string {
	if r.Rule == "" {
		return r.Message
	}
	return r.Rule + ": " + r.Message
}

// Duration is a time.Duration that reads and writes Go duration strings ("4h").
type Duration time.Duration

// UnmarshalJSON parses "4h", "90s", or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string such as \"1h\" or a number of seconds")
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// String renders the Go duration string ("1h0m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// QuotaKind is rate or concurrency.
type QuotaKind string

// Quota kinds.
const (
	QuotaRate        QuotaKind = "rate"
	QuotaConcurrency QuotaKind = "concurrency"
)

// QuotaSpec is a quota the policy asks to charge for this event.
type QuotaSpec struct {
	Name  string    `json:"name"`
	Kind  QuotaKind `json:"kind,omitempty"`
	Limit int64     `json:"limit"`
	// Window is the rate window (rate quotas).
	Window Duration `json:"window,omitempty"`
	// Cost is how much one event consumes (rate quotas; default 1).
	Cost int64 `json:"cost,omitempty"`
	// Key identifies the held resource (concurrency quotas), e.g. the
	// environment name; the end event with the same key releases it.
	Key string `json:"key,omitempty"`
	// TTL bounds how long a concurrency lease lives without an end event.
	TTL Duration `json:"ttl,omitempty"`
}

// ApprovalRequirement asks for a human decision.
type ApprovalRequirement struct {
	Reason    string   `json:"reason"`
	Approvers []string `json:"approvers"`
	TTL       Duration `json:"ttl"`
}

// AnomalyThresholds tell the anomaly detector when an agent runs away.
// Zero disables a threshold.
type AnomalyThresholds struct {
	MaxDenialsPerMinute  int64 `json:"max_denials_per_minute,omitempty"`
	MaxRequestsPerMinute int64 `json:"max_requests_per_minute,omitempty"`
}

// Decision is the document at data.agentgate.admission.decision.
type Decision struct {
	Allow           bool                 `json:"allow"`
	Deny            []Reason             `json:"deny"`
	Warnings        []Reason             `json:"warnings,omitempty"`
	RequireApproval *ApprovalRequirement `json:"require_approval"`
	Quotas          []QuotaSpec          `json:"quotas"`
	Enforcement     Enforcement          `json:"enforcement"`
	Anomaly         *AnomalyThresholds   `json:"anomaly,omitempty"`
	// OnRollback is the consequence for the agent when one of its deploys
	// is rolled back automatically: none, demote or kill ("" for people).
	OnRollback string `json:"on_rollback,omitempty"`
}

// Normalize fills defaults and checks the decision document's shape, so a
// policy that returns nonsense is caught as an error rather than obeyed.
func (d *Decision) Normalize() error {
	if d.Enforcement == "" {
		d.Enforcement = Enforce
	}
	if !d.Enforcement.Valid() {
		return fmt.Errorf("decision.enforcement %q is not enforce, warn or dryrun", d.Enforcement)
	}
	for i := range d.Quotas {
		q := &d.Quotas[i]
		if q.Name == "" {
			return fmt.Errorf("decision.quotas[%d].name is empty", i)
		}
		if q.Kind == "" {
			q.Kind = QuotaRate
		}
		if q.Limit < 0 {
			return fmt.Errorf("decision.quotas[%d] (%s): negative limit", i, q.Name)
		}
		switch q.Kind {
		case QuotaRate:
			if q.Window <= 0 {
				return fmt.Errorf("decision.quotas[%d] (%s): rate quota needs a positive window", i, q.Name)
			}
			if q.Cost == 0 {
				q.Cost = 1
			}
		case QuotaConcurrency:
			if q.Key == "" {
				return fmt.Errorf("decision.quotas[%d] (%s): concurrency quota needs a key", i, q.Name)
			}
			if q.TTL <= 0 {
				q.TTL = Duration(24 * time.Hour)
			}
		default:
			return fmt.Errorf("decision.quotas[%d] (%s): kind %q is not rate or concurrency", i, q.Name, q.Kind)
		}
	}
	switch d.OnRollback {
	case "", "none", "demote", "kill":
	default:
		return fmt.Errorf("decision.on_rollback %q is not none, demote or kill", d.OnRollback)
	}
	if a := d.RequireApproval; a != nil && a.TTL <= 0 {
		a.TTL = Duration(4 * time.Hour)
	}
	return nil
}

// Result is an evaluated decision and the policy revision that produced it.
type Result struct {
	Decision Decision `json:"decision"`
	Revision string   `json:"revision"`
}

// Evaluator evaluates the admission policy.
type Evaluator interface {
	Evaluate(ctx context.Context, in Input) (Result, error)
}

// Status reports the state of the policy set for readiness and metrics.
type Status struct {
	Ready     bool      `json:"ready"`
	Revision  string    `json:"revision"`
	Source    string    `json:"source"`
	LoadedAt  time.Time `json:"loaded_at"`
	LastError string    `json:"last_error,omitempty"`
}

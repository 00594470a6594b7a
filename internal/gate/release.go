package gate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/store"
)

// ReleaseRequest gives back the concurrency leases held on one key of a
// quota, whoever holds them. It is for runs whose end a provider reports
// without saying who started them (an Argo Workflow finishing in the
// cluster): an agent's own end events release through Decide.
type ReleaseRequest struct {
	// Quota and Key name the lease (the quota spec's name and key).
	Quota string
	Key   string
	// Provider, EventKind and Namespace describe the run in the audit record.
	Provider  string
	EventKind event.Kind
	Namespace string
	// Cause is a short word for the metrics and the record's details
	// ("completed", "deleted", "orphaned").
	Cause string
	// Message says what happened, for people reading the audit log.
	Message string
	// Actor is who releases (recorded in the audit log).
	Actor string
	// Details are recorded with the release (the run's phase, uid, ...).
	Details map[string]string
}

// Released is one lease given back.
type Released struct {
	AgentID  string `json:"agent_id"`
	Quota    string `json:"quota"`
	Key      string `json:"key"`
	AuditSeq int64  `json:"audit_seq"`
}

// ReleaseByKey releases every agent's lease on (r.Quota, r.Key) and
// records each release in the audit log, in one transaction. Releasing a
// key nobody holds changes nothing and records nothing, so a provider may
// report the same end any number of times.
func (g *Gate) ReleaseByKey(ctx context.Context, r ReleaseRequest) ([]Released, error) {
	if r.Quota == "" || r.Key == "" {
		return nil, apperr.Invalid("a lease release needs a quota and a key")
	}
	now := g.o.Now()
	var out []Released
	err := g.o.Store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		out = nil
		held, err := q.Leases(ctx, store.LeaseFilter{Name: r.Quota, Key: r.Key}, now)
		if err != nil {
			return fmt.Errorf("list leases: %w", err)
		}
		for _, l := range held {
			ok, err := q.ReleaseLease(ctx, l.AgentID, l.Name, l.Key)
			if err != nil {
				return fmt.Errorf("release lease: %w", err)
			}
			if !ok {
				continue
			}
			rec, err := releaseRecord(ctx, q, r, l, now)
			if err != nil {
				return err
			}
			if err := q.AppendAudit(ctx, rec); err != nil {
				return fmt.Errorf("append audit record: %w", err)
			}
			out = append(out, Released{AgentID: l.AgentID, Quota: l.Name, Key: l.Key, AuditSeq: rec.Seq})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gate: release %s lease %q: %w", r.Quota, r.Key, err)
	}
	if m := g.o.Metrics; m != nil && len(out) > 0 {
		m.LeasesReleased.WithLabelValues(r.Quota, r.Cause).Add(float64(len(out)))
	}
	for _, rel := range out {
		g.o.Logger.InfoContext(ctx, "lease released", "quota", rel.Quota, "key", rel.Key, "agent", rel.AgentID, "cause", r.Cause)
	}
	return out, nil
}

// releaseRecord is the audit record of one released lease.
func releaseRecord(ctx context.Context, q store.Queries, r ReleaseRequest, l store.Lease, now time.Time) (*audit.Record, error) {
	rec := &audit.Record{
		ID: uuid.NewString(), Time: now, Kind: audit.KindRelease, Actor: r.Actor, AgentID: l.AgentID,
		Provider: r.Provider, EventKind: string(r.EventKind), Action: "release", Repo: l.Key,
		Namespace: r.Namespace, Message: r.Message,
		Details: map[string]string{"quota": l.Name, "key": l.Key, "cause": r.Cause},
	}
	for k, v := range r.Details {
		if _, taken := rec.Details[k]; !taken {
			rec.Details[k] = v
		}
	}
	a, err := q.GetAgent(ctx, l.AgentID)
	switch {
	case err == nil:
		setAgent(rec, &a)
	case apperr.KindOf(err) == apperr.KindNotFound:
		// The lease outlived its agent's row; the id is still recorded.
	default:
		return nil, fmt.Errorf("read agent %s: %w", l.AgentID, err)
	}
	return rec, nil
}

// HeldKeys lists the keys of quota's unexpired leases, sorted and unique
// (the store returns leases ordered by key).
func (g *Gate) HeldKeys(ctx context.Context, quota string) ([]string, error) {
	leases, err := g.o.Store.Leases(ctx, store.LeaseFilter{Name: quota}, g.o.Now())
	if err != nil {
		return nil, fmt.Errorf("gate: leases of %s: %w", quota, err)
	}
	keys := make([]string, 0, len(leases))
	for _, l := range leases {
		keys = append(keys, l.Key)
	}
	return slices.Compact(keys), nil
}

package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// maxApply bounds how many agents one apply may declare.
const maxApply = 1000

// maxChangesDetail bounds the changed fields an apply's audit record keeps.
const maxChangesDetail = 64 << 10

// ApplyRequest declares a set of agents, as files kept in a repository do.
type ApplyRequest struct {
	// Agents are the declared agents, by name. Each is created when no
	// agent has its name, else brought to the declared owner, scope,
	// principals, labels and expiry. Type is fixed at creation, and tier
	// is used only then: after that it changes through promote and
	// demote, so that an apply never undoes a demotion.
	Agents []Spec `json:"agents"`
	// Prune, when set, decommissions every agent whose labels hold all of
	// its pairs and that Agents does not name. It must not be empty.
	Prune map[string]string `json:"prune,omitempty"`
	// DryRun reports what would change and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Reason is recorded with the change (a commit or pull request, say).
	Reason string `json:"reason,omitempty"`
}

// Change actions of an apply.
const (
	ActionCreate       = "create"
	ActionUpdate       = "update"
	ActionUnchanged    = "unchanged"
	ActionDecommission = "decommission"
)

// AgentChange is what an apply does, or would do, to one agent.
type AgentChange struct {
	Name   string `json:"name"`
	ID     string `json:"id,omitempty"`
	Action string `json:"action"`
	// Fields are the fields that change, in a fixed order.
	Fields []FieldChange `json:"fields,omitempty"`
	// Ignored are declared differences an apply does not make (tier),
	// with why.
	Ignored []string `json:"ignored,omitempty"`
}

// FieldChange is one field's value before and after.
type FieldChange struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// ApplyResult lists the changes of an apply in the order of the request,
// the pruned agents last.
type ApplyResult struct {
	Changes []AgentChange `json:"changes"`
	DryRun  bool          `json:"dry_run"`
	// AuditSeq is the audit record of the change; 0 for a dry run or when
	// nothing changed.
	AuditSeq int64 `json:"audit_seq,omitempty"`
}

// Changed reports whether any agent was (or would be) changed.
func (r ApplyResult) Changed() bool {
	for _, c := range r.Changes {
		if c.Action != ActionUnchanged {
			return true
		}
	}
	return false
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// Apply brings the registry to the declared agents in one transaction:
// all of it happens or none of it does, and it is audited as one change.
// Agents created by an apply get no token; `agents rotate` issues one.
func (s *Service) Apply(ctx context.Context, actor string, r ApplyRequest) (ApplyResult, error) {
	if err := r.validate(); err != nil {
		return ApplyResult{}, err
	}
	var (
		res       ApplyResult
		cancelled []store.Approval
	)
	err := s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		res, cancelled = ApplyResult{DryRun: r.DryRun}, nil
		now := s.now().UTC().Truncate(time.Microsecond)
		declared := map[string]bool{}
		for _, spec := range r.Agents {
			declared[spec.Name] = true
		}
		// Prune first: an agent renamed in the files hands its principals
		// to its new declaration in the same apply.
		var (
			pruned []AgentChange
			freed  map[string]agents.Agent
		)
		if r.Prune != nil {
			var err error
			if pruned, freed, cancelled, err = prune(ctx, q, r.Prune, declared, actor, now); err != nil {
				return err
			}
		}
		for _, spec := range r.Agents {
			c, err := s.applyOne(ctx, q, spec, freed, now)
			if err != nil {
				return fmt.Errorf("agent %q: %w", spec.Name, err)
			}
			res.Changes = append(res.Changes, c)
		}
		res.Changes = append(res.Changes, pruned...)
		if r.DryRun {
			return errDryRun
		}
		if !res.Changed() {
			return nil
		}
		rec, err := applyRecord(actor, r, res, now)
		if err != nil {
			return err
		}
		if err := q.AppendAudit(ctx, rec); err != nil {
			return err
		}
		res.AuditSeq = rec.Seq
		return nil
	})
	if errors.Is(err, errDryRun) {
		return res, nil
	}
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply agents: %w", err)
	}
	if res.Changed() {
		s.log.InfoContext(ctx, "agents applied", "actor", actor, "audit_seq", res.AuditSeq, "summary", summary(res))
		s.resolved(ctx, cancelled, "agent decommissioned")
	}
	return res, nil
}

func (r *ApplyRequest) validate() error {
	if len(r.Agents) > maxApply {
		return apperr.Invalid("an apply declares at most %d agents, not %d", maxApply, len(r.Agents))
	}
	if r.Prune != nil && len(r.Prune) == 0 {
		return apperr.Invalid("prune needs a label selector: an empty one would select every agent")
	}
	seen := map[string]bool{}
	for i := range r.Agents {
		name := r.Agents[i].Name
		if seen[name] {
			return apperr.Invalid("agent %q is declared twice", name)
		}
		seen[name] = true
	}
	return nil
}

// applyOne creates or updates one declared agent. freed are the agents
// this apply pruned, by the principals they held.
func (s *Service) applyOne(ctx context.Context, q store.Queries, spec Spec, freed map[string]agents.Agent, now time.Time) (AgentChange, error) {
	principals, err := agents.CanonicalPrincipals(spec.Principals)
	if err != nil {
		return AgentChange{}, err
	}
	spec.Principals = principals
	cur, err := q.GetAgentByName(ctx, spec.Name)
	if apperr.KindOf(err) == apperr.KindNotFound {
		a, err := newAgent(spec, now)
		if err != nil {
			return AgentChange{}, err
		}
		// A principal keeps its standing: an agent that takes over the
		// principals of one this apply pruned (a rename) starts no higher
		// than that agent's tier, so that a rename cannot undo a demotion.
		var ignored []string
		for _, p := range a.Principals {
			if old, ok := freed[p]; ok && old.Tier.Rank() < a.Tier.Rank() {
				ignored = append(ignored, fmt.Sprintf("tier: declared %s, but principal %s comes from %s (tier %s); tiers change through promote and demote",
					a.Tier, p, old.Name, old.Tier))
				a.Tier = old.Tier
			}
		}
		if err := q.CreateAgent(ctx, a); err != nil {
			return AgentChange{}, err
		}
		return AgentChange{Name: a.Name, ID: a.ID, Action: ActionCreate, Fields: fieldsOf(agents.Agent{}, a), Ignored: ignored}, nil
	}
	if err != nil {
		return AgentChange{}, err
	}
	if cur.State == agents.StateDecommissioned {
		return AgentChange{}, apperr.Conflict("agent %s is decommissioned; a new agent needs a new name", cur.Name)
	}
	if spec.Type != cur.Type {
		return AgentChange{}, apperr.Conflict("type is %s and cannot change to %q; declare a new agent instead", cur.Type, spec.Type)
	}
	next := cur
	next.Owner = spec.Owner
	next.Capabilities = nonNil(spec.Capabilities)
	next.Environments = nonNil(spec.Environments)
	next.Namespaces = nonNil(spec.Namespaces)
	next.Principals = nonNil(spec.Principals)
	next.Labels = spec.Labels
	next.ExpiresAt = spec.ExpiresAt
	c := AgentChange{Name: cur.Name, ID: cur.ID, Action: ActionUnchanged, Fields: fieldsOf(cur, next)}
	if spec.Tier != "" && spec.Tier != cur.Tier {
		c.Ignored = append(c.Ignored, fmt.Sprintf("tier: declared %s, is %s; tiers change through promote and demote", spec.Tier, cur.Tier))
	}
	if len(c.Fields) == 0 {
		return c, nil
	}
	if err := next.Validate(); err != nil {
		return AgentChange{}, err
	}
	next.UpdatedAt = now
	if err := q.UpdateAgent(ctx, next); err != nil {
		return AgentChange{}, err
	}
	c.Action = ActionUpdate
	return c, nil
}

// prune decommissions the agents selector matches that are not declared,
// and returns them by the principals they held.
func prune(ctx context.Context, q store.Queries, selector map[string]string, declared map[string]bool, actor string, now time.Time) ([]AgentChange, map[string]agents.Agent, []store.Approval, error) {
	all, err := q.ListAgents(ctx, store.AgentFilter{})
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		out       []AgentChange
		cancelled []store.Approval
		freed     = map[string]agents.Agent{}
	)
	for _, a := range all {
		if declared[a.Name] || a.State == agents.StateDecommissioned || !matches(a.Labels, selector) {
			continue
		}
		before := a
		for _, p := range a.Principals {
			freed[p] = before
		}
		a.State, a.Principals, a.UpdatedAt = agents.StateDecommissioned, []string{}, now
		if err := q.UpdateAgent(ctx, a); err != nil {
			return nil, nil, nil, err
		}
		if err := q.ExpireTokens(ctx, a.ID, now); err != nil {
			return nil, nil, nil, err
		}
		list, err := resolvePending(ctx, q, store.ApprovalFilter{AgentID: a.ID}, store.ApprovalCancelled, actor, "agent decommissioned", now)
		if err != nil {
			return nil, nil, nil, err
		}
		cancelled = append(cancelled, list...)
		out = append(out, AgentChange{Name: a.Name, ID: a.ID, Action: ActionDecommission, Fields: fieldsOf(before, a)})
	}
	return out, freed, cancelled, nil
}

// matches reports whether labels hold every pair of selector.
func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// fieldsOf lists the declared fields that differ between a and b.
func fieldsOf(a, b agents.Agent) []FieldChange {
	var out []FieldChange
	add := func(field string, from, to any, same bool) {
		if !same {
			out = append(out, FieldChange{Field: field, From: from, To: to})
		}
	}
	zero := a.ID == ""
	orNil := func(v any) any {
		if zero {
			return nil
		}
		return v
	}
	add("type", orNil(a.Type), b.Type, !zero && a.Type == b.Type)
	add("owner", orNil(a.Owner), b.Owner, !zero && a.Owner == b.Owner)
	add("tier", orNil(a.Tier), b.Tier, !zero && a.Tier == b.Tier)
	add("state", orNil(a.State), b.State, !zero && a.State == b.State)
	add("capabilities", orNil(a.Capabilities), b.Capabilities, !zero && slices.Equal(a.Capabilities, b.Capabilities))
	add("environments", orNil(a.Environments), b.Environments, !zero && slices.Equal(a.Environments, b.Environments))
	add("namespaces", orNil(a.Namespaces), b.Namespaces, !zero && slices.Equal(a.Namespaces, b.Namespaces))
	add("principals", orNil(a.Principals), b.Principals, !zero && slices.Equal(a.Principals, b.Principals))
	add("labels", orNil(a.Labels), b.Labels, !zero && maps.Equal(a.Labels, b.Labels))
	add("expires_at", orNil(a.ExpiresAt), b.ExpiresAt, !zero && sameTime(a.ExpiresAt, b.ExpiresAt))
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// applyRecord is the one audit record of an apply: the counts in its
// message, the changes (names, actions, changed fields) in its details.
func applyRecord(actor string, r ApplyRequest, res ApplyResult, now time.Time) (*audit.Record, error) {
	changes, err := json.Marshal(res.Changes)
	if err != nil {
		return nil, fmt.Errorf("encode apply changes: %w", err)
	}
	details := map[string]string{"change": "apply", "changes": string(changes)}
	if len(changes) > maxChangesDetail {
		// The names stay below; the fields of a very large apply would make
		// one record bigger than every audit page should carry.
		details["changes"] = fmt.Sprintf("omitted: %d bytes of changed fields, over the %d kept in one record", len(changes), maxChangesDetail)
	}
	for action, key := range map[string]string{ActionCreate: "created", ActionUpdate: "updated", ActionDecommission: "decommissioned"} {
		var names []string
		for _, c := range res.Changes {
			if c.Action == action {
				names = append(names, c.Name)
			}
		}
		if len(names) > 0 {
			details[key] = strings.Join(names, ",")
		}
	}
	if r.Reason != "" {
		details["reason"] = r.Reason
	}
	if r.Prune != nil {
		details["prune"] = selectorString(r.Prune)
	}
	return &audit.Record{ID: uuid.NewString(), Time: now, Kind: audit.KindAdminChange, Actor: actor,
		Message: "agents applied: " + summary(res) + suffix(r.Reason), Details: details}, nil
}

// summary counts the changes: "1 created, 2 updated, 0 decommissioned, 5 unchanged".
func summary(res ApplyResult) string {
	n := map[string]int{}
	for _, c := range res.Changes {
		n[c.Action]++
	}
	return fmt.Sprintf("%d created, %d updated, %d decommissioned, %d unchanged",
		n[ActionCreate], n[ActionUpdate], n[ActionDecommission], n[ActionUnchanged])
}

// selectorString writes a selector as k=v,k=v in key order.
func selectorString(sel map[string]string) string {
	keys := slices.Sorted(maps.Keys(sel))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}

package store

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
)

// Sentinel errors. Backends wrap them (errors.Is works) and they carry
// apperr kinds so the HTTP layer maps them without knowing the store.
var (
	ErrNotFound = apperr.New(apperr.KindNotFound, "not found")
	ErrConflict = apperr.New(apperr.KindConflict, "conflict")
)

// Store is a backend: every role's queries, transactions, and lifecycle.
type Store interface {
	Queries
	// InTx runs fn in one transaction. If fn returns an error the
	// transaction rolls back; otherwise it commits. Calls on q see and
	// make the transaction's changes; quota charges and audit appends
	// inside it are serialised against every other replica.
	//
	// Inside fn use only q: calling the Store itself waits for the
	// transaction on SQLite and can exhaust the PostgreSQL pool. Charge
	// quotas before appending audit records (every caller takes the locks
	// in that order, so transactions cannot deadlock). Values written back
	// by q (such as a record's Seq) are final only once InTx returns nil.
	InTx(ctx context.Context, fn func(ctx context.Context, q Queries) error) error
	// InSharedTx is InTx for short, frequent transactions (decisions):
	// concurrent calls may share one transaction and one durable commit
	// (group commit). The fns run in the order the calls arrived, each
	// seeing the writes of those before it; an error undoes that fn's
	// writes only (the others are re-run without it, so a fn may run more
	// than once and must reset what it captures at its start). InSharedTx
	// returns once the transaction holding fn's writes committed, or with
	// the error that undid them. fn's context keeps ctx's values but not
	// its cancellation once the shared transaction has begun.
	InSharedTx(ctx context.Context, fn func(ctx context.Context, q Queries) error) error
	// Ping checks the backend is reachable (readiness).
	Ping(ctx context.Context) error
	// Backend names the backend: "sqlite" or "postgres".
	Backend() string
	// RegistryCacheLive reports whether the agent of a principal and an
	// agent's kill switch are answered from memory now (false while a
	// replica cannot hear other replicas' changes and reads every time).
	RegistryCacheLive() bool
	// BatchStats reports how many shared transactions (InSharedTx) have
	// committed and how many calls they held: calls/batches is the mean
	// number of decisions per durable commit.
	BatchStats() (batches, calls int64)
	// Unavailable reports whether err says the backend cannot be reached
	// or cannot write now (connection refused or lost, server shutting
	// down, disk I/O error): nothing was stored, and the same call may
	// succeed later.
	Unavailable(err error) bool
	Close() error
}

// Queries is every role's operations, usable on the store or inside a transaction.
type Queries interface {
	AgentStore
	TokenStore
	KillSwitchStore
	QuotaStore
	DeliveryStore
	ApprovalStore
	AuditStore
	CostStore
	CounterStore
	LeaseStore
	DeploymentStore
	AttributionStore
	WatchStore
	RollbackStore
	IncidentStore
	PromotionStore
	InputStore
}

// Attribution says which agent is behind an object that a controller acts
// on later (a CronWorkflow whose Workflows the controller creates).
type Attribution struct {
	Kind, Namespace, Name string
	AgentID               string
	// Principal is the agent's principal the object was admitted under.
	Principal string
	CreatedAt time.Time
}

// AttributionStore keeps attributions.
type AttributionStore interface {
	// PutAttribution stores a, replacing one for the same object.
	PutAttribution(ctx context.Context, a Attribution) error
	// AttributionOf returns the attribution of an object, or ErrNotFound.
	AttributionOf(ctx context.Context, kind, namespace, name string) (Attribution, error)
	// PurgeAttributions deletes the attributions of kind recorded before
	// the given time and returns how many.
	PurgeAttributions(ctx context.Context, kind string, before time.Time) (int64, error)
}

// AgentFilter selects agents; empty fields match everything.
type AgentFilter struct {
	Owner string
	Type  string
	State agents.State
	Tier  agents.Tier
}

// AgentStore keeps agents and their principals.
type AgentStore interface {
	// CreateAgent inserts a new agent (Version 1) with its principals.
	// ErrConflict if the id or name exists or a principal is bound to another agent.
	CreateAgent(ctx context.Context, a agents.Agent) error
	// GetAgent returns the agent or ErrNotFound.
	GetAgent(ctx context.Context, id string) (agents.Agent, error)
	// GetAgentByName returns the agent or ErrNotFound.
	GetAgentByName(ctx context.Context, name string) (agents.Agent, error)
	// ListAgents returns agents ordered by name.
	ListAgents(ctx context.Context, f AgentFilter) ([]agents.Agent, error)
	// UpdateAgent replaces the agent's fields and principal bindings if
	// its stored Version equals a.Version, and stores Version+1.
	// ErrNotFound, or ErrConflict on a version mismatch or a principal
	// bound to another agent.
	UpdateAgent(ctx context.Context, a agents.Agent) error
	// AgentByPrincipal returns the agent a principal is bound to, or ErrNotFound.
	AgentByPrincipal(ctx context.Context, principal string) (agents.Agent, error)
}

// Token is an agent API token as stored: only its SHA-256 hash.
type Token struct {
	Hash      string
	AgentID   string
	CreatedAt time.Time
	// ExpiresAt is nil for the current token; a rotated-out token gets
	// the end of its grace period.
	ExpiresAt *time.Time
}

// TokenStore keeps hashed agent tokens.
type TokenStore interface {
	// PutToken stores a token. ErrConflict if the hash exists.
	PutToken(ctx context.Context, t Token) error
	// ExpireTokens sets the expiry of the agent's tokens that have none, or
	// a later one, to at (rotation grace; decommission uses now).
	ExpireTokens(ctx context.Context, agentID string, at time.Time) error
	// TokenByHash returns the token with that hash, or ErrNotFound. The
	// caller checks ExpiresAt.
	TokenByHash(ctx context.Context, hash string) (Token, error)
}

// KillScope is what a kill switch stops.
type KillScope string

// Kill switch scopes.
const (
	ScopeAgent  KillScope = "agent"
	ScopeOwner  KillScope = "owner"
	ScopeGlobal KillScope = "global"
)

// KillSwitch stops agent-driven changes for one agent, one owner, or all.
type KillSwitch struct {
	ID     string    `json:"id"`
	Scope  KillScope `json:"scope"`
	Target string    `json:"target,omitempty"` // agent id, owner; empty for global
	Reason string    `json:"reason"`
	// Source is "manual", "anomaly" or "rollback".
	Source     string     `json:"source"`
	EngagedBy  string     `json:"engaged_by"`
	EngagedAt  time.Time  `json:"engaged_at"`
	ReleasedBy string     `json:"released_by,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

// Active reports whether the switch is still engaged.
func (k KillSwitch) Active() bool { return k.ReleasedAt == nil }

// KillSwitchStore keeps kill switches.
type KillSwitchStore interface {
	// EngageKillSwitch stores an engaged switch. If an active switch with
	// the same scope and target exists it is returned unchanged and
	// created is false.
	EngageKillSwitch(ctx context.Context, k KillSwitch) (stored KillSwitch, created bool, err error)
	// ReleaseKillSwitch releases an active switch; ErrNotFound if there is
	// none with that id, ErrConflict if it is already released.
	ReleaseKillSwitch(ctx context.Context, id, by string, at time.Time) (KillSwitch, error)
	GetKillSwitch(ctx context.Context, id string) (KillSwitch, error)
	// ListKillSwitches returns switches, newest first.
	ListKillSwitches(ctx context.Context, activeOnly bool) ([]KillSwitch, error)
	// MatchKillSwitch returns the active switch that stops this agent
	// (global first, then owner, then agent), or ErrNotFound.
	MatchKillSwitch(ctx context.Context, agentID, owner string) (KillSwitch, error)
}

// QuotaCharge is one quota to charge in a ChargeQuotas call.
type QuotaCharge struct {
	Name string
	// Concurrency selects a lease; otherwise a GCRA rate quota.
	Concurrency bool
	Limit       int64
	// Window and Cost apply to rate quotas.
	Window time.Duration
	Cost   int64
	// Key and TTL apply to concurrency quotas. Re-acquiring a key the
	// agent already holds renews it without counting twice.
	Key string
	TTL time.Duration
}

// LeaseFilter selects concurrency leases; Name is required, an empty Key
// matches every key.
type LeaseFilter struct {
	Name string
	Key  string
}

// Lease is one concurrency lease an agent holds.
type Lease struct {
	AgentID   string    `json:"agent_id"`
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	ExpiresAt time.Time `json:"expires_at"`
}

// QuotaResult is one quota's state after a charge attempt.
type QuotaResult struct {
	Name       string        `json:"name"`
	Allowed    bool          `json:"allowed"`
	Used       int64         `json:"used"`
	Limit      int64         `json:"limit"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// QuotaUsage is one quota's current use, for policy input and /me.
type QuotaUsage struct {
	Name        string `json:"name"`
	Concurrency bool   `json:"concurrency"`
	Used        int64  `json:"used"`
	Limit       int64  `json:"limit"`
	// Window is the rate window of the last charge (rate quotas).
	Window time.Duration `json:"window,omitempty"`
}

// QuotaStore keeps rate state and concurrency leases.
type QuotaStore interface {
	// ChargeQuotas charges all quotas or none, atomically against every
	// other charge of the same agent on every replica: with K left, N
	// concurrent callers see exactly K succeed. results has one entry
	// per charge, in order; ok is false if any was refused (and nothing
	// was written). When refused, each result's Used is the usage that
	// stands (nothing was charged) and Allowed says whether that quota
	// alone would have fitted. A non-positive rate window or lease TTL
	// is apperr.KindInvalid.
	ChargeQuotas(ctx context.Context, agentID string, charges []QuotaCharge, now time.Time) (results []QuotaResult, ok bool, err error)
	// PrepareCharge says that the transaction is about to charge the
	// agent's quotas. Where the backend pipelines (PostgreSQL), the
	// agent's quota lock is taken and its quotas are read with the
	// transaction's next statement instead of in round trips of their
	// own, and the agent's next ChargeQuotas in the transaction uses what
	// was read. Elsewhere, and outside a transaction, it does nothing; a
	// charge that does not follow changes nothing but the lock's hold.
	PrepareCharge(ctx context.Context, agentID string) error
	// ReleaseLease releases the agent's lease on (name, key); released is
	// false if it held none.
	ReleaseLease(ctx context.Context, agentID, name, key string) (released bool, err error)
	// Leases returns the unexpired leases of every agent matching f, by
	// key and then agent.
	Leases(ctx context.Context, f LeaseFilter, now time.Time) ([]Lease, error)
	// QuotaUsage returns the agent's use of each quota it was ever charged,
	// using the limit and window of the most recent charge.
	QuotaUsage(ctx context.Context, agentID string, now time.Time) ([]QuotaUsage, error)
}

// Delivery is a processed webhook delivery kept for de-duplication.
type Delivery struct {
	Provider  string
	ID        string
	Result    []byte // the response body returned the first time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// DeliveryStore de-duplicates webhook deliveries.
type DeliveryStore interface {
	// ClaimDelivery records (provider, id) as being processed. If an
	// unexpired delivery with that key exists it is returned as prior
	// (with its result) and nothing is claimed. Inside a transaction a
	// concurrent claim of the same key waits for the first to finish.
	ClaimDelivery(ctx context.Context, d Delivery) (prior *Delivery, err error)
	// FinishDelivery stores the result of a claimed delivery.
	FinishDelivery(ctx context.Context, provider, id string, result []byte) error
	// DeliveryDone reports whether (provider, id) was processed to an
	// answer that is still kept (finished and not expired at now).
	DeliveryDone(ctx context.Context, provider, id string, now time.Time) (bool, error)
	// PurgeDeliveries deletes deliveries that expired before now.
	PurgeDeliveries(ctx context.Context, now time.Time) (int64, error)
}

// ApprovalState is where an approval is in its life.
type ApprovalState string

// Approval states.
const (
	ApprovalPending   ApprovalState = "pending"
	ApprovalApproved  ApprovalState = "approved"
	ApprovalRejected  ApprovalState = "rejected"
	ApprovalExpired   ApprovalState = "expired"
	ApprovalCancelled ApprovalState = "cancelled"
)

// Approval is a pending human decision bound to one exact action.
type Approval struct {
	ID          string        `json:"id"`
	State       ApprovalState `json:"state"`
	AgentID     string        `json:"agent_id"`
	Owner       string        `json:"owner"`
	Provider    string        `json:"provider"`
	Repo        string        `json:"repo"`
	SHA         string        `json:"sha"`
	Environment string        `json:"environment"`
	Reason      string        `json:"reason"`
	Approvers   []string      `json:"approvers"`
	// Event is the normalized event held for approval.
	Event        event.Event `json:"event"`
	DecisionSeq  int64       `json:"decision_seq"`
	CreatedAt    time.Time   `json:"created_at"`
	ExpiresAt    time.Time   `json:"expires_at"`
	ResolvedAt   *time.Time  `json:"resolved_at,omitempty"`
	ResolvedBy   string      `json:"resolved_by,omitempty"`
	ResolvedNote string      `json:"resolved_note,omitempty"`
	// UsedAt and UsedBy (a decision id) record that an approved approval
	// admitted a resubmission of its change (event.Resubmits); it admits
	// one.
	UsedAt *time.Time `json:"used_at,omitempty"`
	UsedBy string     `json:"used_by,omitempty"`
}

// ApprovalFilter selects approvals; empty fields match everything.
type ApprovalFilter struct {
	State   ApprovalState
	AgentID string
	Owner   string
	// Action selects the approvals of one change (every field exact,
	// empty included) when it is not nil.
	Action *ApprovalAction
}

// ApprovalAction is the change an approval is bound to.
type ApprovalAction struct {
	Provider, Repo, SHA, Environment string
}

// ApprovalStore keeps approvals.
type ApprovalStore interface {
	CreateApproval(ctx context.Context, a Approval) error
	GetApproval(ctx context.Context, id string) (Approval, error)
	// ListApprovals returns approvals, newest first.
	ListApprovals(ctx context.Context, f ApprovalFilter) ([]Approval, error)
	// ResolveApproval moves a pending approval to state. If it is no longer
	// pending it returns the stored approval and ErrConflict (the caller
	// tells the clicker who won).
	ResolveApproval(ctx context.Context, id string, state ApprovalState, by, note string, at time.Time) (Approval, error)
	// UseApproval records that an approved, unused approval admitted a
	// resubmission (compare-and-set). Otherwise it returns the stored
	// approval and ErrConflict.
	UseApproval(ctx context.Context, id, by string, at time.Time) (Approval, error)
	// SetApprovalMessage remembers where an approval was announced (a chat
	// channel and message id) so any replica can update that message.
	SetApprovalMessage(ctx context.Context, approvalID, channel, messageID string) error
	// ApprovalMessage returns it, or ErrNotFound.
	ApprovalMessage(ctx context.Context, approvalID string) (channel, messageID string, err error)
}

// AuditQuery filters the audit log. Records come in ascending sequence
// after AfterSeq (the cursor), at most Limit (default 100, max 1000).
// From is inclusive and To exclusive; zero times are unbounded.
type AuditQuery struct {
	AgentID  string
	Owner    string
	Outcome  string
	Provider string
	Kind     audit.Kind
	From, To time.Time
	AfterSeq int64
	Limit    int
	// Newest takes the last Limit matching records instead of the first
	// (still returned in ascending sequence).
	Newest bool
}

// AuditStore keeps the hash-chained audit log.
type AuditStore interface {
	// AppendAudit seals r after the current chain head (setting Seq,
	// PrevHash, Hash, normalising Time) and stores it. Appends are
	// serialised across replicas.
	AppendAudit(ctx context.Context, r *audit.Record) error
	// AppendDecision is AppendAudit for a decision together with the
	// writes that follow its seal: its recorded policy input and the answer
	// of its claimed delivery. All of them happen or none; a backend may
	// send them as one statement.
	AppendDecision(ctx context.Context, d DecisionWrite) error
	// QueryAudit returns matching records.
	QueryAudit(ctx context.Context, q AuditQuery) ([]audit.Record, error)
	// ScanAudit calls fn for every stored record in sequence order from
	// afterSeq+1 with the exact stored bytes, for verification and export.
	ScanAudit(ctx context.Context, afterSeq int64, fn func(audit.Stored) error) error
	// AuditHead returns the sequence number of the newest record, 0 when
	// the log is empty: how many records a scan from 0 will see at least.
	AuditHead(ctx context.Context) (int64, error)
	// CountAudit counts the records of q.Kind (and q.AgentID) with a
	// time in [q.From, q.To) by outcome, in buckets of q.Every starting at
	// q.From; only buckets with a record are returned, in time then
	// outcome order.
	CountAudit(ctx context.Context, q AuditCountQuery) ([]AuditCount, error)
}

// AuditCountQuery selects what CountAudit counts.
type AuditCountQuery struct {
	// Kind is required.
	Kind audit.Kind
	// AgentID, when set, counts one agent's records.
	AgentID  string
	From, To time.Time
	// Every is the bucket size; one bucket for the window when zero.
	Every time.Duration
}

// AuditCount is how many records of one outcome one bucket of time holds.
type AuditCount struct {
	Start   time.Time
	Outcome string
	Count   int64
}

// CostEntry is one cost attributed to an agent.
type CostEntry struct {
	ID        string    `json:"id"`
	AgentID   string    `json:"agent_id"`
	AgentType string    `json:"agent_type"`
	Owner     string    `json:"owner"`
	Provider  string    `json:"provider"`
	Repo      string    `json:"repo"`
	Minutes   float64   `json:"minutes"`
	Amount    float64   `json:"amount"`
	Currency  string    `json:"currency"`
	At        time.Time `json:"at"`
}

// CostGroup is a grouping dimension for cost summaries.
type CostGroup string

// Cost groupings.
const (
	CostByAgent CostGroup = "agent"
	CostByOwner CostGroup = "owner"
	CostByType  CostGroup = "type"
)

// CostRow is one group's total.
type CostRow struct {
	Key      string  `json:"key"`
	Minutes  float64 `json:"minutes"`
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
	Entries  int64   `json:"entries"`
}

// CostStore keeps the cost ledger.
type CostStore interface {
	AddCost(ctx context.Context, c CostEntry) error
	// SumCosts totals entries with from <= At < to (a zero to has no upper
	// bound), grouped by the dimension and currency (amounts in different
	// currencies are never added), ordered by amount descending then key.
	SumCosts(ctx context.Context, by CostGroup, from, to time.Time) ([]CostRow, error)
}

// CounterStore keeps fixed-window event counters (anomaly detection).
type CounterStore interface {
	// IncrCounter adds one to key's counter for the window containing now
	// and returns the new count, atomically across replicas.
	IncrCounter(ctx context.Context, key string, window time.Duration, now time.Time) (int64, error)
	// PurgeCounters deletes counters whose window ended before now.
	PurgeCounters(ctx context.Context, now time.Time) (int64, error)
}

// LeaseStore elects one leader for background work.
type LeaseStore interface {
	// AcquireLeader takes or renews the named lease for holder until
	// now+ttl, if it is free, expired or already held by holder.
	AcquireLeader(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLeader gives the lease up if holder has it.
	ReleaseLeader(ctx context.Context, name, holder string) error
}

// Deployment is a successful deployment: the history a rollback goes back
// through.
type Deployment struct {
	// ID is unique per deployment; providers derive it from their own ids
	// so that a redelivered event is recorded once.
	ID          string `json:"id"`
	Provider    string `json:"provider"`
	Repo        string `json:"repo"`
	Environment string `json:"environment"`
	SHA         string `json:"sha"`
	Ref         string `json:"ref,omitempty"`
	// AgentID is the agent that deployed, empty for people.
	AgentID   string `json:"agent_id,omitempty"`
	Principal string `json:"principal"`
	// Handles are the provider's ids needed to redeploy (run id, workflow,
	// deployment id, Argo CD history id, ...).
	Handles map[string]string `json:"handles,omitempty"`
	At      time.Time         `json:"at"`
}

// DeploymentFilter selects one provider's deployments of one repo or app to
// one environment; Limit defaults to 20 (max 500).
type DeploymentFilter struct {
	Provider    string
	Repo        string
	Environment string
	Limit       int
}

// DeploymentStore keeps deployment history.
type DeploymentStore interface {
	// RecordDeployment stores a deployment. ErrConflict if the id exists.
	RecordDeployment(ctx context.Context, d Deployment) error
	// ListDeployments returns matching deployments, newest first.
	ListDeployments(ctx context.Context, f DeploymentFilter) ([]Deployment, error)
}

// InputStore keeps the compressed policy input of each decision, keyed by
// its audit record's seq, for replaying a candidate policy.
type InputStore interface {
	// RecordInput stores one decision's input (in the decision's
	// transaction).
	RecordInput(ctx context.Context, seq int64, at time.Time, body []byte) error
	// ScanInputs calls fn for every input with a time in [from, to) (zero:
	// unbounded) after afterSeq, in seq order, a page at a time.
	ScanInputs(ctx context.Context, from, to time.Time, afterSeq int64, fn func(seq int64, at time.Time, body []byte) error) error
	// PurgeInputs deletes up to limit inputs older than before and says
	// how many it deleted.
	PurgeInputs(ctx context.Context, before time.Time, limit int) (int64, error)
}

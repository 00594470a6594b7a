package gate

import (
	"context"
	"log/slog"
	"path"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/replay"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// Identifier finds the agent behind an event.
type Identifier interface {
	Identify(ctx context.Context, ev *event.Event) (registry.Identity, error)
}

// Killer engages kill switches (the anomaly detector's lever).
type Killer interface {
	Engage(ctx context.Context, actor string, r registry.KillRequest) (ks store.KillSwitch, created bool, err error)
}

// ApprovalNotifier is told about every approval a decision creates (Slack).
type ApprovalNotifier interface {
	ApprovalCreated(ctx context.Context, a store.Approval)
}

var (
	_ Identifier = (*registry.Service)(nil)
	_ Killer     = (*registry.Service)(nil)
)

// Options configures a Gate.
type Options struct {
	Store    Store
	Identify Identifier
	Policy   policy.Evaluator
	// Revision reports the serving policy revision, recorded when the
	// policy cannot be evaluated.
	Revision func() string
	Killer   Killer
	Notifier ApprovalNotifier
	// OnDeployment is told, after commit, about each successful deployment
	// an agent made (rollback watches start here).
	OnDeployment func(ctx context.Context, d store.Deployment)
	Metrics      *telemetry.Metrics
	Logger       *slog.Logger
	Failure      config.Failure
	// DeliveryTTL is how long delivery ids are remembered.
	DeliveryTTL time.Duration
	Now         func() time.Time
	// Tracer traces each decision's stages; nil: no traces.
	Tracer trace.Tracer
	// Inputs, when set, records each evaluated decision's policy input
	// beside its audit record (policy.record_inputs).
	Inputs *replay.Codec
	// Shadow, when set, is handed each evaluated decision's input and
	// decision for the shadow policy (policy.shadow_dir); it must not block.
	Shadow Observer
	// MaxInFlight bounds the decisions (and dry runs) worked on at once;
	// more wait for a slot, at most MaxQueued of them, while their
	// context lasts, taking turns by principal, and are refused 503
	// beyond that
	// (server.max_decisions_in_flight, server.max_decisions_queued).
	// Zero or less: unbounded.
	MaxInFlight, MaxQueued int
}

// Observer sees each evaluated decision; replay.Shadow is one.
type Observer interface {
	Observe(in policy.Input, live policy.Decision)
}

var _ Observer = (*replay.Shadow)(nil)

// Gate runs admission decisions.
type Gate struct {
	o     Options
	admit *admission
}

// New returns a gate.
func New(o Options) *Gate {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DeliveryTTL <= 0 {
		o.DeliveryTTL = 72 * time.Hour
	}
	if o.Revision == nil {
		o.Revision = func() string { return "" }
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer(telemetry.TracerName)
	}
	return &Gate{o: o, admit: newAdmission(o.MaxInFlight, o.MaxQueued, o.Metrics)}
}

// failMode returns the configured fail mode for the event's action class.
func (g *Gate) failMode(ev *event.Event) config.FailMode {
	if ev.Environment != "" {
		for _, p := range g.o.Failure.ProductionEnvironments {
			if ok, _ := path.Match(p, ev.Environment); ok {
				return g.o.Failure.Production
			}
		}
	}
	switch ev.Kind {
	case event.KindDeploy, event.KindSync:
		return g.o.Failure.Deploy
	}
	return g.o.Failure.Build
}

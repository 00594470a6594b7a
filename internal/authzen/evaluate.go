package authzen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/gate"
)

// Decider decides an event; gate.Gate is one.
type Decider interface {
	Decide(ctx context.Context, req gate.Request) (gate.Result, error)
}

var _ Decider = (*gate.Gate)(nil)

// Service answers access evaluations with the gate's decisions.
type Service struct {
	decider Decider
	agents  Agents
}

// New returns a Service.
func New(d Decider, a Agents) *Service { return &Service{decider: d, agents: a} }

// Call is one request to the endpoints: who asks and its X-Request-ID.
type Call struct {
	// Actor is the API token's name, recorded as who submitted.
	Actor string
	// RequestID, when the caller sends one, makes a retry of the same
	// evaluation an idempotent replay (nothing charged twice).
	RequestID string
}

// Evaluate decides one evaluation. An evaluation that cannot be mapped is
// apperr.KindInvalid (or NotFound for an unknown agent); a store outage is
// the gate's error.
func (s *Service) Evaluate(ctx context.Context, c Call, e Evaluation) (Decision, error) {
	return s.decide(ctx, c, e, 0)
}

// EvaluateAll decides evaluations in order under semantic. An evaluation
// that cannot be mapped is answered false with its error in the context;
// a store outage fails the whole request.
func (s *Service) EvaluateAll(ctx context.Context, c Call, list []Evaluation, semantic string) (Decisions, error) {
	out := Decisions{Evaluations: make([]Decision, 0, len(list))}
	for i, e := range list {
		d, err := s.decide(ctx, c, e, i)
		if err != nil {
			status := apperr.HTTPStatus(apperr.KindOf(err))
			if status >= http.StatusInternalServerError {
				return Decisions{}, err
			}
			d = Decision{Context: map[string]any{"error": map[string]any{"status": status, "message": err.Error()}}}
		}
		out.Evaluations = append(out.Evaluations, d)
		switch {
		case semantic == DenyOnFirstDeny && !d.Decision:
			return out, nil
		case semantic == PermitOnFirstPermit && d.Decision:
			return out, nil
		}
	}
	return out, nil
}

func (s *Service) decide(ctx context.Context, c Call, e Evaluation, i int) (Decision, error) {
	ev, err := ToEvent(ctx, s.agents, e)
	if err != nil {
		return Decision{}, err
	}
	req := gate.Request{Event: ev, Source: Provider, Actor: c.Actor}
	if c.RequestID != "" {
		// The same id for another question is another delivery.
		b, _ := json.Marshal(e)
		sum := sha256.Sum256(b)
		req.DeliveryID = fmt.Sprintf("%s#%d:%s", c.RequestID, i, hex.EncodeToString(sum[:8]))
	}
	res, err := s.decider.Decide(ctx, req)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Decision: res.Effective == gate.Allow, Context: map[string]any{
		"decision_id": res.DecisionID, "outcome": string(res.Outcome), "effective": string(res.Effective)}}
	if len(res.Reasons) > 0 {
		d.Context["reasons"] = res.Reasons
	}
	if len(res.Warnings) > 0 {
		d.Context["warnings"] = res.Warnings
	}
	if res.Approval != nil {
		d.Context["approval_id"] = res.Approval.ID
	}
	return d, nil
}

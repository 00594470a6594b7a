package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Fired is one rule body that held during an evaluation, with the values
// its local variables were bound to.
type Fired struct {
	// Rule is the rule's name (its head reference) and Location its
	// file:row.
	Rule     string `json:"rule"`
	Location string `json:"location"`
	// Values are the rule's local variables, each as Rego prints it (cut
	// at maxValue characters).
	Values []Binding `json:"values"`
}

// Binding is one local variable's value.
type Binding struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Bounds of an explanation.
const (
	maxFired = 200
	maxValue = 200
)

// Explain evaluates the served set for in, as Evaluate does, and also
// returns the rules of the decision's package that held, in evaluation
// order, with the values they saw (for `admission policy eval --explain`).
func (e *Engine) Explain(ctx context.Context, in Input) (Result, []Fired, error) {
	p := e.current.Load()
	if p == nil {
		return Result{}, nil, errors.New("policy: no policy set loaded")
	}
	v, err := e.encode(&in)
	if err != nil {
		return Result{}, nil, fmt.Errorf("policy: input: %w", err)
	}
	tracer := topdown.NewBufferTracer()
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(v), rego.EvalQueryTracer(tracer), rawResult())
	if err != nil {
		return Result{}, nil, fmt.Errorf("policy: evaluate %s: %w", p.revision, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Result{}, nil, fmt.Errorf("policy: %s is undefined in revision %s", Query, p.revision)
	}
	d, err := decodeDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return Result{}, nil, fmt.Errorf("policy: revision %s: %w", p.revision, err)
	}
	return Result{Decision: d, Revision: p.revision}, firedRules(*tracer), nil
}

// firedRules reads the rules that exited (held) from a trace.
func firedRules(trace []*topdown.Event) []Fired {
	var out []Fired
	seen := map[string]bool{}
	// A rule's body binds its variables over the events of its query; the
	// exit of the rule closes that query.
	type scope struct {
		vars  *ast.ValueMap
		names map[ast.Var]topdown.VarMetadata
	}
	locals := map[uint64]scope{}
	for _, ev := range trace {
		if ev.Locals != nil && ev.Locals.Len() > 0 {
			locals[ev.QueryID] = scope{ev.Locals, ev.LocalMetadata}
		}
		r, ok := ev.Node.(*ast.Rule)
		if ev.Op != topdown.ExitOp || !ok || r.Module == nil || !strings.HasPrefix(r.Module.Package.Path.String(), "data.agentgate.admission") {
			continue
		}
		f := Fired{Rule: r.Head.Ref().String()}
		if loc := r.Location; loc != nil {
			f.Location = fmt.Sprintf("%s:%d", loc.File, loc.Row)
		}
		if sc := locals[ev.QueryID]; sc.vars != nil {
			sc.vars.Iter(func(k, v ast.Value) bool {
				// The compiler renames a rule's variables; the trace keeps
				// the names the author wrote.
				name := k.String()
				if kv, ok := k.(ast.Var); ok {
					if md, ok := sc.names[kv]; ok {
						name = md.Name.String()
					}
				}
				if name == "_" || strings.HasPrefix(name, "__") || strings.HasPrefix(name, "$") {
					return false
				}
				s := v.String()
				if len(s) > maxValue {
					s = s[:maxValue] + "…"
				}
				f.Values = append(f.Values, Binding{Name: name, Value: s})
				return false
			})
		}
		slices.SortFunc(f.Values, func(a, b Binding) int { return strings.Compare(a.Name, b.Name) })
		key := fmt.Sprint(f)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, f)
		if len(out) == maxFired {
			break
		}
	}
	return out
}

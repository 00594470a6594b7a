package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// inputValueJSON converts in to the AST value the policy sees as input by
// marshaling it to JSON and parsing that: the reference the faster
// newInputEncoder is tested against.
func inputValueJSON(in *Input) (ast.Value, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var x any
	if err := util.UnmarshalJSON(b, &x); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(x)
}

// decodeDecision turns the decision document into a Decision and normalizes
// it. The document must be an object with a boolean allow. Well-formed
// documents are converted directly; anything else (reasons given as strings,
// numeric durations, unknown keys, wrong types) goes through encoding/json
// and the contract types' UnmarshalJSON, which decide what is accepted.
func decodeDecision(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("%s is a %T, not an object", Query, v)
	}
	if _, ok := obj["allow"].(bool); !ok {
		return Decision{}, errors.New("decision.allow is missing or not a boolean")
	}
	d, ok := fastDecision(obj)
	if !ok {
		var err error
		if d, err = jsonDecision(obj); err != nil {
			return Decision{}, err
		}
	}
	if err := d.Normalize(); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// jsonDecision decodes the decision through encoding/json.
func jsonDecision(obj map[string]any) (Decision, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return Decision{}, fmt.Errorf("decision: %w", err)
	}
	var d Decision
	if err := json.Unmarshal(b, &d); err != nil {
		return Decision{}, fmt.Errorf("decision: %w", err)
	}
	return d, nil
}

// fastDecision converts a well-formed decision document. It reports false
// when the document holds anything it does not handle exactly as
// encoding/json would, and the caller then uses jsonDecision.
func fastDecision(obj map[string]any) (Decision, bool) {
	var d Decision
	for k, v := range obj {
		ok := true
		switch k {
		case "allow":
			d.Allow, ok = v.(bool)
		case "deny":
			d.Deny, ok = fastReasons(v)
		case "warnings":
			d.Warnings, ok = fastReasons(v)
		case "require_approval":
			d.RequireApproval, ok = fastApproval(v)
		case "quotas":
			d.Quotas, ok = fastQuotas(v)
		case "enforcement":
			var s string
			s, ok = v.(string)
			d.Enforcement = Enforcement(s)
		case "anomaly":
			d.Anomaly, ok = fastAnomaly(v)
		case "on_rollback":
			if v != nil {
				d.OnRollback, ok = v.(string)
			}
		default:
			ok = false
		}
		if !ok {
			return Decision{}, false
		}
	}
	return d, true
}

func fastReasons(v any) ([]Reason, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]Reason, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, false
		}
		r := &out[i]
		for k, f := range m {
			s, ok := f.(string)
			if !ok {
				return nil, false
			}
			switch k {
			case "rule":
				r.Rule = s
			case "message":
				r.Message = s
			case "enforcement":
				r.Enforcement = Enforcement(s)
			default:
				return nil, false
			}
		}
		if r.Enforcement == "" {
			r.Enforcement = Enforce
		}
		if !r.Enforcement.Valid() {
			// Let Reason.UnmarshalJSON word the error.
			return nil, false
		}
	}
	return out, true
}

func fastQuotas(v any) ([]QuotaSpec, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]QuotaSpec, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, false
		}
		q := &out[i]
		for k, f := range m {
			ok := true
			switch k {
			case "name":
				q.Name, ok = f.(string)
			case "kind":
				var s string
				s, ok = f.(string)
				q.Kind = QuotaKind(s)
			case "limit":
				q.Limit, ok = fastInt(f)
			case "window":
				q.Window, ok = fastDuration(f)
			case "cost":
				q.Cost, ok = fastInt(f)
			case "key":
				q.Key, ok = f.(string)
			case "ttl":
				q.TTL, ok = fastDuration(f)
			default:
				ok = false
			}
			if !ok {
				return nil, false
			}
		}
	}
	return out, true
}

func fastApproval(v any) (*ApprovalRequirement, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	a := &ApprovalRequirement{}
	for k, f := range m {
		ok := true
		switch k {
		case "reason":
			a.Reason, ok = f.(string)
		case "approvers":
			a.Approvers, ok = fastStrings(f)
		case "ttl":
			a.TTL, ok = fastDuration(f)
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
	}
	return a, true
}

func fastAnomaly(v any) (*AnomalyThresholds, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	a := &AnomalyThresholds{}
	for k, f := range m {
		ok := true
		switch k {
		case "max_denials_per_minute":
			a.MaxDenialsPerMinute, ok = fastInt(f)
		case "max_requests_per_minute":
			a.MaxRequestsPerMinute, ok = fastInt(f)
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
	}
	return a, true
}

func fastStrings(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, x := range list {
		if out[i], ok = x.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

// fastInt accepts a whole number that fits an int64.
func fastInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// fastDuration accepts a Go duration string; numbers (seconds) and bad
// strings are left to Duration.UnmarshalJSON.
func fastDuration(v any) (Duration, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return Duration(d), err == nil
}

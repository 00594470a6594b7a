package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
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

// rawResult makes an evaluation hand back its result as the AST value it
// computed instead of converting it to Go maps and slices first; the
// decision is read from the AST directly.
func rawResult() rego.EvalOption {
	return rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) {
		return t.Value, nil
	})
}

// decodeDecision turns the decision document, as evaluated with rawResult,
// into a Decision and normalizes it. The document must be an object with a
// boolean allow. Well-formed documents are converted directly; anything else
// (reasons given as strings, numeric durations, unknown keys, wrong types)
// goes through encoding/json and the contract types' UnmarshalJSON, which
// decide what is accepted.
func decodeDecision(result any) (Decision, error) {
	v, ok := result.(ast.Value)
	if !ok {
		return Decision{}, fmt.Errorf("%s evaluated to a %T, not a value", Query, result)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("%s is %s, not an object", Query, ast.ValueName(v))
	}
	if allow := obj.Get(ast.InternedTerm("allow")); allow == nil || !isBoolean(allow.Value) {
		return Decision{}, errors.New("decision.allow is missing or not a boolean")
	}
	d, ok := fastDecision(obj)
	if !ok {
		doc, err := ast.JSON(obj)
		if err != nil {
			return Decision{}, fmt.Errorf("decision: %w", err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return Decision{}, fmt.Errorf("%s is a %T, not an object", Query, doc)
		}
		if d, err = jsonDecision(m); err != nil {
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
func fastDecision(obj ast.Object) (Decision, bool) {
	var d Decision
	ok := fields(obj, func(key string, v ast.Value) bool {
		ok := true
		switch key {
		case "allow":
			var b ast.Boolean
			b, ok = v.(ast.Boolean)
			d.Allow = bool(b)
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
			s, ok = fastString(v)
			d.Enforcement = Enforcement(s)
		case "anomaly":
			d.Anomaly, ok = fastAnomaly(v)
		case "on_rollback":
			if !isNull(v) {
				d.OnRollback, ok = fastString(v)
			}
		default:
			ok = false
		}
		return ok
	})
	if !ok {
		return Decision{}, false
	}
	return d, true
}

// fields calls f for each member of the object v and reports false when v
// is not an object, a key is not a string or f returns false.
func fields(v ast.Value, f func(key string, v ast.Value) bool) bool {
	obj, ok := v.(ast.Object)
	if !ok {
		return false
	}
	ok = true
	obj.Until(func(k, t *ast.Term) bool {
		key, isStr := k.Value.(ast.String)
		ok = isStr && f(string(key), t.Value)
		return !ok
	})
	return ok
}

// elems returns the elements of an array, or of a set in the order its
// JSON form lists them; false for anything else.
func elems(v ast.Value) ([]*ast.Term, bool) {
	switch x := v.(type) {
	case *ast.Array:
		out := make([]*ast.Term, x.Len())
		for i := range out {
			out[i] = x.Elem(i)
		}
		return out, true
	case ast.Set:
		return x.Slice(), true
	}
	return nil, false
}

func isBoolean(v ast.Value) bool {
	_, ok := v.(ast.Boolean)
	return ok
}

func isNull(v ast.Value) bool {
	_, ok := v.(ast.Null)
	return ok
}

func fastString(v ast.Value) (string, bool) {
	s, ok := v.(ast.String)
	return string(s), ok
}

func fastReasons(v ast.Value) ([]Reason, bool) {
	if isNull(v) {
		return nil, true
	}
	list, ok := elems(v)
	if !ok {
		return nil, false
	}
	out := make([]Reason, len(list))
	for i, x := range list {
		r := &out[i]
		ok := fields(x.Value, func(k string, f ast.Value) bool {
			s, ok := fastString(f)
			if !ok {
				return false
			}
			switch k {
			case "rule":
				r.Rule = s
			case "message":
				r.Message = s
			case "enforcement":
				r.Enforcement = Enforcement(s)
			default:
				return false
			}
			return true
		})
		if !ok {
			return nil, false
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

func fastQuotas(v ast.Value) ([]QuotaSpec, bool) {
	if isNull(v) {
		return nil, true
	}
	list, ok := elems(v)
	if !ok {
		return nil, false
	}
	out := make([]QuotaSpec, len(list))
	for i, x := range list {
		q := &out[i]
		ok := fields(x.Value, func(k string, f ast.Value) bool {
			ok := true
			switch k {
			case "name":
				q.Name, ok = fastString(f)
			case "kind":
				var s string
				s, ok = fastString(f)
				q.Kind = QuotaKind(s)
			case "limit":
				q.Limit, ok = fastInt(f)
			case "window":
				q.Window, ok = fastDuration(f)
			case "cost":
				q.Cost, ok = fastInt(f)
			case "key":
				q.Key, ok = fastString(f)
			case "ttl":
				q.TTL, ok = fastDuration(f)
			default:
				ok = false
			}
			return ok
		})
		if !ok {
			return nil, false
		}
	}
	return out, true
}

func fastApproval(v ast.Value) (*ApprovalRequirement, bool) {
	if isNull(v) {
		return nil, true
	}
	a := &ApprovalRequirement{}
	ok := fields(v, func(k string, f ast.Value) bool {
		ok := true
		switch k {
		case "reason":
			a.Reason, ok = fastString(f)
		case "approvers":
			a.Approvers, ok = fastStrings(f)
		case "ttl":
			a.TTL, ok = fastDuration(f)
		default:
			ok = false
		}
		return ok
	})
	return a, ok
}

func fastAnomaly(v ast.Value) (*AnomalyThresholds, bool) {
	if isNull(v) {
		return nil, true
	}
	a := &AnomalyThresholds{}
	ok := fields(v, func(k string, f ast.Value) bool {
		ok := true
		switch k {
		case "max_denials_per_minute":
			a.MaxDenialsPerMinute, ok = fastInt(f)
		case "max_requests_per_minute":
			a.MaxRequestsPerMinute, ok = fastInt(f)
		default:
			ok = false
		}
		return ok
	})
	return a, ok
}

func fastStrings(v ast.Value) ([]string, bool) {
	if isNull(v) {
		return nil, true
	}
	list, ok := elems(v)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, x := range list {
		if out[i], ok = fastString(x.Value); !ok {
			return nil, false
		}
	}
	return out, true
}

// fastInt accepts a whole number that fits an int64.
func fastInt(v ast.Value) (int64, bool) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	i, err := json.Number(n).Int64()
	return i, err == nil
}

// fastDuration accepts a Go duration string; numbers (seconds) and bad
// strings are left to Duration.UnmarshalJSON.
func fastDuration(v ast.Value) (Duration, bool) {
	s, ok := v.(ast.String)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(string(s))
	return Duration(d), err == nil
}

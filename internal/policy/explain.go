package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

// EvalFile evaluates an Input document read from a file, for `admission
// policy eval --input FILE`. The document is decoded strictly (DecodeInput);
// a missing now is the current time. The event is validated as the gate
// validates it; the agent is taken as given.
func EvalFile(ctx context.Context, ev Evaluator, input []byte) (Result, error) {
	in, err := DecodeInput(input)
	if err != nil {
		return Result{}, err
	}
	if err := in.Event.Validate(); err != nil {
		return Result{}, fmt.Errorf("input: %w", err)
	}
	if in.Now == "" {
		in.Now = time.Now().UTC().Format(time.RFC3339)
	}
	return ev.Evaluate(ctx, in)
}

// ExplainFile is EvalFile with the rules that held (Engine.Explain).
func ExplainFile(ctx context.Context, e *Engine, input []byte) (Result, []Fired, error) {
	in, err := DecodeInput(input)
	if err != nil {
		return Result{}, nil, err
	}
	if err := in.Event.Validate(); err != nil {
		return Result{}, nil, fmt.Errorf("input: %w", err)
	}
	if in.Now == "" {
		in.Now = time.Now().UTC().Format(time.RFC3339)
	}
	return e.Explain(ctx, in)
}

// DecodeInput decodes an Input document strictly: it must be one JSON object
// with an event; unknown fields, at the top level (all named in the error) or
// inside event, agent or usage, are errors; now, when set, must be an RFC 3339
// time. Its errors are apperr.KindInvalid.
func DecodeInput(b []byte) (Input, error) {
	// json.Unmarshal also rejects anything after the object.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Input{}, apperr.Wrap(apperr.KindInvalid, err, "input must be a JSON object")
	}
	if top == nil {
		return Input{}, apperr.Invalid("input must be a JSON object, not null")
	}
	known := inputFields()
	var unknown []string
	for k := range top {
		if !slices.Contains(known, k) {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Input{}, apperr.Invalid("input has unknown top-level field(s) %s; the fields are %s",
			strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	if _, ok := top["event"]; !ok {
		return Input{}, apperr.Invalid("input.event is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		return Input{}, apperr.Wrap(apperr.KindInvalid, err, "input does not match the admission input document")
	}
	if in.Now != "" {
		if _, err := time.Parse(time.RFC3339Nano, in.Now); err != nil {
			return Input{}, apperr.Wrap(apperr.KindInvalid, err, "input.now %q is not an RFC 3339 time", in.Now)
		}
	}
	return in, nil
}

// inputFields lists the JSON names of Input's fields, in declaration order.
func inputFields() []string {
	t := reflect.TypeFor[Input]()
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if name != "-" {
			names = append(names, name)
		}
	}
	return names
}

package authzen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
)

// maxEvaluations bounds one evaluations request.
const maxEvaluations = 100

// DecodeEvaluation reads an access evaluation request: one JSON object with
// subject (type, id), action (name) and resource (type, id). Its errors
// are apperr.KindInvalid.
func DecodeEvaluation(body []byte) (Evaluation, error) {
	var e Evaluation
	if err := decode(body, &e); err != nil {
		return Evaluation{}, err
	}
	if err := e.validate(""); err != nil {
		return Evaluation{}, err
	}
	return e, nil
}

// DecodeBatch reads an access evaluations request and returns its
// evaluations with the top-level defaults applied. Without an evaluations
// array the request is a single evaluation.
func DecodeBatch(body []byte) ([]Evaluation, string, error) {
	var b Batch
	if err := decode(body, &b); err != nil {
		return nil, "", err
	}
	semantic := b.Options.EvaluationsSemantic
	switch semantic {
	case "":
		semantic = ExecuteAll
	case ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit:
	default:
		return nil, "", apperr.Invalid("options.evaluations_semantic %q is not one of %s, %s, %s", semantic, ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit)
	}
	if len(b.Evaluations) == 0 {
		if err := b.Evaluation.validate(""); err != nil {
			return nil, "", err
		}
		return []Evaluation{b.Evaluation}, semantic, nil
	}
	if len(b.Evaluations) > maxEvaluations {
		return nil, "", apperr.Invalid("%d evaluations in one request; at most %d", len(b.Evaluations), maxEvaluations)
	}
	out := make([]Evaluation, len(b.Evaluations))
	for i, e := range b.Evaluations {
		if e.Subject == nil {
			e.Subject = b.Subject
		}
		if e.Action == nil {
			e.Action = b.Action
		}
		if e.Resource == nil {
			e.Resource = b.Resource
		}
		if e.Context == nil {
			e.Context = b.Context
		}
		if err := e.validate(fmt.Sprintf("evaluations[%d].", i)); err != nil {
			return nil, "", err
		}
		out[i] = e
	}
	return out, semantic, nil
}

func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return apperr.Wrap(apperr.KindInvalid, err, "the request must be a JSON object")
	}
	if dec.More() {
		return apperr.Invalid("the request has data after its JSON object")
	}
	return nil
}

func (e Evaluation) validate(at string) error {
	switch {
	case e.Subject == nil || strings.TrimSpace(e.Subject.Type) == "" || strings.TrimSpace(e.Subject.ID) == "":
		return apperr.Invalid("%ssubject with a type and an id is required", at)
	case e.Action == nil || strings.TrimSpace(e.Action.Name) == "":
		return apperr.Invalid("%saction with a name is required", at)
	case e.Resource == nil || strings.TrimSpace(e.Resource.Type) == "" || strings.TrimSpace(e.Resource.ID) == "":
		return apperr.Invalid("%sresource with a type and an id is required", at)
	}
	return nil
}

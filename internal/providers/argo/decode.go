package argo

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentgate/agentgate/internal/apperr"
)

// governedObject is what the webhook reads of a Workflow, CronWorkflow or
// WorkflowTemplate decoded into its upstream type: the metadata, the
// workflow spec (a CronWorkflow's spec.workflowSpec), a CronWorkflow's
// spec.schedule and spec.schedules, and the spec as sent, for the spec hash
// and the UPDATE check (the typed spec drops fields the types do not know).
type governedObject struct {
	meta      *metav1.ObjectMeta
	spec      *wfv1.WorkflowSpec
	schedules []string
	rawSpec   json.RawMessage
}

// decodeObject decodes a governed object of the given kind into its
// upstream type. An object that does not decode is apperr.KindInvalid.
func decodeObject(kind string, raw []byte) (obj governedObject, err error) {
	switch kind {
	case kindCronWorkflow:
		var cw *wfv1.CronWorkflow
		if cw, err = decodeAs[wfv1.CronWorkflow](kind, raw); err == nil {
			obj = governedObject{meta: &cw.ObjectMeta, spec: &cw.Spec.WorkflowSpec,
				schedules: append(nonEmpty(cw.Spec.Schedule), cw.Spec.Schedules...)}
		}
	case kindClusterWorkflowTemplate:
		var ct *wfv1.ClusterWorkflowTemplate
		if ct, err = decodeAs[wfv1.ClusterWorkflowTemplate](kind, raw); err == nil {
			obj = governedObject{meta: &ct.ObjectMeta, spec: &ct.Spec}
		}
	case kindWorkflowTemplate:
		var wt *wfv1.WorkflowTemplate
		if wt, err = decodeAs[wfv1.WorkflowTemplate](kind, raw); err == nil {
			obj = governedObject{meta: &wt.ObjectMeta, spec: &wt.Spec}
		}
	case kindWorkflow:
		var wf *wfv1.Workflow
		if wf, err = decodeAs[wfv1.Workflow](kind, raw); err == nil {
			obj = governedObject{meta: &wf.ObjectMeta, spec: &wf.Spec}
		}
	default:
		err = apperr.Invalid("%s is not a governed kind", kind)
	}
	if err != nil {
		return governedObject{}, err
	}
	obj.rawSpec, err = rawSpecOf("the "+kind, raw)
	return obj, err
}

// decodeAs decodes raw, the request's object of the given kind, into T.
func decodeAs[T any](kind string, raw []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, decodeError("the "+kind, raw, reflect.TypeFor[T](), err)
	}
	return v, nil
}

// rawSpecOf returns the spec of what, an object, as sent.
func rawSpecOf(what string, raw []byte) (json.RawMessage, error) {
	var o struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, decodeError(what, raw, reflect.TypeOf(o), err)
	}
	return o.Spec, nil
}

// Limits of decodeError: bytes of an upstream error and of a path, and of
// the JSON value a type error names.
const maxProblem, maxValue = 200, 64

// decodeError is the apperr.KindInvalid error for what, an object that
// does not decode into t: the field at fault (relative to the spec when it
// is in the spec) and the problem, clipped, quoting of the object no more
// than encoding/json or the upstream UnmarshalJSON does.
func decodeError(what string, raw []byte, t reflect.Type, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	path, problem, sep := "", "", " "
	switch {
	case errors.As(err, &se):
		problem = fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		path, problem = te.Field, fmt.Sprintf("must be %s, not %s", jsonTypeName(te.Type), clip(te.Value, maxValue))
	default:
		// An upstream UnmarshalJSON (a time, a quantity, a plugin, steps)
		// says what is wrong but not where: find where.
		l := locator{want: err.Error(), budget: 8*len(raw) + 1<<16}
		path, _ = l.find(raw, t, "")
		problem, sep = clip(strings.Join(strings.Fields(err.Error()), " "), maxProblem), " is invalid: "
	}
	if path == "spec" || strings.HasPrefix(path, "spec.") {
		what, path = what+"'s spec", strings.TrimPrefix(strings.TrimPrefix(path, "spec"), ".")
	}
	if path != "" {
		problem = fmt.Sprintf("field %q%s%s", clip(path, maxProblem), sep, problem)
	}
	return apperr.Invalid("cannot read %s: %s", what, problem)
}

// jsonTypeName names the JSON type of a Go type in a type error.
func jsonTypeName(t reflect.Type) string {
	switch {
	case t == nil:
		return "another type"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "object"
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8:
		return "array"
	}
	return t.String()
}

// locator finds where decoding a JSON document into a type fails with an
// error, for the upstream UnmarshalJSON errors that do not say where. It
// decodes at most budget bytes, however deep or long the document.
type locator struct {
	want   string
	budget int
}

// find returns the path, below path, of the first value of raw (decoded
// as t) whose own decoding fails with l.want.
func (l *locator) find(raw json.RawMessage, t reflect.Type, path string) (string, bool) {
	if l.budget -= len(raw) + 64; l.budget < 0 { // 64: a value's own cost
		return "", false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		err := json.Unmarshal(raw, reflect.New(t).Interface())
		return path, err != nil && err.Error() == l.want
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return "", false
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			name, ft, _ := jsonMember(t, k)
			if ft == nil {
				continue
			}
			if p, ok := l.find(m[k], ft, strings.TrimPrefix(path+"."+name, ".")); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		var a []json.RawMessage
		if json.Unmarshal(raw, &a) != nil {
			return "", false
		}
		for i, v := range a {
			if p, ok := l.find(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// jsonMember is what encoding/json decodes the key of an object into when
// it decodes the object into t, a map or a struct: for a struct, the field
// of that JSON name, else of a case-insensitive match, fields of embedded
// structs included. ft is nil when there is none.
func jsonMember(t reflect.Type, key string) (name string, ft reflect.Type, exact bool) {
	if t.Kind() == reflect.Map {
		return key, t.Elem(), true
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		n, _, _ := strings.Cut(tag, ",")
		if et := f.Type; f.Anonymous && n == "" {
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if en, eft, ex := jsonMember(et, key); ex {
					return en, eft, true
				} else if ft == nil {
					name, ft = en, eft
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if n == "" {
			n = f.Name
		}
		if n == key {
			return n, f.Type, true
		}
		if ft == nil && strings.EqualFold(n, key) {
			name, ft = n, f.Type
		}
	}
	return name, ft, false
}

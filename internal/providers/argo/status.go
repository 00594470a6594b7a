package argo

import (
	"encoding/json"
	"reflect"

	admissionv1 "k8s.io/api/admission/v1"
)

// ActionUpdateStatus is the action of an event that writes a Workflow's
// status. Only the workflow controller writes it (its requests never reach
// the webhook) and the Argo Workflows server (retry, resume); anyone else
// writing it could mark a running Workflow finished and free its
// concurrent_workflows slot, so the built-in policy refuses it (rule
// workflow.status_write).
const ActionUpdateStatus = "update_status"

// subresourceStatus is the status subresource, should a Workflow CRD
// enable it.
const subresourceStatus = "status"

// statusWrite reports whether the request writes a Workflow's status: an
// UPDATE of the status subresource, or an UPDATE whose status differs from
// the stored object's (the Workflow CRD keeps status in the main object).
func statusWrite(req *admissionv1.AdmissionRequest) (bool, error) {
	if req.Kind.Kind != kindWorkflow || req.Operation != admissionv1.Update {
		return false, nil
	}
	if req.SubResource == subresourceStatus {
		return true, nil
	}
	if len(req.OldObject.Raw) == 0 {
		return false, nil
	}
	a, err := statusOf("the object", req.Object.Raw)
	if err != nil {
		return false, err
	}
	b, err := statusOf("the old object", req.OldObject.Raw)
	if err != nil {
		return false, err
	}
	return !reflect.DeepEqual(a, b), nil
}

// statusOf decodes an object's status generically (nil when absent).
func statusOf(what string, raw []byte) (any, error) {
	var o struct {
		Status any `json:"status"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, decodeError(what, raw, reflect.TypeOf(o), err)
	}
	if m, ok := o.Status.(map[string]any); ok && len(m) == 0 {
		return nil, nil
	}
	return o.Status, nil
}

package wfwatch

import (
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefaultControllerManager is the field manager the Argo workflow
// controller writes Workflows with: client-go names it after the binary.
const DefaultControllerManager = "workflow-controller"

// annotationPhaseManagers carries, on the trimmed cached copy only, the
// field managers that own status.phase.
const annotationPhaseManagers = "agentgate.io/phase-managers"

// phaseManagers lists the field managers that own status.phase according
// to metadata.managedFields. A manager that writes status.phase with a
// value different from the one before becomes its only owner, so a phase
// written by anyone but the controller is not owned by the controller.
func phaseManagers(u *unstructured.Unstructured) []string {
	var out []string
	for _, mf := range u.GetManagedFields() {
		if mf.FieldsV1 == nil || mf.Subresource != "" && mf.Subresource != "status" {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			continue
		}
		var status map[string]json.RawMessage
		if raw, ok := fields["f:status"]; !ok || json.Unmarshal(raw, &status) != nil {
			continue
		}
		if _, ok := status["f:phase"]; ok && !slices.Contains(out, mf.Manager) {
			out = append(out, mf.Manager)
		}
	}
	return out
}

// controllerWrotePhase reports whether a controller's field manager owns
// the trimmed Workflow's status.phase.
func (w *Watcher) controllerWrotePhase(u *unstructured.Unstructured) bool {
	managers := strings.Split(u.GetAnnotations()[annotationPhaseManagers], ",")
	for _, m := range managers {
		if slices.Contains(w.o.ControllerManagers, m) {
			return true
		}
	}
	return false
}

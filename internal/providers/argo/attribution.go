package argo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// Labels the workflow controller and the Argo server set on Workflows they
// create from another object.
const (
	// LabelCronWorkflow names the CronWorkflow a Workflow was spawned by.
	LabelCronWorkflow = "workflows.argoproj.io/cron-workflow"
	// LabelResubmittedFrom names the Workflow a Workflow resubmits.
	LabelResubmittedFrom = "workflows.argoproj.io/resubmitted-from-workflow"
)

// AttributionSource reads which agent is behind an object (the store).
type AttributionSource interface {
	AttributionOf(ctx context.Context, kind, namespace, name string) (store.Attribution, error)
}

type attributionsBox struct{ src AttributionSource }

// UseAttributions gives the provider the source it reads attributions
// from. Without one, Workflows the controller spawns are not decided.
func (p *Provider) UseAttributions(src AttributionSource) {
	p.attributions.Store(&attributionsBox{src: src})
}

// origin is the object a Workflow created by the controller or the Argo
// server comes from.
type origin struct{ kind, namespace, name string }

func (o origin) String() string { return o.kind + "/" + o.namespace + "/" + o.name }

// originOf says where a Workflow that the controller or the Argo server
// creates comes from: a CronWorkflow (the controller; its ownerReference
// and label agree) or a resubmitted Workflow (the server, label
// resubmitted-from-workflow). Only the controller's and the server's own
// requests are read this way: on anyone else's the labels are the
// submitter's and mean nothing.
func (p *Provider) originOf(req *admissionv1.AdmissionRequest, meta *metav1.ObjectMeta) (origin, bool) {
	if req.Kind.Kind != kindWorkflow || req.Operation != admissionv1.Create {
		return origin{}, false
	}
	ns := firstNonEmpty(req.Namespace, meta.Namespace)
	user := strings.TrimSpace(req.UserInfo.Username)
	switch {
	case p.controllers[user]:
		cron := meta.Labels[LabelCronWorkflow]
		for _, ref := range meta.OwnerReferences {
			if ref.Kind == kindCronWorkflow && ref.Name == cron && cron != "" && strings.HasPrefix(ref.APIVersion, argoGroup+"/") {
				return origin{kind: kindCronWorkflow, namespace: ns, name: cron}, true
			}
		}
	case p.servers[user]:
		if from := meta.Labels[LabelResubmittedFrom]; from != "" {
			return origin{kind: kindWorkflow, namespace: ns, name: from}, true
		}
	}
	return origin{}, false
}

// attributed returns the attribution of o; found false when no agent is
// behind it (a person's CronWorkflow, one from before agentgate).
func (p *Provider) attributed(ctx context.Context, o origin) (store.Attribution, bool, error) {
	b := p.attributions.Load()
	if b == nil || b.src == nil {
		return store.Attribution{}, false, nil
	}
	a, err := b.src.AttributionOf(ctx, o.kind, o.namespace, o.name)
	switch {
	case errors.Is(err, store.ErrNotFound) || apperr.KindOf(err) == apperr.KindNotFound:
		return store.Attribution{}, false, nil
	case err != nil:
		return store.Attribution{}, false, fmt.Errorf("argo: attribution of %s: %w", o, err)
	}
	// Recorded as a person's (no agent): not attributed.
	return a, a.AgentID != "" && a.Principal != "", nil
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers/argo"
	"github.com/agentgate/agentgate/internal/providers/argo/wfwatch"
)

// newWorkflowWatch builds the watch that gives back the running-workflow
// leases of finished Argo Workflows (argo.watch), or nil when it is off:
// disabled, or "auto" outside a cluster without a kubeconfig. With
// enabled "true" a cluster that cannot be reached from the configuration
// fails the start; with "auto" it is logged and the leases lapse by TTL.
func (a *App) newWorkflowWatch(cfg config.ArgoWatch, log *slog.Logger) (*wfwatch.Watcher, error) {
	inCluster := os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	switch {
	case cfg.Enabled == config.WatchOff:
		return nil, nil
	case cfg.Enabled == config.WatchAuto && cfg.Kubeconfig == "" && !inCluster:
		log.Debug("not in a Kubernetes cluster and no argo.watch.kubeconfig: running-workflow leases lapse by TTL")
		return nil, nil
	}
	w, err := a.buildWorkflowWatch(cfg, log)
	if err != nil {
		if cfg.Enabled == config.WatchAuto {
			log.Warn("cannot watch Argo Workflows: running-workflow leases lapse by TTL", "err", err)
			return nil, nil
		}
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := w.Probe(ctx); err != nil {
		if cfg.Enabled == config.WatchAuto {
			// In a cluster without Argo Workflows, or without the RBAC:
			// say so once instead of client-go retrying for ever.
			log.Warn("not watching Argo Workflows (argo.watch.enabled auto): running-workflow leases lapse by TTL", "err", err)
			return nil, nil
		}
		log.Warn("Argo Workflows are not readable yet; the watch keeps retrying", "err", err)
	}
	return w, nil
}

// templateUser is a provider that resolves Argo template references (the
// Argo admission webhook) from a source the watch provides.
type templateUser interface {
	UseTemplates(argo.TemplateSource)
}

// attributionUser is a provider that decides what a controller creates
// from an agent's object as the agent's (the Argo admission webhook).
type attributionUser interface {
	UseAttributions(argo.AttributionSource)
}

var (
	_ templateUser    = (*argo.Provider)(nil)
	_ attributionUser = (*argo.Provider)(nil)
)

// probeTimeout bounds the start-up check that the cluster serves Workflows.
const probeTimeout = 10 * time.Second

func (a *App) buildWorkflowWatch(cfg config.ArgoWatch, log *slog.Logger) (*wfwatch.Watcher, error) {
	var (
		rc  *rest.Config
		err error
	)
	if cfg.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("argo.watch: kubernetes client configuration: %w", err)
	}
	rc.UserAgent = "agentgate/argo-workflow-watch"
	client, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("argo.watch: kubernetes client: %w", err)
	}
	// client-go logs through klog; send it to the service's log.
	klog.SetSlogLogger(log.With("component", "client-go"))
	w, err := wfwatch.New(wfwatch.Options{
		Client: client, Namespaces: cfg.Namespaces, Releaser: a.Gate, Resync: cfg.Resync,
		OrphanAfter: cfg.OrphanAfter, ControllerManagers: cfg.ControllerManagers, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("argo.watch: %w", err)
	}
	return w, nil
}

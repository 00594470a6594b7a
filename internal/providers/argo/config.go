package argo

import (
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/secret"
)

// Config is the argo section of agentgate's configuration: the Argo
// Workflows admission webhook, the Argo CD hook gate and notifications,
// Argo CD rollbacks and the Workflow watch.
type Config struct {
	// HookToken authenticates the Argo CD hook Jobs (admission hook
	// presync|postsync) and POST /webhooks/argo; without it every such call
	// is refused.
	HookToken secret.Secret `yaml:"hook_token"`
	// ArgoCDURL and ArgoCDToken read Applications (who started a sync)
	// and roll them back.
	ArgoCDURL   string        `yaml:"argocd_url"`
	ArgoCDToken secret.Secret `yaml:"argocd_token"`
	// ArgoCDNamespace is the namespace of Applications named without one
	// (default argocd).
	ArgoCDNamespace string `yaml:"argocd_namespace"`
	// ServerServiceAccounts are the Argo server's accounts, whose requests
	// carry the signed-in user in the creator labels; ControllerServiceAccounts
	// are the workflow controller's, admitted without a decision.
	ServerServiceAccounts     []string `yaml:"server_service_accounts"`
	ControllerServiceAccounts []string `yaml:"controller_service_accounts"`
	// NamespaceEnvironments maps namespace globs (path.Match) to the
	// environment a Workflow in such a namespace acts in (an exact
	// namespace wins, then the longest glob), so the environment rules
	// (scope, production approval) apply to Workflows too.
	NamespaceEnvironments map[string]string `yaml:"namespace_environments"`
	// Watch releases the concurrent_workflows leases of Workflows that
	// finish.
	Watch WatchConfig `yaml:"watch"`
}

// Values of WatchConfig.Enabled.
const (
	WatchAuto = "auto"
	WatchOn   = "true"
	WatchOff  = "false"
)

// WatchConfig configures the watch on Argo Workflows that gives back an
// agent's running-workflow lease when its Workflow completes or is deleted.
type WatchConfig struct {
	// Enabled is auto (default: watch when running in a Kubernetes cluster
	// or when Kubeconfig is set), true (fail to start without a cluster) or
	// false (leases lapse after their TTL).
	Enabled string `yaml:"enabled"`
	// Kubeconfig is a kubeconfig file to reach the cluster from outside it;
	// empty uses the in-cluster service account.
	Kubeconfig string `yaml:"kubeconfig"`
	// Namespaces limits the watch (a Role per namespace suffices); empty
	// watches every namespace (a ClusterRole is needed).
	Namespaces []string `yaml:"namespaces"`
	// Resync is how often leases are reconciled with the Workflows in the
	// cluster (default 5m).
	Resync time.Duration `yaml:"resync"`
	// OrphanAfter is how long a leased Workflow must be missing from the
	// cluster before its lease is released (default 2m).
	OrphanAfter time.Duration `yaml:"orphan_after"`
	// ControllerManagers are the field managers of the workflow
	// controller (default workflow-controller): a completed phase frees a
	// slot only when one of them owns status.phase in managedFields.
	ControllerManagers []string `yaml:"controller_managers"`
}

// DefaultConfig is the argo section's defaults.
func DefaultConfig() Config {
	return Config{Watch: WatchConfig{Enabled: WatchAuto, Resync: 5 * time.Minute, OrphanAfter: 2 * time.Minute}}
}

// Validate reports each problem of the section through bad, with its key
// relative to the section.
func (c Config) Validate(bad func(key, format string, args ...any)) {
	if c.HookToken.IsSet() && (c.ArgoCDURL == "" || !c.ArgoCDToken.IsSet()) {
		// Without them every hook call would answer 503 and syncs would
		// wait for --wait instead of failing.
		bad("argocd_url", "argo.argocd_url and argo.argocd_token are required with argo.hook_token (agentgate reads the Application to see who synced)")
	}
	switch c.Watch.Enabled {
	case WatchAuto, WatchOn, WatchOff:
	default:
		bad("watch.enabled", "must be auto, true or false, got %q", c.Watch.Enabled)
	}
	if w := c.Watch; w.Resync < time.Second || w.OrphanAfter < time.Second {
		bad("watch.resync", "argo.watch.resync and argo.watch.orphan_after must be at least 1s")
	}
	for glob, env := range c.NamespaceEnvironments {
		if _, err := path.Match(glob, ""); err != nil {
			bad("namespace_environments."+glob, "bad pattern: %v", err)
		}
		if strings.TrimSpace(env) == "" {
			bad("namespace_environments."+glob, "names no environment")
		}
	}
}

// FromConfig builds the provider from its configuration section.
func FromConfig(c Config, log *slog.Logger) (*Provider, error) {
	return New(Options{
		HookToken: c.HookToken, ArgoCDURL: c.ArgoCDURL, ArgoCDToken: c.ArgoCDToken, ArgoCDNamespace: c.ArgoCDNamespace,
		ServerServiceAccounts: c.ServerServiceAccounts, ControllerServiceAccounts: c.ControllerServiceAccounts,
		NamespaceEnvironments: c.NamespaceEnvironments, Logger: log,
	})
}

package argo

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

// Headers of the hook gate (POST /argo/gate, GET /argo/gate/{id}).
const (
	// HeaderApplication names the Application: "<app>" for one in Argo
	// CD's control-plane namespace, "<namespace>/<app>" for one elsewhere.
	HeaderApplication = "X-Agentgate-Application"
	// HeaderPhase is "presync" (the default: decide whether the sync may
	// go on) or "postsync" (report that it succeeded).
	HeaderPhase = "X-Agentgate-Phase"
)

// Hook phases (HeaderPhase values, which are also the events' actions).
const (
	PhasePreSync  = "presync"
	PhasePostSync = "postsync"
)

// AnnotationEnvironment on an Application names its environment; without
// it the destination namespace is the environment.
const AnnotationEnvironment = "agentgate.io/environment"

// Handles of hook and notification events.
const (
	HandleApplication       = "application"
	HandleAppNamespace      = "app_namespace"
	HandleProject           = "project"
	HandleRevision          = "revision"
	HandleOperationStarted  = "operation_started_at"
	HandleDestinationServer = "destination_server"
	HandleDestinationName   = "destination_name"
	HandleHistoryID         = "history_id"
	HandleHookPhase         = "hook_phase"
)

// PrincipalAutomated is the principal of syncs Argo CD's automated sync
// policy starts. It looks human to the gate (see PrincipalLooksMachine):
// it is governed as an agent only when registered as one's principal.
const PrincipalAutomated = "argocd:automated"

// GateRequest implements providers.SyncGate for the Argo CD hook Job
// (`admission hook presync`). It checks the hook token (Authorization:
// Bearer), reads the Application named by X-Agentgate-Application from the
// Argo CD API and returns its sync operation as the event: a sync start
// ("presync") or, with X-Agentgate-Phase: postsync, the report that it
// succeeded. The delivery id is the same for every ask of one operation
// (a retried hook Job is answered from the first decision); the scope is
// the application, whose approvals alone the hook may poll.
func (p *Provider) GateRequest(ctx context.Context, h http.Header) (event.Event, string, string, error) {
	if err := p.checkHookToken(h); err != nil {
		return event.Event{}, "", "", err
	}
	ns, name, err := parseApplication(h.Get(HeaderApplication))
	if err != nil {
		return event.Event{}, "", "", err
	}
	phase := strings.ToLower(strings.TrimSpace(h.Get(HeaderPhase)))
	switch phase {
	case "", PhasePreSync:
		phase = PhasePreSync
	case PhasePostSync:
	default:
		return event.Event{}, "", "", apperr.Invalid("%s %q is not presync or postsync", HeaderPhase, phase)
	}
	app, err := p.cd.application(ctx, ns, name)
	if err != nil {
		return event.Event{}, "", "", err
	}
	ev, opKey, err := p.syncEvent(app, phase)
	if err != nil {
		return event.Event{}, "", "", err
	}
	return ev, phase + "-" + ev.Repo + "-" + opKey, ev.Repo, nil
}

// parseApplication splits "<app>" or "<namespace>/<app>".
func parseApplication(v string) (ns, name string, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "", apperr.Invalid("missing %s header: name the Argo CD application, as <app> or <namespace>/<app>", HeaderApplication)
	}
	ns, name, found := strings.Cut(v, "/")
	if !found {
		ns, name = "", v
	}
	if !validName(name) || (found && !validName(ns)) {
		return "", "", apperr.Invalid("%s %q is not <app> or <namespace>/<app> with Kubernetes names", HeaderApplication, clip(v, 100))
	}
	return ns, name, nil
}

// validName reports whether s is a Kubernetes object name (RFC 1123
// subdomain): lower-case alphanumerics, '-' and '.', alphanumeric at both
// ends, at most 253 bytes.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && ((c != '-' && c != '.') || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// syncEvent builds the event of an Application's running sync operation
// and the key of that operation (its start time, else its revision).
func (p *Provider) syncEvent(app *application, phase string) (event.Event, string, error) {
	m := app.Metadata
	repo := m.Name
	if m.Namespace != "" && m.Namespace != p.cdNamespace {
		repo = m.Namespace + "/" + m.Name
	}
	op := app.Operation
	var started *time.Time
	if st := app.Status.OperationState; st != nil {
		if op == nil {
			op = &st.Operation
		}
		started = st.StartedAt
	}
	if op == nil || (op.InitiatedBy.Username == "" && !op.InitiatedBy.Automated) {
		return event.Event{}, "", apperr.New(apperr.KindConflict, "application %q has no sync operation in progress: run `admission hook presync` as a PreSync (or PostSync) hook", repo)
	}
	principal, machine := argoCDPrincipal(op.InitiatedBy.Username, op.InitiatedBy.Automated)
	revision := syncRevision(app, op)
	dest := app.Spec.Destination
	ev := event.Event{
		Provider:    Name,
		Kind:        event.KindSync,
		Action:      phase,
		Phase:       event.PhaseStart,
		Repo:        clip(repo, maxField),
		Environment: clip(firstNonEmpty(m.Annotations[AnnotationEnvironment], dest.Namespace), maxField),
		Namespace:   clip(strings.TrimSpace(dest.Namespace), maxField),
		Principal:   principal,
		Machine:     machine,
	}
	if isSHA(revision) {
		ev.SHA = revision
	}
	if src := firstSource(app); src != nil {
		ev.Ref = clip(strings.TrimSpace(src.TargetRevision), maxField)
	}
	if phase == PhasePostSync {
		ev.Phase, ev.Action = event.PhaseReport, event.ActionSucceeded
	}

	h := fields{}
	h.set(HandleApplication, m.Name)
	h.set(HandleAppNamespace, m.Namespace)
	h.set(HandleProject, app.Spec.Project)
	h.set(HandleRevision, revision)
	h.set(HandleDestinationServer, dest.Server)
	h.set(HandleDestinationName, dest.Name)
	h.set(HandleHookPhase, phase)
	if started != nil {
		h.set(HandleOperationStarted, started.UTC().Format(time.RFC3339))
	}
	if phase == PhasePostSync {
		// Argo CD appends this operation to the history once its hooks are
		// done, with the id after the last one.
		next := int64(0)
		if hist := app.Status.History; len(hist) > 0 {
			next = hist[len(hist)-1].ID + 1
		}
		h.set(HandleHistoryID, strconv.FormatInt(next, 10))
	}
	ev.Handles = h.orNil()

	l := fields{}
	l.set("project", app.Spec.Project)
	l.set("automated", strconv.FormatBool(op.InitiatedBy.Automated))
	l.set("destination_server", dest.Server)
	l.set("destination_name", dest.Name)
	if src := firstSource(app); src != nil {
		l.set("repo_url", src.RepoURL)
		l.set("chart", src.Chart)
	}
	ev.Labels = l.orNil()

	key := revision
	if started != nil {
		key = started.UTC().Format("20060102T150405Z")
	}
	if key == "" {
		return event.Event{}, "", apperr.New(apperr.KindConflict, "application %q's sync operation has neither a start time nor a revision", repo)
	}
	return ev, clip(key, 64), nil
}

// argoCDPrincipal names who started a sync: "argocd:automated" for the
// automated sync policy, "argocd:proj:<p>:role:<r>" (machine) for a
// project role token (whose subject Argo CD writes "proj:<p>:<r>"),
// "argocd:<username>" for an account or SSO user.
func argoCDPrincipal(username string, automated bool) (string, bool) {
	username = strings.TrimSpace(username)
	if automated {
		return PrincipalAutomated, false
	}
	if rest, ok := strings.CutPrefix(username, "proj:"); ok {
		// Any "proj:" subject is a project token (event.PrincipalLooksMachine).
		if parts := strings.Split(rest, ":"); len(parts) == 2 && parts[0] != "" && parts[1] != "" {
			return clip("argocd:proj:"+parts[0]+":role:"+parts[1], maxField), true
		}
		return clip("argocd:"+username, maxField), true
	}
	return clip("argocd:"+username, maxField), false
}

// syncRevision is the revision being synced: the operation's, else the
// sync result's, else the one Argo CD compared against (first source of a
// multi-source app).
func syncRevision(app *application, op *operation) string {
	var cands []string
	if op.Sync != nil {
		cands = append(cands, op.Sync.Revision)
		cands = append(cands, op.Sync.Revisions...)
	}
	if st := app.Status.OperationState; st != nil && st.SyncResult != nil {
		cands = append(cands, st.SyncResult.Revision)
		cands = append(cands, st.SyncResult.Revisions...)
	}
	cands = append(cands, app.Status.Sync.Revision)
	cands = append(cands, app.Status.Sync.Revisions...)
	return clip(firstNonEmpty(cands...), maxField)
}

func firstSource(app *application) *appSource {
	if app.Spec.Source != nil {
		return app.Spec.Source
	}
	if len(app.Spec.Sources) > 0 {
		return &app.Spec.Sources[0]
	}
	return nil
}

// isSHA reports whether s is a full git commit id.
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

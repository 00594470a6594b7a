package github

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// GitHub event names this provider reads.
const (
	eventPing                     = "ping"
	eventWorkflowRun              = "workflow_run"
	eventWorkflowJob              = "workflow_job"
	eventDeploymentProtectionRule = "deployment_protection_rule"
	eventDeployment               = "deployment"
	eventDeploymentStatus         = "deployment_status"
)

// maxDeliveryID caps the X-GitHub-Delivery header (GitHub sends a GUID).
const maxDeliveryID = 200

// Parse implements providers.Provider. The delivery id and event name are
// required; ping and events that are not governed yield no events and an
// Ignored reason; a malformed body is apperr.KindInvalid with a message that
// says what is wrong.
func (p *Provider) Parse(h http.Header, body []byte) (providers.Delivery, error) {
	id := strings.TrimSpace(h.Get(HeaderDelivery))
	if id == "" {
		return providers.Delivery{}, apperr.Invalid("header %s is required (GitHub's delivery id)", HeaderDelivery)
	}
	if len(id) > maxDeliveryID {
		return providers.Delivery{}, apperr.Invalid("header %s is longer than %d bytes", HeaderDelivery, maxDeliveryID)
	}
	name := strings.TrimSpace(h.Get(HeaderEvent))
	if name == "" {
		return providers.Delivery{}, apperr.Invalid("header %s is required (the webhook event name)", HeaderEvent)
	}
	payload, err := payloadOf(h, body)
	if err != nil {
		return providers.Delivery{}, err
	}
	d := providers.Delivery{ID: id}
	if name == eventPing {
		d.Ignored = eventPing
		return d, nil
	}
	evs, ignored, err := p.normalize(name, payload)
	if err != nil {
		return providers.Delivery{}, err
	}
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return providers.Delivery{}, err
		}
	}
	d.Events, d.Ignored = evs, ignored
	return d, nil
}

// payloadOf returns the JSON payload: the body, or the payload field of a
// form-encoded body.
func payloadOf(h http.Header, body []byte) ([]byte, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		return body, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, apperr.Invalid("invalid form-encoded body: %s", err.Error())
	}
	if !form.Has("payload") {
		return nil, apperr.Invalid("form-encoded body has no payload field")
	}
	return []byte(form.Get("payload")), nil
}

// envelope holds the fields every governed payload shares and those that
// go-github v62's event types lack.
type envelope struct {
	Action string `json:"action"`
	// Ref and SHA are top-level in deployment_protection_rule payloads.
	Ref string `json:"ref"`
	SHA string `json:"sha"`
	// WorkflowRun and Workflow are sent with deployment_status and
	// deployment_protection_rule.
	WorkflowRun *gh.WorkflowRun `json:"workflow_run"`
	Workflow    *gh.Workflow    `json:"workflow"`
	Deployment  *struct {
		PerformedViaGitHubApp *gh.App `json:"performed_via_github_app"`
		TransientEnvironment  *bool   `json:"transient_environment"`
		ProductionEnvironment *bool   `json:"production_environment"`
	} `json:"deployment"`
}

// normalize dispatches on the event name.
func (p *Provider) normalize(name string, payload []byte) ([]event.Event, string, error) {
	switch name {
	case eventWorkflowRun, eventWorkflowJob, eventDeploymentProtectionRule, eventDeployment, eventDeploymentStatus:
	default:
		// Only the action is read, so that any well-formed payload of an
		// event that is not governed is acknowledged.
		var head struct {
			Action json.RawMessage `json:"action"`
		}
		if err := json.Unmarshal(payload, &head); err != nil {
			return nil, "", providers.InvalidJSON(name, err)
		}
		var action string
		_ = json.Unmarshal(head.Action, &action) // a non-string action is left out of the reason
		return nil, notGoverned(name, action), nil
	}
	// The envelope's extra fields serve only the deployment events; a
	// workflow_run or workflow_job payload (20 KB and more) is decoded once.
	var env envelope
	if name != eventWorkflowRun && name != eventWorkflowJob {
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, "", providers.InvalidJSON(name, err)
		}
	}
	parsed, err := gh.ParseWebHook(name, payload)
	if err != nil {
		return nil, "", providers.InvalidJSON(name, err)
	}
	var ev *event.Event
	switch e := parsed.(type) {
	case *gh.WorkflowRunEvent:
		ev, err = workflowRun(e)
	case *gh.WorkflowJobEvent:
		ev, err = p.workflowJob(e)
	case *gh.DeploymentProtectionRuleEvent:
		ev, err = deploymentProtectionRule(e, &env)
	case *gh.DeploymentEvent:
		ev, err = deployment(e, &env)
	case *gh.DeploymentStatusEvent:
		ev, err = deploymentStatus(e, &env)
	default:
		return nil, "", apperr.Invalid("invalid %s payload: not a JSON object", name)
	}
	if err != nil {
		return nil, "", err
	}
	if ev == nil {
		action := env.Action
		if a, ok := parsed.(interface{ GetAction() string }); ok {
			action = a.GetAction()
		}
		reason := notGoverned(name, action)
		if name == eventDeploymentStatus && env.Action == "created" {
			reason = notGoverned(name, action+" (state "+providers.Clip(stateOf(parsed), 32)+")")
		}
		return nil, reason, nil
	}
	return []event.Event{*ev}, "", nil
}

// stateOf is a deployment_status payload's state, for the Ignored reason.
func stateOf(parsed any) string {
	if e, ok := parsed.(*gh.DeploymentStatusEvent); ok {
		return e.GetDeploymentStatus().GetState()
	}
	return ""
}

// notGoverned is the Ignored reason of a delivery agentgate does not govern.
func notGoverned(name, action string) string {
	name = providers.Clip(name, 64)
	if action == "" {
		return name + " is not governed"
	}
	return name + "." + providers.Clip(action, 64) + " is not governed"
}

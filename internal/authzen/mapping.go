package authzen

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

// Provider is the event provider of AuthZEN evaluations.
const Provider = "authzen"

// Agents finds a registered agent by name; registry.Service is one.
type Agents interface {
	Get(ctx context.Context, idOrName string) (agents.Agent, error)
}

// ToEvent maps an evaluation onto the event the gate decides:
//
//   - with subject.type "agent", subject.id is a registered agent's name
//     (its first principal) or an agent's principal, and the actor is a
//     machine; any other type names the principal "<type>:<id>"
//     ("user:alice@acmecorp.com", "github:octocat"), a machine when the id
//     has a machine account's shape;
//     subject.properties.initiator and .session_id are whom it acts for and
//     its session;
//   - action.name build, deploy, sync or workflow is that event kind (with
//     action.properties.action as the event's action); any other name is
//     an API call (kind api, the name as the action, labelled api_call);
//   - resource type repository (or repo, project) names the repository,
//     environment the environment and namespace the namespace; another
//     type is kept in the labels resource_type and resource_id;
//     resource.properties repo, ref, sha, environment and namespace set
//     those fields;
//   - context.trigger (prompt, reasoning, source, triggered_by) is what
//     prompted the agent.
func ToEvent(ctx context.Context, reg Agents, e Evaluation) (event.Event, error) {
	ev := event.Event{Provider: Provider, Labels: map[string]string{}}
	id := strings.TrimSpace(e.Subject.ID)
	switch typ := strings.ToLower(strings.TrimSpace(e.Subject.Type)); {
	case typ == "agent" && strings.Contains(id, ":"):
		// An agent's principal; the PEP says it is an agent, so an
		// unregistered one is an unregistered agent.
		ev.Principal, ev.Machine = id, true
	case typ == "agent":
		a, err := reg.Get(ctx, id)
		if err != nil {
			return event.Event{}, fmt.Errorf("subject: %w", err)
		}
		if len(a.Principals) == 0 {
			return event.Event{}, apperr.Invalid("subject: agent %s has no principal to act as", a.Name)
		}
		ev.Principal, ev.Machine = a.Principals[0], true
	default:
		// {"type": "user", "id": "alice@acmecorp.com"} is the principal
		// user:alice@acmecorp.com, {"type": "github", "id": "octocat"}
		// github:octocat. An id with a machine account's shape ("x[bot]",
		// a service account) is a machine whatever the type says: an
		// agent's login sent as a person's is an unregistered agent.
		ev.Principal = typ + ":" + id
		_, name, _ := strings.Cut(id, ":")
		ev.Machine = event.NameLooksMachine(id) || event.NameLooksMachine(name) || event.PrincipalLooksMachine(id)
	}
	if m, ok := e.Subject.Properties["machine"]; ok {
		b, ok := m.(bool)
		if !ok {
			return event.Event{}, apperr.Invalid("subject.properties.machine must be a boolean")
		}
		ev.Machine = ev.Machine || b
	}
	if err := stringProps(e.Subject.Properties, "subject.properties", map[string]*string{
		"initiator": &ev.Initiator, "session_id": &ev.SessionID}); err != nil {
		return event.Event{}, err
	}
	var action string
	if err := stringProps(e.Action.Properties, "action.properties", map[string]*string{"action": &action}); err != nil {
		return event.Event{}, err
	}
	switch k := event.Kind(e.Action.Name); k {
	case event.KindBuild, event.KindDeploy, event.KindSync, event.KindWorkflow:
		ev.Kind, ev.Action = k, action
		if ev.Action == "" {
			ev.Action = "requested"
		}
	default:
		ev.Kind, ev.Action = event.KindAPI, e.Action.Name
		ev.Labels["api_call"] = "true"
	}
	switch e.Resource.Type {
	case "repository", "repo", "project":
		ev.Repo = e.Resource.ID
	case "environment":
		ev.Environment = e.Resource.ID
	case "namespace":
		ev.Namespace = e.Resource.ID
	default:
		ev.Labels["resource_type"], ev.Labels["resource_id"] = e.Resource.Type, e.Resource.ID
	}
	if err := stringProps(e.Resource.Properties, "resource.properties", map[string]*string{
		"repo": &ev.Repo, "ref": &ev.Ref, "sha": &ev.SHA, "environment": &ev.Environment, "namespace": &ev.Namespace}); err != nil {
		return event.Event{}, err
	}
	if t, ok := e.Context["trigger"]; ok {
		obj, ok := t.(map[string]any)
		if !ok {
			return event.Event{}, apperr.Invalid("context.trigger must be an object")
		}
		if err := stringProps(obj, "context.trigger", map[string]*string{"prompt": &ev.Trigger.Prompt, "reasoning": &ev.Trigger.Reasoning,
			"source": &ev.Trigger.Source, "triggered_by": &ev.Trigger.TriggeredBy}); err != nil {
			return event.Event{}, err
		}
	}
	if err := ev.Validate(); err != nil {
		return event.Event{}, err
	}
	return ev, nil
}

// stringProps copies the named string properties of m into their fields; a
// named property that is not a string is an error.
func stringProps(m map[string]any, at string, fields map[string]*string) error {
	for name, dst := range fields {
		v, ok := m[name]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return apperr.Invalid("%s.%s must be a string", at, name)
		}
		*dst = s
	}
	return nil
}

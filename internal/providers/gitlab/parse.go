package gitlab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// X-Gitlab-Event values this provider reads. Project and group hooks name
// the event; system hooks send "System Hook" with the same bodies, so the
// body's object_kind decides.
const (
	hookPipeline   = "Pipeline Hook"
	hookJob        = "Job Hook"
	hookDeployment = "Deployment Hook"
	hookSystem     = "System Hook"
)

// object_kind values of the governed bodies.
const (
	kindPipeline   = "pipeline"
	kindBuild      = "build"
	kindDeployment = "deployment"
)

// hookKinds maps a governed hook name to the object_kind its body carries.
func hookKind(name string) (string, bool) {
	switch name {
	case hookPipeline:
		return kindPipeline, true
	case hookJob:
		return kindBuild, true
	case hookDeployment:
		return kindDeployment, true
	}
	return "", false
}

// maxDeliveryID caps the delivery id header (GitLab sends a UUID).
const maxDeliveryID = 200

// Parse implements providers.Provider. The delivery id is Idempotency-Key,
// else X-Gitlab-Event-UUID, else the body's SHA-256; X-Gitlab-Event is
// required; events that
// are not governed yield no events and an Ignored reason; a malformed body
// is apperr.KindInvalid with a message that says what is wrong.
func (p *Provider) Parse(h http.Header, body []byte) (providers.Delivery, error) {
	id := strings.TrimSpace(h.Get(HeaderIdempotencyKey))
	if id == "" {
		id = strings.TrimSpace(h.Get(HeaderEventUUID))
	}
	if id == "" {
		// A GitLab too old to name its deliveries sends a retry with the
		// same body: its digest de-duplicates as well, and refusing such a
		// delivery (4xx) would only push the hook into auto-disabling.
		sum := sha256.Sum256(body)
		id = "body-sha256:" + hex.EncodeToString(sum[:])
	}
	if len(id) > maxDeliveryID {
		return providers.Delivery{}, apperr.Invalid("delivery id header is longer than %d bytes", maxDeliveryID)
	}
	name := strings.TrimSpace(h.Get(HeaderEvent))
	if name == "" {
		return providers.Delivery{}, apperr.Invalid("header %s is required (the webhook event name)", HeaderEvent)
	}
	d := providers.Delivery{ID: id}
	want, governed := hookKind(name)
	if !governed && name != hookSystem {
		// Only checked to be JSON, so that any well-formed payload of an
		// event that is not governed is acknowledged.
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return providers.Delivery{}, providers.InvalidJSON(name, err)
		}
		d.Ignored = notGoverned(name)
		return d, nil
	}
	var head struct {
		ObjectKind json.RawMessage `json:"object_kind"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return providers.Delivery{}, providers.InvalidJSON(name, err)
	}
	var kind string
	_ = json.Unmarshal(head.ObjectKind, &kind) // a missing or non-string kind is checked below
	if governed && kind != want {
		return providers.Delivery{}, apperr.Invalid("invalid %s payload: object_kind is %q, want %q", name, providers.Clip(kind, 64), want)
	}
	var (
		evs []event.Event
		err error
	)
	switch kind {
	case kindPipeline:
		evs, err = p.pipeline(name, body)
	case kindBuild:
		evs, err = p.job(name, body)
	case kindDeployment:
		evs, err = p.deployment(name, body)
	default:
		if kind == "" {
			d.Ignored = notGoverned(name + " without an object_kind")
		} else {
			d.Ignored = notGoverned(name + " " + providers.Clip(kind, 64))
		}
		return d, nil
	}
	if err != nil {
		return providers.Delivery{}, err
	}
	instance := providers.Clip(strings.TrimSpace(h.Get(HeaderInstance)), maxHandle)
	for i := range evs {
		if instance != "" {
			if evs[i].Labels == nil {
				evs[i].Labels = map[string]string{}
			}
			evs[i].Labels["instance"] = instance
		}
		if err := evs[i].Validate(); err != nil {
			return providers.Delivery{}, err
		}
	}
	if len(evs) == 0 {
		d.Ignored = notGoverned(name + " " + kind + " (" + p.statusOf(kind, body) + ")")
		return d, nil
	}
	d.Events = evs
	return d, nil
}

// statusOf reads the status of a governed body, for the Ignored reason.
func (*Provider) statusOf(kind string, body []byte) string {
	var s struct {
		Attrs struct {
			Status string `json:"status"`
		} `json:"object_attributes"`
		BuildStatus string `json:"build_status"`
		Status      string `json:"status"`
	}
	_ = json.Unmarshal(body, &s) // already decoded once; only for the reason
	switch kind {
	case kindPipeline:
		return "status " + providers.Clip(s.Attrs.Status, 32)
	case kindBuild:
		return "build_status " + providers.Clip(s.BuildStatus, 32)
	}
	return "status " + providers.Clip(s.Status, 32)
}

// notGoverned is the Ignored reason of a delivery agentgate does not govern.
func notGoverned(what string) string {
	return providers.Clip(what, 160) + " is not governed"
}

// decode unmarshals a governed body into v.
func decode(name string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return providers.InvalidJSON(name, err)
	}
	return nil
}

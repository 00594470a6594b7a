package generic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Header names.
const (
	HeaderSignature = "X-Agentgate-Signature-256"
	HeaderDelivery  = "X-Agentgate-Delivery"
)

// Provider implements providers.Provider for the generic webhook.
type Provider struct {
	secret []byte
}

var _ providers.Provider = (*Provider)(nil)

// New returns the provider; with an empty secret it refuses every delivery.
func New(secret string) *Provider { return &Provider{secret: []byte(secret)} }

// Name implements providers.Provider.
func (*Provider) Name() string { return "generic" }

// Verify implements providers.Provider.
func (p *Provider) Verify(h http.Header, body []byte) error {
	return providers.VerifyHMACSHA256(p.secret, h.Get(HeaderSignature), body)
}

// Parse implements providers.Provider.
func (p *Provider) Parse(h http.Header, body []byte) (providers.Delivery, error) {
	id := strings.TrimSpace(h.Get(HeaderDelivery))
	if id == "" {
		return providers.Delivery{}, apperr.Invalid("header %s is required (a unique id per delivery, reused on retries)", HeaderDelivery)
	}
	if len(id) > 200 {
		return providers.Delivery{}, apperr.Invalid("header %s is longer than 200 bytes", HeaderDelivery)
	}
	ev, err := DecodeEvent(body)
	if err != nil {
		return providers.Delivery{}, err
	}
	if ev.Provider == "" {
		ev.Provider = "generic"
	}
	return providers.Delivery{ID: id, Events: []event.Event{ev}}, nil
}

// DecodeEvent strictly decodes and validates one normalized event. An
// event whose principal is invalid is returned for the gate to refuse.
func DecodeEvent(body []byte) (event.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var ev event.Event
	if err := dec.Decode(&ev); err != nil {
		return event.Event{}, apperr.Invalid("invalid event JSON: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return event.Event{}, apperr.Invalid("invalid event JSON: unexpected data after the event object")
	}
	if ev.Provider == "" {
		ev.Provider = "generic"
	}
	if err := checkProviderName(ev.Provider); err != nil {
		return event.Event{}, err
	}
	// An invalid principal is left to the gate, which refuses the event
	// and records the attempt in the audit log.
	if err := ev.Validate(); err != nil && !errors.Is(err, event.ErrInvalidPrincipal) {
		return event.Event{}, err
	}
	return ev, nil
}

// reserved reports the names of providers with their own webhook: a
// generic sender may not speak for them.
func reserved(name string) bool {
	switch name {
	case "github", "gitlab", "argo", "argocd":
		return true
	}
	return false
}

// checkProviderName keeps the provider label a short lowercase name (it
// becomes a metric label) that no dedicated provider owns.
func checkProviderName(name string) error {
	if reserved(name) {
		return apperr.Invalid("event.provider %q belongs to a dedicated webhook; name your CI system instead (jenkins, buildkite, ...)", name)
	}
	if len(name) > 32 {
		return apperr.Invalid("event.provider is longer than 32 bytes")
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '-')) {
			return apperr.Invalid("event.provider %q must be a lowercase name such as jenkins or buildkite", name)
		}
	}
	return nil
}

// describeJSONError turns encoding/json errors into messages that say where.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	return err.Error()
}

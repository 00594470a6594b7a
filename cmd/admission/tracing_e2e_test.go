package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/agentgate/agentgate/internal/providers"
)

// collector is an OTLP/HTTP traces receiver speaking the protocol's
// protobuf encoding, keeping every span it is sent.
type collector struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces in protobuf", http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		c.resource = rs.GetResource().GetAttributes()
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// named returns the spans called name.
func (c *collector) named(name string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v := kv.Value.GetStringValue(); v != "" {
				return v
			}
			return kv.Value.String()
		}
	}
	return ""
}

// TestTracesOfADecision sends signed generic webhooks carrying a W3C
// traceparent to a service exporting to an OTLP collector, and reads the
// spans: the request's continues the sender's trace, and verify, parse and
// every decision stage are its children; a forged delivery's trace stops
// at verify; no secret is in any span.
func TestTracesOfADecision(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	const secret = "tracing-generic-secret-0123456789"
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_WEBHOOKS_GENERIC_SECRET": secret, "ADMISSION_TRACING_ENDPOINT": srv.URL,
	})
	e := &e2e{t: t, h: a.Server.Handler()}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "traced-bot", "type": "coding", "owner": "alice@example.com",
		"capabilities": []string{"build"}, "environments": []string{"staging"}, "principals": []string{"github-app:traced-bot"}}, http.StatusCreated, nil)

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	send := func(delivery string, forged bool) int {
		body, _ := json.Marshal(map[string]any{"kind": "build", "repo": "acme/api", "sha": "4f2c9e1", "environment": "staging", "principal": "github-app:traced-bot"})
		req := httptest.NewRequest(http.MethodPost, "/webhooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Agentgate-Delivery", delivery)
		sig := providers.SignHMACSHA256([]byte(secret), body)
		if forged {
			sig = providers.SignHMACSHA256([]byte("not-the-secret"), body)
		}
		req.Header.Set("X-Agentgate-Signature-256", sig)
		req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
		rec := httptest.NewRecorder()
		a.Server.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := send("traced-1", false); code != http.StatusOK {
		t.Fatalf("signed delivery = %d", code)
	}
	if code := send("traced-2", true); code != http.StatusUnauthorized {
		t.Fatalf("forged delivery = %d", code)
	}
	if err := a.Close(); err != nil { // exports what is buffered
		t.Fatal(err)
	}

	requests := col.named("POST /webhooks/:provider")
	if len(requests) != 2 {
		t.Fatalf("got %d request spans, want 2", len(requests))
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range col.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	parentName := func(s *tracepb.Span) string {
		if p := byID[hex.EncodeToString(s.ParentSpanId)]; p != nil {
			return p.Name
		}
		return hex.EncodeToString(s.ParentSpanId)
	}
	for _, r := range requests {
		if hex.EncodeToString(r.TraceId) != traceID || hex.EncodeToString(r.ParentSpanId) != parentID || r.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Fatalf("request span %s does not continue the sender's trace (trace %x parent %x kind %v)", r.Name, r.TraceId, r.ParentSpanId, r.Kind)
		}
	}
	tests := []struct {
		name, parent string
		want         int
	}{
		{name: "webhook.verify", parent: "POST /webhooks/:provider", want: 2},
		{name: "webhook.parse", parent: "POST /webhooks/:provider", want: 1},
		{name: "gate.decide", parent: "POST /webhooks/:provider", want: 1},
		{name: "gate.identify", parent: "gate.decide", want: 1},
		{name: "gate.kill_switch", parent: "gate.decide", want: 1},
		{name: "gate.quota_usage", parent: "gate.decide", want: 1},
		{name: "gate.policy", parent: "gate.decide", want: 1},
		{name: "gate.commit", parent: "gate.decide", want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spans := col.named(tc.name)
			if len(spans) != tc.want {
				t.Fatalf("%d spans named %s, want %d", len(spans), tc.name, tc.want)
			}
			for _, s := range spans {
				if got := parentName(s); got != tc.parent || hex.EncodeToString(s.TraceId) != traceID {
					t.Fatalf("%s is a child of %s in trace %x, want of %s in %s", tc.name, got, s.TraceId, tc.parent, traceID)
				}
			}
		})
	}
	decide := col.named("gate.decide")[0]
	for key, want := range map[string]string{"agentgate.outcome": "allow", "agentgate.agent": "traced-bot", "agentgate.agent.type": "coding", "agentgate.provider": "generic"} {
		if got := attr(decide, key); got != want {
			t.Errorf("gate.decide %s = %q, want %q", key, got, want)
		}
	}
	if attr(decide, "agentgate.decision_id") == "" || attr(decide, "agentgate.policy.revision") == "" {
		t.Errorf("gate.decide lacks the decision id or policy revision: %v", decide.Attributes)
	}
	failed := 0
	for _, s := range col.named("webhook.verify") {
		if s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed verify spans, want 1 (the forged delivery)", failed)
	}
	resource := map[string]string{}
	for _, kv := range col.resource {
		resource[kv.Key] = kv.Value.GetStringValue()
	}
	if resource["service.name"] != "agentgate" || resource["service.instance.id"] == "" {
		t.Errorf("resource = %v", resource)
	}
	everything, _ := json.Marshal(col.spans)
	for _, s := range []string{secret, e2eAdmin} {
		if strings.Contains(string(everything), s) {
			t.Fatalf("a secret is in the exported spans")
		}
	}
}

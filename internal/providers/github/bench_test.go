package github

import (
	"os"
	"testing"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
	fx "github.com/agentgate/agentgate/internal/testutil/fixtures"
)

// BenchmarkVerifyParse measures what a workflow_run delivery costs before
// the decision: the signature check over the body and the parse into an
// event (one decode into go-github's types).
func BenchmarkVerifyParse(b *testing.B) {
	body, err := os.ReadFile(fx.Path("github", "workflow_run.requested.copilot.json"))
	if err != nil {
		b.Fatal(err)
	}
	p := newProvider(b, Options{WebhookSecret: secret.New("bench-secret", "test")})
	h := headers(eventWorkflowRun, "d-1")
	h.Set(HeaderSignature, providers.SignHMACSHA256([]byte("bench-secret"), body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(h, body); err != nil {
			b.Fatal(err)
		}
		d, err := p.Parse(h, body)
		if err != nil || len(d.Events) != 1 {
			b.Fatalf("parse: %v, %d events", err, len(d.Events))
		}
	}
}

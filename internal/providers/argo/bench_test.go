package argo

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/agentgate/agentgate/internal/event"
)

// verdictOnly answers every decision with a fixed verdict, recording
// nothing, so the benchmark measures the webhook's own work.
type verdictOnly Verdict

func (v verdictOnly) Decide(context.Context, event.Event, string) (Verdict, error) {
	return Verdict(v), nil
}

// BenchmarkReview measures what the admission webhook adds to a decision:
// decoding the AdmissionReview and the object into the argo-workflows/v3
// types, hashing the spec, building the event, and encoding the answer.
func BenchmarkReview(b *testing.B) {
	small := readFixtures(b, "admission")["workflow.create.agent"]
	cases := []struct {
		name string
		body []byte
	}{
		{name: "fixture", body: small},
		{name: "200-templates", body: bigReview(b, 200)},
	}
	p := newProvider(b, Options{})
	d := verdictOnly{Effective: EffectiveAllow, DecisionID: "dec-1"}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Review(context.Background(), tc.body, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bigReview is an AdmissionReview of a Workflow with n container templates
// chained by steps, each with parameters, resources and a retry strategy.
func bigReview(b *testing.B, n int) []byte {
	b.Helper()
	templates := []any{}
	var steps []any
	for i := range n {
		name := fmt.Sprintf("step-%03d", i)
		templates = append(templates, map[string]any{
			"name":   name,
			"inputs": map[string]any{"parameters": []any{map[string]any{"name": "shard", "value": fmt.Sprint(i)}}},
			"container": map[string]any{"image": "alpine:3.20", "command": []any{"sh", "-c"}, "args": []any{"echo {{inputs.parameters.shard}}"},
				"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}}},
			"retryStrategy": map[string]any{"limit": "2", "retryPolicy": "OnFailure"},
		})
		steps = append(steps, []any{map[string]any{"name": name, "template": name}})
	}
	templates = append(templates, map[string]any{"name": "main", "steps": steps})
	obj := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"name": "big-x7k2p", "generateName": "big-", "namespace": "agents", "uid": "u-big"},
		"spec": map[string]any{"entrypoint": "main", "serviceAccountName": "agent-runner", "activeDeadlineSeconds": 3600,
			"templates": templates},
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		b.Fatal(err)
	}
	return admissionBody(kindWorkflow, "CREATE", string(raw), "")
}

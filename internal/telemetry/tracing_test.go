package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTracingSampling checks when spans are recorded: never with tracing
// off; by the ratio on, whatever a sender's traceparent says.
func TestTracingSampling(t *testing.T) {
	remote := func(sampled bool) context.Context {
		tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
		sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
		cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true}
		if sampled {
			cfg.TraceFlags = trace.FlagsSampled
		}
		return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(cfg))
	}
	tests := []struct {
		name     string
		opts     TracingOptions
		ctx      context.Context
		wantRecd bool
	}{
		{name: "off", opts: TracingOptions{}, ctx: context.Background()},
		{name: "off, sampled traceparent", opts: TracingOptions{}, ctx: remote(true)},
		{name: "on, ratio 1", opts: TracingOptions{Endpoint: "http://127.0.0.1:1", SampleRatio: 1}, ctx: context.Background(), wantRecd: true},
		{name: "on, ratio 1, unsampled traceparent", opts: TracingOptions{Endpoint: "http://127.0.0.1:1", SampleRatio: 1}, ctx: remote(false), wantRecd: true},
		{name: "on, ratio 0", opts: TracingOptions{Endpoint: "http://127.0.0.1:1", SampleRatio: 0}, ctx: context.Background()},
		{name: "on, ratio 0, sampled traceparent cannot force recording", opts: TracingOptions{Endpoint: "http://127.0.0.1:1", SampleRatio: 0}, ctx: remote(true)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTracing(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Tracer().Start(tc.ctx, "x")
			if span.IsRecording() != tc.wantRecd {
				t.Fatalf("recording = %v, want %v", span.IsRecording(), tc.wantRecd)
			}
			span.End()
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // nothing listens at the endpoint: do not wait to export
			_ = tr.Shutdown(ctx)
		})
	}
	var nilTracing *Tracing
	if _, span := nilTracing.Tracer().Start(context.Background(), "x"); span.IsRecording() {
		t.Fatal("a nil Tracing records")
	}
}

package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of agentgate's spans.
const TracerName = "github.com/agentgate/agentgate"

// TracingOptions configure traces. An empty Endpoint turns tracing off.
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP collector address: a base URL
	// (/v1/traces is added) or the full traces URL.
	Endpoint string
	// SampleRatio is the share of traces recorded (0 to 1).
	SampleRatio float64
	// ServiceName, Version and InstanceID describe this process.
	ServiceName, Version, InstanceID string
	Logger                           *slog.Logger
}

// Tracing is the tracer agentgate's components take, and its exporter.
// Off, it is a no-op tracer that records nothing and costs next to
// nothing.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider
	// Propagator reads and writes W3C trace context headers.
	Propagator propagation.TextMapPropagator
}

// NewTracing builds the tracer provider and its OTLP/HTTP exporter. The
// exporter connects lazily: a collector that is down loses spans (logged
// by the exporter), never decisions.
func NewTracing(ctx context.Context, o TracingOptions) (*Tracing, error) {
	t := &Tracing{provider: noop.NewTracerProvider(), Propagator: propagation.TraceContext{}}
	if o.Endpoint == "" {
		return t, nil
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing: endpoint: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", o.ServiceName),
		attribute.String("service.version", o.Version),
		attribute.String("service.instance.id", o.InstanceID),
	)
	ratio := sdktrace.TraceIDRatioBased(o.SampleRatio)
	t.sdk = sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		// A sender's traceparent continues its trace, but does not
		// decide whether agentgate records it.
		sdktrace.WithSampler(sdktrace.ParentBased(ratio,
			sdktrace.WithRemoteParentSampled(ratio), sdktrace.WithRemoteParentNotSampled(ratio))),
	)
	t.provider = t.sdk
	if o.Logger != nil {
		o.Logger.Info("tracing on", "endpoint", u.Redacted(), "sample_ratio", o.SampleRatio)
	}
	return t, nil
}

// EndSpan ends a span, marking it failed with err when err is set.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Tracer returns agentgate's tracer; a nil Tracing gives a no-op one.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(TracerName)
	}
	return t.provider.Tracer(TracerName)
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

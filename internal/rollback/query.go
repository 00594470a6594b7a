package rollback

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// QueryVars are the variables a query template sees. Render escapes them
// for use inside a double-quoted PromQL label value: {{.Repo}},
// {{.Environment}}, {{.Namespace}}, {{.App}}.
type QueryVars struct {
	Repo        string
	Environment string
	Namespace   string
	App         string
}

// VarsOf returns the query variables of a watch. App defaults to the last
// path segment of Repo ("shop/checkout" → "checkout") and Namespace to the
// environment, so that a template naming either works for any provider.
func VarsOf(w *Watch) QueryVars {
	v := QueryVars{Repo: w.Repo, Environment: w.Environment, Namespace: w.Namespace, App: w.App}
	if v.App == "" {
		v.App = w.Repo[strings.LastIndex(w.Repo, "/")+1:]
	}
	if v.Namespace == "" {
		v.Namespace = w.Environment
	}
	return v
}

// EscapeLabelValue escapes s for a double-quoted PromQL string: backslash,
// double quote and line breaks.
func EscapeLabelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// parseQuery parses a query template; unknown variables are errors.
func parseQuery(text string) (*template.Template, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse query template: %w", err)
	}
	return t, nil
}

// RenderQuery expands a PromQL template with the escaped variables.
func RenderQuery(text string, v QueryVars) (string, error) {
	t, err := parseQuery(text)
	if err != nil {
		return "", err
	}
	esc := QueryVars{
		Repo: EscapeLabelValue(v.Repo), Environment: EscapeLabelValue(v.Environment),
		Namespace: EscapeLabelValue(v.Namespace), App: EscapeLabelValue(v.App),
	}
	var b strings.Builder
	if err := t.Execute(&b, esc); err != nil {
		return "", fmt.Errorf("render query template: %w", err)
	}
	return b.String(), nil
}

// Querier evaluates an instant PromQL query that yields one number.
// ok is false when the query returned no data (no series, or NaN).
type Querier interface {
	Query(ctx context.Context, promql string, at time.Time) (value float64, ok bool, err error)
}

// PromQuerier is a Querier over the Prometheus HTTP API (also served by
// Thanos, Mimir, VictoriaMetrics). A vector with one sample gives its
// value; an empty vector gives ok=false; a vector with several series is
// an error, not a sum: error ratios do not add up, and a query meant to
// watch one deployment must aggregate (sum(...) / sum(...)) to one series.
// A scalar result gives its value.
type PromQuerier struct {
	api v1.API
	log *slog.Logger
}

// NewPromQuerier builds a querier for the Prometheus at address. rt may be
// nil (http.DefaultTransport); log may be nil.
func NewPromQuerier(address string, rt http.RoundTripper, log *slog.Logger) (*PromQuerier, error) {
	c, err := api.NewClient(api.Config{Address: address, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PromQuerier{api: v1.NewAPI(c), log: log}, nil
}

// Query implements Querier with an instant query at at.
func (q *PromQuerier) Query(ctx context.Context, promql string, at time.Time) (float64, bool, error) {
	res, warnings, _, err := q.api.Query(ctx, promql, at)
	if err != nil {
		return 0, false, fmt.Errorf("prometheus query %q: %w", promql, err)
	}
	if len(warnings) > 0 {
		q.log.WarnContext(ctx, "prometheus query warnings", "query", promql, "warnings", []string(warnings))
	}
	var v float64
	switch r := res.(type) {
	case model.Vector:
		switch len(r) {
		case 0:
			return 0, false, nil
		case 1:
			v = float64(r[0].Value)
		default:
			return 0, false, fmt.Errorf("prometheus query %q returned %d series; aggregate it to one (sum(...) / sum(...))", promql, len(r))
		}
	case *model.Scalar:
		v = float64(r.Value)
	default:
		return 0, false, fmt.Errorf("prometheus query %q returned a %s, want a vector or a scalar", promql, res.Type())
	}
	if math.IsNaN(v) {
		return 0, false, nil
	}
	return v, true, nil
}

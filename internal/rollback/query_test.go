package rollback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRenderQuery(t *testing.T) {
	tests := []struct {
		name, tmpl string
		vars       QueryVars
		want       string
		wantErr    bool
	}{
		{"plain", `sum(rate(http_requests_total{app="{{.App}}",namespace="{{.Namespace}}"}[5m]))`,
			QueryVars{App: "checkout", Namespace: "prod"}, `sum(rate(http_requests_total{app="checkout",namespace="prod"}[5m]))`, false},
		{"escapes quote and backslash", `x{repo="{{.Repo}}",env="{{.Environment}}"}`,
			QueryVars{Repo: `a"b\c`, Environment: "p\nq"}, `x{repo="a\"b\\c",env="p\nq"}`, false},
		{"injection stays inside the string", `x{app="{{.App}}"}`,
			QueryVars{App: `"} or vector(1) #`}, `x{app="\"} or vector(1) #"}`, false},
		{"unknown variable", `x{a="{{.Nope}}"}`, QueryVars{}, "", true},
		{"syntax error", `x{a="{{.App"}`, QueryVars{}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderQuery(tc.tmpl, tc.vars)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("RenderQuery = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestVarsOf(t *testing.T) {
	v := VarsOf(&Watch{Repo: "shop/checkout", Environment: "production"})
	if v.App != "checkout" || v.Namespace != "production" || v.Repo != "shop/checkout" {
		t.Fatalf("VarsOf = %+v", v)
	}
}

// promAPI answers /api/v1/query with body and records the query.
func promAPI(t *testing.T, status int, body string) (*httptest.Server, *url.Values) {
	t.Helper()
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			t.Errorf("path %s", r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(b))
		if r.Method == http.MethodGet {
			got = r.URL.Query()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestPromQuerier(t *testing.T) {
	at := time.Unix(1763776012, 0)
	tests := []struct {
		name    string
		status  int
		body    string
		want    float64
		wantOK  bool
		wantErr string
	}{
		{"one sample", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1763776012,"0.25"]}]}}`, 0.25, true, ""},
		{"empty vector", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0, false, ""},
		{"NaN is no data", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1763776012,"NaN"]}]}}`, 0, false, ""},
		{"scalar", 200, `{"status":"success","data":{"resultType":"scalar","result":[1763776012,"0.5"]}}`, 0.5, true, ""},
		{"several series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"0.1"]},{"metric":{"a":"2"},"value":[1,"0.2"]}]}}`, 0, false, "2 series"},
		{"matrix", 200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`, 0, false, "matrix"},
		{"bad query", 400, `{"status":"error","errorType":"bad_data","error":"parse error"}`, 0, false, "parse error"},
		{"server error", 503, `{"status":"error","errorType":"unavailable","error":"down"}`, 0, false, "503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := promAPI(t, tc.status, tc.body)
			q, err := NewPromQuerier(srv.URL, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, ok, err := q.Query(context.Background(), `sum(up)`, at)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.wantOK || v != tc.want {
				t.Fatalf("Query = %v, %v, %v; want %v, %v", v, ok, err, tc.want, tc.wantOK)
			}
			if got.Get("query") != "sum(up)" || got.Get("time") != "1763776012" {
				t.Fatalf("request form = %v", *got)
			}
		})
	}
}

package argo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

// verdicts are the decider's answers per admission fixture (allow when absent).
func verdicts() map[string]Verdict {
	return map[string]Verdict{
		"workflow.create.agent": {DecisionID: "dec-1", Effective: EffectiveAllow, Enforcement: "enforce",
			Warnings: []string{"agent_expiring: agent claude-bot expires in 3 days"}},
		"workflow.create.denied-namespace": {DecisionID: "dec-2", Effective: EffectiveDeny, Enforcement: "enforce",
			Reasons: []string{`scope.namespace: agent "claude-bot" may not act in namespace "payments", which matches none of its namespaces ("agents")`}},
		"workflow.create.denied-service-account": {DecisionID: "dec-3", Effective: EffectiveDeny, Enforcement: "enforce",
			Reasons: []string{`scope.service_account: agent "claude-bot" may not run workflows as service account "cluster-admin-sa"`, `scope.service_account: agent "claude-bot" may not run workflows as service account "deployer"`}},
		"workflow.create.over-quota": {DecisionID: "dec-4", Effective: EffectiveDeny, Enforcement: "enforce",
			Reasons: []string{"quota: builds_per_hour is used up (20 of 20 in 1h)"}},
		"workflow.create.warn": {DecisionID: "dec-5", Effective: EffectiveAllow, Enforcement: "warn",
			Reasons: []string{`unregistered_agent: principal "k8s:system:serviceaccount:agents:claude-bot" looks like an AI agent but is not registered with agentgate`}},
		"workflow.create.approval": {DecisionID: "dec-6", Effective: EffectiveApprovalRequired, Enforcement: "enforce", ApprovalID: "apr-42",
			Reasons: []string{"scope.production: production changes by agent claude-bot need a human's approval"}},
	}
}

// reviewGolden is the recorded outcome of one admission fixture.
type reviewGolden struct {
	Decided  *decideCall     `json:"decided,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// TestReviewGolden answers every AdmissionReview fixture and compares the
// decided event and the answer with testdata/golden/admission.*.json.
func TestReviewGolden(t *testing.T) {
	p := newProvider(t, Options{})
	vs := verdicts()
	for name, body := range readFixtures(t, "admission") {
		t.Run(name, func(t *testing.T) {
			v, ok := vs[name]
			if !ok {
				v = Verdict{DecisionID: "dec-0", Effective: EffectiveAllow, Enforcement: "enforce"}
			}
			d := &fakeDecider{verdict: v}
			out, err := p.Review(context.Background(), body, d)
			g := reviewGolden{Response: out}
			if err != nil {
				g.Error = err.Error()
			}
			if calls := d.recorded(); len(calls) > 0 {
				if len(calls) != 1 {
					t.Fatalf("decided %d times", len(calls))
				}
				if err := calls[0].Event.Validate(); err != nil {
					t.Fatalf("decided an invalid event: %v", err)
				}
				g.Decided = &calls[0]
			}
			if out != nil {
				checkResponse(t, body, out)
			}
			checkGolden(t, "admission."+name, g)
		})
	}
}

// checkResponse checks the invariants of every answer: an AdmissionReview
// v1 whose response.uid is the request's.
func checkResponse(t *testing.T, in, out []byte) {
	t.Helper()
	var req, resp admissionv1.AdmissionReview
	if err := json.Unmarshal(in, &req); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if resp.APIVersion != "admission.k8s.io/v1" || resp.Kind != "AdmissionReview" || resp.Response == nil || resp.Request != nil {
		t.Fatalf("answer is not an AdmissionReview v1 response: %s", out)
	}
	if resp.Response.UID != req.Request.UID {
		t.Fatalf("response.uid = %q, want %q", resp.Response.UID, req.Request.UID)
	}
	if !resp.Response.Allowed && (resp.Response.Result == nil || resp.Response.Result.Message == "") {
		t.Fatalf("a refusal without a message: %s", out)
	}
	for _, w := range resp.Response.Warnings {
		if len(w) > maxWarning || strings.ContainsAny(w, "\n\r") {
			t.Fatalf("warning the kube-apiserver would mangle: %q", w)
		}
	}
}

// capturedRequest is one line of testdata/captured.
type capturedRequest struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// TestCapturedKubeAPIServer replays what a real kube-apiserver 1.36 sent
// (ConfigMaps, with ?timeout=5s, Accept-Encoding: gzip and a full
// userInfo) through Handler: each is answered 200, allowed and not decided.
func TestCapturedKubeAPIServer(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "captured", "kube-apiserver-1.36-admissionreview.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newProvider(t, Options{})
	d := &fakeDecider{verdict: Verdict{Effective: EffectiveDeny}}
	srv := httptest.NewServer(p.Handler(d))
	defer srv.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		var c capturedRequest
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		req, err := http.NewRequest(http.MethodPost, srv.URL+c.Path, bytes.NewReader(c.Body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.Headers {
			if k != "Host" && k != "Content-Length" {
				req.Header.Set(k, v)
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("request %d: %d %s: %s", n, resp.StatusCode, resp.Header.Get("Content-Type"), out.String())
		}
		checkResponse(t, c.Body, out.Bytes())
		var rev admissionv1.AdmissionReview
		_ = json.Unmarshal(out.Bytes(), &rev)
		if !rev.Response.Allowed || rev.Response.AuditAnnotations["ignored"] != "resource ConfigMap is not governed" {
			t.Fatalf("request %d: want allowed and not governed: %s", n, out.String())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("replayed %d captured requests, want 2", n)
	}
	if calls := d.recorded(); len(calls) != 0 {
		t.Fatalf("decided a ConfigMap: %+v", calls)
	}
}

// TestReviewMalformed refuses reviews the webhook cannot answer.
func TestReviewMalformed(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{name: "empty", body: "", want: "empty body"},
		{name: "not JSON", body: "<xml/>", want: "invalid JSON at byte 1"},
		{name: "wrong type", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}`, want: "must be"},
		{name: "v1beta1", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}`, want: `want AdmissionReview "admission.k8s.io/v1"`},
		{name: "other kind", body: `{"apiVersion":"admission.k8s.io/v1","kind":"ConfigMap","request":{"uid":"u"}}`, want: `got ConfigMap`},
		{name: "no kind", body: `{"apiVersion":"admission.k8s.io/v1","request":{"uid":"u"}}`, want: `got no kind`},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, want: "has no request"},
		{name: "response only", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}}`, want: "has no request"},
		{name: "no uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}`, want: "has no uid"},
		{name: "blank uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"  "}}`, want: "has no uid"},
		{name: "governed kind without object", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"argoproj.io","version":"v1alpha1","kind":"Workflow"},"operation":"CREATE","userInfo":{"username":"u"}}}`, want: "carries no object"},
	}
	p := newProvider(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDecider{verdict: Verdict{Effective: EffectiveAllow}}
			out, err := p.Review(context.Background(), []byte(tc.body), d)
			if tc.name == "governed kind without object" {
				// Readable envelope, unreadable object: refused in the answer.
				if err != nil || !bytes.Contains(out, []byte(tc.want)) || !bytes.Contains(out, []byte(`"allowed":false`)) {
					t.Fatalf("Review = %s, %v; want a refusal naming %q", out, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Review accepted %q: %s", tc.body, out)
			}
			if apperr.KindOf(err) != apperr.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v (%s), want invalid_argument containing %q", err, apperr.KindOf(err), tc.want)
			}
			if len(d.recorded()) != 0 {
				t.Fatal("decided a malformed review")
			}
		})
	}
}

// TestHandlerStatuses covers the HTTP answers of Handler.
func TestHandlerStatuses(t *testing.T) {
	body := readFixtures(t, "admission")["workflow.create.agent"]
	tests := []struct {
		name    string
		method  string
		body    []byte
		decider *fakeDecider
		status  int
		want    string
	}{
		{name: "decided", method: http.MethodPost, body: body, decider: &fakeDecider{verdict: Verdict{Effective: EffectiveAllow}}, status: http.StatusOK, want: `"allowed":true`},
		{name: "GET", method: http.MethodGet, decider: &fakeDecider{}, status: http.StatusMethodNotAllowed, want: "method_not_allowed"},
		{name: "malformed", method: http.MethodPost, body: []byte(`{}`), decider: &fakeDecider{}, status: http.StatusBadRequest, want: "invalid_argument"},
		{name: "too large", method: http.MethodPost, body: bytes.Repeat([]byte(" "), MaxReviewBytes+1), decider: &fakeDecider{}, status: http.StatusRequestEntityTooLarge, want: "payload_too_large"},
		{name: "decider fails", method: http.MethodPost, body: body, decider: &fakeDecider{err: errors.New("store down")}, status: http.StatusInternalServerError, want: "agentgate could not decide"},
	}
	p := newProvider(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/argo/admission?timeout=5s", bytes.NewReader(tc.body))
			p.Handler(tc.decider).ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.want)
			}
			if strings.Contains(rec.Body.String(), "store down") {
				t.Fatal("internal error leaked to the kube-apiserver")
			}
		})
	}
}

// TestHandlerDeadline checks that ?timeout= bounds the decision.
func TestHandlerDeadline(t *testing.T) {
	body := readFixtures(t, "admission")["workflow.create.agent"]
	var left time.Duration
	d := DeciderFunc(func(ctx context.Context, _ event.Event, _ string) (Verdict, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return Verdict{}, errors.New("no deadline")
		}
		left = time.Until(dl)
		return Verdict{Effective: EffectiveAllow}, nil
	})
	rec := httptest.NewRecorder()
	newProvider(t, Options{}).Handler(d).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/argo/admission?timeout=5s", bytes.NewReader(body)))
	if rec.Code != http.StatusOK || left <= 3*time.Second || left > 4500*time.Millisecond {
		t.Fatalf("%d, deadline in %v; want 200 and about 4.5s", rec.Code, left)
	}
}

func TestReviewTimeout(t *testing.T) {
	tests := []struct {
		q    string
		want time.Duration
	}{
		{"5s", 4500 * time.Millisecond},
		{"10s", 9500 * time.Millisecond},
		{"1s", 1 * time.Second},
		{"", maxTimeout},
		{"garbage", maxTimeout},
		{"-3s", maxTimeout},
		{"5m", maxTimeout},
	}
	for _, tc := range tests {
		if got := reviewTimeout(tc.q); got != tc.want {
			t.Errorf("reviewTimeout(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestCleanWarnings(t *testing.T) {
	long := strings.Repeat("é", 300)
	got := cleanWarnings([]string{"a:\n  b", "", "a: b", long})
	if len(got) != 2 || got[0] != "agentgate: a: b" || len(got[1]) > maxWarning || !strings.HasPrefix(got[1], "agentgate: é") {
		t.Fatalf("cleanWarnings = %q", got)
	}
	many := make([]string, 40)
	for i := range many {
		many[i] = strings.Repeat("w", i+1)
	}
	if n := len(cleanWarnings(many)); n != maxWarnings {
		t.Fatalf("kept %d warnings, want %d", n, maxWarnings)
	}
}

// FuzzReview checks that any body is either refused as invalid or answered
// with a well-formed AdmissionReview for the same uid, and that every
// decided event is valid.
func FuzzReview(f *testing.F) {
	for _, body := range readFixtures(f, "admission") {
		f.Add(body)
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"argoproj.io","kind":"CronWorkflow"},"operation":"UPDATE","object":{"spec":{"workflowSpec":null}},"oldObject":{"spec":7}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"argoproj.io","kind":"Workflow"},"operation":"CREATE","object":{"metadata":{"annotations":{"agentgate.io/prompt":"` + strings.Repeat("x", 9000) + `"}},"spec":{"activeDeadlineSeconds":1e99}}}}`))
	p := newProvider(f, Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		d := &fakeDecider{verdict: Verdict{Effective: EffectiveDeny, Reasons: []string{"r: m"}}}
		out, err := p.Review(context.Background(), body, d)
		if err != nil {
			if k := apperr.KindOf(err); k != apperr.KindInvalid {
				t.Fatalf("error of kind %s: %v", k, err)
			}
			return
		}
		checkResponse(t, body, out)
		for _, c := range d.recorded() {
			if err := c.Event.Validate(); err != nil {
				t.Fatalf("decided an invalid event: %v", err)
			}
		}
	})
}

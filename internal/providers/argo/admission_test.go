package argo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
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
		"workflow.update.status-only": {DecisionID: "dec-7", Effective: EffectiveDeny, Enforcement: "enforce",
			Reasons: []string{`workflow.status_write: principal "k8s:system:serviceaccount:agents:claude-bot" may not write the status of Workflow "agents/etl-"`}},
		"workflow.update.status-subresource": {DecisionID: "dec-8", Effective: EffectiveDeny, Enforcement: "enforce",
			Reasons: []string{`workflow.status_write: principal "k8s:system:serviceaccount:agents:claude-bot" may not write the status of Workflow "agents/etl-"`}},
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
	p.UseTemplates(clusterTemplates())
	p.UseAttributions(fakeAttributions{"CronWorkflow/agents/hello-world": "k8s:system:serviceaccount:agents:claude-bot"})
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

// capturedRequest is one line of testdata/argo/captured.
type capturedRequest struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// TestCapturedKubeAPIServer replays what a real kube-apiserver 1.36 sent
// (ConfigMaps, with ?timeout=5s, Accept-Encoding: gzip and a full
// userInfo) through Handler: each is answered 200, allowed and not decided.
func TestCapturedKubeAPIServer(t *testing.T) {
	f, err := os.Open(fixtures.Path("argo", "captured", "kube-apiserver-1.36-admissionreview.jsonl"))
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
		{name: "decider fails", method: http.MethodPost, body: body, decider: &fakeDecider{err: errors.New("store down")}, status: http.StatusInternalServerError, want: `{"error":{"code":"internal","message":"internal error"}}`},
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

// TestReviewUnreadableObject refuses, with a message naming the field and
// the problem, governed objects that do not decode into the upstream Argo
// types, without deciding them.
func TestReviewUnreadableObject(t *testing.T) {
	deep := `{"name":"leaf","plugin":{}}`
	for range 2400 { // 4 levels of JSON each, under encoding/json's 10000
		deep = `{"name":"n","dag":{"tasks":[{"name":"t","inline":` + deep + `}]}}`
	}
	tests := []struct {
		name, kind, op, object, old, want string
	}{
		{name: "object not an object", kind: kindWorkflow, object: `7`,
			want: "cannot read the Workflow: must be object, not number"},
		{name: "spec not an object", kind: kindWorkflow, object: `{"spec":"x"}`,
			want: "cannot read the Workflow's spec: must be object, not string"},
		{name: "deadline as a string", kind: kindWorkflow, object: `{"spec":{"activeDeadlineSeconds":"3600"}}`,
			want: `cannot read the Workflow's spec: field "activeDeadlineSeconds" must be int64, not string`},
		{name: "deadline out of range", kind: kindWorkflow, object: `{"spec":{"activeDeadlineSeconds":1e99}}`,
			want: `field "activeDeadlineSeconds" must be int64, not number 1e99`},
		{name: "name not a string", kind: kindWorkflowTemplate, object: `{"metadata":{"name":7}}`,
			want: `cannot read the WorkflowTemplate: field "metadata.name" must be string, not number`},
		{name: "bad timestamp", kind: kindWorkflow, object: `{"metadata":{"creationTimestamp":"yesterday"}}`,
			want: `cannot read the Workflow: field "metadata.creationTimestamp" is invalid: parsing time "yesterday"`},
		{name: "bad quantity", kind: kindWorkflow, object: `{"spec":{"templates":[{"name":"a","container":{"image":"i","resources":{"limits":{"cpu":"lots"}}}}]}}`,
			want: `field "templates[0].container.resources.limits.cpu" is invalid: quantities must match`},
		{name: "plugin without key", kind: kindCronWorkflow, object: `{"spec":{"schedule":"* * * * *","workflowSpec":{"templates":[{"name":"a"},{"name":"b","plugin":{}}]}}}`,
			want: `cannot read the CronWorkflow's spec: field "workflowSpec.templates[1].plugin" is invalid: expected exactly one key, got 0`},
		{name: "unknown step field", kind: kindWorkflow, object: `{"spec":{"templates":[{"name":"a","steps":[[{"name":"s"}],[{"nope":1}]]}]}}`,
			want: `field "templates[0].steps[1]" is invalid: json: unknown field "nope"`},
		{name: "template deadline", kind: kindWorkflowTemplate, object: `{"spec":{"templates":[{"name":"a","activeDeadlineSeconds":true}]}}`,
			want: `field "templates.activeDeadlineSeconds" must be int32, not bool`},
		{name: "schedules not a list", kind: kindCronWorkflow, object: `{"spec":{"schedules":"* * * * *"}}`,
			want: `field "schedules" must be array, not string`},
		{name: "deep, past the locator's budget", kind: kindWorkflow, object: `{"spec":{"templates":[` + deep + `]}}`,
			want: `cannot read the Workflow: expected exactly one key, got 0`},
		{name: "old object not an object", kind: kindWorkflow, op: "UPDATE", object: `{"spec":{}}`, old: `[]`,
			want: "cannot read the old object: must be object, not array"},
		{name: "old spec not an object", kind: kindCronWorkflow, op: "UPDATE", object: `{"spec":{"workflowSpec":null}}`, old: `{"spec":7}`,
			want: "spec is not an object"},
	}
	p := newProvider(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := tc.op
			if op == "" {
				op = "CREATE"
			}
			d := &fakeDecider{verdict: Verdict{Effective: EffectiveAllow}}
			start := time.Now()
			out, err := p.Review(context.Background(), admissionBody(tc.kind, op, tc.object, tc.old), d)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			var rev admissionv1.AdmissionReview
			if err != nil || json.Unmarshal(out, &rev) != nil || rev.Response == nil || rev.Response.Result == nil {
				t.Fatalf("Review = %s, %v; want a refusal", out, err)
			}
			r := rev.Response
			if r.Allowed || r.Result.Code != http.StatusBadRequest || !strings.Contains(r.Result.Message, tc.want) {
				t.Fatalf("answer %s; want a 400 refusal containing %q", out, tc.want)
			}
			if n := len(d.recorded()); n != 0 {
				t.Fatalf("decided %d times", n)
			}
		})
	}
}

// TestWorkflowEventUpstreamFields reads what the golden fixtures do not
// cover from the upstream types: templates' and the executor's service
// accounts, a cluster-scoped template reference, a CronWorkflow's
// schedules, and the active deadline set, unset or null.
func TestWorkflowEventUpstreamFields(t *testing.T) {
	tests := []struct {
		name, kind, object string
		handles, labels    map[string]string
	}{
		{name: "workflow", kind: kindWorkflow,
			object: `{"metadata":{"name":"w","labels":{"team":"a"}},"spec":{"serviceAccountName":"runner","activeDeadlineSeconds":3600,` +
				`"executor":{"serviceAccountName":"exec"},"templates":[{"name":"a","serviceAccountName":"tmpl"},{"name":"b","serviceAccountName":"runner"}],` +
				`"workflowTemplateRef":{"name":"base","clusterScope":true}}}`,
			handles: map[string]string{HandleName: "w", HandleServiceAccountName: "runner", HandleTemplateServiceAccounts: "exec,runner,tmpl",
				HandleActiveDeadlineSeconds: "3600", HandleWorkflowTemplateRef: "ClusterWorkflowTemplate/base"},
			labels: map[string]string{"service_account": "runner", "service_accounts": "runner,exec,tmpl",
				"workflow_template_ref": "ClusterWorkflowTemplate/base", "active_deadline": ""}},
		{name: "cron workflow", kind: kindCronWorkflow,
			object: `{"metadata":{"generateName":"c-"},"spec":{"schedule":"0 * * * *","schedules":["5 * * * *","10 * * * *"],` +
				`"workflowSpec":{"activeDeadlineSeconds":null,"workflowTemplateRef":{"name":"base"}}}}`,
			handles: map[string]string{HandleName: "", HandleGenerateName: "c-", HandleActiveDeadlineSeconds: "", HandleWorkflowTemplateRef: "WorkflowTemplate/base"},
			labels:  map[string]string{"schedule": "0 * * * *,5 * * * *,10 * * * *", "active_deadline": "none", "service_accounts": ""}},
		{name: "template without spec", kind: kindWorkflowTemplate, object: `{"metadata":{"name":"t"}}`,
			handles: map[string]string{HandleName: "t", HandleSpecSHA256: "", HandleActiveDeadlineSeconds: ""},
			labels:  map[string]string{"active_deadline": "none", "schedule": ""}},
	}
	p := newProvider(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDecider{verdict: Verdict{Effective: EffectiveAllow}}
			if _, err := p.Review(context.Background(), admissionBody(tc.kind, "CREATE", tc.object, ""), d); err != nil {
				t.Fatal(err)
			}
			calls := d.recorded()
			if len(calls) != 1 {
				t.Fatalf("decided %d times", len(calls))
			}
			ev := calls[0].Event
			for k, want := range tc.handles {
				if got := ev.Handles[k]; got != want {
					t.Errorf("handle %s = %q, want %q", k, got, want)
				}
			}
			for k, want := range tc.labels {
				if got := ev.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestSpecHashIsOfTheRawSpec checks that spec_sha256 hashes the spec as
// sent (key order aside), fields the upstream types do not know included,
// and that an UPDATE changing only such a field is still decided.
func TestSpecHashIsOfTheRawSpec(t *testing.T) {
	p := newProvider(t, Options{})
	hash := func(op, object, old string) (string, bool) {
		t.Helper()
		d := &fakeDecider{verdict: Verdict{Effective: EffectiveAllow}}
		if _, err := p.Review(context.Background(), admissionBody(kindWorkflow, op, object, old), d); err != nil {
			t.Fatal(err)
		}
		calls := d.recorded()
		if len(calls) == 0 {
			return "", false
		}
		return calls[0].Event.Handles[HandleSpecSHA256], true
	}
	a, _ := hash("CREATE", `{"spec":{"entrypoint":"main","serviceAccountName":"sa"}}`, "")
	b, _ := hash("CREATE", `{"spec":{"serviceAccountName":"sa","entrypoint":"main"}}`, "")
	c, _ := hash("CREATE", `{"spec":{"entrypoint":"main","serviceAccountName":"sa","futureField":{"x":1}}}`, "")
	if a == "" || a != b || a == c {
		t.Fatalf("hashes %q %q %q: want the first two equal and the third different", a, b, c)
	}
	sum := sha256.Sum256([]byte(`{"entrypoint":"main","serviceAccountName":"sa"}`))
	if want := hex.EncodeToString(sum[:]); a != want {
		t.Fatalf("spec_sha256 = %s, want %s", a, want)
	}
	if _, decided := hash("UPDATE", `{"spec":{"entrypoint":"main","futureField":2}}`, `{"spec":{"entrypoint":"main","futureField":1}}`); !decided {
		t.Fatal("an UPDATE changing a field unknown to the upstream types was not decided")
	}
	if _, decided := hash("UPDATE", `{"spec":{"entrypoint":"main","suspend":true}}`, `{"spec":{"entrypoint":"main"}}`); decided {
		t.Fatal("a suspend was decided")
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
	for _, object := range []string{
		`{"metadata":{"creationTimestamp":"x"},"spec":{"activeDeadlineSeconds":"3600"}}`,
		`{"spec":{"templates":[{"name":"a","plugin":{},"activeDeadlineSeconds":"1h","container":{"resources":{"limits":{"cpu":"x"}}}}]}}`,
		`{"spec":{"templates":[{"name":"a","steps":[[{"name":"s","withItems":[1,"a",{"b":null}]}],[null]]}]}}`,
		`{"spec":{"executor":{"serviceAccountName":"e"},"workflowTemplateRef":{"name":"t","clusterScope":true}},"status":{"nodes":{"n":{"startedAt":7}}}}`,
	} {
		f.Add(admissionBody(kindWorkflow, "CREATE", object, ""))
	}
	f.Add(admissionBody(kindCronWorkflow, "UPDATE", `{"spec":{"schedules":["* * * * *"],"workflowSpec":{"templates":[{"name":"a","inputs":{"parameters":[{"name":"p","value":1}]}}]}}}`, `{"metadata":{"name":7},"spec":{}}`))
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
			// An invalid principal (a username with a space) is the
			// gate's to refuse and record; nothing else may be invalid.
			if err := c.Event.Validate(); err != nil && !errors.Is(err, event.ErrInvalidPrincipal) {
				t.Fatalf("decided an invalid event: %v", err)
			}
		}
	})
}

func TestNamespaceEnvironments(t *testing.T) {
	p := newProvider(t, Options{NamespaceEnvironments: map[string]string{
		"prod-*": "production", "prod-payments": "payments-prod", "prod-pay*": "pay", "*-staging": "staging",
	}})
	tests := []struct {
		name, namespace, want string
	}{
		{name: "exact namespace wins", namespace: "prod-payments", want: "payments-prod"},
		{name: "longest glob wins", namespace: "prod-payroll", want: "pay"},
		{name: "shorter glob", namespace: "prod-shop", want: "production"},
		{name: "suffix glob", namespace: "web-staging", want: "staging"},
		{name: "no match, no environment", namespace: "agents", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDecider{verdict: Verdict{Effective: EffectiveAllow}}
			obj := `{"metadata":{"name":"w","namespace":"` + tc.namespace + `"},"spec":{"entrypoint":"main"}}`
			body := bytes.Replace(admissionBody(kindWorkflow, "CREATE", obj, ""), []byte(`"namespace":"agents"`), []byte(`"namespace":"`+tc.namespace+`"`), 1)
			if _, err := p.Review(context.Background(), body, d); err != nil {
				t.Fatal(err)
			}
			calls := d.recorded()
			if len(calls) != 1 || calls[0].Event.Environment != tc.want {
				t.Fatalf("environment %q, want %q", calls[0].Event.Environment, tc.want)
			}
		})
	}
	if _, err := New(Options{NamespaceEnvironments: map[string]string{"prod-[": "production"}}); err == nil {
		t.Fatal("a bad pattern was accepted")
	}
}

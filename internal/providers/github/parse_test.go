package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"

	fx "github.com/agentgate/agentgate/internal/testutil/fixtures"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the parser's output")

// golden is the recorded outcome of parsing one fixture.
type golden struct {
	Delivery string        `json:"delivery,omitempty"`
	Ignored  string        `json:"ignored,omitempty"`
	Events   []event.Event `json:"events,omitempty"`
	Error    *goldenError  `json:"error,omitempty"`
}

type goldenError struct {
	Kind    apperr.Kind `json:"kind"`
	Message string      `json:"message"`
}

// fixtures lists testdata/github; a fixture's event name is its file name
// up to the first dot.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(fx.Path("github", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = b
	}
	return out
}

func eventNameOf(fixture string) string {
	name, _, _ := strings.Cut(fixture, ".")
	return name
}

// TestGolden parses every fixture (after verifying its signature) and
// compares the outcome with testdata/golden; -update rewrites them.
func TestGolden(t *testing.T) {
	p := newProvider(t, Options{WebhookSecret: secret.New(testSecret, "test"), RunnerRates: testRates()})
	seen := map[string]bool{}
	for name, body := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			h := headers(eventNameOf(name), "delivery-"+name)
			h.Set(HeaderSignature, providers.SignHMACSHA256([]byte(testSecret), body))
			if err := p.Verify(h, body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			d, err := p.Parse(h, body)
			g := golden{Delivery: d.ID, Ignored: d.Ignored, Events: d.Events}
			if err != nil {
				g = golden{Error: &goldenError{Kind: apperr.KindOf(err), Message: err.Error()}}
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", name+".json")
			seen[filepath.Base(path)] = true
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the parser's output (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, g := range goldens {
		if !seen[filepath.Base(g)] {
			t.Errorf("%s has no fixture in testdata/github", g)
		}
	}
}

func TestParse(t *testing.T) {
	run := fixtures(t)["workflow_run.requested.human"]
	tests := []struct {
		name     string
		event    string
		delivery string
		header   http.Header
		body     []byte
		wantErr  string
		check    func(t *testing.T, d providers.Delivery)
	}{
		{name: "missing delivery id", event: "workflow_run", body: run, wantErr: HeaderDelivery},
		{name: "overlong delivery id", event: "workflow_run", delivery: strings.Repeat("x", 201), body: run, wantErr: "longer than"},
		{name: "missing event name", delivery: "d", body: run, wantErr: HeaderEvent},
		{name: "syntax error", event: "workflow_run", delivery: "d", body: []byte(`{"action":`), wantErr: "invalid workflow_run payload"},
		{name: "empty body", event: "workflow_run", delivery: "d", body: nil, wantErr: "empty or truncated body"},
		{name: "array body", event: "workflow_run", delivery: "d", body: []byte(`[]`), wantErr: "must be"},
		{name: "null governed body", event: "deployment", delivery: "d", body: []byte(`null`), wantErr: "not a JSON object"},
		{name: "null ungoverned body", event: "issues", delivery: "d", body: []byte(`null`), check: ignored("issues is not governed")},
		{name: "null governed payload with action", event: "workflow_run", delivery: "d", body: []byte(`{"action":"requested"}`), wantErr: "workflow_run is missing"},
		{name: "missing repository", event: "workflow_run", delivery: "d",
			body: []byte(`{"action":"requested","workflow_run":{"id":1,"actor":{"login":"octocat"}}}`), wantErr: "repository.full_name is missing"},
		{name: "ungoverned action", event: "workflow_run", delivery: "d", body: []byte(`{"action":"requested_action"}`), check: ignored("workflow_run.requested_action is not governed")},
		{name: "ungoverned event with a non-string action", event: "issues", delivery: "d", body: []byte(`{"action":7}`), check: ignored("issues is not governed")},
		{name: "ungoverned event is still checked for JSON", event: "issues", delivery: "d", body: []byte(`{`), wantErr: "invalid issues payload"},
		{name: "ping needs no body", event: "ping", delivery: "d", body: nil, check: ignored("ping")},
		{name: "form-encoded body", event: "workflow_run", delivery: "d",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body:   []byte("payload=" + url.QueryEscape(string(run))),
			check: func(t *testing.T, d providers.Delivery) {
				if len(d.Events) != 1 || d.Events[0].Principal != "github:Codertocat" {
					t.Fatalf("delivery = %+v", d)
				}
			}},
		{name: "form-encoded body without payload", event: "workflow_run", delivery: "d",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte("x=1"), wantErr: "no payload field"},
		{name: "a long prompt is clipped, not refused", event: "workflow_run", delivery: "d",
			body: bytes.Replace(run, []byte(`"message": "Fix the flaky login test"`),
				[]byte(`"message": "Fix\n\nAgent-Prompt: `+strings.Repeat("é", 6000)+`"`), 1),
			check: func(t *testing.T, d providers.Delivery) {
				tr := d.Events[0].Trigger
				if len(tr.Prompt) != maxTrigger || tr.Source != sourceCommitTrailer {
					t.Fatalf("prompt is %d bytes, source %q", len(tr.Prompt), tr.Source)
				}
			}},
	}
	p := newProvider(t, Options{WebhookSecret: secret.New(testSecret, "test")})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := headers(tc.event, tc.delivery)
			for k, v := range tc.header {
				h[k] = v
			}
			d, err := p.Parse(h, tc.body)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				if apperr.KindOf(err) != apperr.KindInvalid {
					t.Fatalf("kind = %s, want invalid_argument", apperr.KindOf(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, d)
		})
	}
}

func ignored(reason string) func(t *testing.T, d providers.Delivery) {
	return func(t *testing.T, d providers.Delivery) {
		t.Helper()
		if len(d.Events) != 0 || d.Ignored != reason {
			t.Fatalf("delivery = %+v, want no events and Ignored %q", d, reason)
		}
	}
}

func FuzzParse(f *testing.F) {
	for name, body := range fixtures(f) {
		f.Add(eventNameOf(name), body)
	}
	f.Add("deployment", []byte(`{"action":"created","deployment":{"payload":"{\"agent_id\":1}"},"repository":{"full_name":"a/b"}}`))
	f.Add("workflow_run", []byte(`{"action":"requested","workflow_run":{"head_commit":{"message":"x\n\n (cherry picked from commit 1)\nAgent-Id:"}}}`))
	p := newProvider(f, Options{WebhookSecret: secret.New(testSecret, "test"), RunnerRates: testRates()})
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		d, err := p.Parse(headers(name, "fuzz"), body)
		if err != nil {
			if k := apperr.KindOf(err); k != apperr.KindInvalid {
				t.Fatalf("error of kind %s: %v", k, err)
			}
			return
		}
		if len(d.Events) == 0 && d.Ignored == "" {
			t.Fatalf("no events and no reason: %+v", d)
		}
		for _, ev := range d.Events {
			if err := ev.Validate(); err != nil {
				t.Fatalf("accepted an invalid event: %v", err)
			}
		}
	})
}

func TestParseErrorsAreTyped(t *testing.T) {
	p := newProvider(t, Options{})
	_, err := p.Parse(headers("workflow_run", "d"), []byte(`{"action":"requested","workflow_run":{"id":"x"}}`))
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalid || !strings.Contains(ae.Message, `"workflow_run.id"`) {
		t.Fatalf("err = %#v", err)
	}
}

package gitlab

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
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

// fixtures lists testdata/gitlab by name without the extension.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(fx.Path("gitlab", "*.json"))
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

// TestGolden verifies and parses every fixture and compares the outcome
// with testdata/golden; -update rewrites them.
func TestGolden(t *testing.T) {
	p := newProvider(t, Options{WebhookToken: secret.New(testToken, "test"), RunnerRates: testRates()})
	seen := map[string]bool{}
	for name, body := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			h := headers(hookOf(name), "uuid-"+name)
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
			t.Errorf("%s has no fixture in testdata/gitlab", g)
		}
	}
}

func TestParse(t *testing.T) {
	fx := fixtures(t)
	pending := fx["pipeline.pending.bot-variables"]
	tests := []struct {
		name    string
		header  map[string]string
		body    []byte
		wantErr string
		check   func(t *testing.T, d providers.Delivery)
	}{
		{name: "no delivery id: the body's digest", header: map[string]string{HeaderEvent: hookPipeline}, body: pending,
			check: func(t *testing.T, d providers.Delivery) {
				if !strings.HasPrefix(d.ID, "body-sha256:") || len(d.ID) != len("body-sha256:")+64 || len(d.Events) != 1 {
					t.Fatalf("delivery = %+v", d)
				}
			}},
		{name: "idempotency key wins", header: map[string]string{HeaderEvent: hookPipeline, HeaderIdempotencyKey: "key-1", HeaderEventUUID: "uuid-1"}, body: pending,
			check: func(t *testing.T, d providers.Delivery) {
				if d.ID != "key-1" {
					t.Fatalf("id = %q", d.ID)
				}
			}},
		{name: "event uuid alone", header: map[string]string{HeaderEvent: hookPipeline, HeaderEventUUID: "uuid-1"}, body: pending,
			check: func(t *testing.T, d providers.Delivery) {
				if d.ID != "uuid-1" || len(d.Events) != 1 {
					t.Fatalf("delivery = %+v", d)
				}
			}},
		{name: "overlong delivery id", header: map[string]string{HeaderEvent: hookPipeline, HeaderEventUUID: strings.Repeat("x", 201)}, body: pending, wantErr: "longer than"},
		{name: "no event name", header: map[string]string{HeaderEventUUID: "u"}, body: pending, wantErr: HeaderEvent},
		{name: "kind does not match the hook", header: map[string]string{HeaderEvent: hookJob, HeaderEventUUID: "u"}, body: pending, wantErr: `object_kind is "pipeline", want "build"`},
		{name: "empty body", header: map[string]string{HeaderEvent: hookPipeline, HeaderEventUUID: "u"}, body: nil, wantErr: "empty or truncated body"},
		{name: "array body", header: map[string]string{HeaderEvent: hookPipeline, HeaderEventUUID: "u"}, body: []byte(`[]`), wantErr: "must be"},
		{name: "wrong field type", header: map[string]string{HeaderEvent: hookDeployment, HeaderEventUUID: "u"},
			body: []byte(`{"object_kind":"deployment","status":"success","deployment_id":"15"}`), wantErr: `field "deployment_id"`},
		{name: "deployment without an environment", header: map[string]string{HeaderEvent: hookDeployment, HeaderEventUUID: "u"},
			body: []byte(`{"object_kind":"deployment","status":"success","deployment_id":15}`), wantErr: "environment are required"},
		{name: "job without a project", header: map[string]string{HeaderEvent: hookJob, HeaderEventUUID: "u"},
			body: []byte(`{"object_kind":"build","build_status":"success","build_id":1,"user":{"username":"a"}}`), wantErr: "path_with_namespace is missing"},
		{name: "ungoverned hook is still checked for JSON", header: map[string]string{HeaderEvent: "Issue Hook", HeaderEventUUID: "u"}, body: []byte(`{`), wantErr: "invalid Issue Hook payload"},
		{name: "ungoverned hook", header: map[string]string{HeaderEvent: "Issue Hook", HeaderEventUUID: "u"}, body: []byte(`{"object_kind":"issue"}`), check: ignored("Issue Hook is not governed")},
		{name: "system hook without a kind", header: map[string]string{HeaderEvent: hookSystem, HeaderEventUUID: "u"}, body: []byte(`{}`), check: ignored("System Hook without an object_kind is not governed")},
		{name: "instance header becomes a label", header: map[string]string{HeaderEvent: hookPipeline, HeaderEventUUID: "u", HeaderInstance: "https://gitlab.example.com"}, body: pending,
			check: func(t *testing.T, d providers.Delivery) {
				if d.Events[0].Labels["instance"] != "https://gitlab.example.com" {
					t.Fatalf("labels = %v", d.Events[0].Labels)
				}
			}},
		{name: "a long prompt is clipped, not refused", header: map[string]string{HeaderEvent: hookPipeline, HeaderEventUUID: "u"},
			body: bytes.Replace(pending, []byte(`"Fix the flaky login test in CI"`), []byte(`"`+strings.Repeat("é", 6000)+`"`), 1),
			check: func(t *testing.T, d providers.Delivery) {
				tr := d.Events[0].Trigger
				if len(tr.Prompt) != maxTrigger || tr.Source != sourcePipelineVariables {
					t.Fatalf("prompt is %d bytes, source %q", len(tr.Prompt), tr.Source)
				}
			}},
	}
	p := newProvider(t, Options{WebhookToken: secret.New(testToken, "test")})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
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
		f.Add(hookOf(name), body)
	}
	f.Add(hookSystem, []byte(`{"object_kind":"build","build_status":"manual","environment":{"name":"x","action":"start"}}`))
	f.Add(hookDeployment, []byte(`{"object_kind":"deployment","status":"blocked","deployment_id":1,"environment":"p","user":{"username":"u"},"project":{"path_with_namespace":"a/b"},"commit_url":"/commit/zz"}`))
	p := newProvider(f, Options{WebhookToken: secret.New(testToken, "test"), RunnerRates: testRates()})
	f.Fuzz(func(t *testing.T, hook string, body []byte) {
		d, err := p.Parse(headers(hook, "fuzz"), body)
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

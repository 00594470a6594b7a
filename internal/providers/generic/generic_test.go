package generic

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

const testSecret = "s3cret-s3cret-s3cret"

func headers(sig, delivery string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set(HeaderSignature, sig)
	}
	if delivery != "" {
		h.Set(HeaderDelivery, delivery)
	}
	return h
}

func TestVerify(t *testing.T) {
	body := []byte(`{"kind":"build","principal":"generic:bot"}`)
	good := providers.SignHMACSHA256([]byte(testSecret), body)
	tests := []struct {
		name string
		key  string
		sig  string
		body []byte
		ok   bool
	}{
		{name: "valid signature", key: testSecret, sig: good, body: body, ok: true},
		{name: "no secret configured fails closed", key: "", sig: good, body: body},
		{name: "missing signature", key: testSecret, body: body},
		{name: "wrong prefix", key: testSecret, sig: strings.Replace(good, "sha256=", "sha1=", 1), body: body},
		{name: "not hex", key: testSecret, sig: "sha256=zz", body: body},
		{name: "body changed", key: testSecret, sig: good, body: append([]byte(" "), body...)},
		{name: "other key", key: testSecret, sig: providers.SignHMACSHA256([]byte("other"), body), body: body},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := New(tc.key).Verify(headers(tc.sig, "d1"), tc.body)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify() err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && apperr.KindOf(err) != apperr.KindUnauthenticated {
				t.Fatalf("kind = %s, want unauthenticated", apperr.KindOf(err))
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Fatal("error message reveals the testSecret")
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		delivery string
		body     string
		wantErr  string
		check    func(t *testing.T, d providers.Delivery)
	}{
		{
			name: "full event", delivery: "d-1",
			body: `{"provider":"jenkins","kind":"deploy","action":"requested","repo":"acme/api","ref":"refs/heads/main","sha":"abc","environment":"staging","principal":"generic:release-bot","trigger":{"prompt":"ship it","reasoning":"tests green","source":"api"},"handles":{"build_url":"https://ci/1"}}`,
			check: func(t *testing.T, d providers.Delivery) {
				if d.ID != "d-1" || len(d.Events) != 1 {
					t.Fatalf("got %+v", d)
				}
				ev := d.Events[0]
				if ev.Provider != "jenkins" || ev.Environment != "staging" || ev.Trigger.Prompt != "ship it" || ev.Handles["build_url"] != "https://ci/1" {
					t.Fatalf("event = %+v", ev)
				}
			},
		},
		{
			name: "provider defaults to generic", delivery: "d-2",
			body: `{"kind":"build","principal":"generic:bot"}`,
			check: func(t *testing.T, d providers.Delivery) {
				if d.Events[0].Provider != "generic" {
					t.Fatalf("provider = %q", d.Events[0].Provider)
				}
			},
		},
		{name: "reserved provider name", delivery: "d", body: `{"provider":"github","kind":"build","principal":"generic:bot"}`, wantErr: "dedicated webhook"},
		{name: "provider name with spaces", delivery: "d", body: `{"provider":"my ci","kind":"build","principal":"generic:bot"}`, wantErr: "lowercase name"},
		{name: "missing delivery id", body: `{"kind":"build","principal":"generic:bot"}`, wantErr: HeaderDelivery},
		{name: "unknown field", delivery: "d", body: `{"kind":"build","principal":"generic:bot","enviroment":"prod"}`, wantErr: `unknown field "enviroment"`},
		{name: "bad kind", delivery: "d", body: `{"kind":"nuke","principal":"generic:bot"}`, wantErr: "event.kind"},
		{name: "missing principal", delivery: "d", body: `{"kind":"build"}`, wantErr: "event.principal is required"},
		{name: "wrong type", delivery: "d", body: `{"kind":"build","principal":"generic:bot","handles":[1]}`, wantErr: `field "handles"`},
		{name: "syntax error", delivery: "d", body: `{"kind":`, wantErr: "invalid event JSON"},
		{name: "trailing data", delivery: "d", body: `{"kind":"build","principal":"generic:bot"} {}`, wantErr: "after the event"},
		{name: "empty body", delivery: "d", body: ``, wantErr: "empty body"},
		{name: "negative cost", delivery: "d", body: `{"kind":"build","principal":"generic:bot","phase":"end","cost":{"minutes":-1}}`, wantErr: "cost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(testSecret).Parse(headers("", tc.delivery), []byte(tc.body))
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

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"kind":"build","principal":"generic:bot"}`))
	f.Add([]byte(`{"kind":"deploy","environment":"production","principal":"github:x[bot]","trigger":{"prompt":"p"}}`))
	f.Add([]byte(`{"kind":"build","principal":"generic:bot","phase":"end","cost":{"minutes":3}}`))
	f.Add([]byte(`[]`))
	p := New(testSecret)
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := p.Parse(headers("", "fuzz"), body)
		if err != nil {
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("error of kind %s: %v", apperr.KindOf(err), err)
			}
			return
		}
		// An invalid principal is the gate's to refuse and record; nothing
		// else may be invalid.
		if len(d.Events) != 1 {
			t.Fatalf("accepted %d events: %+v", len(d.Events), d)
		}
		if err := d.Events[0].Validate(); err != nil && !errors.Is(err, event.ErrInvalidPrincipal) {
			t.Fatalf("accepted an invalid event: %+v (%v)", d, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"kind":"build","principal":"generic:bot"}`)
	f.Add(providers.SignHMACSHA256([]byte(testSecret), body), body)
	f.Add("sha256=", []byte{})
	p := New(testSecret)
	f.Fuzz(func(t *testing.T, sig string, b []byte) {
		err := p.Verify(headers(sig, "x"), b)
		want := providers.SignHMACSHA256([]byte(testSecret), b)
		if (err == nil) != (strings.HasPrefix(sig, "sha256=") && strings.EqualFold(sig, want)) {
			t.Fatalf("Verify(%q) = %v; the valid signature is %q", sig, err, want)
		}
	})
}

// TestParseLeavesInvalidPrincipalToGate: an event whose principal is no
// principal is parsed, so that the gate refuses it and records the attempt.
func TestParseLeavesInvalidPrincipalToGate(t *testing.T) {
	for name, p := range map[string]string{"unqualified": "bot", "trailing space": "github:bot[bot] ", "zero-width space": "github:bot[bot]\u200b"} {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"kind": "build", "principal": p})
			d, err := New(testSecret).Parse(headers("", "d"), body)
			if err != nil || len(d.Events) != 1 || d.Events[0].Principal != p {
				t.Fatalf("Parse = %+v, %v", d, err)
			}
			if err := d.Events[0].Validate(); !errors.Is(err, event.ErrInvalidPrincipal) {
				t.Fatalf("Validate = %v, want ErrInvalidPrincipal", err)
			}
		})
	}
}

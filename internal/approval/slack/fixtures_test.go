package slack

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

// Fixtures: testdata/slack/NAME.json is an interaction payload shaped like
// Slack's documented examples; testdata/slack/NAME.request is the request Slack
// sends for it (signature headers, a blank line, the form body), signed
// with testSecret at fixtureTS. AGENTGATE_UPDATE_FIXTURES=1 rewrites the
// .request files (and the golden message) from the code.
const updateEnv = "AGENTGATE_UPDATE_FIXTURES"

// formBody encodes a payload as Slack does: payload=<compact JSON>.
func formBody(t *testing.T, payload []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, payload); err != nil {
		t.Fatalf("compact payload: %v", err)
	}
	return []byte(url.Values{"payload": {b.String()}}.Encode())
}

// signature is the X-Slack-Signature of body at ts.
func signature(secret string, ts int64, body []byte) string {
	return "v0=" + hex.EncodeToString(sign(secret, strconv.FormatInt(ts, 10), body))
}

// signedRequest builds an interaction request signed with secret at ts.
func signedRequest(secret string, ts int64, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack/interactions", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(headerTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(headerSignature, signature(secret, ts, body))
	return r
}

// fixtureRequest reads testdata/slack/NAME.request as an HTTP request.
func fixtureRequest(t *testing.T, name string) *http.Request {
	t.Helper()
	raw, err := os.ReadFile(fixtures.Path("slack", name+".request"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("fixture %s headers: %v", name, err)
	}
	body := bytes.TrimRight(raw[bytes.Index(raw, []byte("\n\n"))+2:], "\n")
	r := httptest.NewRequest(http.MethodPost, "/slack/interactions", bytes.NewReader(body))
	for k, v := range h {
		r.Header[k] = v
	}
	return r
}

func TestFixtures(t *testing.T) {
	for _, name := range []string{"block_actions_approve", "block_actions_reject", "view_submission_reject"} {
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile(fixtures.Path("slack", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			body := formBody(t, payload)
			if os.Getenv(updateEnv) != "" {
				out := "Content-Type: application/x-www-form-urlencoded\n" +
					headerTimestamp + ": " + strconv.Itoa(fixtureTS) + "\n" +
					headerSignature + ": " + signature(testSecret, fixtureTS, body) + "\n\n" + string(body) + "\n"
				if err := os.WriteFile(fixtures.Path("slack", name+".request"), []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := fixtureRequest(t, name)
			got := new(bytes.Buffer)
			if _, err := got.ReadFrom(r.Body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), body) {
				t.Fatalf("%s.request is stale: its body is not %s.json (run with %s=1)", name, name, updateEnv)
			}
			now := unix(fixtureTS + 30)
			if err := verifySignature(testSecret, r.Header.Get(headerTimestamp), r.Header.Get(headerSignature), got.Bytes(), now); err != nil {
				t.Fatalf("fixture signature: %v", err)
			}
			ic, err := parseInteraction(got.Bytes())
			if err != nil {
				t.Fatalf("parse fixture: %v", err)
			}
			if ic.User.ID != approverID {
				t.Errorf("user = %q, want %q", ic.User.ID, approverID)
			}
		})
	}
}

func unix(s int64) time.Time { return time.Unix(s, 0) }

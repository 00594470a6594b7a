package slack

import (
	"bytes"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

func FuzzParseInteraction(f *testing.F) {
	for _, name := range []string{"block_actions_approve", "block_actions_reject", "view_submission_reject"} {
		raw, err := os.ReadFile(fixtures.Path("slack", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(url.Values{"payload": {string(raw)}}.Encode()))
	}
	f.Add([]byte("payload=%7B%7D"))
	f.Add([]byte("payload=null"))
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%2C%22state%22%3A1%7D"))
	f.Add([]byte("%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := parseInteraction(body)
		if err != nil {
			return
		}
		if ic.Type == "" || !isSlackUserID(ic.User.ID) {
			t.Fatalf("accepted a payload without type or user: %+v", ic)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	body := []byte("payload=%7B%22type%22%3A%22block_actions%22%7D")
	f.Add(strconv.Itoa(fixtureTS), signature(testSecret, fixtureTS, body), body)
	f.Add(strconv.Itoa(fixtureTS), "v0=00", body)
	f.Add("-1", "v0=", []byte{})
	f.Add("99999999999999999999", "v1=abc", []byte("x"))
	now := unix(fixtureTS + 30)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		if verifySignature(testSecret, ts, sig, body, now) != nil {
			return
		}
		// Accepted: a fresh timestamp, and the HMAC of exactly this
		// timestamp and body.
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < fixtureTS+30-300 || n > fixtureTS+30+300 {
			t.Fatalf("accepted timestamp %q", ts)
		}
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "v0="))
		if err != nil || !bytes.Equal(got, sign(testSecret, ts, body)) {
			t.Fatalf("accepted signature %q for %q at %q", sig, body, ts)
		}
	})
}

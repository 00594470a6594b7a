package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// chain seals n records and returns them as stored.
func chain(t testing.TB, n int) []Stored {
	t.Helper()
	var out []Stored
	prevSeq, prevHash := int64(0), GenesisHash
	for i := 0; i < n; i++ {
		r := &Record{ID: fmt.Sprintf("r%d", i), Time: time.Date(2026, 1, 1, 0, 0, i, 123456789, time.UTC), Kind: KindDecision,
			AgentID: "a1", Principal: "github:copilot", Initiator: "github:octocat", ActorIsAgent: true, SessionID: "s-1",
			Decision: &Decision{Outcome: "allow", PolicyRevision: "sha256:x"}}
		body, err := Seal(r, prevSeq, prevHash)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Stored{Seq: r.Seq, Hash: r.Hash, Body: body})
		prevSeq, prevHash = r.Seq, r.Hash
	}
	return out
}

func verify(recs []Stored) (*Break, int64) {
	v := NewVerifier()
	for _, s := range recs {
		if b := v.Next(s); b != nil {
			return b, v.Checked()
		}
	}
	return nil, v.Checked()
}

func TestSeal(t *testing.T) {
	recs := chain(t, 2)
	r, err := recs[1].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 2 || r.PrevHash != recs[0].Hash || r.Hash != recs[1].Hash || r.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("sealed record = %+v", r)
	}
	if bytes.Contains(recs[1].Body, []byte(`"hash"`)) {
		t.Fatal("the body carries its own hash")
	}
}

func TestVerifier(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]Stored) []Stored
		wantSeq int64
		reason  string
	}{
		{name: "intact", tamper: func(s []Stored) []Stored { return s }},
		{name: "edited body", tamper: func(s []Stored) []Stored {
			s[2].Body = bytes.Replace(s[2].Body, []byte(`"allow"`), []byte(`"deny"`), 1)
			return s
		}, wantSeq: 3, reason: "edited"},
		{name: "edited body with recomputed hash", tamper: func(s []Stored) []Stored {
			s[2].Body = bytes.Replace(s[2].Body, []byte(`"allow"`), []byte(`"deny"`), 1)
			s[2].Hash = HashBody(s[2].Body)
			return s
		}, wantSeq: 4, reason: "previous-hash"},
		{name: "deleted record", tamper: func(s []Stored) []Stored { return append(s[:1], s[2:]...) }, wantSeq: 2, reason: "missing"},
		{name: "reordered", tamper: func(s []Stored) []Stored { s[1], s[2] = s[2], s[1]; return s }, wantSeq: 2, reason: "missing"},
		{name: "renumbered", tamper: func(s []Stored) []Stored {
			s = append(s[:1], s[2:]...)
			for i := 1; i < len(s); i++ {
				s[i].Seq = int64(i + 1)
			}
			return s
		}, wantSeq: 2, reason: "sequence"},
		{name: "not JSON", tamper: func(s []Stored) []Stored {
			s[0].Body = []byte("garbage")
			s[0].Hash = HashBody(s[0].Body)
			return s
		}, wantSeq: 1, reason: "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, checked := verify(tc.tamper(chain(t, 5)))
			if tc.wantSeq == 0 {
				if b != nil || checked != 5 {
					t.Fatalf("break = %+v, checked %d", b, checked)
				}
				return
			}
			if b == nil || b.Seq != tc.wantSeq || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("break = %+v, want seq %d mentioning %q", b, tc.wantSeq, tc.reason)
			}
		})
	}
}

// FuzzVerifier: arbitrary stored bytes never panic the verifier, and a
// record it accepts is exactly the sealed one.
func FuzzVerifier(f *testing.F) {
	good := chain(f, 1)[0]
	f.Add(good.Seq, good.Hash, good.Body)
	f.Add(int64(1), "", []byte(`{"seq":1,"prev_hash":"0"}`))
	f.Fuzz(func(t *testing.T, seq int64, hash string, body []byte) {
		b := NewVerifier().Next(Stored{Seq: seq, Hash: hash, Body: body})
		if b == nil && (seq != 1 || HashBody(body) != hash) {
			t.Fatalf("accepted seq %d hash %q", seq, hash)
		}
	})
}

// TestBypassAuditInitiatorRewritten: whom an agent acted for, and that it
// was an agent, are in the hash chain: rewriting either to put the blame on
// someone else, or erasing them, breaks the chain at that record.
func TestBypassAuditInitiatorRewritten(t *testing.T) {
	tests := []struct{ name, from, to string }{
		{name: "initiator rewritten", from: `"initiator":"github:octocat"`, to: `"initiator":"github:hubot"`},
		{name: "initiator erased", from: `,"initiator":"github:octocat"`, to: ``},
		{name: "agent made a person", from: `,"actor_is_agent":true`, to: ``},
		{name: "session rewritten", from: `"session_id":"s-1"`, to: `"session_id":"s-2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := chain(t, 3)
			if !bytes.Contains(s[1].Body, []byte(tc.from)) {
				t.Fatalf("record body %s has no %s", s[1].Body, tc.from)
			}
			s[1].Body = bytes.Replace(s[1].Body, []byte(tc.from), []byte(tc.to), 1)
			if b, _ := verify(s); b == nil || b.Seq != 2 {
				t.Fatalf("break = %+v, want the rewritten record 2", b)
			}
			s[1].Hash = HashBody(s[1].Body)
			if b, _ := verify(s); b == nil || b.Seq != 3 {
				t.Fatalf("break = %+v, want record 3 once record 2's hash is recomputed", b)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	var recs []Stored
	prevSeq, prevHash := int64(0), GenesisHash
	for i := range 4 {
		r := &Record{ID: fmt.Sprint(i), Time: time.Unix(int64(i), 0), Kind: KindDecision}
		body, err := Seal(r, prevSeq, prevHash)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, Stored{Seq: r.Seq, Hash: r.Hash, Body: body})
		prevSeq, prevHash = r.Seq, r.Hash
	}
	scanOf := func(list []Stored) Scan {
		return func(_ context.Context, after int64, fn func(Stored) error) error {
			for _, s := range list {
				if s.Seq > after {
					if err := fn(s); err != nil {
						return err
					}
				}
			}
			return nil
		}
	}
	edited := slices.Clone(recs)
	edited[2].Body = bytes.Replace(edited[2].Body, []byte(`"decision"`), []byte(`"kill"`), 1)
	stop := errors.New("stop")
	tests := []struct {
		name        string
		list        []Stored
		each        func(Stored, *Verifier) error
		wantOK      bool
		wantChecked int64
		wantBreak   int64
		wantErr     error
	}{
		{name: "intact", list: recs, wantOK: true, wantChecked: 4},
		{name: "edited record", list: edited, wantChecked: 2, wantBreak: 3},
		{name: "gap", list: append(slices.Clone(recs[:1]), recs[2:]...), wantChecked: 1, wantBreak: 2},
		{name: "each stops the walk", list: recs, each: func(s Stored, _ *Verifier) error {
			if s.Seq == 2 {
				return stop
			}
			return nil
		}, wantOK: true, wantChecked: 2, wantErr: stop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := VerifyChain(t.Context(), scanOf(tc.list), tc.each)
			if !errors.Is(err, tc.wantErr) || res.OK != tc.wantOK || res.Checked != tc.wantChecked {
				t.Fatalf("VerifyChain = %+v, %v", res, err)
			}
			if (res.Break == nil) != (tc.wantBreak == 0) || (res.Break != nil && res.Break.Seq != tc.wantBreak) {
				t.Fatalf("break %+v, want at %d", res.Break, tc.wantBreak)
			}
		})
	}
}

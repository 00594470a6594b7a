package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// GenesisHash is the previous hash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Seal fills in the chain fields of r, which is to follow a record with
// sequence prevSeq and hash prevHash (0 and GenesisHash for the first), and
// returns the canonical body to store. Time is normalised to UTC
// microseconds so that it survives every store unchanged.
func Seal(r *Record, prevSeq int64, prevHash string) ([]byte, error) {
	r.Seq = prevSeq + 1
	r.PrevHash = prevHash
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	r.Hash = ""
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	r.Hash = HashBody(body)
	return body, nil
}

// HashBody returns the hex SHA-256 of a canonical record body.
func HashBody(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Stored is a record as a store keeps it: the sequence and hash columns and
// the exact body bytes that were hashed.
type Stored struct {
	Seq  int64
	Hash string
	Body []byte
}

// Decode parses a stored body into a Record and sets its Hash.
func (s Stored) Decode() (Record, error) {
	var r Record
	if err := json.Unmarshal(s.Body, &r); err != nil {
		return Record{}, fmt.Errorf("audit: decode record %d: %w", s.Seq, err)
	}
	r.Hash = s.Hash
	return r, nil
}

// Break describes where a chain stops being intact.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Verifier checks a chain record by record, in sequence order, without
// holding it all in memory.
type Verifier struct {
	nextSeq  int64
	prevHash string
	checked  int64
}

// NewVerifier starts a verification at the beginning of the chain.
func NewVerifier() *Verifier { return &Verifier{nextSeq: 1, prevHash: GenesisHash} }

// Next checks the next stored record. It returns a non-nil Break at the
// first record that was edited, deleted (a gap), reordered or re-chained.
func (v *Verifier) Next(s Stored) *Break {
	if s.Seq != v.nextSeq {
		return &Break{Seq: v.nextSeq, Reason: fmt.Sprintf("record %d is missing (found %d next)", v.nextSeq, s.Seq)}
	}
	if got := HashBody(s.Body); got != s.Hash {
		return &Break{Seq: s.Seq, Reason: "record body does not match its hash (edited)"}
	}
	var head struct {
		Seq      int64  `json:"seq"`
		PrevHash string `json:"prev_hash"`
	}
	if err := json.Unmarshal(s.Body, &head); err != nil {
		return &Break{Seq: s.Seq, Reason: "record body is not valid JSON"}
	}
	if head.Seq != s.Seq {
		return &Break{Seq: s.Seq, Reason: fmt.Sprintf("record body says sequence %d", head.Seq)}
	}
	if head.PrevHash != v.prevHash {
		return &Break{Seq: s.Seq, Reason: "previous-hash link does not match the record before it"}
	}
	v.nextSeq++
	v.prevHash = s.Hash
	v.checked++
	return nil
}

// Checked returns how many records verified intact so far.
func (v *Verifier) Checked() int64 { return v.checked }

// Head returns the hash of the last verified record.
func (v *Verifier) Head() string { return v.prevHash }

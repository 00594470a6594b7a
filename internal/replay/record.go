package replay

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/agentgate/agentgate/internal/policy"
)

// Outcomes of a policy decision, as replay compares them.
const (
	Allow            = "allow"
	Deny             = "deny"
	ApprovalRequired = "approval_required"
)

// Summary is what a decision said, as replay compares it: the outcome the
// policy gave (before kill switches and quotas) and the rules that denied
// or warned.
type Summary struct {
	Outcome string `json:"outcome"`
	// Deny and Warn are the rule ids, sorted.
	Deny []string `json:"deny,omitempty"`
	Warn []string `json:"warn,omitempty"`
}

// Summarize reduces a policy decision to its Summary.
func Summarize(d policy.Decision) Summary {
	s := Summary{Outcome: Allow}
	for _, r := range d.Deny {
		s.Deny = append(s.Deny, r.Rule)
	}
	for _, r := range d.Warnings {
		s.Warn = append(s.Warn, r.Rule)
	}
	slices.Sort(s.Deny)
	s.Deny = slices.Compact(s.Deny)
	slices.Sort(s.Warn)
	s.Warn = slices.Compact(s.Warn)
	switch {
	case len(d.Deny) > 0 || !d.Allow:
		s.Outcome = Deny
	case d.RequireApproval != nil:
		s.Outcome = ApprovalRequired
	}
	return s
}

// Recorded is one decision's input as kept: what the policy saw, which
// revision decided and what it said.
type Recorded struct {
	// Seq is the decision's audit record; Time when it was made.
	Seq      int64        `json:"seq"`
	Time     time.Time    `json:"time"`
	Revision string       `json:"revision"`
	Input    policy.Input `json:"input"`
	Decision Summary      `json:"decision"`
}

// body is what is compressed: Recorded without the seq and time the
// store keeps in columns.
type body struct {
	Revision string       `json:"revision"`
	Input    policy.Input `json:"input"`
	Decision Summary      `json:"decision"`
}

// Codec compresses and expands recorded inputs. It is safe for concurrent
// use.
type Codec struct {
	once sync.Once
	enc  *zstd.Encoder
	dec  *zstd.Decoder
	err  error
}

// maxExpanded caps an expanded record (a policy input is a few KiB).
const maxExpanded = 4 << 20

func (c *Codec) init() {
	c.once.Do(func() {
		if c.enc, c.err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1)); c.err != nil {
			return
		}
		c.dec, c.err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxExpanded))
	})
}

// Encode returns the compressed record of one decision.
func (c *Codec) Encode(in *policy.Input, revision string, d policy.Decision) ([]byte, error) {
	c.init()
	if c.err != nil {
		return nil, c.err
	}
	raw, err := json.Marshal(body{Revision: revision, Input: *in, Decision: Summarize(d)})
	if err != nil {
		return nil, fmt.Errorf("replay: encode input: %w", err)
	}
	return c.enc.EncodeAll(raw, make([]byte, 0, len(raw)/3)), nil
}

// Decode expands a stored record; seq and at come from the store.
func (c *Codec) Decode(seq int64, at time.Time, b []byte) (Recorded, error) {
	c.init()
	if c.err != nil {
		return Recorded{}, c.err
	}
	raw, err := c.dec.DecodeAll(b, nil)
	if err != nil {
		return Recorded{}, fmt.Errorf("replay: record %d: %w", seq, err)
	}
	var v body
	if err := json.Unmarshal(raw, &v); err != nil {
		return Recorded{}, fmt.Errorf("replay: record %d: %w", seq, err)
	}
	if v.Decision.Outcome == "" {
		return Recorded{}, fmt.Errorf("replay: record %d has no decision", seq)
	}
	return Recorded{Seq: seq, Time: at.UTC(), Revision: v.Revision, Input: v.Input, Decision: v.Decision}, nil
}

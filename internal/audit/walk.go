package audit

import (
	"context"
	"errors"
)

// Scan calls fn for every stored record after afterSeq in sequence order,
// as a store's ScanAudit does.
type Scan func(ctx context.Context, afterSeq int64, fn func(Stored) error) error

// Result is the outcome of walking a whole chain.
type Result struct {
	OK      bool   `json:"ok"`
	Checked int64  `json:"checked"`
	Head    string `json:"head"`
	// Break is where the chain stops being intact; nil when OK.
	Break *Break `json:"break,omitempty"`
}

// errStop ends a walk at its first break.
var errStop = errors.New("audit: chain broken")

// VerifyChain walks the chain from its first record through scan and stops
// at the first break, which is a Result, not an error. each, when set, is
// called after every intact record (for progress); an error from it, or
// from scan, ends the walk and is returned.
func VerifyChain(ctx context.Context, scan Scan, each func(Stored, *Verifier) error) (Result, error) {
	v := NewVerifier()
	var brk *Break
	err := scan(ctx, 0, func(s Stored) error {
		if brk = v.Next(s); brk != nil {
			return errStop
		}
		if each != nil {
			return each(s, v)
		}
		return nil
	})
	res := Result{OK: brk == nil, Checked: v.Checked(), Head: v.Head(), Break: brk}
	if err != nil && !errors.Is(err, errStop) {
		return res, err
	}
	return res, nil
}

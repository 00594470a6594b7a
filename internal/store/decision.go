package store

import (
	"time"

	"github.com/agentgate/agentgate/internal/audit"
)

// DecisionWrite is what a decision writes once its record is sealed
// (AuditStore.AppendDecision).
type DecisionWrite struct {
	// Record is sealed and appended as by AppendAudit.
	Record *audit.Record
	// Input, when not nil, is the decision's compressed policy input,
	// recorded under the record's seq at InputAt (InputStore.RecordInput).
	Input   []byte
	InputAt time.Time
	// Delivery, when not nil, is the claimed delivery whose answer is
	// stored (DeliveryStore.FinishDelivery); Answer builds that answer
	// from the sealed record. A delivery that is not claimed fails the
	// write with ErrNotFound.
	Delivery *DeliveryKey
	Answer   func(r *audit.Record) ([]byte, error)
	// Counters are each added one to, as by CounterStore.IncrCounter, in
	// the same write; the new counts are set through their N.
	Counters []CounterIncr
}

// CounterIncr is one counter a decision adds one to: Key's counter for
// the Window-long window containing At. N, when not nil, receives the new
// count once the write is done.
type CounterIncr struct {
	Key    string
	Window time.Duration
	At     time.Time
	N      *int64
}

// DeliveryKey names a delivery: the webhook that received it and its id.
type DeliveryKey struct {
	Provider, ID string
}

// Package audit defines the tamper-evident audit record and its hash chain.
//
// Each record's canonical JSON body carries the hash of the record before it;
// its own hash is the SHA-256 of that body. Editing, deleting or reordering a
// stored record breaks the chain, which Verify detects.
package audit

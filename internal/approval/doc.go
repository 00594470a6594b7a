// Package approval resolves changes held for a human: approve or reject
// through the API (and, with the Slack front end, through buttons), expiry
// when the policy's TTL passes, and release of the held change back to the
// CI system through its provider's Releaser.
//
// Approval state lives in the store and moves pending → approved |
// rejected | expired | cancelled with a compare-and-set, so on several
// replicas exactly one resolution wins; the loser is told who won.
package approval

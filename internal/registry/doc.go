// Package registry is the agent registry service: provisioning and the
// lifecycle of agents (promote, demote, suspend, resume, kill, decommission),
// their API tokens (issued once, stored hashed, rotated with a grace period),
// kill switches per agent, per owner and global, and identification of the
// agent behind a normalized event. Every change is written to the audit log
// in the same transaction as the change itself.
package registry

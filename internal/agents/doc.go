// Package agents is the model of a registered agent: a non-human identity
// with a type, an accountable owner, capabilities, a trust tier, a lifecycle
// state, allowed environments and namespaces, and the provider principals it
// acts as. The lifecycle operations on it live in internal/registry.
package agents

// Package policy evaluates the admission policy: Rego modules and data,
// compiled in process with OPA into a prepared query against
// data.agentgate.admission.decision (design §5). The built-in policies from
// the policies/ directory are the default; a directory given in
// configuration replaces them and is hot-reloaded, keeping the last good set
// when a new one fails to compile or fails its own tests.
package policy

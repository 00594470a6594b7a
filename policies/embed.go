// Package policies holds agentgate's built-in admission policy: the Rego
// modules of package agentgate.admission, their Rego tests (*_test.rego) and
// the policy data under data/ (tiers.yaml, settings.yaml), embedded into the
// binary. internal/policy loads the set; see README.md for the data layout.
package policies

import (
	"embed"
	"io/fs"
)

// files is the embedded policy set.
//
//go:embed *.rego data/*
var files embed.FS

// FS returns the built-in policy set. Its root holds the .rego modules
// (tests included: the engine skips *_test.rego when building the runtime
// policy, the test runner uses them) and data/ holds the data files.
func FS() fs.FS { return files }

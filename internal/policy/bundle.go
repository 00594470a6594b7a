package policy

import (
	"fmt"
	"io/fs"
)

// Bundle is a policy set as another OPA can load it: the sources of the
// runtime modules (tests left out) and the merged data document that the
// engine places at data.<DataRoot>.
type Bundle struct {
	// Modules are the runtime Rego sources by file name.
	Modules map[string][]byte
	// Data is the merged data document (the value of data.agentgate).
	Data map[string]any
	// Revision is the set's revision, as the engine reports it.
	Revision string
}

// ReadBundle reads and checks the policy set of fsys, as the engine would
// load it, and returns it as a Bundle (for running the same policy in
// `opa run --server`, say).
func ReadBundle(fsys fs.FS) (Bundle, error) {
	files, err := readSet(fsys)
	if err != nil {
		return Bundle{}, err
	}
	set, err := parseSet(files)
	if err != nil {
		return Bundle{}, err
	}
	b := Bundle{Modules: map[string][]byte{}, Data: set.data, Revision: set.revision}
	for _, f := range files {
		if f.isRego() && !f.isTest() {
			b.Modules[f.name] = f.content
		}
	}
	if len(b.Modules) != len(set.modules) {
		return Bundle{}, fmt.Errorf("policy bundle: %d module files for %d modules", len(b.Modules), len(set.modules))
	}
	return b, nil
}

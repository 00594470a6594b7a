package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
	"gopkg.in/yaml.v3"
)

// Policy set layout.
//
// A policy set is a directory tree (an fs.FS):
//
//   - every *.rego file anywhere in it is a Rego module (Rego v1 syntax);
//     files named *_test.rego are tests: they are compiled and run by the
//     test runner and when a set is validated, never into the runtime policy;
//   - every *.yaml, *.yml and *.json file below data/ is a data document. Each
//     must hold an object; the objects of all data files are merged into
//     data.agentgate: nested objects merge key by key, and a key that two
//     files both set to a non-object value is an error naming both files (so
//     the merge does not depend on file order). The directories below data/
//     add no path prefix;
//   - names starting with "." are skipped, so the "..data" and
//     "..<timestamp>" entries of a Kubernetes ConfigMap volume are not read
//     twice; symbolic links are followed;
//   - other files are ignored.
const (
	// DataRoot is the top-level key of data.<DataRoot> that data files are
	// merged into.
	DataRoot = "agentgate"
	// dataDir is the directory of a set that holds its data files.
	dataDir = "data"
	// testSuffix marks Rego test modules.
	testSuffix = "_test.rego"
	// maxDepth bounds directory nesting, which also stops symlink loops.
	maxDepth = 16
)

// setFile is one file of a policy set, as read.
type setFile struct {
	name    string
	content []byte
}

func (f setFile) isRego() bool { return strings.HasSuffix(f.name, ".rego") }
func (f setFile) isTest() bool { return strings.HasSuffix(f.name, testSuffix) }

// policySet is a parsed policy set.
type policySet struct {
	// modules are the runtime modules by file name.
	modules map[string]*ast.Module
	// tests are the test modules by file name.
	tests map[string]*ast.Module
	// data is the merged data document placed at data.agentgate.
	data map[string]any
	// revision is the content hash of the set (see revisionOf).
	revision string
}

// readSet reads the policy and data files of fsys, sorted by name.
func readSet(fsys fs.FS) ([]setFile, error) {
	if fsys == nil {
		return nil, errors.New("policy set: no file system given")
	}
	var files []setFile
	err := walkSet(fsys, ".", 0, func(name string) error {
		if !isSetFile(name) {
			return nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("policy set: read %s: %w", name, err)
		}
		files = append(files, setFile{name: name, content: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b setFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

// walkSet calls visit with the name of every non-hidden file below dir,
// following symbolic links.
func walkSet(fsys fs.FS, dir string, depth int, visit func(string) error) error {
	if depth > maxDepth {
		return fmt.Errorf("policy set: %s is nested more than %d directories deep (a symlink loop?)", dir, maxDepth)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("policy set: read directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := path.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			info, err := fs.Stat(fsys, name)
			if err != nil {
				return fmt.Errorf("policy set: follow link %s: %w", name, err)
			}
			isDir = info.IsDir()
		}
		if isDir {
			if err := walkSet(fsys, name, depth+1, visit); err != nil {
				return err
			}
			continue
		}
		if err := visit(name); err != nil {
			return err
		}
	}
	return nil
}

// isSetFile reports whether name is a Rego module or a data file.
func isSetFile(name string) bool {
	if strings.HasSuffix(name, ".rego") {
		return true
	}
	return isDataFile(name)
}

// isDataFile reports whether name is a data file: .yaml, .yml or .json below data/.
func isDataFile(name string) bool {
	if !strings.HasPrefix(name, dataDir+"/") {
		return false
	}
	switch path.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// revisionOf hashes the sorted files' names and contents: "sha256:" and the
// first 16 hex digits. Any change to a module, a test or a data file changes
// it; files the set does not read (README.md, ...) do not.
func revisionOf(files []setFile) string {
	h := sha256.New()
	var n [8]byte
	for _, f := range files {
		binary.BigEndian.PutUint64(n[:], uint64(len(f.name)))
		h.Write(n[:])
		h.Write([]byte(f.name))
		binary.BigEndian.PutUint64(n[:], uint64(len(f.content)))
		h.Write(n[:])
		h.Write(f.content)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// parseSet parses the files of a set: modules, tests and merged data.
func parseSet(files []setFile) (*policySet, error) {
	set := &policySet{
		modules:  map[string]*ast.Module{},
		tests:    map[string]*ast.Module{},
		data:     map[string]any{},
		revision: revisionOf(files),
	}
	origins := map[string]string{}
	var errs []error
	for _, f := range files {
		if f.isRego() {
			m, err := ast.ParseModuleWithOpts(f.name, string(f.content), ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				errs = append(errs, fmt.Errorf("parse %s: %w", f.name, err))
				continue
			}
			if f.isTest() {
				set.tests[f.name] = m
			} else {
				set.modules[f.name] = m
			}
			continue
		}
		doc, err := parseData(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := mergeData(set.data, doc, DataRoot, f.name, origins); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("policy set: %w", err)
	}
	if len(set.modules) == 0 {
		return nil, errors.New("policy set: no Rego modules (*.rego other than *_test.rego)")
	}
	return set, nil
}

// parseData decodes a data file into a JSON-compatible object.
func parseData(f setFile) (map[string]any, error) {
	raw := f.content
	if path.Ext(f.name) != ".json" {
		var v any
		if err := yaml.Unmarshal(f.content, &v); err != nil {
			return nil, fmt.Errorf("data file %s: %w", f.name, err)
		}
		if v == nil {
			return map[string]any{}, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("data file %s: not representable as JSON (only string keys are allowed): %w", f.name, err)
		}
		raw = b
	} else if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if err := util.UnmarshalJSON(raw, &v); err != nil {
		return nil, fmt.Errorf("data file %s: %w", f.name, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("data file %s: the document must be an object (its keys are merged into data.%s)", f.name, DataRoot)
	}
	return doc, nil
}

// mergeData deep-merges src into dst. Objects merge key by key; any other
// value may be set by one file only. origins records which file set each
// path (prefix is the dotted path of dst).
func mergeData(dst, src map[string]any, prefix, file string, origins map[string]string) error {
	var errs []error
	for _, k := range util.KeysSorted(src) {
		v := src[k]
		p := prefix + "." + k
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			markOrigins(v, p, file, origins)
			continue
		}
		oldObj, oldIsObj := old.(map[string]any)
		newObj, newIsObj := v.(map[string]any)
		if oldIsObj && newIsObj {
			if err := mergeData(oldObj, newObj, p, file, origins); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		errs = append(errs, fmt.Errorf("data file %s sets data.%s, which %s already sets; each value may be set by one data file only", file, p, origins[p]))
	}
	return errors.Join(errs...)
}

// markOrigins records file as the origin of p and, for objects, of every
// path below p.
func markOrigins(v any, p, file string, origins map[string]string) {
	origins[p] = file
	if obj, ok := v.(map[string]any); ok {
		for k, child := range obj {
			markOrigins(child, p+"."+k, file, origins)
		}
	}
}

// loadSet reads and parses the policy set of fsys.
func loadSet(fsys fs.FS) (*policySet, error) {
	files, err := readSet(fsys)
	if err != nil {
		return nil, err
	}
	return parseSet(files)
}

// setRevision reads fsys and returns the revision its set would have,
// without parsing it.
func setRevision(fsys fs.FS) (string, error) {
	files, err := readSet(fsys)
	if err != nil {
		return "", err
	}
	return revisionOf(files), nil
}

package agentfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/registry"
)

const (
	// APIVersion is the version documents are written with; a document
	// without one is read as this version.
	APIVersion = "agentgate.io/v1"
	// Kind is the only kind of document.
	Kind = "Agent"
	// maxDocuments bounds the documents of one file.
	maxDocuments = 1000
)

// Document is one agent as a file declares it.
type Document struct {
	APIVersion   string            `yaml:"apiVersion"`
	Kind         string            `yaml:"kind"`
	Name         string            `yaml:"name"`
	Type         string            `yaml:"type"`
	Owner        string            `yaml:"owner"`
	Tier         agents.Tier       `yaml:"tier,omitempty"`
	Capabilities []string          `yaml:"capabilities,flow"`
	Environments []string          `yaml:"environments,flow"`
	Namespaces   []string          `yaml:"namespaces,flow,omitempty"`
	Principals   []string          `yaml:"principals,flow"`
	Labels       map[string]string `yaml:"labels,omitempty"`
	ExpiresAt    *time.Time        `yaml:"expires_at,omitempty"`
}

// Spec is the document as the registry takes it.
func (d Document) Spec() registry.Spec {
	return registry.Spec{Name: d.Name, Type: d.Type, Owner: d.Owner, Tier: d.Tier, Capabilities: d.Capabilities,
		Environments: d.Environments, Namespaces: d.Namespaces, Principals: d.Principals, Labels: d.Labels, ExpiresAt: d.ExpiresAt}
}

// FromAgent is the document that declares a as it is.
func FromAgent(a agents.Agent) Document {
	d := Document{APIVersion: APIVersion, Kind: Kind, Name: a.Name, Type: a.Type, Owner: a.Owner, Tier: a.Tier,
		Capabilities: a.Capabilities, Environments: a.Environments, Namespaces: a.Namespaces,
		Principals: a.Principals, Labels: a.Labels, ExpiresAt: a.ExpiresAt}
	if d.ExpiresAt != nil {
		t := d.ExpiresAt.UTC()
		d.ExpiresAt = &t
	}
	return d
}

// Parse reads the documents of one file; source names it in errors. Empty
// documents (a file's leading or trailing "---") are skipped; an unknown
// field, another kind or another apiVersion is an error.
func Parse(source string, data []byte) ([]Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out []Document
	for i := 1; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, apperr.Invalid("%s: document %d: %s", source, i, err.Error())
		}
		if len(node.Content) == 0 || (node.Content[0].Kind == yaml.ScalarNode && node.Content[0].Tag == "!!null") {
			continue
		}
		if len(out) == maxDocuments {
			return nil, apperr.Invalid("%s: more than %d documents", source, maxDocuments)
		}
		var d Document
		if err := decodeStrict(&node, &d); err != nil {
			return nil, apperr.Invalid("%s: document %d: %s", source, i, err.Error())
		}
		if d.Kind != Kind {
			return nil, apperr.Invalid("%s: document %d: kind is %q, want %q", source, i, d.Kind, Kind)
		}
		if d.APIVersion == "" {
			d.APIVersion = APIVersion
		}
		if d.APIVersion != APIVersion {
			return nil, apperr.Invalid("%s: document %d: apiVersion %q is not %q", source, i, d.APIVersion, APIVersion)
		}
		if d.Name == "" {
			return nil, apperr.Invalid("%s: document %d: name is required", source, i)
		}
		out = append(out, d)
	}
}

// decodeStrict decodes node into d refusing unknown fields: yaml.v3
// checks known fields only through a Decoder, so the node is re-encoded
// and decoded by one.
func decodeStrict(node *yaml.Node, d *Document) error {
	b, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(d)
}

// Write writes docs as one YAML stream, documents separated by "---".
func Write(w io.Writer, docs []Document) error {
	if len(docs) == 0 {
		return nil
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("write agent %s: %w", d.Name, err)
		}
	}
	return enc.Close()
}

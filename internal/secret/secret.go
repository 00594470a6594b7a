package secret

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is a sensitive string. It never prints, logs or marshals its value;
// use Reveal where the value is really needed.
type Secret struct {
	value string
	// from says where the value came from (inline, file path, env name),
	// which is safe to show.
	from string
	// envRef names an environment variable still to be read by Load.
	envRef string
}

const redacted = "[REDACTED]"

// New wraps a value and says where it came from.
func New(v, from string) Secret { return Secret{value: v, from: from} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether a non-empty value is present.
func (s Secret) IsSet() bool { return s.value != "" }

// Source says where the secret came from, without its value.
func (s Secret) Source() string { return s.from }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer (%#v) without revealing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON never reveals the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML never reveals the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML accepts an inline string, {file: PATH} or {env: NAME}.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = Secret{value: n.Value, from: "inline"}
		return nil
	case yaml.MappingNode:
		var ref struct {
			File string `yaml:"file"`
			Env  string `yaml:"env"`
		}
		if err := n.Decode(&ref); err != nil {
			return err
		}
		switch {
		case ref.File != "" && ref.Env != "":
			return fmt.Errorf("line %d: a secret takes file or env, not both", n.Line)
		case ref.File != "":
			f, err := FromFile(ref.File)
			if err != nil {
				return err
			}
			*s = f
			return nil
		case ref.Env != "":
			*s = Secret{envRef: ref.Env, from: "env " + ref.Env}
			return nil
		}
		return fmt.Errorf("line %d: a secret mapping needs file or env", n.Line)
	}
	return fmt.Errorf("line %d: a secret is a string, {file: PATH} or {env: NAME}", n.Line)
}

// FromFile reads a secret from a file, without its trailing line break.
func FromFile(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("read secret file: %w", err)
	}
	return Secret{value: strings.TrimRight(string(b), "\r\n"), from: "file " + path}, nil
}

// EnvRef names the environment variable a {env: NAME} secret is still to
// be read from; "" for any other secret.
func (s Secret) EnvRef() string { return s.envRef }

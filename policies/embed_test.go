package policies_test

import (
	"bytes"
	"context"
	"io/fs"
	"testing"

	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/policies"
)

func TestEmbeddedSet(t *testing.T) {
	for _, name := range []string{
		"admission.rego", "rules.rego", "quotas.rego",
		"admission_test.rego", "rules_test.rego", "quotas_test.rego", "data_test.rego", "fixtures_test.rego",
		"data/tiers.yaml", "data/settings.yaml",
	} {
		if _, err := fs.Stat(policies.FS(), name); err != nil {
			t.Errorf("%s is not embedded: %v", name, err)
		}
	}
}

func TestRegoTests(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := policy.RunTests(context.Background(), policies.FS(), &out, true)
	if err != nil || failed > 0 || passed == 0 {
		t.Fatalf("%d passed, %d failed, err %v\n%s", passed, failed, err, out.String())
	}
}

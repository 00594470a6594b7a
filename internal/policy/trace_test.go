package policy

import (
	"context"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	e := builtinEngine(t)
	in := agentInput(testAgent(), testEvent(deployTo("qa")))
	res, fired, err := e.Explain(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Decision.Deny) == 0 || res.Decision.Deny[0].Rule != plain.Decision.Deny[0].Rule {
		t.Fatalf("explained decision %+v differs from %+v", res.Decision, plain.Decision)
	}
	var found bool
	for _, f := range fired {
		if f.Rule == "violations" && strings.HasPrefix(f.Location, "rules.rego:") && strings.Contains(fmtValues(f), `msg=`) &&
			strings.Contains(fmtValues(f), `environment \"qa\"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no fired rule shows the environment qa it denied:\n%+v", fired)
	}
}

func fmtValues(f Fired) string {
	var b strings.Builder
	for _, v := range f.Values {
		b.WriteString(v.Name + "=" + v.Value + " ")
	}
	return b.String()
}

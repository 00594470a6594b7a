package policy

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/agentgate/agentgate/policies"
)

const reportTests = `package agentgate.report_test

import data.agentgate.admission

test_allows if admission.decision.allow

test_fails if admission.decision.allow == false

test_uses_data if data.agentgate.settings.mode == "enforce"

test_table[name] if {
	some name, want in {"one": 1, "two": 2}
	want < 2
}

todo_test_later if false
`

func TestRunTestsReport(t *testing.T) {
	fsys := fstest.MapFS{
		"admission.rego":      {Data: []byte(minimalPolicy)},
		"report_test.rego":    {Data: []byte(reportTests)},
		"data/settings.yaml":  {Data: []byte("settings:\n  mode: enforce\n")},
		"data/ignored.txt":    {Data: []byte("-")},
		"other/nested_test.x": {Data: []byte("-")},
	}
	ctx := context.Background()

	var out bytes.Buffer
	passed, failed, err := RunTests(ctx, fsys, &out, true)
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	// test_allows, test_uses_data and test_table[one] pass; test_fails and
	// test_table[two] fail; todo_test_later is skipped.
	if passed != 3 || failed != 2 {
		t.Errorf("passed %d, failed %d, want 3 and 2\n%s", passed, failed, out.String())
	}
	for _, want := range []string{
		"data.agentgate.report_test.test_allows: PASS",
		"data.agentgate.report_test.test_fails: FAIL",
		"data.agentgate.report_test.test_uses_data: PASS",
		"data.agentgate.report_test.test_table: FAIL",
		"  one: PASS",
		"  two: FAIL",
		"data.agentgate.report_test.todo_test_later: SKIPPED",
		"PASS: 3/6",
		"FAIL: 2/6",
		"SKIPPED: 1/6",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verbose report lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if _, _, err := RunTests(ctx, fsys, &out, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "test_allows") || !strings.Contains(out.String(), "test_fails: FAIL") {
		t.Errorf("quiet report should list only failures:\n%s", out.String())
	}
}

func TestRunTestsPrintsFailingTableCases(t *testing.T) {
	// The built-in tests collect failing case names and print them; with
	// a data change that breaks one case the report names it.
	fsys := overlay(t, policies.FS(), map[string]string{
		"policies_extra_test.rego": `package agentgate.admission_test

test_rules_fail_with_names if {
	all_pass({"first case", "second case"})
}
`,
	})
	var out bytes.Buffer
	_, failed, err := RunTests(context.Background(), fsys, &out, false)
	if err != nil {
		t.Fatal(err)
	}
	if failed != 1 || !strings.Contains(out.String(), `failing cases: {"first case", "second case"}`) {
		t.Errorf("failed %d, report:\n%s", failed, out.String())
	}
}

func TestRunTestsEdgeCases(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	passed, failed, err := RunTests(ctx, fstest.MapFS{"a.rego": {Data: []byte(minimalPolicy)}}, &out, true)
	if err != nil || passed != 0 || failed != 0 || !strings.Contains(out.String(), "no tests found") {
		t.Errorf("no tests: %d %d %v\n%s", passed, failed, err, out.String())
	}

	broken := fstest.MapFS{
		"a.rego":      {Data: []byte(minimalPolicy)},
		"a_test.rego": {Data: []byte("package a_test\n\ntest_x if undefined_thing\n")},
	}
	if _, _, err := RunTests(ctx, broken, &out, false); err == nil {
		t.Error("RunTests with a test that does not compile succeeded")
	}

	errs := fstest.MapFS{
		"a.rego":      {Data: []byte(minimalPolicy)},
		"a_test.rego": {Data: []byte("package a_test\n\ntest_x if 1 / 0 == 1\n\ntest_conflict if {\n\tx := {\"a\": 1, \"a\": 2}\n\tx.a\n}\n")},
	}
	out.Reset()
	_, failed, err = RunTests(ctx, errs, &out, false)
	if err != nil || failed == 0 {
		t.Errorf("failing tests: failed %d, err %v\n%s", failed, err, out.String())
	}

	if _, _, err := RunTests(ctx, fstest.MapFS{}, &out, false); err == nil {
		t.Error("RunTests of an empty set succeeded")
	}
}

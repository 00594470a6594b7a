package policy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/tester"
)

// testTimeout bounds one Rego test.
const testTimeout = 10 * time.Second

// testSummary counts a test run. Table tests (test_x[name]) count each case.
type testSummary struct {
	passed int
	// failed names the failed (or erroring) tests and cases.
	failed []string
}

// RunTests runs the Rego tests (*_test.rego) of the policy set in fsys with
// the set's modules and data loaded as the engine loads them, and writes a
// report to w in the style of `opa test`: with verbose, a PASS/FAIL line per
// test and per table case; without, only failures; then a summary line. A set
// that cannot be loaded or compiled is an error; failing tests are not.
func RunTests(ctx context.Context, fsys fs.FS, w io.Writer, verbose bool) (passed, failed int, err error) {
	set, err := loadSet(fsys)
	if err != nil {
		return 0, 0, fmt.Errorf("policy test: %w", err)
	}
	sum, err := runSetTests(ctx, set, w, verbose)
	if err != nil {
		return 0, 0, fmt.Errorf("policy test: %w", err)
	}
	return sum.passed, len(sum.failed), nil
}

// runSetTests compiles every module of set, tests included, runs the tests
// and reports them to w.
func runSetTests(ctx context.Context, set *policySet, w io.Writer, verbose bool) (testSummary, error) {
	// The compiler copies the modules it compiles, so the set's stay intact.
	modules := make(map[string]*ast.Module, len(set.modules)+len(set.tests))
	maps.Copy(modules, set.modules)
	maps.Copy(modules, set.tests)
	store := newStore(set)
	var sum testSummary
	err := storage.Txn(ctx, store, storage.TransactionParams{}, func(txn storage.Transaction) error {
		compiler := ast.NewCompiler().
			WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn)).
			WithEnablePrintStatements(true)
		runner := tester.NewRunner().
			SetCompiler(compiler).
			SetStore(store).
			SetModules(modules).
			CapturePrintOutput(true).
			SetTimeout(testTimeout)
		ch, err := runner.RunTests(ctx, txn)
		if err != nil {
			return fmt.Errorf("compile tests: %w", err)
		}
		var results []*tester.Result
		for r := range ch {
			results = append(results, r)
		}
		slices.SortFunc(results, func(a, b *tester.Result) int {
			return strings.Compare(a.Package+"."+a.Name, b.Package+"."+b.Name)
		})
		sum = report(w, results, verbose)
		return nil
	})
	if err != nil {
		return testSummary{}, err
	}
	return sum, ctx.Err()
}

// report writes one line per test (and per table case) and a summary, and
// counts the outcomes.
func report(w io.Writer, results []*tester.Result, verbose bool) testSummary {
	var sum testSummary
	skipped := 0
	for _, r := range results {
		name := r.Package + "." + r.Name
		switch {
		case r.Skip:
			skipped++
			if verbose {
				fmt.Fprintf(w, "%s: SKIPPED\n", name)
			}
			continue
		case r.Error != nil:
			sum.failed = append(sum.failed, name)
			fmt.Fprintf(w, "%s: ERROR (%s)\n  %v\n", name, r.Duration, r.Error)
			continue
		}
		cases := leafCases(r.SubResults)
		outcome := "PASS"
		if r.Fail {
			outcome = "FAIL"
		}
		if verbose || r.Fail {
			fmt.Fprintf(w, "%s: %s (%s)\n", name, outcome, r.Duration)
		}
		if len(cases) == 0 {
			if r.Fail {
				sum.failed = append(sum.failed, name)
			} else {
				sum.passed++
			}
		}
		for _, c := range cases {
			if c.fail {
				sum.failed = append(sum.failed, name+"["+c.name+"]")
			} else {
				sum.passed++
			}
			if verbose || c.fail {
				fmt.Fprintf(w, "  %s: %s\n", c.name, passFail(c.fail))
			}
		}
		if len(r.Output) > 0 && (verbose || r.Fail) {
			fmt.Fprintf(w, "  output:\n    %s\n", strings.ReplaceAll(strings.TrimSpace(string(r.Output)), "\n", "\n    "))
		}
	}
	total := sum.passed + len(sum.failed) + skipped
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 80))
	if total == 0 {
		fmt.Fprintln(w, "no tests found")
		return sum
	}
	fmt.Fprintf(w, "PASS: %d/%d\n", sum.passed, total)
	if len(sum.failed) > 0 {
		fmt.Fprintf(w, "FAIL: %d/%d\n", len(sum.failed), total)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "SKIPPED: %d/%d\n", skipped, total)
	}
	return sum
}

// testCase is one leaf case of a table test.
type testCase struct {
	name string
	fail bool
}

// leafCases flattens a table test's sub-results, sorted by name.
func leafCases(srm tester.SubResultMap) []testCase {
	var out []testCase
	for _, k := range slices.Sorted(maps.Keys(srm)) {
		sr := srm[k]
		if len(sr.SubResults) == 0 {
			out = append(out, testCase{name: k, fail: sr.Fail})
			continue
		}
		for _, c := range leafCases(sr.SubResults) {
			out = append(out, testCase{name: k + "/" + c.name, fail: c.fail})
		}
	}
	return out
}

func passFail(fail bool) string {
	if fail {
		return "FAIL"
	}
	return "PASS"
}

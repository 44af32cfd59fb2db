package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"
)

// RunTests runs the Rego tests of dir ("" = the embedded policies) with
// coverage, as `opa test --coverage` would: it prints each failure, a
// PASS/FAIL summary and the coverage (with the lines not covered when below
// 100%) to w. It returns an error if the policies do not load or compile, any
// test fails or errors, no test exists, or coverage is below minCoverage
// (a percentage, 0-100).
func RunTests(ctx context.Context, dir string, w io.Writer, minCoverage float64) error {
	if minCoverage < 0 || minCoverage > 100 {
		return fmt.Errorf("policy: coverage threshold %v is not within 0-100", minCoverage)
	}
	fsys, _, err := policyFS(dir)
	if err != nil {
		return err
	}
	src, err := readSource(fsys)
	if err != nil {
		return err
	}
	p, err := parseSource(src)
	if err != nil {
		return err
	}
	store, err := newStore(p.data)
	if err != nil {
		return err
	}
	if _, err := compileStrict(ctx, store, p.policyModules()); err != nil {
		return err
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return err
	}
	defer store.Abort(ctx, txn)

	cov := cover.New()
	runner := newTestRunner(store, p.modules).SetCoverageQueryTracer(cov)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return fmt.Errorf("policy: rego tests: %w", err)
	}
	var total, failed int
	counted := make(chan *tester.Result)
	go func() {
		defer close(counted)
		for r := range ch {
			total++
			if !r.Pass() && !r.Skip {
				failed++
			}
			counted <- r
		}
	}()
	if err := (tester.PrettyReporter{Output: w, FailureLine: true}).Report(counted); err != nil {
		return err
	}

	report := cov.Report(p.modules)
	fmt.Fprintf(w, "coverage: %.2f%% (%d lines covered, %d not covered)\n",
		report.Coverage, report.CoveredLines, report.NotCoveredLines)
	if report.Coverage < 100 {
		for _, file := range slices.Sorted(maps.Keys(report.Files)) {
			for _, r := range report.Files[file].NotCovered {
				fmt.Fprintf(w, "  not covered: %s:%d-%d\n", file, r.Start.Row, r.End.Row)
			}
		}
	}

	var errs []error
	if failed > 0 {
		errs = append(errs, fmt.Errorf("policy: %d of %d rego tests failed", failed, total))
	}
	if total == 0 {
		errs = append(errs, errors.New("policy: no rego tests"))
	}
	if report.Coverage < minCoverage {
		errs = append(errs, fmt.Errorf("policy: rego test coverage %.2f%% is below %.2f%%", report.Coverage, minCoverage))
	}
	return errors.Join(errs...)
}

package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// TestCostlyDocumentsAreRefused: documents that are small to send and costly
// to validate or run are refused with QUERY_TOO_COMPLEX, without a token: the
// cost analysis measures each fragment once, and the shapes that make
// validation slow are refused before it. The time each takes is measured by
// BenchmarkFragmentBomb (internal/bench); the bound here only catches a
// return to exponential or quadratic work, which takes seconds to minutes.
func TestCostlyDocumentsAreRefused(t *testing.T) {
	repeatedAtEachLevel := `id`
	for range 5 {
		repeatedAtEachLevel = strings.Repeat("parent { "+repeatedAtEachLevel+" } ", 4)
	}
	for _, c := range []struct {
		name, query, message string
		maxFragments         int
	}{
		{"a bomb of 64 fragments", testutil.FragmentBomb(64), "fragments", 50},
		{"a bomb of 64 fragments, no cap on fragments", testutil.FragmentBomb(64), "complexity", 0},
		{"a bomb of 50 fragments", testutil.FragmentBomb(50), "complexity", 50},
		{"one field 9000 times", "{ " + strings.Repeat("__typename ", 9000) + "}", "repeats", 50},
		{"a field 4 times at 5 levels", `{ organization(slug: "x") { ` + repeatedAtEachLevel + ` } }`, "repeats", 50},
	} {
		in := testutil.Start(t, testutil.SQLite, func(cfg *app.Config) { cfg.MaxFragments = c.maxFragments })
		start := time.Now()
		r := in.Do("", c.query, nil)
		if r.Code() != "QUERY_TOO_COMPLEX" || r.Status != http.StatusOK || !strings.Contains(r.Errors[0].Message, c.message) {
			t.Fatalf("%s: HTTP %d %s", c.name, r.Status, r.Raw)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s took %s", c.name, d)
		}
	}
}

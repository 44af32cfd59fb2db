package bench

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// BenchmarkFragmentBomb times the refusal of issue 11's fragment bomb over
// real HTTP, without a token: n fragments, each spreading the next twice
// (2^(n-1) fields expanded, under 2 KB written), QUERY_TOO_COMPLEX in well
// under 10 ms. With the default --max-fragments (50) a bomb of 64 is refused
// for its fragments before it is validated; without that cap (and for a bomb
// of 50) it is parsed, validated and measured by the cost analysis, which
// measures each fragment once. Each request differs by a comment, so none is
// served from the parsed-query cache.
func BenchmarkFragmentBomb(b *testing.B) {
	for _, c := range []struct {
		name         string
		fragments    int
		maxFragments int
	}{
		{"fragments=64", 64, 50},
		{"fragments=64/no-fragment-cap", 64, 0},
		{"fragments=50", 50, 50},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := testutil.Start(b, testutil.SQLite, func(cfg *app.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.MaxFragments = c.maxFragments
			})
			bomb := testutil.FragmentBomb(c.fragments)
			hc := &http.Client{}
			i := 0
			for b.Loop() {
				i++
				res, err := hc.Post(in.URL+"/graphql", "application/json", bytes.NewReader(body(fmt.Sprintf("%s # %d", bomb, i), nil)))
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if !bytes.Contains(out, []byte(`"QUERY_TOO_COMPLEX"`)) {
					b.Fatalf("HTTP %d %s", res.StatusCode, out)
				}
			}
		})
	}
}

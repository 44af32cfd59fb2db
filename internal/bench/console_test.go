package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// BenchmarkConsole is issue 12's admin console at scale: the owner of every
// tenant (what `orgraph seed` writes: trees of depth 4, fanout 5) reads
//
//   - page: organizations(first: 50, orderBy: {field: NAME}) with totalCount
//     and per-row membersCount, applicationsCount and viewerRole;
//   - prefix: the same page filtered by nameHasPrefix "x" (no org matches);
//   - count: organizations { totalCount } alone.
//
// Sizes: ORGRAPH_BENCH_CONSOLE_ORGS (default 2 000; seeding 100 000 takes
// about a minute per back end). Databases seeded beforehand by `orgraph seed`
// (a million orgs take half an hour to seed) are measured with
// ORGRAPH_BENCH_CONSOLE_DB: comma-separated URLs (an SQLite path or
// postgres://…), each path=KEYFILE-suffixed as "URL|KEYFILE", owner "seed-owner".
func BenchmarkConsole(b *testing.B) {
	if dbs := os.Getenv("ORGRAPH_BENCH_CONSOLE_DB"); dbs != "" {
		for _, spec := range strings.Split(dbs, ",") {
			url, keys, _ := strings.Cut(spec, "|")
			be := testutil.SQLite
			if strings.HasPrefix(url, "postgres") {
				be = testutil.Postgres
			}
			b.Run(fmt.Sprintf("%s/seeded=%s", be, url), func(b *testing.B) {
				w := start(b, be, func(c *app.Config) { c.DB, c.KeyFile = url, keys })
				w.analyzed = true // as seeded (orgraph seed analyzes PostgreSQL)
				consolePages(b, w, w.in.Token("seed-owner", ""), -1)
			})
		}
		return
	}
	size := 2_000
	if n, err := strconv.Atoi(os.Getenv("ORGRAPH_BENCH_CONSOLE_ORGS")); err == nil {
		size = n
	}
	for _, be := range testutil.Backends {
		b.Run(fmt.Sprintf("%s/orgs=%d", be, size), func(b *testing.B) {
			w := start(b, be)
			owner, token := w.account(b, "seed-owner", false)
			for w.orgs < size {
				w.tree(b, owner, 5, 4, min(781, size-w.orgs))
			}
			consolePages(b, w, token, size)
		})
	}
}

// consolePages measures the three console reads; total is the expected
// totalCount (-1: any).
func consolePages(b *testing.B, w *world, token string, total int) {
	counted := func(b *testing.B, data map[string]any) int {
		n, ok := testutil.Get(data, "organizations", "totalCount").(float64)
		if !ok || total >= 0 && int(n) != total {
			b.Fatalf("totalCount = %v, want %d: %v", testutil.Get(data, "organizations", "totalCount"), total, data)
		}
		return int(n)
	}
	b.Run("page", func(b *testing.B) {
		w.measure(b, target{token: token, payload: body(ConsolePageQuery, nil), check: func(b *testing.B, data map[string]any) {
			n := counted(b, data)
			edges, _ := testutil.Get(data, "organizations", "edges").([]any)
			if len(edges) != min(50, n) || testutil.Str(edges[0], "node", "viewerRole") != "owner" {
				b.Fatalf("page: %d edges of %d: %v", len(edges), n, data)
			}
		}})
	})
	b.Run("prefix", func(b *testing.B) {
		w.measure(b, target{token: token, payload: body(ConsolePrefixQuery, nil), check: func(b *testing.B, data map[string]any) {
			if n := testutil.Get(data, "organizations", "totalCount"); n != float64(0) {
				b.Fatalf("prefix x: totalCount %v", n)
			}
		}})
	})
	b.Run("count", func(b *testing.B) {
		w.measure(b, target{token: token, payload: body(ConsoleCountQuery, nil), check: func(b *testing.B, data map[string]any) { counted(b, data) }})
	})
}

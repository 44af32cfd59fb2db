package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/seed"
	"github.com/orgraph/orgraph/internal/testutil"
)

// sizes are the database sizes (orgs, all tenants together) the tree and
// tenant benchmarks run at: 1 000, and 100 000 with ORGRAPH_BENCH_LARGE=1.
func sizes() []int {
	if os.Getenv("ORGRAPH_BENCH_LARGE") == "1" {
		return []int{1_000, 100_000}
	}
	return []int{1_000}
}

// world is one orgraph behind a real HTTP server (testutil.Start) on a fresh
// database, with the tenants a benchmark seeds.
type world struct {
	in     *testutil.Instance
	sys    context.Context // the service's own context: no list filters
	orgs   int             // orgs written so far, all tenants
	client *http.Client
	// analyzed is set once PostgreSQL has statistics of the seeded tables.
	analyzed bool
	grantees int
}

func start(b testing.TB, be testutil.Backend, opts ...testutil.Option) *world {
	b.Helper()
	in := testutil.Start(b, be, append([]testutil.Option{func(c *app.Config) {
		// Each request is logged at Info; that is I/O, not what is measured here.
		c.Logger = slog.New(slog.DiscardHandler)
	}}, opts...)...)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.Cleanup(tr.CloseIdleConnections)
	return &world{in: in, sys: gate.System(context.Background()), client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// account creates an account and returns it with an unconfined token.
func (w *world) account(b testing.TB, alias string, platformAdmin bool) (*ent.Account, string) {
	b.Helper()
	tok := w.in.Account(alias, platformAdmin)
	acc, err := w.in.Service.AccountByAlias(w.sys, alias)
	if err != nil {
		b.Fatal(err)
	}
	return acc, tok
}

// grantee creates a new account with role on org and returns its token.
func (w *world) grantee(b testing.TB, role string, org uuid.UUID) string {
	b.Helper()
	w.grantees++
	acc, err := w.in.Service.CreateAccount(w.sys, fmt.Sprintf("grantee-%d", w.grantees), "Grantee", false)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.in.Store.Client.Membership.Create().SetAccountID(acc.ID).SetOrganizationID(org).SetRole(role).Exec(w.sys); err != nil {
		b.Fatal(err)
	}
	tok, _, err := w.in.Auth.Issue(acc, nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// tree seeds one tenant tree owned by owner (internal/seed, breadth first).
func (w *world) tree(b testing.TB, owner *ent.Account, fanout, depth, n int) []uuid.UUID {
	b.Helper()
	ids, err := seed.Tree(w.sys, w.in.Store.Client, w.in.Engine, owner, fmt.Sprintf("Tenant %d", w.orgs), fanout, depth, n)
	if err != nil {
		b.Fatalf("seed %d orgs: %v", n, err)
	}
	w.orgs += n
	return ids
}

// fill seeds other tenants until the database holds total orgs: trees of 156
// orgs (depth 3, fanout 5, what `orgraph seed` writes) owned by one account
// the benchmarks never call as.
func (w *world) fill(b testing.TB, total int) {
	b.Helper()
	if w.orgs >= total {
		return
	}
	owner, _ := w.account(b, "other-tenants", false)
	start := time.Now()
	for w.orgs < total {
		w.tree(b, owner, 5, 3, min(156, total-w.orgs))
	}
	if d := time.Since(start); d > 5*time.Second {
		b.Logf("seeded %d orgs in %s", total, d.Round(time.Millisecond))
	}
}

// members gives every org of ids perOrg more members (role "member" or
// "viewer") from a pool of ten accounts, so that members(first: 10) and
// account { alias } have rows to load.
func (w *world) members(b testing.TB, ids []uuid.UUID, perOrg int) {
	b.Helper()
	pool := make([]*ent.Account, 10)
	for i := range pool {
		acc, err := w.in.Service.CreateAccount(w.sys, fmt.Sprintf("member-%02d", i), fmt.Sprintf("Member %d", i), false)
		if err != nil {
			b.Fatal(err)
		}
		pool[i] = acc
	}
	var batch []*ent.MembershipCreate
	flush := func() {
		if err := w.in.Store.Client.Membership.CreateBulk(batch...).Exec(w.sys); err != nil {
			b.Fatalf("seed members: %v", err)
		}
		batch = batch[:0]
	}
	for i, id := range ids {
		for k := range perOrg {
			role := []string{"member", "viewer"}[k%2]
			batch = append(batch, w.in.Store.Client.Membership.Create().
				SetAccountID(pool[(i+k)%len(pool)].ID).SetOrganizationID(id).SetRole(role))
		}
		if len(batch) >= 100 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}

// subtree lists root and every org below it.
func (w *world) subtree(b testing.TB, root uuid.UUID) []uuid.UUID {
	b.Helper()
	ids, err := w.in.Store.Client.OrgClosure.Query().Where(orgclosure.AncestorID(root)).
		Select(orgclosure.FieldDescendantID).Strings(w.sys)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		out[i] = uuid.MustParse(id)
	}
	return out
}

// applications gives every org of ids perOrg applications (one sector each).
func (w *world) applications(b testing.TB, ids []uuid.UUID, perOrg int) {
	b.Helper()
	for i, id := range ids {
		sec, err := w.in.Store.Client.Sector.Create().SetOrganizationID(id).SetName("default").SetSecret(make([]byte, 32)).Save(w.sys)
		if err != nil {
			b.Fatal(err)
		}
		for k := range perOrg {
			if err := w.in.Store.Client.Application.Create().SetOrganizationID(id).SetSectorID(sec.ID).
				SetName(fmt.Sprintf("app %d", k)).SetKind(application.KindOIDC_RP).SetAnchor(fmt.Sprintf("app_%d_%d", i, k)).Exec(w.sys); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// analyze gives PostgreSQL statistics of what was seeded, as autovacuum
// would soon after a bulk load in production: without them the planner
// expects `deleted_at IS NULL` to match 0.5 % of the orgs and, at 100 000
// orgs, answers the tenant list with a parallel sequential scan of
// organizations nested-looped into org_closures (about 100 ms per statement
// instead of 3 ms). ORGRAPH_BENCH_NO_ANALYZE=1 keeps the unanalyzed plans.
// SQLite is left alone: orgraph never runs ANALYZE there.
func (w *world) analyze(b testing.TB) {
	b.Helper()
	if w.analyzed || !w.in.Store.IsPostgres() || os.Getenv("ORGRAPH_BENCH_NO_ANALYZE") == "1" {
		return
	}
	if _, err := w.in.Store.DB.ExecContext(context.Background(), "ANALYZE"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
	w.analyzed = true
}

// body encodes a GraphQL request once, outside the timed loop.
func body(query string, vars map[string]any) []byte {
	out, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err)
	}
	return out
}

// post sends one GraphQL request to url and returns the body; an HTTP status
// other than 200 or a response with errors is an error.
func post(hc *http.Client, url, token string, payload []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors":`)) {
		return nil, fmt.Errorf("HTTP %d: %.300s", res.StatusCode, out)
	}
	return out, nil
}

// decode returns a response's data.
func decode(b testing.TB, raw []byte) map[string]any {
	b.Helper()
	var r struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		b.Fatalf("decode %.200s: %v", raw, err)
	}
	return r.Data
}

// target is what one benchmark iteration sends.
type target struct {
	url     string // GraphQL endpoint; "" = the instance's /graphql
	token   string
	payload []byte
	// check validates the first (warm-up) response before anything is timed.
	check func(b *testing.B, data map[string]any)
	// next, if set, prepares each iteration (timer stopped) and returns its token.
	next func(b *testing.B, i int) string
}

// measure runs t in a b.Loop over real HTTP and reports, besides ns/op and
// allocs/op (client and server together: they share the process),
// stmts/op (SQL statements the request sent through ent, counted by the
// store's driver; Store.NodeType's lookup goes to database/sql directly and
// is not counted), goroutines/op (goroutines created while serving it, client
// included) and the p50/p99 latency of one request.
func (w *world) measure(b *testing.B, t target) {
	b.Helper()
	url := t.url
	if url == "" {
		url = w.in.URL + "/graphql"
	}
	w.analyze(b)
	// Warm up: connections, prepared caches, the policy's decision cache.
	for i := range 3 {
		raw, err := post(w.client, url, t.token, t.payload)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 && t.check != nil {
			t.check(b, decode(b, raw))
		}
	}
	drv := w.in.Store.Driver
	var stmts int64
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	goroutines := func() uint64 {
		metrics.Read(created)
		if created[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return created[0].Value.Uint64()
	}
	var spawned uint64
	lat := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		token := t.token
		if t.next != nil {
			b.StopTimer()
			token = t.next(b, i)
			b.StartTimer()
		}
		before, g0 := drv.Statements(), goroutines()
		t0 := time.Now()
		if _, err := post(w.client, url, token, t.payload); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		stmts += drv.Statements() - before
		spawned += goroutines() - g0
	}
	b.ReportMetric(float64(stmts)/float64(b.N), "stmts/op")
	b.ReportMetric(float64(spawned)/float64(b.N), "goroutines/op")
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// countNodes counts the orgs of a nested tree response (the root included).
func countNodes(org any) int {
	n := 1
	edges, _ := testutil.Get(org, "children", "edges").([]any)
	for _, e := range edges {
		n += countNodes(testutil.Get(e, "node"))
	}
	return n
}

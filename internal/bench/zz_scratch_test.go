package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
	"github.com/orgraph/orgraph/internal/testutil"
	"github.com/orgraph/orgraph/server"
)

type timing struct {
	dialect.Driver
	mu  sync.Mutex
	on  bool
	dur map[string]time.Duration
	n   map[string]int
}

func (d *timing) Query(ctx context.Context, q string, args, v any) error {
	t0 := time.Now()
	err := d.Driver.Query(ctx, q, args, v)
	if d.on {
		d.mu.Lock()
		k := q
		if len(k) > 160 {
			k = k[:160]
		}
		d.dur[k] += time.Since(t0)
		d.n[k]++
		d.mu.Unlock()
	}
	return err
}

func TestScratchTiming(t *testing.T) {
	if os.Getenv("SCRATCH") != "timing" {
		t.Skip()
	}
	in := testutil.Start(t, testutil.SQLite)
	w := &world{in: in, sys: gate.System(context.Background()), client: http_client()}
	owner, ownerTok := w.account(t, "tree-owner", false)
	ids := w.tree(t, owner, 5, 3, 156)
	w.members(t, ids, 2)
	w.fill(t, 1000)
	_, adminTok := w.account(t, "platform-admin", true)
	// a second client over the same driver, timed
	td := &timing{Driver: in.Store.Driver, dur: map[string]time.Duration{}, n: map[string]int{}}
	client := ent.NewClient(ent.Driver(td))
	g := gate.New(client, in.Engine)
	svc := service.New(client, in.Store.Dialect, g, service.Config{Limits: app.DefaultConfig().Limits, Roles: in.Engine.Roles, Capabilities: in.Engine.Capabilities})
	au, _ := auth.New(context.Background(), client)
	_ = au
	res := &graph.Resolver{Client: client, Service: svc, Gate: g, Auth: in.Auth, NodeType: in.Store.NodeType}
	h := server.New(server.Config{Resolver: res, Client: client, Auth: in.Auth, Gate: g, Ping: in.Store.Ping, PolicyVersion: in.Engine.Version, MaxDepth: 64, MaxComplexity: 200000})
	srv := httptest.NewServer(h)
	defer srv.Close()
	payload := body(NestedTreeQuery, map[string]any{"id": ids[0].String()})
	for _, who := range []struct{ name, tok string }{{"owner", ownerTok}, {"admin", adminTok}} {
		for range 5 {
			if _, err := post(w.client, srv.URL+"/graphql", who.tok, payload); err != nil {
				t.Fatal(err)
			}
		}
		td.on = true
		const N = 100
		for range N {
			if _, err := post(w.client, srv.URL+"/graphql", who.tok, payload); err != nil {
				t.Fatal(err)
			}
		}
		td.on = false
		type kv struct {
			k string
			d time.Duration
			n int
		}
		var all []kv
		var tot time.Duration
		for k, d := range td.dur {
			all = append(all, kv{k, d, td.n[k]})
			tot += d
		}
		sort.Slice(all, func(i, j int) bool { return all[i].d > all[j].d })
		fmt.Printf("== %s: SQL wall %.2f ms/request\n", who.name, float64(tot.Microseconds())/1000/N)
		for _, e := range all[:8] {
			fmt.Printf("  %7.3f ms/req  x%.1f  %s\n", float64(e.d.Microseconds())/1000/N, float64(e.n)/N, e.k)
		}
		td.dur, td.n = map[string]time.Duration{}, map[string]int{}
	}
}

func http_client() *http.Client { return &http.Client{} }

func BenchmarkScratchBigTenant(b *testing.B) {
	for _, be := range testutil.Backends {
		for _, depth := range []int{3, 5, 6} {
			b.Run(fmt.Sprintf("%s/depth=%d", be, depth), func(b *testing.B) {
				w := start(b, be)
				owner, token := w.account(b, "tree-owner", false)
				n := 0
				for d, k := 0, 1; d <= depth; d, k = d+1, k*5 {
					n += k
				}
				ids := w.tree(b, owner, 5, depth, n)
				w.members(b, ids[:156], 2)
				b.Logf("tenant tree of %d orgs", n)
				if os.Getenv("ADMIN") == "1" {
					_, token = w.account(b, "platform-admin", true)
				}
				w.measure(b, target{token: token, payload: body(NestedTreeQuery, map[string]any{"id": ids[0].String()}), check: func(b *testing.B, data map[string]any) {
					if c := countNodes(testutil.Get(data, "organization")); c != 156 {
						b.Fatalf("%d nodes", c)
					}
				}})
			})
		}
	}
}

func TestScratchPlans(t *testing.T) {
	if os.Getenv("SCRATCH") != "plans" {
		t.Skip()
	}
	for _, be := range testutil.Backends {
		w := start(t, be)
		owner, _ := w.account(t, "tree-owner", false)
		ids := w.tree(t, owner, 5, 6, 19531)
		w.members(t, ids[:156], 2)
		w.analyze(t)
		ph := func(i int) string {
			if be == testutil.Postgres {
				return fmt.Sprintf("$%d", i)
			}
			return "?"
		}
		q := fmt.Sprintf(`SELECT organization_id, COUNT(*) FROM memberships WHERE organization_id IN (%s, %s, %s, %s, %s) AND (account_id = %s OR organization_id IN (SELECT descendant_id FROM org_closures WHERE ancestor_id IN (%s))) GROUP BY organization_id`,
			ph(1), ph(2), ph(3), ph(4), ph(5), ph(6), ph(7))
		args := []any{ids[1], ids[2], ids[3], ids[4], ids[5], owner.ID, ids[0]}
		prefix := "EXPLAIN QUERY PLAN "
		if be == testutil.Postgres {
			prefix = "EXPLAIN (ANALYZE, COSTS OFF) "
		}
		rows, err := w.in.Store.DB.Query(prefix+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Println(be, vals[len(vals)-1])
		}
		rows.Close()
		t0 := time.Now()
		for range 20 {
			rows, _ := w.in.Store.DB.Query(q, args...)
			for rows.Next() {
			}
			rows.Close()
		}
		fmt.Println(be, "per statement:", time.Since(t0)/20)
		q2 := fmt.Sprintf(`SELECT organization_id, COUNT(*) FROM memberships WHERE organization_id IN (%s, %s, %s, %s, %s) AND (account_id = %s OR EXISTS (SELECT 1 FROM org_closures c WHERE c.descendant_id = memberships.organization_id AND c.ancestor_id IN (%s))) GROUP BY organization_id`,
			ph(1), ph(2), ph(3), ph(4), ph(5), ph(6), ph(7))
		var n1, n2 int
		for _, qq := range []struct {
			q string
			n *int
		}{{q, &n1}, {q2, &n2}} {
			rows, _ := w.in.Store.DB.Query(qq.q, args...)
			for rows.Next() {
				var id string
				var c int
				rows.Scan(&id, &c)
				*qq.n += c
			}
			rows.Close()
		}
		t0 = time.Now()
		for range 20 {
			rows, _ := w.in.Store.DB.Query(q2, args...)
			for rows.Next() {
			}
			rows.Close()
		}
		fmt.Println(be, "EXISTS variant per statement:", time.Since(t0)/20, "same result:", n1 == n2, n1)
		if be == testutil.Postgres {
			for _, mode := range []string{"auto", "force_custom_plan", "force_generic_plan"} {
				conn, _ := w.in.Store.DB.Conn(context.Background())
				conn.ExecContext(context.Background(), "SET plan_cache_mode = "+mode)
				for _, qq := range []string{q, q2} {
					t0 := time.Now()
					for range 20 {
						rows, _ := conn.QueryContext(context.Background(), qq, args...)
						for rows.Next() {
						}
						rows.Close()
					}
					fmt.Println("pgmode", mode, qq[100:150], time.Since(t0)/20)
				}
				conn.ExecContext(context.Background(), "RESET plan_cache_mode")
				conn.Close()
			}
			rows, _ := w.in.Store.DB.Query("EXPLAIN (ANALYZE, COSTS OFF) "+q2, args...)
			for rows.Next() {
				var l string
				rows.Scan(&l)
				fmt.Println("pg2", l)
			}
			rows.Close()
		}
	}
}

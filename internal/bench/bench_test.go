package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/testutil"
)

// treeWorld seeds the nested-tree scenario: the caller owns one tree of 156
// orgs (root + 5 + 25 + 125), each org has two more members besides the
// owner's grant on the root, and other tenants fill the database up to size orgs.
func treeWorld(b testing.TB, be testutil.Backend, size int) (w *world, root uuid.UUID, token string) {
	w = start(b, be)
	owner, token := w.account(b, "tree-owner", false)
	ids := w.tree(b, owner, 5, 3, 156)
	w.members(b, ids, 2)
	w.fill(b, size)
	return w, ids[0], token
}

// checkTree validates a nested tree response: 156 orgs, members and their aliases.
func checkTree(b *testing.B, data map[string]any) {
	org := testutil.Get(data, "organization")
	if n := countNodes(org); n != 156 {
		b.Fatalf("tree has %d orgs, want 156", n)
	}
	if n := testutil.Get(org, "members", "totalCount"); n != float64(3) {
		b.Fatalf("root members totalCount = %v, want 3", n)
	}
	leaf := testutil.Get(org, "children", "edges", 4, "node", "children", "edges", 4, "node", "children", "edges", 4, "node")
	if testutil.Get(leaf, "members", "totalCount") != float64(2) || testutil.Str(leaf, "members", "edges", 1, "node", "account", "alias") == "" {
		b.Fatalf("leaf members not loaded: %v", leaf)
	}
}

// BenchmarkNestedTree is PostGraphile's query from peers.md over real HTTP:
// one org and its children three levels deep (156 orgs), each with its first
// ten members (role, account alias) and its application count, read by the
// owner of the tree through the policy gate.
//
// orgs=N: the caller's tenant is the 156 orgs queried, other tenants fill the
// database up to N orgs. tenant=19531: the caller owns one tenant of 19 531
// orgs (depth 6, fanout 5) and reads the same top 156 of it: the response is
// the same, so any difference is the cost of the caller's scope size.
func BenchmarkNestedTree(b *testing.B) {
	for _, size := range sizes() {
		for _, be := range testutil.Backends {
			b.Run(fmt.Sprintf("%s/orgs=%d", be, size), func(b *testing.B) {
				w, root, token := treeWorld(b, be, size)
				w.measure(b, target{
					token:   token,
					payload: body(NestedTreeQuery, map[string]any{"id": root.String()}),
					check:   checkTree,
				})
			})
		}
	}
	for _, be := range testutil.Backends {
		b.Run(fmt.Sprintf("%s/tenant=19531", be), func(b *testing.B) {
			w := start(b, be)
			owner, token := w.account(b, "tree-owner", false)
			ids := w.tree(b, owner, 5, 6, 19_531)
			w.members(b, ids[:156], 2)
			w.measure(b, target{
				token:   token,
				payload: body(NestedTreeQuery, map[string]any{"id": ids[0].String()}),
				check:   checkTree,
			})
		})
	}
}

// BenchmarkVersusShape is the versus kit's work (../shared/peers/postgraphile):
// the same query and data shape (a tree of 156 orgs read by its owner, every
// org with 2 memberships and 2 applications), so its figures can be set
// beside the kit's without running it.
func BenchmarkVersusShape(b *testing.B) {
	for _, be := range testutil.Backends {
		b.Run(string(be), func(b *testing.B) {
			w, root, token := treeWorld(b, be, 1_000)
			ids := w.subtree(b, root)
			w.applications(b, ids, 2)
			w.measure(b, target{
				token:   token,
				payload: body(VersusQuery, map[string]any{"id": root.String()}),
				check: func(b *testing.B, data map[string]any) {
					org := testutil.Get(data, "organization")
					if n := countNodes(org); n != 156 {
						b.Fatalf("tree has %d orgs, want 156", n)
					}
					if n := testutil.Get(org, "applications", "totalCount"); n != float64(2) {
						b.Fatalf("root applications totalCount = %v, want 2", n)
					}
				},
			})
		})
	}
}

// BenchmarkTenantList compares with SpiceDB's figures in peers.md.
//
//   - list: a tenant owner lists the orgs it can read (its tree of 801 orgs)
//     with their total: organizations(first: 100) { totalCount edges { node { id } } }.
//   - check-depth20: authorize(organization.read) on an org 20 levels below
//     the caller's owner grant (a chain of 21 orgs).
//     same-subject repeats the question (the policy's decision cache answers);
//     new-admin asks as a new account granted admin on the chain root each
//     time (the decision cache has no subject id in its key, so it still
//     answers: the analogue of SpiceDB's cached check);
//     new-owner grants owner instead, which changes the owner count of the
//     root, part of the cache key, so every decision is evaluated by OPA
//     (the analogue of SpiceDB's computed check). Account creation and the
//     grant are outside the timer.
func BenchmarkTenantList(b *testing.B) {
	for _, size := range sizes() {
		for _, be := range testutil.Backends {
			b.Run(fmt.Sprintf("%s/orgs=%d", be, size), func(b *testing.B) {
				w := start(b, be)
				tenant, tenantToken := w.account(b, "tenant-owner", false)
				w.tree(b, tenant, 5, 5, 801)
				chainOwner, chainToken := w.account(b, "chain-owner", false)
				chain := w.tree(b, chainOwner, 1, 20, 21)
				w.fill(b, size)
				leaf := chain[20]
				check := body(AuthorizeQuery, map[string]any{"id": leaf.String()})
				allowed := func(b *testing.B, data map[string]any) {
					if testutil.Get(data, "authorize", "allowed") != true {
						b.Fatalf("authorize on depth 20: %v", data)
					}
				}

				b.Run("list", func(b *testing.B) {
					w.measure(b, target{token: tenantToken, payload: body(TenantListQuery, nil),
						check: func(b *testing.B, data map[string]any) {
							if n := testutil.Get(data, "organizations", "totalCount"); n != float64(801) {
								b.Fatalf("totalCount = %v, want 801", n)
							}
							if e, _ := testutil.Get(data, "organizations", "edges").([]any); len(e) != 100 {
								b.Fatalf("%d edges, want 100", len(e))
							}
						}})
				})
				b.Run("check-depth20/same-subject", func(b *testing.B) {
					w.measure(b, target{token: chainToken, payload: check, check: allowed})
				})
				for _, role := range []string{"admin", "owner"} {
					b.Run("check-depth20/new-"+role, func(b *testing.B) {
						subject := func(b *testing.B, _ int) string { return w.grantee(b, role, chain[0]) }
						w.measure(b, target{token: subject(b, 0), payload: check, check: allowed, next: subject})
					})
				}
			})
		}
	}
}

// BenchmarkGateOverhead shows what the policy gate costs on the nested tree
// query (1 000 orgs), three ways, on the same data over real HTTP:
//
//   - owner: the tree's owner through the full server: SQL list filters from
//     its list_scope (subtree of its grant) and a policy decision per
//     (org, action) on every org-data field, memoized per request and served
//     across requests by the policy's decision cache;
//   - platform-admin: a platform admin through the full server: list_scope
//     is "all" (the filters reduce to 1 = 1), the field decisions still run;
//   - no-gate: the same schema and resolvers behind a bare gqlgen handler
//     with the same per-request memo and count batching and the same token
//     authentication, but as the system (no list filters) and without the
//     field middleware (no decisions), no query limits, metrics or request
//     logging. This is the floor the gate adds to.
//
// All three must return the same data, which is checked before timing.
func BenchmarkGateOverhead(b *testing.B) {
	for _, be := range testutil.Backends {
		b.Run(string(be), func(b *testing.B) {
			w, root, ownerToken := treeWorld(b, be, 1_000)
			_, adminToken := w.account(b, "platform-admin", true)
			ungated := httptest.NewServer(ungatedHandler(w))
			b.Cleanup(ungated.Close)
			payload := body(NestedTreeQuery, map[string]any{"id": root.String()})

			var want map[string]any
			same := func(b *testing.B, data map[string]any) {
				checkTree(b, data)
				if want == nil {
					want = data
				} else if !reflect.DeepEqual(want, data) {
					b.Fatal("the gated and ungated responses differ")
				}
			}
			b.Run("owner", func(b *testing.B) {
				w.measure(b, target{token: ownerToken, payload: payload, check: same})
			})
			b.Run("platform-admin", func(b *testing.B) {
				w.measure(b, target{token: adminToken, payload: payload, check: same})
			})
			b.Run("no-gate", func(b *testing.B) {
				w.measure(b, target{url: ungated.URL, token: ownerToken, payload: payload, check: same})
			})
		})
	}
}

// ungatedHandler serves the schema without the gate (see BenchmarkGateOverhead).
func ungatedHandler(w *world) http.Handler {
	a := w.in.App
	res := &graph.Resolver{Client: a.Store.Client, Service: a.Service, Gate: a.Gate, Auth: a.Auth, NodeType: a.Store.NodeType}
	srv := handler.New(graph.NewSchema(res))
	srv.AddTransport(transport.POST{})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		tok := r.Header.Get("Authorization")
		if len(tok) > len("Bearer ") {
			p, err := a.Auth.Authenticate(ctx, tok[len("Bearer "):])
			if err != nil || p == nil {
				http.Error(rw, "unauthenticated", http.StatusUnauthorized)
				return
			}
			ctx = auth.WithPrincipal(ctx, p)
		}
		ctx = gate.System(gate.WithRequest(graph.WithLoaders(ctx, a.Store.Client)))
		srv.ServeHTTP(rw, r.WithContext(ctx))
	})
}

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/seed"
	"github.com/orgraph/orgraph/internal/testutil"
)

// nestedTreeQuery is PostGraphile's benchmark shape: three levels of children,
// each with members (and their accounts) and applications.
const nestedTreeQuery = `query Tree($id: ID!) {
  organization(id: $id) {
    id name slug membersCount applicationsCount
    members(first: 10) { totalCount edges { node { role account { alias } } } }
    applications { totalCount }
    children(first: 10) { totalCount edges { node {
      id name slug membersCount
      members(first: 10) { totalCount edges { node { role account { alias } } } }
      applications { totalCount }
      children(first: 10) { totalCount edges { node {
        id name slug membersCount
        members(first: 10) { totalCount edges { node { role account { alias } } } }
        applications { totalCount }
        children(first: 10) { totalCount edges { node {
          id name slug
          members(first: 10) { totalCount edges { node { role account { alias } } } }
          applications { totalCount }
        } } }
      } } }
    } } }
  }
}`

// TestNestedQueryStatementCount proves a nested tree read costs a number of SQL
// statements bounded by the query's depth, not by the number of orgs.
func TestNestedQueryStatementCount(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			token := in.Account("treeowner", false)
			ctx := gate.System(context.Background())
			owner, err := in.Service.AccountByAlias(ctx, "treeowner")
			if err != nil {
				t.Fatal(err)
			}
			counts := map[int]int64{}
			// 15 and 585 orgs; 1464 crosses the size from which list filters probe per row
			for _, fanout := range []int{2, 8, 11} {
				n := 1 + fanout + fanout*fanout + fanout*fanout*fanout
				ids, err := seed.Tree(ctx, in.Store.Client, in.Engine, owner, fmt.Sprintf("Tree %d", fanout), fanout, 3, n)
				if err != nil {
					t.Fatal(err)
				}
				before := in.Store.Driver.Statements()
				data := in.MustDo(token, nestedTreeQuery, map[string]any{"id": ids[0].String()})
				counts[n] = in.Store.Driver.Statements() - before

				shown := min(fanout, 10)
				level1 := testutil.Get(data, "organization", "children", "edges").([]any)
				if len(level1) != shown || testutil.Get(data, "organization", "children", "totalCount") != float64(fanout) {
					t.Fatalf("fanout %d: got %d children", fanout, len(level1))
				}
				leaf := testutil.Get(level1[0], "node", "children", "edges", 0, "node", "children", "edges")
				if got := len(leaf.([]any)); got != shown {
					t.Fatalf("fanout %d: got %d grandchildren of the first grandchild", fanout, got)
				}
				if alias := testutil.Str(data, "organization", "members", "edges", 0, "node", "account", "alias"); alias != "treeowner" {
					t.Fatalf("root member alias = %q", alias)
				}
				if got := testutil.Get(data, "organization", "membersCount"); got != float64(1) {
					t.Fatalf("membersCount = %v", got)
				}
			}
			t.Logf("statements per request: %v", counts)
			total := testutil.Get(in.MustDo(token, `{ organizations { totalCount } }`, nil), "organizations", "totalCount")
			if total != float64(15+585+1464) {
				t.Fatalf("the owner lists %v orgs, want %d", total, 15+585+1464)
			}
			if counts[15] != counts[585] || counts[585] != counts[1464] {
				t.Fatalf("statement count grows with the tree: %v", counts)
			}
			// the caller's account and memberships, the scope's size probe,
			// then one statement for the orgs of every level, one for every
			// member page and one for their accounts
			if counts[15] > 6 {
				t.Fatalf("%d statements for a 4-level query, want at most 6", counts[15])
			}
		})
	}
}

// childNames lists the names of a children connection's nodes, in order.
func childNames(conn any) []string {
	var out []string
	edges, _ := testutil.Get(conn, "edges").([]any)
	for _, e := range edges {
		out = append(out, testutil.Str(e, "node", "name"))
	}
	return out
}

// TestChildrenOrderBy checks that children(orderBy:) sorts, however the
// children are loaded: under one org, nested a level down, and under every org
// of a list.
func TestChildrenOrderBy(t *testing.T) {
	names := []string{"Zeta", "Alpha", "Mu", "Kappa", "Beta"}
	asc := []string{"Alpha", "Beta", "Kappa", "Mu", "Zeta"}
	desc := []string{"Zeta", "Mu", "Kappa", "Beta", "Alpha"}
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Root"})["id"].(string)
			mid := mustCreate(t, in, alice, map[string]any{"name": "Mid", "parentId": root})["id"].(string)
			for _, n := range names {
				mustCreate(t, in, alice, map[string]any{"name": n, "parentId": mid})
			}
			check := func(what string, got, want []string) {
				t.Helper()
				if !eq(got, want) {
					t.Fatalf("%s: got %v, want %v", what, got, want)
				}
			}
			for _, dir := range []struct {
				name string
				want []string
			}{{"ASC", asc}, {"DESC", desc}} {
				vars := map[string]any{"root": root, "mid": mid, "dir": dir.name}
				order := `orderBy: {field: NAME, direction: $dir}`
				d := in.MustDo(alice, `query($mid: ID!, $dir: OrderDirection!) { organization(id: $mid) {
					paged: children(first: 20, `+order+`) { edges { node { name } } }
					all: children(`+order+`) { totalCount edges { node { name } } }
					last: children(last: 3, `+order+`) { edges { node { name } } }
				} }`, vars)
				check(dir.name+" children(first:)", childNames(testutil.Get(d, "organization", "paged")), dir.want)
				check(dir.name+" children", childNames(testutil.Get(d, "organization", "all")), dir.want)
				check(dir.name+" children(last:)", childNames(testutil.Get(d, "organization", "last")), dir.want[2:])

				d = in.MustDo(alice, `query($root: ID!, $dir: OrderDirection!) { organization(id: $root) {
					children(first: 20) { edges { node { ...sortedChildren } } }
				} }
				fragment sortedChildren on Organization { name children(first: 20, `+order+`) { edges { node { name } } } }`, vars)
				check(dir.name+" nested children", childNames(testutil.Get(d, "organization", "children", "edges", 0, "node", "children")), dir.want)

				// a single value in a variable of a list type is a list of one, too
				d = in.MustDo(alice, `query($mid: ID!, $order: [OrganizationOrder!]) { organization(id: $mid) {
					children(first: 20, orderBy: $order) { edges { node { name } } }
				} }`, map[string]any{"mid": mid, "order": map[string]any{"field": "NAME", "direction": dir.name}})
				check(dir.name+" children(orderBy: $order)", childNames(testutil.Get(d, "organization", "children")), dir.want)

				d = in.MustDo(alice, `query($dir: OrderDirection!) { organizations(first: 20, orderBy: {field: NAME}) { edges { node { name
					children(first: 20, `+order+`) { edges { node { name } } } } } } }`, vars)
				for _, e := range testutil.Get(d, "organizations", "edges").([]any) {
					if testutil.Str(e, "node", "name") == "Mid" {
						check(dir.name+" children in a list", childNames(testutil.Get(e, "node", "children")), dir.want)
					}
				}
			}
		})
	}
}

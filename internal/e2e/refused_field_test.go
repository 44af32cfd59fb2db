package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/orgraph/orgraph/internal/testutil"
)

// TestRefusedFieldKeepsItsParent (issue 12, item 6): a caller whose role
// reads the orgs but not their members (billing, in the default policy data)
// gets the tree, with members and membersCount null and FORBIDDEN at their
// paths only, on every org of it; not the whole organization nulled because
// a non-null field failed. The owner gets everything, without errors.
func TestRefusedFieldKeepsItsParent(t *testing.T) {
	const tree = `query($id: ID!) {
  organization(id: $id) {
    name membersCount members { totalCount }
    children(orderBy: {field: NAME}) { totalCount edges { node { name slug membersCount members { totalCount } } } }
  }
  organizations(orderBy: {field: NAME}) { totalCount edges { node { name members { totalCount } } } }
}`
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			mustCreate(t, in, alice, map[string]any{"name": "Acme EU", "parentId": root})
			mustCreate(t, in, alice, map[string]any{"name": "Acme Lab", "parentId": root})
			in.Account("bill", false)
			in.Grant("bill", root, "billing")
			vars := map[string]any{"id": root}

			// the owner reads it all
			d := in.MustDo(alice, tree, vars)
			if n := testutil.Get(d, "organization", "membersCount"); n != float64(2) { // alice and bill
				t.Fatalf("owner: membersCount %v", n)
			}

			r := in.Do(in.Token("bill", ""), tree, vars)
			org, _ := testutil.Get(r.Data, "organization").(map[string]any)
			if org == nil || org["name"] != "Acme" {
				t.Fatalf("billing: the organization was erased by a refused field: %s", r.Raw)
			}
			if org["members"] != nil || org["membersCount"] != nil {
				t.Fatalf("billing: members were read: %s", r.Raw)
			}
			if n := testutil.Get(org, "children", "totalCount"); n != float64(2) {
				t.Fatalf("billing: children %v: %s", n, r.Raw)
			}
			wantPaths := []string{"organization.membersCount", "organization.members"}
			for i, name := range []string{"Acme EU", "Acme Lab"} {
				node, _ := testutil.Get(org, "children", "edges", i, "node").(map[string]any)
				if node == nil || node["name"] != name || node["slug"] == "" || node["members"] != nil || node["membersCount"] != nil {
					t.Fatalf("billing: child %d is %v: %s", i, node, r.Raw)
				}
				wantPaths = append(wantPaths, fmt.Sprintf("organization.children.edges.%d.node.membersCount", i),
					fmt.Sprintf("organization.children.edges.%d.node.members", i))
			}
			if n := testutil.Get(r.Data, "organizations", "totalCount"); n != float64(3) {
				t.Fatalf("billing: organizations %v: %s", n, r.Raw)
			}
			for i := range 3 {
				node, _ := testutil.Get(r.Data, "organizations", "edges", i, "node").(map[string]any)
				if node == nil || node["name"] == nil || node["members"] != nil {
					t.Fatalf("billing: organizations[%d] is %v: %s", i, node, r.Raw)
				}
				wantPaths = append(wantPaths, fmt.Sprintf("organizations.edges.%d.node.members", i))
			}
			var paths []string
			for _, e := range r.Errors {
				if e.Extensions["code"] != "FORBIDDEN" {
					t.Errorf("billing: error %v %v", e.Extensions["code"], e.Message)
				}
				p := ""
				for i, s := range e.Path {
					if i > 0 {
						p += "."
					}
					p += fmt.Sprint(s)
				}
				paths = append(paths, p)
			}
			slices.Sort(paths)
			slices.Sort(wantPaths)
			if !slices.Equal(paths, wantPaths) {
				t.Fatalf("billing: errors at\n%v\nwant\n%v\n%s", paths, wantPaths, r.Raw)
			}
		})
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/graph/generated"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/seed"
	"github.com/orgraph/orgraph/internal/testutil"
)

// fieldArgs are values for the required arguments of Organization's fields.
var fieldArgs = map[string]string{"viewerCan": `(action: "organization.update")`}

// everyOrganizationField selects every field of Organization, read from the
// schema, so a field added later is covered without editing this test.
func everyOrganizationField(t *testing.T) string {
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	var b strings.Builder
	for _, f := range s.Types["Organization"].Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		for _, a := range f.Arguments {
			if a.Type.NonNull && a.DefaultValue == nil && fieldArgs[f.Name] == "" {
				t.Fatalf("Organization.%s takes a required argument %s: give it a value in fieldArgs", f.Name, a.Name)
			}
		}
		b.WriteString(f.Name + fieldArgs[f.Name])
		def := s.Types[f.Type.Name()]
		switch {
		case def.Kind == ast.Scalar || def.Kind == ast.Enum:
		case strings.HasSuffix(def.Name, "Connection"):
			b.WriteString(" { totalCount edges { node { __typename } } }")
		default:
			b.WriteString(" { __typename }")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestEveryOrganizationFieldIsBatched: every field of Organization on the
// elements of a list costs statements per list, not per element: the same
// query over 4 and over 16 children runs as many statements, on both back
// ends.
func TestEveryOrganizationFieldIsBatched(t *testing.T) {
	fields := everyOrganizationField(t)
	query := `query($id: ID!) { organization(id: $id) { children { edges { node {` + fields + `} } } } }`
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			token := in.Account("owner", false)
			ctx := gate.System(context.Background())
			owner, err := in.Service.AccountByAlias(ctx, "owner")
			if err != nil {
				t.Fatal(err)
			}
			counts := map[int]int64{}
			for _, fanout := range []int{4, 16} {
				// root, its children, one grandchild each
				ids, err := seed.Tree(ctx, in.Store.Client, in.Engine, owner, fmt.Sprintf("Wide %d", fanout), fanout, 2, 1+2*fanout)
				if err != nil {
					t.Fatal(err)
				}
				in.MustDo(token, query, map[string]any{"id": ids[0].String()}) // warm: nothing of the first request is cached
				before := in.Store.Driver.Statements()
				data := in.MustDo(token, query, map[string]any{"id": ids[0].String()})
				counts[fanout] = in.Store.Driver.Statements() - before
				if n := len(testutil.Get(data, "organization", "children", "edges").([]any)); n != fanout {
					t.Fatalf("fanout %d: %d children listed", fanout, n)
				}
			}
			t.Logf("statements per request: %v", counts)
			if counts[4] != counts[16] {
				t.Fatalf("statements grow with the list: %d for 4 children, %d for 16", counts[4], counts[16])
			}
		})
	}
}

// listFields are fields read per list whose answers must not depend on it.
const listFields = `id
  ancestors { id }
  descendants(first: 2) { totalCount pageInfo { hasNextPage } edges { cursor node { id } } }
  near: descendants(maxDepth: 1, orderBy: {field: NAME, direction: DESC}) { totalCount edges { node { name } } }
  auditEvents(first: 3) { totalCount pageInfo { hasNextPage } edges { node { action } } }
  oldest: auditEvents(last: 2, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount edges { node { action } } }
  groups { totalCount edges { node { name } } }
  viewerCan(action: "organization.update")
  viewerRole`

// TestListFieldsAnswerAsAlone: a field batched over a list answers for each
// org exactly what the org asked alone answers, on both back ends.
func TestListFieldsAnswerAsAlone(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			owner := in.Account("owner", false)
			in.Account("admin", false)
			create := `mutation($name: String!, $parent: ID) { createOrganization(input: {name: $name, parentId: $parent}) { id } }`
			root := testutil.Str(in.MustDo(owner, create, map[string]any{"name": "Root"}), "createOrganization", "id")
			var kids []string
			for i := range 3 {
				kid := testutil.Str(in.MustDo(owner, create, map[string]any{"name": fmt.Sprintf("Kid %d", i), "parent": root}), "createOrganization", "id")
				kids = append(kids, kid)
				for j := range i + 1 {
					grand := testutil.Str(in.MustDo(owner, create, map[string]any{"name": fmt.Sprintf("Grand %d.%d", i, j), "parent": kid}), "createOrganization", "id")
					if j == 0 {
						in.MustDo(owner, create, map[string]any{"name": fmt.Sprintf("Great %d", i), "parent": grand})
					}
				}
				for g := range i {
					in.MustDo(owner, `mutation($org: ID!, $name: String!) { createGroup(organizationId: $org, name: $name) { id } }`,
						map[string]any{"org": kid, "name": fmt.Sprintf("group %d", g)})
				}
			}
			in.Grant("admin", kids[1], "admin")
			var grands []string
			for _, e := range testutil.Get(in.MustDo(owner, `query($id: ID!) { organization(id: $id) { children { edges { node { id } } } } }`, map[string]any{"id": kids[1]}), "organization", "children", "edges").([]any) {
				grands = append(grands, testutil.Str(e, "node", "id"))
			}
			for _, who := range []string{"owner", "admin"} {
				token, from, orgs := owner, root, kids
				if who == "admin" { // reads the subtree of kids[1] only
					token, from, orgs = in.Token("admin", ""), kids[1], grands
				}
				list := in.Do(token, `query($id: ID!) { organization(id: $id) { children { edges { node { `+listFields+` } } } } }`, map[string]any{"id": from})
				for i, kid := range orgs {
					alone := in.Do(token, `query($id: ID!) { organization(id: $id) { `+listFields+` } }`, map[string]any{"id": kid})
					var fromList any
					if edges, ok := testutil.Get(list.Data, "organization", "children", "edges").([]any); ok {
						for _, e := range edges {
							if testutil.Str(e, "node", "id") == kid {
								fromList = testutil.Get(e, "node")
							}
						}
					}
					got, _ := json.Marshal(fromList)
					want, _ := json.Marshal(testutil.Get(alone.Data, "organization"))
					if string(got) != string(want) {
						t.Fatalf("%s, kid %d: in the list %s\nalone %s", who, i, got, want)
					}
				}
			}
		})
	}
}

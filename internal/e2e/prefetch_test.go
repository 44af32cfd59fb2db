package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/graph/generated"
	"github.com/orgraph/orgraph/internal/seed"
	"github.com/orgraph/orgraph/internal/testutil"
)

// prefetchShapes are nested selections the prefetcher loads in a fixed
// number of statements: pages, counts, page info and cursors at every level.
var prefetchShapes = map[string]string{
	"pages": `
  id name slug membersCount applicationsCount personsCount viewerRole
  members(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id role account { alias displayName } } } }
  applications { totalCount }
  children(first: 2) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node {
    id name membersCount
    members(first: 1) { totalCount edges { node { role account { alias } } } }
    applications { totalCount }
    children { totalCount edges { node {
      slug status
      members { edges { node { role } } }
      kids: children(first: 0) { totalCount edges { node { id } } }
      children(first: 1) { edges { node { name members(first: 3) { totalCount } } } }
    } } }
  } } }`,
	"aliases": `
  a: children(first: 1) { edges { node { id one: members(first: 1) { edges { node { id } } } all: members { totalCount } } } }
  b: children { totalCount edges { node { name applicationsCount } } }
  ...on Organization { c: children(first: 2) { edges { node { __typename id } } } }`,
}

// TestPrefetchMatchesFieldCollection: the prefetcher's answer to every caller
// is the one ent's field collection gives, byte for byte, on random trees
// with random grants (every role, at every level, orgs whose ceiling forbids
// roles their actions), on both back ends. The same query with one field the
// prefetcher leaves to field collection (parent) is the reference.
func TestPrefetchMatchesFieldCollection(t *testing.T) {
	// every field of Organization that loads no edge, read from the schema
	scalars := everyOrganizationLeaf(t)
	shapes := map[string]string{"scalars": "\n" + scalars + " children(first: 2) { edges { node { " + scalars + " } } }"}
	for name, shape := range prefetchShapes {
		shapes[name] = shape
	}
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			rnd := rand.New(rand.NewPCG(7, 12))
			owner := in.Account("owner", false)
			ctx, db := in.Fixture()
			acc, err := in.Service.AccountByAlias(ctx, "owner")
			if err != nil {
				t.Fatal(err)
			}
			ids, err := seed.Tree(ctx, db, in.Engine, acc, "Prefetch", 3, 3, 40)
			if err != nil {
				t.Fatal(err)
			}
			roles := []string{"owner", "admin", "billing", "member", "viewer"}
			tokens := map[string]string{"owner": owner}
			granted := map[string]bool{}
			grant := func(alias string, org uuid.UUID) {
				if !granted[alias+org.String()] {
					granted[alias+org.String()] = true
					in.Grant(alias, org.String(), roles[rnd.IntN(len(roles))])
				}
			}
			for i := range 8 {
				alias := fmt.Sprintf("user%d", i)
				tokens[alias] = in.Account(alias, false)
				for range 1 + rnd.IntN(3) {
					grant(alias, ids[rnd.IntN(len(ids))])
				}
			}
			// A few crowded orgs (longer than a page), applications, and
			// orgs whose capabilities stop roles from reading what they hold.
			for _, id := range ids[:6] {
				for i := range 8 {
					if rnd.IntN(2) == 0 {
						grant(fmt.Sprintf("user%d", i), id)
					}
				}
			}
			caps := in.Engine.Capabilities()
			for i, id := range ids {
				if i%5 == 1 {
					sec, err := db.Sector.Create().SetOrganizationID(id).SetName("s").SetSecret(make([]byte, 32)).Save(ctx)
					if err != nil {
						t.Fatal(err)
					}
					for j := range 1 + i%3 {
						if err := db.Application.Create().SetOrganizationID(id).SetSectorID(sec.ID).SetName(fmt.Sprintf("app%d", j)).
							SetKind(application.KindOIDC_RP).SetAnchor(fmt.Sprintf("app_%d_%d", i, j)).Exec(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
				if i%7 == 3 && len(caps) > 1 {
					if err := db.Organization.UpdateOneID(id).SetCapabilities(caps[:rnd.IntN(len(caps))]).Exec(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Hostile callers: a token confined to a sibling subtree, and the
			// owner of another tenant naming this tenant's ids.
			tokens["scoped"] = in.Token("user1", ids[2].String())
			tokens["outsider"] = in.Account("outsider", false)
			outsider, err := in.Service.AccountByAlias(ctx, "outsider")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := seed.Tree(ctx, db, in.Engine, outsider, "Elsewhere", 2, 2, 7); err != nil {
				t.Fatal(err)
			}
			starts := []uuid.UUID{ids[0], ids[1], ids[5]}
			compared := 0
			for who, token := range tokens {
				for name, shape := range shapes {
					for _, start := range starts {
						vars := map[string]any{"id": start.String()}
						fast := in.Do(token, "query($id: ID!) { organization(id: $id) {"+shape+"} }", vars)
						ref := in.Do(token, "query($id: ID!) { organization(id: $id) { reference: parent { id }"+shape+"} }", vars)
						if got, want := normalized(t, string(fast.Raw)), withoutReference(t, string(ref.Raw)); got != want {
							t.Fatalf("%s, shape %s, from %s:\nprefetched: %s\nreference:  %s", who, name, start, got, want)
						}
						if who == "outsider" && testutil.Get(fast.Data, "organization") != nil {
							t.Fatalf("another tenant's owner read %s: %s", start, fast.Raw)
						}
						if strings.Contains(string(fast.Raw), `"organization":{`) {
							compared++
						}
					}
				}
			}
			if compared < len(tokens) {
				t.Fatalf("only %d answers held an organization: the fixture does not exercise the prefetcher", compared)
			}
		})
	}
}

// normalized re-encodes a response with request ids removed.
func normalized(t *testing.T, raw string) string {
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return encodeWithoutRequestIDs(t, v)
}

// withoutReference drops the reference field and its errors.
func withoutReference(t *testing.T, raw string) string {
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	if org, ok := testutil.Get(v, "data", "organization").(map[string]any); ok {
		delete(org, "reference")
	}
	if errs, ok := v["errors"].([]any); ok {
		kept := []any{}
		for _, e := range errs {
			if path, _ := e.(map[string]any)["path"].([]any); len(path) > 1 && path[1] == "reference" {
				continue
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			delete(v, "errors")
		} else {
			v["errors"] = kept
		}
	}
	return encodeWithoutRequestIDs(t, v)
}

func encodeWithoutRequestIDs(t *testing.T, v map[string]any) string {
	if errs, ok := v["errors"].([]any); ok {
		for _, e := range errs {
			m := e.(map[string]any)
			if ext, ok := m["extensions"].(map[string]any); ok {
				delete(ext, "requestId")
			}
			if msg, ok := m["message"].(string); ok {
				m["message"] = strings.Split(msg, " (request ")[0]
			}
		}
	}
	// Fields resolve concurrently: errors come in any order.
	if errs, ok := v["errors"].([]any); ok {
		slices.SortFunc(errs, func(a, b any) int {
			x, _ := json.Marshal(a)
			y, _ := json.Marshal(b)
			return strings.Compare(string(x), string(y))
		})
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(v).Len() == 0 {
		t.Fatal("empty response")
	}
	return string(out)
}

// everyOrganizationLeaf selects every field of Organization the prefetcher
// loads with the org row: scalars, enums and the fields resolved from it.
func everyOrganizationLeaf(t *testing.T) string {
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	var b strings.Builder
	for _, f := range s.Types["Organization"].Fields {
		def := s.Types[f.Type.Name()]
		switch {
		case def.Kind == ast.Scalar || def.Kind == ast.Enum:
			b.WriteString(f.Name + fieldArgs[f.Name] + " ")
		case f.Name == "limits":
			b.WriteString("limits { applications sectors suborgs } ")
		case f.Name == "ancestors":
			b.WriteString("ancestors { id name } ")
		}
	}
	if !strings.Contains(b.String(), "viewerCan") || !strings.Contains(b.String(), "settings") {
		t.Fatalf("the schema walk missed fields: %s", b.String())
	}
	return b.String()
}

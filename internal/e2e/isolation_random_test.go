package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/testutil"
)

// queryGen writes random GraphQL reads over the whole schema: any field of
// any type reachable from Query, with random where filters over edges and
// random ids (hidden, visible and missing) wherever an id is taken.
type queryGen struct {
	rng    *rand.Rand
	schema *ast.Schema
	ids    []string
	vars   map[string]any
	n      int
}

func (g *queryGen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// where is a random filter: a random chain of has<Edge>With fields ending on
// a guess at ids.
func (g *queryGen) where(typ string) string {
	name := fmt.Sprintf("w%d", g.n)
	g.n++
	depth := g.rng.IntN(4)
	w := map[string]any{}
	cur, chain := typ, []string{}
	for range depth {
		var edges []string
		for _, f := range g.schema.Types[cur].Fields {
			if strings.HasPrefix(f.Name, "has") && strings.HasSuffix(f.Name, "With") {
				edges = append(edges, f.Name)
			}
		}
		if len(edges) == 0 {
			break
		}
		e := g.pick(edges)
		chain = append(chain, e)
		cur = g.schema.Types[cur].Fields.ForName(e).Type.Name()
	}
	if cur == "AccountWhereInput" {
		w["aliasHasPrefix"] = g.pick([]string{"a", "al", "amy", "b", "i", "m", "s"})
	} else {
		w["idIn"] = []any{g.pick(g.ids), g.pick(g.ids)}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		w = map[string]any{chain[i]: []any{w}}
	}
	g.vars[name] = w
	return "$" + name + ": " + typ
}

// selection writes a random selection set of object type typ.
func (g *queryGen) selection(typ string, depth int, decls *[]string) string {
	def := g.schema.Types[typ]
	if def.Kind == ast.Interface || def.Kind == ast.Union {
		var parts []string
		for _, impl := range g.schema.GetPossibleTypes(def) {
			if g.rng.IntN(2) == 0 {
				parts = append(parts, "... on "+impl.Name+" "+g.selection(impl.Name, depth, decls))
			}
		}
		return "{ __typename " + strings.Join(parts, " ") + " }"
	}
	var parts []string
	fields := def.Fields
	for _, i := range g.rng.Perm(len(fields)) {
		if len(parts) >= 5 {
			break
		}
		f := fields[i]
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		elem := g.schema.Types[f.Type.Name()]
		leaf := elem.Kind == ast.Scalar || elem.Kind == ast.Enum
		if !leaf && depth == 0 {
			continue
		}
		args, ok := g.args(f, decls)
		if !ok {
			continue
		}
		// Every field aliased apart: inline fragments may not merge fields of other types.
		g.n++
		name := fmt.Sprintf("%s_%d: %s%s", f.Name, g.n, f.Name, args)
		if leaf {
			parts = append(parts, name)
			continue
		}
		parts = append(parts, name+" "+g.selection(elem.Name, depth-1, decls))
	}
	if len(parts) == 0 {
		return "{ __typename }"
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// args fills a field's arguments; false when a required one cannot be.
func (g *queryGen) args(f *ast.FieldDefinition, decls *[]string) (string, bool) {
	var out []string
	for _, a := range f.Arguments {
		switch {
		case a.Name == "where" && g.rng.IntN(2) == 0:
			decl := g.where(a.Type.Name())
			*decls = append(*decls, decl)
			out = append(out, "where: "+strings.SplitN(decl, ":", 2)[0])
		case a.Name == "first":
			out = append(out, "first: 5")
		case a.Name == "action":
			out = append(out, strconv.Quote(g.pick([]string{"organization.read", "members.invite", "application.create"})))
			out[len(out)-1] = "action: " + out[len(out)-1]
		case a.Type.Name() == "ID" && a.Type.Elem == nil:
			out = append(out, a.Name+": "+strconv.Quote(g.pick(g.ids)))
		case a.Type.Name() == "ID":
			out = append(out, a.Name+": ["+strconv.Quote(g.pick(g.ids))+", "+strconv.Quote(g.pick(g.ids))+"]")
		case a.Type.NonNull:
			return "", false
		}
	}
	if len(out) == 0 {
		return "", true
	}
	return "(" + strings.Join(out, ", ") + ")", true
}

func (g *queryGen) query() (string, map[string]any) {
	g.vars, g.n = map[string]any{}, 0
	var decls []string
	sel := g.selection("Query", 4, &decls)
	head := "query"
	if len(decls) > 0 {
		head += "(" + strings.Join(decls, ", ") + ")"
	}
	return head + " " + sel, g.vars
}

// TestRandomIsolation is the randomized isolation run: two tenants with a
// shared member, every kind of outsider (an owner of the other tenant, its
// viewer API key, a token scoped to it, the shared member's token scoped to a
// sibling subtree), and random reads of every Query field with random nested
// selections, random filters over edges and random ids. No answer may carry
// anything of the hidden side: no id, name, slug, alias, key name or handle.
// ORGRAPH_ISOLATION_SEED replays a run; ORGRAPH_ISOLATION_QUERIES sets its size.
func TestRandomIsolation(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("ORGRAPH_ISOLATION_SEED"), 10, 64); err == nil {
		seed = s
	}
	queries := 250
	if n, err := strconv.Atoi(os.Getenv("ORGRAPH_ISOLATION_QUERIES")); err == nil {
		queries = n
	}
	t.Logf("seed %d (replay with ORGRAPH_ISOLATION_SEED=%d), %d queries per caller", seed, seed, queries)
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			mallory := in.Account("mallory", false)
			for _, a := range []string{"sam", "amy", "ivy"} {
				in.Account(a, false)
			}
			alpha := mustCreate(t, in, alice, map[string]any{"name": "Alpha Corp", "slug": "alpha-corp", "domains": []string{"alpha.example"}})["id"].(string)
			alphaSub := mustCreate(t, in, alice, map[string]any{"name": "Alpha Secret", "slug": "alpha-secret", "parentId": alpha})["id"].(string)
			in.Grant("sam", alpha, "admin")
			in.Grant("amy", alphaSub, "member")
			d := in.MustDo(alice, `mutation($org: ID!, $sub: ID!) {
				app: createApplication(organizationId: $sub, name: "alpha-web", kind: WEB) { id anchor sector { id } }
				g: createGroup(organizationId: $sub, name: "alpha-staff") { id }
				p: createPerson(organizationId: $sub, handles: [{type: EMAIL_ADDRESS, value: "patient@alpha.example"}], groups: ["alpha-staff"]) { id }
				k: createAPIKey(organizationId: $sub, name: "alpha-ci", role: "viewer") { apiKey { id prefix } }
				i: inviteMember(organizationId: $org, alias: "ivy", role: "viewer") { id }
			}`, map[string]any{"org": alpha, "sub": alphaSub})
			bravo := mustCreate(t, in, mallory, map[string]any{"name": "Bravo", "slug": "bravo"})["id"].(string)
			bravoOne := mustCreate(t, in, mallory, map[string]any{"name": "Bravo One", "slug": "bravo-one", "parentId": bravo})["id"].(string)
			bravoTwo := mustCreate(t, in, mallory, map[string]any{"name": "Bravo Hidden", "slug": "bravo-hidden", "parentId": bravo})["id"].(string)
			in.Grant("sam", bravo, "viewer")
			e := in.MustDo(mallory, `mutation($two: ID!) {
				app: createApplication(organizationId: $two, name: "bravo-hidden-web", kind: WEB) { id anchor sector { id } }
				k: createAPIKey(organizationId: $two, name: "bravo-hidden-ci", role: "viewer") { apiKey { id } }
			}`, map[string]any{"two": bravoTwo})
			viewerKey := testutil.Str(in.MustDo(mallory, `mutation($org: ID!) { createAPIKey(organizationId: $org, name: "ro", role: "viewer") { key } }`,
				map[string]any{"org": bravo}), "createAPIKey", "key")

			// What tenant A holds, and what the sibling subtree holds.
			alphaSecrets := []string{alpha, alphaSub, "Alpha Corp", "Alpha Secret", "alpha-corp", "alpha-secret", "alpha.example",
				"alpha-web", "alpha-staff", "alpha-ci", "patient@alpha.example",
				testutil.Str(d, "app", "id"), testutil.Str(d, "app", "anchor"), testutil.Str(d, "app", "sector", "id"),
				testutil.Str(d, "g", "id"), testutil.Str(d, "p", "id"), testutil.Str(d, "k", "apiKey", "id"),
				testutil.Str(d, "k", "apiKey", "prefix"), testutil.Str(d, "i", "id"), `"alice"`, `"amy"`}
			siblingSecrets := append([]string{bravoTwo, "Bravo Hidden", "bravo-hidden", "bravo-hidden-web", "bravo-hidden-ci",
				testutil.Str(e, "app", "id"), testutil.Str(e, "app", "anchor"), testutil.Str(e, "k", "apiKey", "id"), `"mallory"`}, alphaSecrets...)

			ctx, db := in.Fixture()
			var ids []string
			var all []uuid.UUID
			if err := db.OrgClosure.Query().Where(orgclosure.Depth(0)).Select(orgclosure.FieldDescendantID).Scan(ctx, &all); err != nil {
				t.Fatal(err)
			}
			for _, id := range all {
				ids = append(ids, id.String())
			}
			ids = append(ids, testutil.Str(d, "app", "id"), testutil.Str(d, "p", "id"), testutil.Str(d, "i", "id"),
				testutil.Str(d, "k", "apiKey", "id"), testutil.Str(e, "app", "id"), uuid.NewString())

			for _, at := range []struct {
				name, token string
				secrets     []string
			}{
				{"owner of another tenant", mallory, alphaSecrets},
				{"viewer API key of another tenant", viewerKey, alphaSecrets},
				{"owner token scoped to another tenant", in.Token("mallory", bravo), alphaSecrets},
				{"member of both tenants, token scoped to a sibling subtree", in.Token("sam", bravoOne), siblingSecrets},
			} {
				gen := &queryGen{rng: rand.New(rand.NewPCG(seed, uint64(len(at.name)))), schema: schema, ids: ids}
				answered, leaks := 0, 0
				for range queries {
					q, vars := gen.query()
					r := in.Do(at.token, q, vars)
					if r.Status >= 500 || r.Code() == "INTERNAL" {
						t.Errorf("%s: %s\n%s\nvariables %v", at.name, r.Raw, q, vars)
					}
					switch r.Code() {
					case "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "QUERY_TOO_COMPLEX":
					default:
						answered++
					}
					if r.Data == nil && os.Getenv("ORGRAPH_ISOLATION_DEBUG") != "" {
						t.Logf("refused: %.300s", r.Raw)
					}
					asked, _ := json.Marshal(vars)
					for _, s := range at.secrets {
						// An id the query itself names may be echoed in an error.
						if s == "" || strings.Contains(q, s) || strings.Contains(string(asked), s) {
							continue
						}
						if strings.Contains(string(r.Raw), s) {
							leaks++
							vj, _ := json.Marshal(vars)
							t.Errorf("%s: the answer carries hidden %q:\n%s\nvariables %s\nanswer %s", at.name, s, q, vj, r.Raw)
						}
					}
				}
				t.Logf("%s: %d random queries (%d executed), %d leaks", at.name, queries, answered, leaks)
				if answered < queries*3/4 {
					t.Errorf("%s: only %d of %d random queries were executed: the run exercises too little", at.name, answered, queries)
				}
			}
		})
	}
}

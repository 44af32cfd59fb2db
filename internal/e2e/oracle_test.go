package e2e

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/apikey"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/group"
	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/ent/handleuse"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/person"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/testutil"
)

// filterPath is a chain of has<Edge>With fields from a root where input, and
// the where input type it ends on.
type filterPath struct {
	root   string // the root list's where input type
	fields []string
	end    string
}

// filterPaths walks the GraphQL schema: every chain of has<Edge>With fields
// of at most depth edges, from root. New edges are walked without anyone
// listing them.
func filterPaths(schema *ast.Schema, root string, depth int) []filterPath {
	var out []filterPath
	var walk func(p filterPath)
	walk = func(p filterPath) {
		out = append(out, p)
		if len(p.fields) == depth {
			return
		}
		for _, f := range schema.Types[p.end].Fields {
			if strings.HasPrefix(f.Name, "has") && strings.HasSuffix(f.Name, "With") {
				walk(filterPath{root: p.root, fields: append(slices.Clone(p.fields), f.Name), end: f.Type.Name()})
			}
		}
	}
	walk(filterPath{root: root, end: root})
	return out
}

// guess nests a terminal predicate at the end of the path.
func (p filterPath) guess(terminal map[string]any) map[string]any {
	w := terminal
	for i := len(p.fields) - 1; i >= 0; i-- {
		w = map[string]any{p.fields[i]: []any{w}}
	}
	return w
}

func (p filterPath) String() string { return p.root + "." + strings.Join(p.fields, ".") }

// TestFilterOracle is the oracle suite of SPEC §3: as another tenant (account
// token, API key, org-scoped token) and as a token scoped to a sibling
// subtree, it asks every has<Edge>With path of every where input (to depth
// 3, and the depth-4 path) with a true guess about hidden data (the
// ids, or aliases, of rows the caller cannot read) and a false one (a random
// id). The answers must be byte-identical. An insider asking the same true
// guesses gets different answers, which shows the guesses are true.
func TestFilterOracle(t *testing.T) {
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	// Lists with a where argument: Query.organizations, and every connection of Organization.
	roots := map[string]string{"OrganizationWhereInput": ""}
	for _, f := range schema.Types["Organization"].Fields {
		if a := f.Arguments.ForName("where"); a != nil {
			if _, seen := roots[a.Type.Name()]; !seen || a.Type.Name() != "OrganizationWhereInput" {
				roots[a.Type.Name()] = f.Name
			}
		}
	}
	if len(roots) < 8 {
		t.Fatalf("expected the where inputs of every Organization connection, got %v", roots)
	}
	var paths []filterPath
	for root := range roots {
		paths = append(paths, filterPaths(schema, root, 3)...)
	}
	// The path of the report: orgs whose member's account is a member of an org named "Alpha S…".
	paths = append(paths, filterPath{root: "OrganizationWhereInput",
		fields: []string{"hasMembersWith", "hasAccountWith", "hasMembershipsWith", "hasOrganizationWith"}, end: "OrganizationWhereInput"})
	sort.Slice(paths, func(i, j int) bool { return paths[i].String() < paths[j].String() })
	t.Logf("%d filter paths from %d roots", len(paths), len(roots))

	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			mallory := in.Account("mallory", false)
			for _, a := range []string{"sam", "amy", "ivy", "bonnie", "betty"} {
				in.Account(a, false)
			}
			// Tenant A, with one of everything.
			alpha := mustCreate(t, in, alice, map[string]any{"name": "Alpha"})["id"].(string)
			alphaSub := mustCreate(t, in, alice, map[string]any{"name": "Alpha Secret", "parentId": alpha})["id"].(string)
			mustCreate(t, in, alice, map[string]any{"name": "Alpha Deep", "parentId": alphaSub})
			in.Grant("sam", alpha, "admin")
			in.Grant("amy", alphaSub, "member")
			in.MustDo(alice, `mutation($org: ID!, $sub: ID!) {
				createApplication(organizationId: $sub, name: "alpha-web", kind: WEB) { id }
				createGroup(organizationId: $sub, name: "alpha-staff") { id }
				createPerson(organizationId: $sub, handles: [{type: EMAIL_ADDRESS, value: "p@alpha.example"}], groups: ["alpha-staff"]) { id }
				createAPIKey(organizationId: $sub, name: "alpha-ci", role: "viewer") { apiKey { id } }
				inviteMember(organizationId: $org, alias: "ivy", role: "viewer") { id }
			}`, map[string]any{"org": alpha, "sub": alphaSub})

			// Tenant B: the attacker's, with two sibling subtrees.
			bravo := mustCreate(t, in, mallory, map[string]any{"name": "Bravo"})["id"].(string)
			bravoOne := mustCreate(t, in, mallory, map[string]any{"name": "Bravo One", "parentId": bravo})["id"].(string)
			bravoTwo := mustCreate(t, in, mallory, map[string]any{"name": "Bravo Two", "parentId": bravo})["id"].(string)
			in.Grant("sam", bravo, "viewer")
			in.Grant("bonnie", bravoOne, "member")
			in.Grant("betty", bravoTwo, "member")
			in.MustDo(mallory, `mutation($one: ID!, $two: ID!) {
				one: createApplication(organizationId: $one, name: "one-web", kind: WEB) { id }
				two: createApplication(organizationId: $two, name: "two-web", kind: WEB) { id }
				g1: createGroup(organizationId: $one, name: "one-staff") { id }
				g2: createGroup(organizationId: $two, name: "two-staff") { id }
				p1: createPerson(organizationId: $one, handles: [{type: EMAIL_ADDRESS, value: "p@one.example"}], groups: ["one-staff"]) { id }
				p2: createPerson(organizationId: $two, handles: [{type: EMAIL_ADDRESS, value: "p@two.example"}], groups: ["two-staff"]) { id }
				k2: createAPIKey(organizationId: $two, name: "two-ci", role: "viewer") { apiKey { id } }
				i2: inviteMember(organizationId: $two, alias: "ivy", role: "viewer") { id }
			}`, map[string]any{"one": bravoOne, "two": bravoTwo})
			viewerKey := testutil.Str(in.MustDo(mallory, `mutation($org: ID!) { createAPIKey(organizationId: $org, name: "ro", role: "viewer") { key } }`,
				map[string]any{"org": bravo}), "createAPIKey", "key")

			ctx, db := in.Fixture()
			all, err := db.Organization.Query().IDs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			subtree := func(root string) []uuid.UUID {
				var ids []uuid.UUID
				if err := db.OrgClosure.Query().Where(orgclosure.AncestorID(uuid.MustParse(root))).
					Select(orgclosure.FieldDescendantID).Scan(ctx, &ids); err != nil {
					t.Fatal(err)
				}
				return ids
			}
			type attacker struct {
				name, token, visibleRoot, self string
				unreadable                     []string // types the caller cannot read even where it has a role
			}
			attackers := []attacker{
				{name: "owner of another tenant", token: mallory, visibleRoot: bravo, self: "mallory"},
				{name: "viewer API key of another tenant", token: viewerKey, visibleRoot: bravo,
					unreadable: []string{"APIKeyWhereInput", "InvitationWhereInput", "AuditEventWhereInput"}},
				{name: "owner token scoped to another tenant", token: in.Token("mallory", bravo), visibleRoot: bravo, self: "mallory"},
				{name: "member of both tenants, token scoped to a sibling subtree", token: in.Token("sam", bravoOne), visibleRoot: bravoOne, self: "sam"},
			}
			for _, at := range attackers {
				visible := subtree(at.visibleRoot)
				var hidden []uuid.UUID
				for _, id := range all {
					if !slices.Contains(visible, id) {
						hidden = append(hidden, id)
					}
				}
				truths := hiddenRows(t, in, hidden, visible, at.self)
				for _, typ := range at.unreadable {
					truths[typ] = append(truths[typ], hiddenRows(t, in, visible, nil, at.self)[typ]...)
				}
				asked, errored := 0, 0
				for _, p := range paths {
					truth, ok := truths[p.end]
					if !ok || len(truth) == 0 {
						t.Fatalf("no hidden %s rows to guess at", p.end)
					}
					key := "idIn"
					if p.end == "AccountWhereInput" {
						key = "aliasIn"
					}
					falseGuess := []any{uuid.NewString()}
					if key == "aliasIn" {
						falseGuess = []any{"nobody-" + uuid.NewString()[:8]}
					}
					query, vars := rootQuery(roots[p.root], p.root, at.visibleRoot)
					vars["w"] = p.guess(map[string]any{key: truth})
					yes := in.Do(at.token, query, vars)
					vars["w"] = p.guess(map[string]any{key: falseGuess})
					no := in.Do(at.token, query, vars)
					asked++
					if len(yes.Errors) > 0 {
						errored++
					}
					if yes.Status != no.Status || !bytes.Equal(yes.Raw, no.Raw) {
						t.Errorf("%s: %s answers a true guess about hidden data differently:\ntrue:  %s\nfalse: %s", at.name, p, yes.Raw, no.Raw)
					}
				}
				if at.self == "mallory" && errored > 0 {
					t.Errorf("%s: %d of %d filters were refused: the suite must exercise them", at.name, errored, asked)
				}
				t.Logf("%s: %d paths asked, equal answers (%d refused for both)", at.name, asked, errored)
			}

			// Control: the guesses are true. Alice sees both tenants' A side, so
			// the same true guesses about tenant A change her answers.
			truths := hiddenRows(t, in, subtree(alpha), nil, "")
			differ := 0
			for _, p := range paths {
				key := "idIn"
				if p.end == "AccountWhereInput" {
					key = "aliasIn"
				}
				query, vars := rootQuery(roots[p.root], p.root, alpha)
				vars["w"] = p.guess(map[string]any{key: truths[p.end]})
				yes := in.Do(alice, query, vars)
				vars["w"] = p.guess(map[string]any{key: []any{uuid.NewString()}})
				if key == "aliasIn" {
					vars["w"] = p.guess(map[string]any{key: []any{"nobody"}})
				}
				no := in.Do(alice, query, vars)
				if len(yes.Errors) > 0 {
					t.Errorf("insider: %s: %s", p, yes.Raw)
				}
				if !bytes.Equal(yes.Raw, no.Raw) {
					differ++
				}
			}
			if differ*3 < len(paths) {
				t.Errorf("insider: only %d of %d true guesses changed the answer: the guesses are not about real data", differ, len(paths))
			}
		})
	}
}

// rootQuery lists the root type: Query.organizations, or a connection of the
// visible org.
func rootQuery(field, whereType, org string) (string, map[string]any) {
	if field == "" {
		return fmt.Sprintf(`query($w: %s) { organizations(where: $w) { totalCount edges { node { id } } } }`, whereType), map[string]any{}
	}
	return fmt.Sprintf(`query($org: ID!, $w: %s) { organization(id: $org) { %s(where: $w) { totalCount edges { node { id } } } } }`, whereType, field),
		map[string]any{"org": org}
}

// hiddenRows are, per where input type, the ids (aliases for accounts) of
// the rows of the orgs in hidden, leaving out rows about self and accounts
// that also belong to an org in visible.
func hiddenRows(t *testing.T, in *testutil.Instance, hidden, visible []uuid.UUID, self string) map[string][]any {
	t.Helper()
	ctx, db := in.Fixture()
	out := map[string][]any{}
	add := func(typ string, ids []uuid.UUID, err error) {
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			out[typ] = append(out[typ], id.String())
		}
	}
	ids, err := db.Organization.Query().Where(organization.IDIn(hidden...)).IDs(ctx)
	add("OrganizationWhereInput", ids, err)
	ids, err = db.Membership.Query().Where(membership.OrganizationIDIn(hidden...)).IDs(ctx)
	add("MembershipWhereInput", ids, err)
	ids, err = db.Invitation.Query().Where(invitation.OrganizationIDIn(hidden...)).IDs(ctx)
	add("InvitationWhereInput", ids, err)
	ids, err = db.Application.Query().Where(application.OrganizationIDIn(hidden...)).IDs(ctx)
	add("ApplicationWhereInput", ids, err)
	ids, err = db.Sector.Query().Where(sector.OrganizationIDIn(hidden...)).IDs(ctx)
	add("SectorWhereInput", ids, err)
	ids, err = db.APIKey.Query().Where(apikey.OrganizationIDIn(hidden...)).IDs(ctx)
	add("APIKeyWhereInput", ids, err)
	ids, err = db.AuditEvent.Query().Where(auditevent.OrganizationIDIn(hidden...)).IDs(ctx)
	add("AuditEventWhereInput", ids, err)
	ids, err = db.Person.Query().Where(person.HasOrganizationsWith(organization.IDIn(hidden...))).IDs(ctx)
	add("PersonWhereInput", ids, err)
	var pools []uuid.UUID
	if err := db.Organization.Query().Where(organization.IDIn(hidden...)).Select(organization.FieldGroupPoolID).Scan(ctx, &pools); err != nil {
		t.Fatal(err)
	}
	ids, err = db.Group.Query().Where(group.PoolIDIn(pools...)).IDs(ctx)
	add("GroupWhereInput", ids, err)
	ids, err = db.Handle.Query().Where(handle.HasUsesWith(handleuse.OrganizationIDIn(hidden...))).IDs(ctx)
	add("HandleWhereInput", ids, err)
	onlyHidden := account.HasMembershipsWith(membership.OrganizationIDIn(hidden...))
	if len(visible) > 0 {
		onlyHidden = account.And(onlyHidden, account.Not(account.HasMembershipsWith(membership.OrganizationIDIn(visible...))))
	}
	accounts, err := db.Account.Query().Where(onlyHidden).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if a.Alias != nil && *a.Alias != self {
			out["AccountWhereInput"] = append(out["AccountWhereInput"], *a.Alias)
		}
	}
	return out
}

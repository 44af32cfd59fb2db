package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/migrate"
	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/testutil"
	"github.com/orgraph/orgraph/policy"
)

// recorder is a decider that remembers every question the gate asks.
type recorder struct {
	gate.Engine
	mu    sync.Mutex
	asked []gate.Asked
}

func (r *recorder) Decide(ctx context.Context, in policy.Input) (policy.Decision, error) {
	d, err := r.Engine.Decide(ctx, in)
	r.mu.Lock()
	r.asked = append(r.asked, gate.Asked{Action: in.Action, Org: in.Resource.Org, Allowed: d.Allowed})
	r.mu.Unlock()
	return d, err
}

func (r *recorder) Actions() []string { return r.Engine.(interface{ Actions() []string }).Actions() }

func (r *recorder) take() []gate.Asked {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.asked
	r.asked = nil
	return out
}

// mutFixture is tenant A (root A, children A1 and A2) with an owner, a
// viewer and an admin API key, and another tenant's owner.
type mutFixture struct {
	in              *testutil.Instance
	alice, platform string
	a, a1, a2       string
	tokens          map[string]string // credential kind → token
	n               int
}

// credentials are the kinds of caller every mutation is tried with.
var credentials = []string{"owner", "viewer", "outsider", "sibling", "apikey"}

func (fx *mutFixture) fresh(prefix string) string {
	fx.n++
	return fmt.Sprintf("%s%d-%s", prefix, fx.n, uuid.NewString()[:6])
}

// member creates a fresh account with role on org and returns its alias and token.
func (fx *mutFixture) member(org, role string) (string, string) {
	alias := fx.fresh("m")
	tok := fx.in.Account(alias, false)
	fx.in.Grant(alias, org, role)
	return alias, tok
}

func (fx *mutFixture) do(query string, vars map[string]any) map[string]any {
	return fx.in.MustDo(fx.alice, query, vars)
}

func (fx *mutFixture) child() string {
	return testutil.Str(fx.do(`mutation($p: ID!, $n: String!) { createOrganization(input: {name: $n, parentId: $p}) { id } }`,
		map[string]any{"p": fx.a1, "n": fx.fresh("kid")}), "createOrganization", "id")
}

func (fx *mutFixture) app() string {
	return testutil.Str(fx.do(`mutation($o: ID!, $n: String!) { createApplication(organizationId: $o, name: $n, kind: WEB) { id } }`,
		map[string]any{"o": fx.a1, "n": fx.fresh("app")}), "createApplication", "id")
}

func (fx *mutFixture) sector() string {
	return testutil.Str(fx.do(`mutation($o: ID!, $n: String!) { createSector(organizationId: $o, name: $n) { id } }`,
		map[string]any{"o": fx.a1, "n": fx.fresh("sec")}), "createSector", "id")
}

func (fx *mutFixture) person() string {
	return testutil.Str(fx.do(`mutation($o: ID!, $e: String!) { createPerson(organizationId: $o, handles: [{type: EMAIL_ADDRESS, value: $e}]) { id } }`,
		map[string]any{"o": fx.a1, "e": fx.fresh("p") + "@a.example"}), "createPerson", "id")
}

func (fx *mutFixture) group() string {
	name := fx.fresh("g")
	fx.do(`mutation($o: ID!, $n: String!) { createGroup(organizationId: $o, name: $n) { id } }`, map[string]any{"o": fx.a1, "n": name})
	return name
}

func (fx *mutFixture) invitation() (string, string) {
	alias := fx.fresh("inv")
	tok := fx.in.Account(alias, false)
	id := testutil.Str(fx.do(`mutation($o: ID!, $a: String!) { inviteMember(organizationId: $o, alias: $a, role: "viewer") { id } }`,
		map[string]any{"o": fx.a1, "a": alias}), "inviteMember", "id")
	return id, tok
}

// mutationCase drives one Mutation field: prepare makes fresh objects and
// returns the variables and, when the field acts as the caller itself
// (accepting, leaving, deleting one's account), the token of the kind's
// caller; orgs are where the declared action must be asked ("" = no org).
type mutationCase struct {
	query   string
	prepare func(fx *mutFixture, kind string) (vars map[string]any, token string)
	orgs    func(fx *mutFixture, vars map[string]any) []string
	// asPlatform: the owner may not do this (platform actions); the
	// recording run is the platform admin's.
	asPlatform bool
}

func onA1(fx *mutFixture, _ map[string]any) []string { return []string{fx.a1} }
func onVar(name string) func(*mutFixture, map[string]any) []string {
	return func(_ *mutFixture, v map[string]any) []string { return []string{v[name].(string)} }
}
func just(vars func(fx *mutFixture) map[string]any) func(*mutFixture, string) (map[string]any, string) {
	return func(fx *mutFixture, _ string) (map[string]any, string) { return vars(fx), "" }
}

// asSelf prepares a fresh account of the kind (for mutations about the caller itself).
func asSelf(fx *mutFixture, kind string, vars map[string]any) (map[string]any, string) {
	switch kind {
	case "owner", "viewer":
		_, tok := fx.member(fx.a1, map[string]string{"owner": "admin", "viewer": "viewer"}[kind])
		return vars, tok
	case "outsider":
		alias := fx.fresh("out")
		return vars, fx.in.Account(alias, false)
	case "sibling":
		alias, _ := fx.member(fx.a1, "viewer")
		return vars, fx.in.Token(alias, fx.a2)
	}
	return vars, "" // the kind's own token (an API key)
}

var mutationCases = map[string]mutationCase{
	"createOrganization": {
		query:   `mutation($n: String!) { createOrganization(input: {name: $n}) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"n": fx.fresh("Root")} }),
		orgs:    func(*mutFixture, map[string]any) []string { return []string{""} },
	},
	"createOrganization (suborg)": {
		query:   `mutation($p: ID!, $n: String!) { createOrganization(input: {name: $n, parentId: $p}) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"p": fx.a1, "n": fx.fresh("Sub")} }),
		orgs:    onA1,
	},
	"updateOrganization": {
		query:   `mutation($id: ID!, $n: String!) { updateOrganization(id: $id, input: {name: $n}) { id name } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.a1, "n": fx.fresh("A1 ")} }),
		orgs:    onA1,
	},
	"exchangeToken": {
		query:   `mutation($o: ID!) { exchangeToken(organizationId: $o) { token } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"o": fx.a1} }),
		orgs:    onA1,
	},
	"retireOrganization": {
		query:   `mutation($id: ID!) { retireOrganization(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.child()} }),
		orgs:    onVar("id"),
	},
	"reenableOrganization": {
		query: `mutation($id: ID!) { reenableOrganization(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			id := fx.child()
			fx.do(`mutation($id: ID!) { retireOrganization(id: $id) { id } }`, map[string]any{"id": id})
			return map[string]any{"id": id}
		}),
		orgs: onVar("id"),
	},
	"setOrganizationLimits": {
		query:      `mutation($id: ID!) { setOrganizationLimits(id: $id, input: {suborgs: 50}) { id } }`,
		prepare:    just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.child()} }),
		orgs:       onVar("id"),
		asPlatform: true,
	},
	"deleteOrganization": {
		query:      `mutation($id: ID!) { deleteOrganization(id: $id) }`,
		prepare:    just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.child()} }),
		orgs:       onVar("id"),
		asPlatform: true,
	},
	"inviteMember": {
		query: `mutation($o: ID!, $a: String!) { inviteMember(organizationId: $o, alias: $a, role: "viewer") { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			alias := fx.fresh("new")
			fx.in.Account(alias, false)
			return map[string]any{"o": fx.a1, "a": alias}
		}),
		orgs: onA1,
	},
	"acceptInvitation": {
		query: `mutation($id: ID!) { acceptInvitation(id: $id) { id role } }`,
		prepare: func(fx *mutFixture, kind string) (map[string]any, string) {
			id, tok := fx.invitation()
			if kind == "owner" { // the invitee itself
				return map[string]any{"id": id}, tok
			}
			return map[string]any{"id": id}, ""
		},
		orgs: onA1,
	},
	"declineInvitation": {
		query: `mutation($id: ID!) { declineInvitation(id: $id) { id status } }`,
		prepare: func(fx *mutFixture, kind string) (map[string]any, string) {
			id, tok := fx.invitation()
			if kind == "owner" {
				return map[string]any{"id": id}, tok
			}
			return map[string]any{"id": id}, ""
		},
		orgs: onA1,
	},
	"revokeInvitation": {
		query:   `mutation($id: ID!) { revokeInvitation(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any { id, _ := fx.invitation(); return map[string]any{"id": id} }),
		orgs:    onA1,
	},
	"changeMemberRole": {
		query: `mutation($o: ID!, $a: String!) { changeMemberRole(organizationId: $o, alias: $a, role: "admin") { id role } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			alias, _ := fx.member(fx.a1, "viewer")
			return map[string]any{"o": fx.a1, "a": alias}
		}),
		orgs: onA1,
	},
	"removeMember": {
		query: `mutation($o: ID!, $a: String!) { removeMember(organizationId: $o, alias: $a) }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			alias, _ := fx.member(fx.a1, "viewer")
			return map[string]any{"o": fx.a1, "a": alias}
		}),
		orgs: onA1,
	},
	"leaveOrganization": {
		query: `mutation($o: ID!) { leaveOrganization(organizationId: $o) }`,
		prepare: func(fx *mutFixture, kind string) (map[string]any, string) {
			return asSelf(fx, kind, map[string]any{"o": fx.a1})
		},
		orgs: onA1,
	},
	"deleteAccount": {
		query: `mutation { deleteAccount }`,
		prepare: func(fx *mutFixture, kind string) (map[string]any, string) {
			return asSelf(fx, kind, map[string]any{})
		},
		orgs: onA1,
	},
	"createSector": {
		query:   `mutation($o: ID!, $n: String!) { createSector(organizationId: $o, name: $n) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"o": fx.a1, "n": fx.fresh("sec")} }),
		orgs:    onA1,
	},
	"retireSector": {
		query:   `mutation($id: ID!) { retireSector(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.sector()} }),
		orgs:    onA1,
	},
	"reenableSector": {
		query: `mutation($id: ID!) { reenableSector(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			id := fx.sector()
			fx.do(`mutation($id: ID!) { retireSector(id: $id) { id } }`, map[string]any{"id": id})
			return map[string]any{"id": id}
		}),
		orgs: onA1,
	},
	"createApplication": {
		query:   `mutation($o: ID!, $n: String!) { createApplication(organizationId: $o, name: $n, kind: WEB) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"o": fx.a1, "n": fx.fresh("app")} }),
		orgs:    onA1,
	},
	"updateApplication": {
		query:   `mutation($id: ID!, $n: String!) { updateApplication(id: $id, input: {name: $n}) { id name } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.app(), "n": fx.fresh("renamed")} }),
		orgs:    onA1,
	},
	"retireApplication": {
		query:   `mutation($id: ID!) { retireApplication(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.app()} }),
		orgs:    onA1,
	},
	"reenableApplication": {
		query: `mutation($id: ID!) { reenableApplication(id: $id) { id status } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			id := fx.app()
			fx.do(`mutation($id: ID!) { retireApplication(id: $id) { id } }`, map[string]any{"id": id})
			return map[string]any{"id": id}
		}),
		orgs: onA1,
	},
	"rotateApplicationKey": {
		query:   `mutation($id: ID!) { rotateApplicationKey(id: $id, kind: SIGNING) { kid } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"id": fx.app()} }),
		orgs:    onA1,
	},
	"createPerson": {
		query: `mutation($o: ID!, $e: String!) { createPerson(organizationId: $o, handles: [{type: EMAIL_ADDRESS, value: $e}]) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			return map[string]any{"o": fx.a1, "e": fx.fresh("p") + "@a.example"}
		}),
		orgs: onA1,
	},
	"addPersonHandle": {
		query: `mutation($o: ID!, $p: ID!, $u: String!) { addPersonHandle(organizationId: $o, personId: $p, handle: {type: USERNAME, value: $u}) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			return map[string]any{"o": fx.a1, "p": fx.person(), "u": fx.fresh("user")}
		}),
		orgs: onA1,
	},
	"deactivatePerson": {
		query:   `mutation($o: ID!, $p: ID!) { deactivatePerson(organizationId: $o, personId: $p) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"o": fx.a1, "p": fx.person()} }),
		orgs:    onA1,
	},
	"createGroup": {
		query:   `mutation($o: ID!, $n: String!) { createGroup(organizationId: $o, name: $n) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"o": fx.a1, "n": fx.fresh("g")} }),
		orgs:    onA1,
	},
	"addGroupMember": {
		query: `mutation($o: ID!, $g: String!, $p: ID!) { addGroupMember(organizationId: $o, group: $g, personId: $p) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			return map[string]any{"o": fx.a1, "g": fx.group(), "p": fx.person()}
		}),
		orgs: onA1,
	},
	"removeGroupMember": {
		query: `mutation($o: ID!, $g: String!, $p: ID!) { removeGroupMember(organizationId: $o, group: $g, personId: $p) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			vars := map[string]any{"o": fx.a1, "g": fx.group(), "p": fx.person()}
			fx.do(`mutation($o: ID!, $g: String!, $p: ID!) { addGroupMember(organizationId: $o, group: $g, personId: $p) { id } }`, vars)
			return vars
		}),
		orgs: onA1,
	},
	"createAPIKey": {
		query:   `mutation($o: ID!, $n: String!) { createAPIKey(organizationId: $o, name: $n, role: "viewer") { key } }`,
		prepare: just(func(fx *mutFixture) map[string]any { return map[string]any{"o": fx.a1, "n": fx.fresh("key")} }),
		orgs:    onA1,
	},
	"revokeAPIKey": {
		query: `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`,
		prepare: just(func(fx *mutFixture) map[string]any {
			id := testutil.Str(fx.do(`mutation($o: ID!, $n: String!) { createAPIKey(organizationId: $o, name: $n, role: "viewer") { apiKey { id } } }`,
				map[string]any{"o": fx.a1, "n": fx.fresh("key")}), "createAPIKey", "apiKey", "id")
			return map[string]any{"id": id}
		}),
		orgs: onA1,
	},
}

func newMutFixture(t *testing.T, b testutil.Backend, rec *recorder) *mutFixture {
	opts := []testutil.Option{}
	if rec != nil {
		opts = append(opts, func(c *app.Config) {
			c.Decider = func(e gate.Engine) gate.Engine { rec.Engine = e; return rec }
		})
	}
	in := testutil.Start(t, b, opts...)
	fx := &mutFixture{in: in, tokens: map[string]string{}}
	fx.alice = in.Account("alice", false)
	fx.platform = in.Account("operator", true)
	bob := in.Account("bob", false)
	mallory := in.Account("mallory", false)
	fx.a = mustCreate(t, in, fx.alice, map[string]any{"name": "A"})["id"].(string)
	fx.a1 = mustCreate(t, in, fx.alice, map[string]any{"name": "A1", "parentId": fx.a})["id"].(string)
	fx.a2 = mustCreate(t, in, fx.alice, map[string]any{"name": "A2", "parentId": fx.a})["id"].(string)
	mustCreate(t, in, mallory, map[string]any{"name": "M"})
	in.Grant("bob", fx.a, "viewer")
	key := testutil.Str(in.MustDo(fx.alice, `mutation($o: ID!) { createAPIKey(organizationId: $o, name: "admin", role: "admin") { key } }`,
		map[string]any{"o": fx.a}), "createAPIKey", "key")
	fx.tokens = map[string]string{"owner": fx.alice, "viewer": bob, "outsider": mallory,
		"sibling": in.Token("alice", fx.a2), "apikey": key}
	return fx
}

// casesFor lists the cases of a Mutation field (a field may have several).
func casesFor(field string) []string {
	var out []string
	for name := range mutationCases {
		if name == field || strings.HasPrefix(name, field+" (") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func mutationFields(t *testing.T) []string {
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	var fields []string
	for _, f := range schema.Mutation.Fields {
		if !strings.HasPrefix(f.Name, "__") {
			fields = append(fields, f.Name)
		}
	}
	if len(fields) < 30 {
		t.Fatalf("only %d mutation fields", len(fields))
	}
	return fields
}

// TestEveryMutationAsksItsDeclaredAction drives every Mutation field of the
// schema with a recording decider: each must ask the policy for one of its
// declared actions on the expected org. A new mutation without a
// declaration, or without a case here, fails.
func TestEveryMutationAsksItsDeclaredAction(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			rec := &recorder{}
			fx := newMutFixture(t, b, rec)
			for _, field := range mutationFields(t) {
				declared, ok := gate.Declared(field)
				if !ok {
					t.Errorf("mutation %s declares no action", field)
					continue
				}
				names := casesFor(field)
				if len(names) == 0 {
					t.Errorf("mutation %s has no case in mutationCases: add one", field)
				}
				for _, name := range names {
					c := mutationCases[name]
					vars, tok := c.prepare(fx, "owner")
					if tok == "" {
						tok = fx.alice
						if c.asPlatform {
							tok = fx.platform
						}
					}
					rec.take()
					r := fx.in.Do(tok, c.query, vars)
					asked := rec.take()
					if len(r.Errors) > 0 {
						t.Errorf("%s: %s", name, r.Raw)
						continue
					}
					for _, org := range c.orgs(fx, vars) {
						if !slices.ContainsFunc(asked, func(a gate.Asked) bool {
							return a.Allowed && a.Org == org && slices.Contains(declared, a.Action)
						}) {
							t.Errorf("%s: the policy was not asked %v on org %q; asked: %v", name, declared, org, asked)
						}
					}
				}
			}
		})
	}
}

// TestFailedMutationsChangeNothing calls every Mutation field as every kind
// of caller (the tenant's owner, a viewer, another tenant's owner, a token
// scoped to a sibling subtree, an admin API key): each either succeeds with
// its payload and no error, or leaves every table as it was (the
// authz.denied event apart).
func TestFailedMutationsChangeNothing(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			fx := newMutFixture(t, b, nil)
			failed, succeeded := 0, 0
			for _, field := range mutationFields(t) {
				for _, name := range casesFor(field) {
					c := mutationCases[name]
					for _, kind := range credentials {
						vars, tok := c.prepare(fx, kind)
						if tok == "" {
							tok = fx.tokens[kind]
						}
						before := fingerprint(t, fx.in.Store.DB)
						r := fx.in.Do(tok, c.query, vars)
						after := fingerprint(t, fx.in.Store.DB)
						if r.Data != nil && r.Data[field] != nil {
							succeeded++
							if len(r.Errors) > 0 {
								t.Errorf("%s as %s: committed, yet answered errors: %s", name, kind, r.Raw)
							}
							continue
						}
						failed++
						if len(r.Errors) == 0 {
							t.Errorf("%s as %s: no payload and no error: %s", name, kind, r.Raw)
						}
						for table, sum := range before {
							if after[table] != sum {
								t.Errorf("%s as %s failed (%s) but changed table %s", name, kind, r.Code(), table)
							}
						}
					}
				}
			}
			t.Logf("%d mutations succeeded, %d failed and changed nothing", succeeded, failed)
			if succeeded < 30 || failed < 60 {
				t.Errorf("the matrix does not exercise both outcomes: %d succeeded, %d failed", succeeded, failed)
			}
		})
	}
}

// fingerprint hashes the content of every table, leaving out authz.denied
// events (a refusal is audited) and API keys' last use (a use is recorded).
func fingerprint(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range migrate.Tables {
		q := "SELECT * FROM " + table.Name
		if table.Name == "audit_events" {
			q += " WHERE action <> 'authz.denied'"
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var line strings.Builder
			for i, c := range cols {
				if c == "last_used_at" {
					continue
				}
				fmt.Fprintf(&line, "%v|", vals[i])
			}
			lines = append(lines, line.String())
		}
		rows.Close()
		sort.Strings(lines)
		out[table.Name] = fmt.Sprintf("%d:%x", len(lines), sha256.Sum256([]byte(strings.Join(lines, "\n"))))
	}
	return out
}

// TestNotFoundIsTheSameForHiddenAndMissing: another tenant's real ids and ids
// that exist nowhere get byte-identical answers, from every Mutation field
// that names something by id and from the reads that take an id; and the
// probes leave no trace in the victim's audit trail.
func TestNotFoundIsTheSameForHiddenAndMissing(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			fx := newMutFixture(t, b, nil)
			outsider := fx.tokens["outsider"]
			victimEvents := func() int {
				ctx, db := fx.in.Fixture()
				n, err := db.AuditEvent.Query().Where(auditevent.OrganizationIDIn(uuid.MustParse(fx.a), uuid.MustParse(fx.a1))).Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			compared := 0
			for _, field := range mutationFields(t) {
				for _, name := range casesFor(field) {
					c := mutationCases[name]
					vars, tok := c.prepare(fx, "outsider")
					if tok == "" {
						tok = outsider
					}
					random := map[string]any{}
					ids := 0
					for k, v := range vars {
						if s, ok := v.(string); ok && uuid.Validate(s) == nil {
							random[k] = uuid.NewString()
							ids++
						} else {
							random[k] = v
						}
					}
					if ids == 0 {
						continue
					}
					before := victimEvents()
					hidden := fx.in.Do(tok, c.query, vars)
					if after := victimEvents(); after != before {
						t.Errorf("%s: an outsider's probe wrote %d events into the victim's trail", name, after-before)
					}
					missing := fx.in.Do(tok, c.query, random)
					if hidden.Code() != "NOT_FOUND" {
						t.Errorf("%s: another tenant's id answers %s", name, hidden.Raw)
						continue
					}
					if !bytes.Equal(hidden.Raw, missing.Raw) || hidden.Status != missing.Status {
						t.Errorf("%s: hidden and missing ids answer differently:\nhidden:  %s\nmissing: %s", name, hidden.Raw, missing.Raw)
					}
					compared++
				}
			}
			for _, q := range []string{
				`query($id: ID!) { node(id: $id) { id } }`,
				`query($id: ID!) { organization(id: $id) { id name } }`,
				`query($id: ID!) { authorize(action: "organization.read", resource: $id) { allowed } }`,
			} {
				hidden := fx.in.Do(outsider, q, map[string]any{"id": fx.a1})
				missing := fx.in.Do(outsider, q, map[string]any{"id": uuid.NewString()})
				if !bytes.Equal(hidden.Raw, missing.Raw) {
					t.Errorf("%s: hidden and missing ids answer differently:\nhidden:  %s\nmissing: %s", q, hidden.Raw, missing.Raw)
				}
				compared++
			}
			if compared < 25 {
				t.Errorf("only %d id-taking operations compared", compared)
			}
		})
	}
}

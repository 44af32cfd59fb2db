package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent/applicationkey"
	"github.com/orgraph/orgraph/ent/sealedkey"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
	"github.com/orgraph/orgraph/internal/testutil"
)

const (
	qCreatePerson = `mutation($org: ID!, $handles: [HandleInput!]!, $groups: [String!]) {
		createPerson(organizationId: $org, handles: $handles, groups: $groups) { id active handles { type value } groups { name } } }`
	qAddHandle   = `mutation($org: ID!, $p: ID!, $h: HandleInput!) { addPersonHandle(organizationId: $org, personId: $p, handle: $h) { id handles { value } } }`
	qCreateGroup = `mutation($org: ID!, $name: String!) { createGroup(organizationId: $org, name: $name) { id name } }`
	qAddMember   = `mutation($org: ID!, $g: String!, $p: ID!) { addGroupMember(organizationId: $org, group: $g, personId: $p) { name } }`
	qRemMember   = `mutation($org: ID!, $g: String!, $p: ID!) { removeGroupMember(organizationId: $org, group: $g, personId: $p) { name } }`
	qCreateApp   = `mutation($org: ID!, $sector: ID, $name: String!, $kind: ApplicationKind!) {
		createApplication(organizationId: $org, sectorId: $sector, name: $name, kind: $kind) { id name anchor status sector { id name } publicKeys { kid current x } } }`
	qSubject   = `query($app: ID!, $p: ID!) { node(id: $app) { ... on Application { subjectFor(personId: $p) } } }`
	qCreateKey = `mutation($org: ID!, $name: String!, $role: String!, $exp: Time) {
		createAPIKey(organizationId: $org, name: $name, role: $role, expiresAt: $exp) { key apiKey { id name role prefix expiresAt lastUsedAt revokedAt } } }`
	qRevokeKey = `mutation($id: ID!) { revokeAPIKey(id: $id) { id revokedAt } }`
	qOrgPeople = `query($org: ID!) { organization(id: $org) { personsCount
		persons(first: 100) { totalCount edges { node { id active handles { type value } groups { name } } } }
		groups(first: 100, orderBy: {field: NAME}) { totalCount edges { node { name } } } } }`
)

func emailH(v string) map[string]any    { return map[string]any{"type": "EMAIL_ADDRESS", "value": v} }
func phoneH(v string) map[string]any    { return map[string]any{"type": "PHONE_NUMBER", "value": v} }
func usernameH(v string) map[string]any { return map[string]any{"type": "USERNAME", "value": v} }

func wantCode(t *testing.T, what string, r *testutil.Response, code string) {
	t.Helper()
	if r.Code() != code {
		t.Fatalf("%s: want %s, got HTTP %d %s", what, code, r.Status, r.Raw)
	}
}

// createPerson returns the person id createPerson answers.
func createPerson(t *testing.T, in *testutil.Instance, token, org string, groups []string, handles ...map[string]any) string {
	t.Helper()
	vars := map[string]any{"org": org, "handles": handles}
	if groups != nil {
		vars["groups"] = groups
	}
	return testutil.Str(in.MustDo(token, qCreatePerson, vars), "createPerson", "id")
}

// orgView is what an org shows of its persons and groups.
type orgView struct {
	count    int
	persons  map[string][]string // id → handle values, sorted
	active   map[string]bool
	groupsOf map[string][]string // id → group names in the org
	groups   []string
}

func viewOrg(t *testing.T, in *testutil.Instance, token, org string) orgView {
	t.Helper()
	d := in.MustDo(token, qOrgPeople, map[string]any{"org": org})
	v := orgView{persons: map[string][]string{}, active: map[string]bool{}, groupsOf: map[string][]string{}}
	v.count = int(testutil.Get(d, "organization", "personsCount").(float64))
	if total := int(testutil.Get(d, "organization", "persons", "totalCount").(float64)); total != v.count {
		t.Fatalf("personsCount %d != persons.totalCount %d", v.count, total)
	}
	for _, e := range testutil.Get(d, "organization", "persons", "edges").([]any) {
		n := e.(map[string]any)["node"].(map[string]any)
		id := n["id"].(string)
		hs := []string{}
		for _, h := range n["handles"].([]any) {
			hs = append(hs, h.(map[string]any)["value"].(string))
		}
		sort.Strings(hs)
		v.persons[id] = hs
		v.active[id] = n["active"].(bool)
		gs := []string{}
		for _, g := range n["groups"].([]any) {
			gs = append(gs, g.(map[string]any)["name"].(string))
		}
		v.groupsOf[id] = gs
	}
	for _, e := range testutil.Get(d, "organization", "groups", "edges").([]any) {
		v.groups = append(v.groups, testutil.Str(e, "node", "name"))
	}
	if v.groups == nil {
		v.groups = []string{}
	}
	return v
}

func groupMembers(t *testing.T, in *testutil.Instance, token, org, name string) []string {
	t.Helper()
	d := in.MustDo(token, `query($org: ID!, $name: String!) { organization(id: $org) { groups(where: {name: $name}) { edges { node { members { totalCount edges { node { id } } } } } } } }`,
		map[string]any{"org": org, "name": name})
	out := []string{}
	for _, g := range testutil.Get(d, "organization", "groups", "edges").([]any) {
		for _, e := range testutil.Get(g, "node", "members", "edges").([]any) {
			out = append(out, testutil.Str(e, "node", "id"))
		}
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { out := slices.Clone(s); sort.Strings(out); return out }

func eq(a, b []string) bool { return slices.Equal(a, b) }

// rowCounts counts the rows of the identity tables and the audit log.
func rowCounts(t *testing.T, in *testutil.Instance) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"persons", "handles", "handle_uses", "registrations", "group_memberships", "groups",
		"sectors", "applications", "application_keys", "api_keys", "audit_events"} {
		var n int
		if err := in.Store.DB.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// rawRowsContain reports whether any column of any row of table contains needle.
func rawRowsContain(t *testing.T, in *testutil.Instance, table string, needle []byte) bool {
	t.Helper()
	rows, err := in.Store.DB.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			var b []byte
			switch x := v.(type) {
			case []byte:
				b = x
			case string:
				b = []byte(x)
			default:
				b = []byte(fmt.Sprint(x))
			}
			if bytes.Contains(b, needle) {
				return true
			}
		}
	}
	return false
}

// TestSlashIDMultiTenantSaaS is SlashID case study 1: a platform org with a
// suborg per customer, each with its own persons and groups and an API key the
// customer's admins use; the platform's key sees into every suborg.
func TestSlashIDMultiTenantSaaS(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			platform := mustCreate(t, in, alice, map[string]any{"name": "E 720"})["id"].(string)
			parks := mustCreate(t, in, alice, map[string]any{"name": "Parks & Rec Dept", "parentId": platform})
			library := mustCreate(t, in, alice, map[string]any{"name": "Pawnee Library", "parentId": platform})
			if parks["tenant"] != "E 720" || library["tenant"] != "E 720" {
				t.Fatalf("suborgs keep the tenant name: %v %v", parks, library)
			}
			parksID, libID := parks["id"].(string), library["id"].(string)

			// the platform hands each customer an API key of its suborg
			key := func(org, name string) string {
				d := in.MustDo(alice, qCreateKey, map[string]any{"org": org, "name": name, "role": "admin"})
				return testutil.Str(d, "createAPIKey", "key")
			}
			parksKey, libKey, platformKey := key(parksID, "parks"), key(libID, "library"), key(platform, "analytics")

			// each customer onboards its users; the same email is a different person in each
			leslie := createPerson(t, in, parksKey, parksID, nil, emailH("leslie@pawnee.gov"))
			leslieLib := createPerson(t, in, libKey, libID, nil, emailH("leslie@pawnee.gov"))
			if leslie == leslieLib {
				t.Fatal("separate pools must give separate persons")
			}
			createPerson(t, in, parksKey, parksID, nil, emailH("ron@pawnee.gov"))
			in.MustDo(parksKey, qCreateGroup, map[string]any{"org": parksID, "name": "staff"})
			in.MustDo(libKey, qCreateGroup, map[string]any{"org": libID, "name": "staff"}) // own pool: no conflict

			pv, lv := viewOrg(t, in, parksKey, parksID), viewOrg(t, in, libKey, libID)
			if pv.count != 2 || lv.count != 1 || !eq(pv.groups, []string{"staff"}) || !eq(lv.groups, []string{"staff"}) {
				t.Fatalf("customer views: parks %+v library %+v", pv, lv)
			}
			if _, ok := lv.persons[leslie]; ok {
				t.Fatal("the library sees a person of Parks")
			}
			// no visibility between customers
			r := in.Do(libKey, qOrgPeople, map[string]any{"org": parksID})
			wantCode(t, "library key reads parks", r, "NOT_FOUND")
			wantCode(t, "library key creates in parks", in.Do(libKey, qCreatePerson, map[string]any{"org": parksID, "handles": []any{emailH("x@y.org")}}), "NOT_FOUND")
			if r := in.Do(libKey, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": leslie}); r.Code() != "NOT_FOUND" && testutil.Get(r.Data, "node") != nil {
				t.Fatalf("library key resolves a Parks person: %s", r.Raw)
			}

			// the platform's key (analytics) counts users in every suborg
			d := in.MustDo(platformKey, `query($id: ID!) { organization(id: $id) { children { edges { node { name personsCount } } } } }`, map[string]any{"id": platform})
			counts := map[string]any{}
			for _, e := range testutil.Get(d, "organization", "children", "edges").([]any) {
				counts[testutil.Str(e, "node", "name")] = testutil.Get(e, "node", "personsCount")
			}
			if len(counts) != 2 || counts["Parks & Rec Dept"] != float64(2) || counts["Pawnee Library"] != float64(1) {
				t.Fatalf("platform analytics: %v", counts)
			}
			// ... and has the same powers as the suborg's key
			createPerson(t, in, platformKey, libID, nil, usernameH("april"))
			if v := viewOrg(t, in, platformKey, libID); v.count != 2 {
				t.Fatalf("platform key in the library: %+v", v)
			}
		})
	}
}

// TestSlashIDHealthcarePools is SlashID case study 2: clinics sharing a
// person pool and a group pool, with group membership per clinic and handles
// shown only to the clinic they were used through.
func TestSlashIDHealthcarePools(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			polymed := mustCreate(t, in, alice, map[string]any{"name": "PolyMed"})["id"].(string)
			trueSight := mustCreate(t, in, alice, map[string]any{"name": "TrueSight Opticians", "parentId": polymed})["id"].(string)
			puraDerm := mustCreate(t, in, alice, map[string]any{"name": "PuraDerm Skincare", "parentId": polymed,
				"personsPoolOf": trueSight, "groupsPoolOf": trueSight})["id"].(string)
			// a clinic admin who only administers PuraDerm
			in.Account("derm-admin", false)
			in.Grant("derm-admin", puraDerm, "admin")
			derm := in.Token("derm-admin", "")

			// pools: only within the tenant tree, and only for suborgs
			bob := in.Account("bob", false)
			other := mustCreate(t, in, bob, map[string]any{"name": "Other Health"})["id"].(string)
			wantCode(t, "pool of another tenant", in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "parentId": polymed, "personsPoolOf": other}}), "NOT_FOUND")
			wantCode(t, "group pool of another tenant", in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "parentId": polymed, "groupsPoolOf": other}}), "NOT_FOUND")
			wantCode(t, "pool of a missing org", in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "parentId": polymed, "personsPoolOf": uuid.NewString()}}), "NOT_FOUND")
			wantCode(t, "another tenant uses our pool", in.Do(bob, createOrg, map[string]any{"in": map[string]any{"name": "X", "parentId": other, "personsPoolOf": trueSight}}), "NOT_FOUND")
			wantCode(t, "root with a pool", in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "personsPoolOf": trueSight}}), "BAD_USER_INPUT")
			wantCode(t, "root with a group pool", in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "groupsPoolOf": trueSight}}), "BAD_USER_INPUT")

			// Step 3: groups created in TrueSight are the groups of PuraDerm; PolyMed has none
			in.MustDo(alice, qCreateGroup, map[string]any{"org": trueSight, "name": "patients"})
			in.MustDo(alice, qCreateGroup, map[string]any{"org": trueSight, "name": "clinicians"})
			wantCode(t, "group exists in the shared pool", in.Do(derm, qCreateGroup, map[string]any{"org": puraDerm, "name": "patients"}), "CONFLICT")
			wantCode(t, "blank group name", in.Do(derm, qCreateGroup, map[string]any{"org": puraDerm, "name": "  "}), "BAD_USER_INPUT")
			want := []string{"clinicians", "patients"}
			if g := viewOrg(t, in, alice, trueSight).groups; !eq(g, want) {
				t.Fatalf("TrueSight groups = %v", g)
			}
			if g := viewOrg(t, in, derm, puraDerm).groups; !eq(g, want) {
				t.Fatalf("PuraDerm groups = %v", g)
			}
			if g := viewOrg(t, in, alice, polymed).groups; len(g) != 0 {
				t.Fatalf("PolyMed (another pool) lists groups %v", g)
			}

			// Step 4: a clinician per clinic, in "clinicians" at creation
			green := createPerson(t, in, alice, trueSight, []string{"clinicians"}, emailH("m.green@truesight.com"))
			house := createPerson(t, in, derm, puraDerm, []string{"clinicians"}, emailH("g.house@puraderm.com"))
			if m := groupMembers(t, in, alice, trueSight, "clinicians"); !eq(m, []string{green}) {
				t.Fatalf("TrueSight clinicians = %v", m)
			}
			if m := groupMembers(t, in, derm, puraDerm, "clinicians"); !eq(m, []string{house}) {
				t.Fatalf("PuraDerm clinicians = %v", m)
			}
			wantCode(t, "unknown group at creation", in.Do(derm, qCreatePerson, map[string]any{"org": puraDerm, "handles": []any{emailH("new@x.org")}, "groups": []string{"surgeons"}}), "NOT_FOUND")

			// Step 5: a patient of PuraDerm registers with TrueSight: same person
			scarn := createPerson(t, in, derm, puraDerm, []string{"patients"}, emailH("mscarn@mymail.com"))
			if v := viewOrg(t, in, derm, puraDerm); v.count != 2 || !eq(v.persons[scarn], []string{"mscarn@mymail.com"}) {
				t.Fatalf("PuraDerm persons: %+v", v)
			}
			if v := viewOrg(t, in, alice, trueSight); v.count != 1 {
				t.Fatalf("TrueSight persons before the patient registers: %+v", v)
			}
			again := createPerson(t, in, alice, trueSight, []string{"patients"}, emailH("  MScarn@MyMail.com "))
			if again != scarn {
				t.Fatalf("the shared pool must give the same person id: %s != %s", again, scarn)
			}
			tv := viewOrg(t, in, alice, trueSight)
			if tv.count != 2 || !eq(tv.groupsOf[scarn], []string{"patients"}) || !eq(tv.groupsOf[green], []string{"clinicians"}) {
				t.Fatalf("TrueSight after registration: %+v", tv)
			}

			// Blake: email in TrueSight, then a phone; PuraDerm via the phone sees only the phone
			blake := createPerson(t, in, alice, trueSight, nil, emailH("blake@mymail.com"))
			d := in.MustDo(alice, qAddHandle, map[string]any{"org": trueSight, "p": blake, "h": phoneH("+1 650 253 0000")})
			if got := testutil.Get(d, "addPersonHandle", "handles").([]any); len(got) != 2 {
				t.Fatalf("handles after adding a phone: %v", got)
			}
			if tv := viewOrg(t, in, alice, trueSight); !eq(tv.persons[blake], sorted("+16502530000", "blake@mymail.com")) {
				t.Fatalf("TrueSight sees Blake's handles %v", tv.persons[blake])
			}
			blakeDerm := createPerson(t, in, derm, puraDerm, nil, phoneH("+16502530000"))
			if blakeDerm != blake {
				t.Fatal("registering with another handle of the same person must give the same id")
			}
			dv := viewOrg(t, in, derm, puraDerm)
			if !eq(dv.persons[blake], []string{"+16502530000"}) {
				t.Fatalf("PuraDerm must see only the handle used with it: %v", dv.persons[blake])
			}
			if !eq(viewOrg(t, in, alice, trueSight).persons[blake], sorted("+16502530000", "blake@mymail.com")) {
				t.Fatal("TrueSight lost a handle")
			}
			// the explicit-org form: PuraDerm's admin cannot read Blake's TrueSight handles
			r := in.Do(derm, `query($p: ID!, $org: ID!) { node(id: $p) { ... on Person { handles(organizationId: $org) { value } } } }`, map[string]any{"p": blake, "org": trueSight})
			wantCode(t, "handles through an org the caller cannot read", r, "NOT_FOUND")
			r = in.Do(derm, `query($p: ID!, $org: ID!) { node(id: $p) { ... on Person { handles(organizationId: $org) { value } } } }`, map[string]any{"p": blake, "org": puraDerm})
			if r.Code() != "" || len(testutil.Get(r.Data, "node", "handles").([]any)) != 1 {
				t.Fatalf("handles through PuraDerm: %s", r.Raw)
			}
			// the email handle itself is not readable to PuraDerm's admin
			var emailHandle string
			d = in.MustDo(alice, `query($p: ID!, $org: ID!) { node(id: $p) { ... on Person { handles(organizationId: $org) { id value } } } }`, map[string]any{"p": blake, "org": trueSight})
			for _, h := range testutil.Get(d, "node", "handles").([]any) {
				if h.(map[string]any)["value"] == "blake@mymail.com" {
					emailHandle = h.(map[string]any)["id"].(string)
				}
			}
			if r := in.Do(derm, `query($id: ID!) { node(id: $id) { ... on Handle { value } } }`, map[string]any{"id": emailHandle}); r.Code() != "NOT_FOUND" && testutil.Get(r.Data, "node") != nil {
				t.Fatalf("PuraDerm's admin reads a TrueSight-only handle: %s", r.Raw)
			}
			// a person listed through Group.members(organizationId) shows that org's handles,
			// also when the group itself is reached through another org
			in.MustDo(derm, qAddMember, map[string]any{"org": puraDerm, "g": "patients", "p": blake})
			d = in.MustDo(alice, `query($ts: ID!, $pd: ID!) { organization(id: $ts) { groups(where: {name: "patients"}) { edges { node { id
				members(organizationId: $pd) { edges { node { id handles { value } } } } } } } } }`, map[string]any{"ts": trueSight, "pd": puraDerm})
			var patientsGroup string
			sawBlake := false
			for _, g := range testutil.Get(d, "organization", "groups", "edges").([]any) {
				patientsGroup = testutil.Str(g, "node", "id")
				for _, e := range testutil.Get(g, "node", "members", "edges").([]any) {
					if testutil.Str(e, "node", "id") == blake {
						sawBlake = true
						if hs := testutil.Get(e, "node", "handles").([]any); len(hs) != 1 || testutil.Str(hs[0], "value") != "+16502530000" {
							t.Fatalf("Blake listed through PuraDerm shows %v", hs)
						}
					}
				}
			}
			if !sawBlake {
				t.Fatalf("Blake is not among PuraDerm's patients: %v", d)
			}
			d = in.MustDo(derm, `query($g: ID!, $pd: ID!) { node(id: $g) { ... on Group { name members(organizationId: $pd) { totalCount edges { node { id handles { value } } } } } } }`, map[string]any{"g": patientsGroup, "pd": puraDerm})
			if testutil.Get(d, "node", "members", "totalCount") != float64(2) {
				t.Fatalf("PuraDerm patients through node(): %v", d)
			}
			wantCode(t, "group members through an unreadable org", in.Do(derm, `query($g: ID!, $ts: ID!) { node(id: $g) { ... on Group { members(organizationId: $ts) { totalCount } } } }`, map[string]any{"g": patientsGroup, "ts": trueSight}), "NOT_FOUND")
			wantCode(t, "person fields without an org", in.Do(alice, `query($p: ID!) { node(id: $p) { ... on Person { handles { value } } } }`, map[string]any{"p": blake}), "BAD_USER_INPUT")
			in.MustDo(derm, qRemMember, map[string]any{"org": puraDerm, "g": "patients", "p": blake})

			// a handle of another person of the pool cannot be added
			wantCode(t, "handle of another person", in.Do(alice, qAddHandle, map[string]any{"org": trueSight, "p": blake, "h": emailH("m.green@truesight.com")}), "CONFLICT")
			// handles of two different persons in one createPerson
			wantCode(t, "handles of two persons", in.Do(alice, qCreatePerson, map[string]any{"org": trueSight, "handles": []any{emailH("m.green@truesight.com"), phoneH("+16502530000")}}), "CONFLICT")

			// Michelle: email with TrueSight, phone with PuraDerm: nothing ties them
			m1 := createPerson(t, in, alice, trueSight, nil, emailH("michelle@mymail.com"))
			m2 := createPerson(t, in, derm, puraDerm, nil, phoneH("+41 44 668 18 00"))
			if m1 == m2 {
				t.Fatal("different handles must give different persons")
			}

			// groups per org: PuraDerm's membership does not show in TrueSight
			in.MustDo(derm, qAddMember, map[string]any{"org": puraDerm, "g": "clinicians", "p": scarn})
			if gs := viewOrg(t, in, derm, puraDerm).groupsOf[scarn]; !eq(gs, []string{"clinicians", "patients"}) {
				t.Fatalf("PuraDerm groups of the patient: %v", gs)
			}
			if gs := viewOrg(t, in, alice, trueSight).groupsOf[scarn]; !eq(gs, []string{"patients"}) {
				t.Fatalf("TrueSight groups of the patient: %v", gs)
			}
			in.MustDo(derm, qAddMember, map[string]any{"org": puraDerm, "g": "clinicians", "p": scarn}) // idempotent
			in.MustDo(derm, qRemMember, map[string]any{"org": puraDerm, "g": "clinicians", "p": scarn})
			if gs := viewOrg(t, in, derm, puraDerm).groupsOf[scarn]; !eq(gs, []string{"patients"}) {
				t.Fatalf("after removal: %v", gs)
			}
			d = in.MustDo(alice, `query($p: ID!, $a: ID!, $b: ID!) { node(id: $p) { ... on Person { a: groups(organizationId: $a) { name } b: groups(organizationId: $b) { name } } } }`,
				map[string]any{"p": scarn, "a": trueSight, "b": puraDerm})
			if len(testutil.Get(d, "node", "a").([]any)) != 1 || len(testutil.Get(d, "node", "b").([]any)) != 1 {
				t.Fatalf("Person.groups(organizationId): %v", d)
			}
			// a person registered elsewhere in the pool is not a member candidate here
			wantCode(t, "group member not registered here", in.Do(derm, qAddMember, map[string]any{"org": puraDerm, "g": "patients", "p": green}), "NOT_FOUND")
			wantCode(t, "unknown group", in.Do(derm, qAddMember, map[string]any{"org": puraDerm, "g": "nurses", "p": scarn}), "NOT_FOUND")
			// PolyMed (own pools) cannot use the clinics' groups or persons
			wantCode(t, "group of another pool", in.Do(alice, qAddMember, map[string]any{"org": polymed, "g": "patients", "p": scarn}), "NOT_FOUND")
			parentScarn := createPerson(t, in, alice, polymed, nil, emailH("mscarn@mymail.com"))
			if parentScarn == scarn {
				t.Fatal("an org with another pool must get another person")
			}

			// deactivation: still listed, flagged
			in.MustDo(derm, `mutation($org: ID!, $p: ID!) { deactivatePerson(organizationId: $org, personId: $p) { active } }`, map[string]any{"org": puraDerm, "p": house})
			dv = viewOrg(t, in, derm, puraDerm)
			if _, listed := dv.persons[house]; !listed || dv.active[house] {
				t.Fatalf("deactivated person: listed=%v active=%v", listed, dv.active[house])
			}
			wantCode(t, "deactivate a person of another org", in.Do(derm, `mutation($org: ID!, $p: ID!) { deactivatePerson(organizationId: $org, personId: $p) { active } }`, map[string]any{"org": puraDerm, "p": green}), "NOT_FOUND")
		})
	}
}

// TestPairwiseSubjects is the Sudomimus sector contract: equal subjects within
// a sector, unrelated across sectors, stable, never the person id; retired
// applications and sectors give none; anchors are unique and permanent.
func TestPairwiseSubjects(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Sudomimus Dev"})["id"].(string)
			p := createPerson(t, in, alice, org, nil, emailH("ann@example.com"))
			q := createPerson(t, in, alice, org, nil, emailH("ben@example.com"))

			mk := func(name string, sector any) map[string]any {
				return testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": name, "kind": "WEB", "sector": sector}), "createApplication").(map[string]any)
			}
			web := mk("web", nil)
			sector := testutil.Str(web, "sector", "id")
			if testutil.Str(web, "sector", "name") != "web" {
				t.Fatalf("fresh sector: %v", web)
			}
			game := mk("game", sector)
			cli := mk("cli", nil)
			if testutil.Str(game, "sector", "id") != sector || testutil.Str(cli, "sector", "id") == sector {
				t.Fatalf("sectors: web %v game %v cli %v", web, game, cli)
			}
			anchors := map[string]bool{}
			for _, a := range []map[string]any{web, game, cli} {
				anchors[a["anchor"].(string)] = true
				if ks := a["publicKeys"].([]any); len(ks) != 1 || ks[0].(map[string]any)["current"] != true {
					t.Fatalf("a new application has one current signing key: %v", a)
				}
			}
			if len(anchors) != 3 {
				t.Fatalf("anchors are not unique: %v", anchors)
			}

			subject := func(app map[string]any, person string) string {
				return testutil.Str(in.MustDo(alice, qSubject, map[string]any{"app": app["id"], "p": person}), "node", "subjectFor")
			}
			sWeb, sGame, sCli := subject(web, p), subject(game, p), subject(cli, p)
			if sWeb != sGame {
				t.Fatal("applications of one sector must see the same subject")
			}
			if sWeb == sCli {
				t.Fatal("applications of different sectors must see unrelated subjects")
			}
			if subject(web, p) != sWeb || subject(web, q) == sWeb {
				t.Fatal("subjects must be stable and differ per person")
			}
			pid, _ := uuid.Parse(p)
			for _, s := range []string{sWeb, sCli} {
				for _, leak := range []string{p, strings.ReplaceAll(p, "-", ""), base64.RawURLEncoding.EncodeToString(pid[:])} {
					if strings.Contains(s, leak) {
						t.Fatalf("subject %q reveals the person id", s)
					}
				}
			}
			// the secret never leaves: no field of Sector exposes it
			d := in.MustDo(alice, `{ __type(name: "Sector") { fields { name } } }`, nil)
			for _, f := range testutil.Get(d, "__type", "fields").([]any) {
				if strings.Contains(strings.ToLower(f.(map[string]any)["name"].(string)), "secret") {
					t.Fatalf("Sector exposes %v", f)
				}
			}

			// unknown person, person of another tenant: NOT_FOUND
			bob := in.Account("bob", false)
			otherOrg := mustCreate(t, in, bob, map[string]any{"name": "Other"})["id"].(string)
			stranger := createPerson(t, in, bob, otherOrg, nil, emailH("ann@example.com"))
			wantCode(t, "subject of another tenant's person", in.Do(alice, qSubject, map[string]any{"app": web["id"], "p": stranger}), "NOT_FOUND")
			wantCode(t, "subject of a missing person", in.Do(alice, qSubject, map[string]any{"app": web["id"], "p": uuid.NewString()}), "NOT_FOUND")
			// a viewer may read subjects; another tenant may not see the application at all
			in.Account("vic", false)
			in.Grant("vic", org, "viewer")
			if s := testutil.Str(in.MustDo(in.Token("vic", ""), qSubject, map[string]any{"app": web["id"], "p": p}), "node", "subjectFor"); s != sWeb {
				t.Fatalf("viewer subject %q", s)
			}
			if r := in.Do(bob, qSubject, map[string]any{"app": web["id"], "p": stranger}); r.Code() != "NOT_FOUND" && testutil.Get(r.Data, "node") != nil {
				t.Fatalf("another tenant computes a subject: %s", r.Raw)
			}
			// a person registered in a suborg is a user of the parent's applications
			sub := mustCreate(t, in, alice, map[string]any{"name": "Sub", "parentId": org, "personsPoolOf": org})["id"].(string)
			subPerson := createPerson(t, in, alice, sub, nil, emailH("sub@example.com"))
			if subject(web, subPerson) == "" {
				t.Fatal("no subject for a person of a suborg sharing the pool")
			}

			// updateApplication changes name and rules, never the anchor
			u := in.MustDo(alice, `mutation($id: ID!) { updateApplication(id: $id, input: {name: "web 2", loginRules: {mfa: true}, claimPolicy: {email: "verified"}}) { name anchor loginRules claimPolicy } }`, map[string]any{"id": web["id"]})
			if testutil.Str(u, "updateApplication", "anchor") != web["anchor"] || testutil.Str(u, "updateApplication", "name") != "web 2" || testutil.Get(u, "updateApplication", "loginRules", "mfa") != true {
				t.Fatalf("update: %v", u)
			}
			if r := in.Do(alice, `mutation($id: ID!) { updateApplication(id: $id, input: {anchor: "mine"}) { anchor } }`, map[string]any{"id": web["id"]}); len(r.Errors) == 0 {
				t.Fatalf("the anchor must not be settable: %s", r.Raw)
			}
			wantCode(t, "viewer updates", in.Do(in.Token("vic", ""), `mutation($id: ID!) { updateApplication(id: $id, input: {name: "x"}) { name } }`, map[string]any{"id": web["id"]}), "FORBIDDEN")
			wantCode(t, "blank name", in.Do(alice, `mutation($id: ID!) { updateApplication(id: $id, input: {name: " "}) { name } }`, map[string]any{"id": web["id"]}), "BAD_USER_INPUT")
			wantCode(t, "application in another org's sector", in.Do(bob, qCreateApp, map[string]any{"org": otherOrg, "name": "x", "kind": "CLI", "sector": sector}), "NOT_FOUND")
			wantCode(t, "createSector blank", in.Do(alice, `mutation($org: ID!) { createSector(organizationId: $org, name: "") { id } }`, map[string]any{"org": org}), "BAD_USER_INPUT")
			shared := in.MustDo(alice, `mutation($org: ID!) { createSector(organizationId: $org, name: "shared") { id name status } }`, map[string]any{"org": org})
			if testutil.Str(shared, "createSector", "status") != "ACTIVE" {
				t.Fatalf("createSector: %v", shared)
			}

			// retired application, then retired sector: no new subjects
			retire := func(q, id string) {
				t.Helper()
				if r := in.Do(alice, q, map[string]any{"id": id}); r.Code() != "" {
					t.Fatalf("retire: %s", r.Raw)
				}
			}
			retire(`mutation($id: ID!) { retireApplication(id: $id) { status } }`, game["id"].(string))
			wantCode(t, "subject of a retired application", in.Do(alice, qSubject, map[string]any{"app": game["id"], "p": p}), "FAILED_PRECONDITION")
			if subject(web, p) != sWeb {
				t.Fatal("the other application of the sector still works")
			}
			retire(`mutation($id: ID!) { retireApplication(id: $id) { status } }`, web["id"].(string))
			retire(`mutation($id: ID!) { retireSector(id: $id) { status } }`, sector)
			wantCode(t, "subject in a retired sector", in.Do(alice, qSubject, map[string]any{"app": web["id"], "p": p}), "FAILED_PRECONDITION")
			wantCode(t, "new application in a retired sector", in.Do(alice, qCreateApp, map[string]any{"org": org, "name": "late", "kind": "WEB", "sector": sector}), "FAILED_PRECONDITION")
			// a deactivated person gets no new subjects either
			in.MustDo(alice, `mutation($org: ID!, $p: ID!) { deactivatePerson(organizationId: $org, personId: $p) { active } }`, map[string]any{"org": org, "p": q})
			wantCode(t, "subject of a deactivated person", in.Do(alice, qSubject, map[string]any{"app": cli["id"], "p": q}), "FAILED_PRECONDITION")
		})
	}
}

// TestApplicationKeys: signing keys rotate with an overlap, client secrets are
// shown once, and only public keys, hashes and ciphertext are stored.
func TestApplicationKeys(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			dataKey := bytes.Repeat([]byte{0x42}, 32)
			in := testutil.Start(t, b, func(c *app.Config) { c.DataKey = base64.StdEncoding.EncodeToString(dataKey) })
			ctx := gate.System(context.Background())
			alice := in.Account("alice", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Keys"})["id"].(string)
			a := testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "rp", "kind": "OIDC_RP"}), "createApplication").(map[string]any)
			appID := uuid.MustParse(a["id"].(string))
			first := testutil.Get(a, "publicKeys", 0).(map[string]any)

			const rotate = `mutation($id: ID!, $kind: ApplicationKeyKind!) { rotateApplicationKey(id: $id, kind: $kind) { kind kid clientSecret publicKey { kid kty crv alg use x current expiresAt } application { id anchor } } }`
			const keys = `query($id: ID!) { node(id: $id) { ... on Application { clientSecretCreatedAt publicKeys { kid x current expiresAt createdAt } } } }`
			d := in.MustDo(alice, rotate, map[string]any{"id": appID, "kind": "SIGNING"})
			pk := testutil.Get(d, "rotateApplicationKey", "publicKey").(map[string]any)
			if pk["kty"] != "OKP" || pk["crv"] != "Ed25519" || pk["alg"] != "EdDSA" || pk["current"] != true || testutil.Get(d, "rotateApplicationKey", "clientSecret") != nil {
				t.Fatalf("rotate SIGNING: %v", d)
			}
			if testutil.Str(d, "rotateApplicationKey", "application", "anchor") != a["anchor"] {
				t.Fatal("rotation changed the anchor")
			}
			list := testutil.Get(in.MustDo(alice, keys, map[string]any{"id": appID}), "node", "publicKeys").([]any)
			if len(list) != 2 {
				t.Fatalf("the previous key stays listed during the overlap: %v", list)
			}
			for _, k := range list {
				k := k.(map[string]any)
				switch k["kid"] {
				case pk["kid"]:
					if k["current"] != true || k["expiresAt"] != nil {
						t.Fatalf("new key: %v", k)
					}
				case first["kid"]:
					exp, err := time.Parse(time.RFC3339, k["expiresAt"].(string))
					if err != nil || k["current"] != false || exp.Before(time.Now().Add(23*time.Hour)) || exp.After(time.Now().Add(25*time.Hour)) {
						t.Fatalf("previous key should expire in 24h: %v", k)
					}
				default:
					t.Fatalf("unexpected key %v", k)
				}
			}

			// the private key is stored encrypted, and it signs for the published key
			kid, priv, err := in.Service.SigningKey(ctx, appID)
			if err != nil || kid != pk["kid"] {
				t.Fatalf("SigningKey: %s %v", kid, err)
			}
			pub, _ := base64.RawURLEncoding.DecodeString(pk["x"].(string))
			msg := []byte("id token")
			if !ed25519.Verify(pub, msg, ed25519.Sign(priv, msg)) {
				t.Fatal("the stored private key does not match the published public key")
			}
			row, err := in.Store.Client.ApplicationKey.Query().Where(applicationkey.Kid(kid)).Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(row.PrivateKey, priv.Seed()) || len(row.PrivateKey) < 32+12+16 || row.DataKeyID != service.DataKeyID(dataKey) {
				t.Fatalf("private key at rest: %x (%s)", row.PrivateKey, row.DataKeyID)
			}
			for _, table := range []string{"application_keys", "audit_events", "server_keys", "sealed_keys"} {
				if rawRowsContain(t, in, table, priv.Seed()) || rawRowsContain(t, in, table, []byte(base64.RawURLEncoding.EncodeToString(priv.Seed()))) {
					t.Fatalf("%s holds the private key in clear", table)
				}
			}
			// a configured data key is not stored in the database, not even sealed;
			// nothing is in plaintext in server_keys any more
			stored, _ := in.Store.Client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindDATA)).Count(ctx)
			if n, _ := in.Store.Client.ServerKey.Query().Count(ctx); n != 0 || stored != 0 || rawRowsContain(t, in, "sealed_keys", dataKey) {
				t.Fatalf("server keys: %d plaintext, %d stored data keys", n, stored)
			}

			// CLIENT_AUTH: the secret is returned once, only its hash is stored
			d = in.MustDo(alice, rotate, map[string]any{"id": appID, "kind": "CLIENT_AUTH"})
			secret := testutil.Str(d, "rotateApplicationKey", "clientSecret")
			if !strings.HasPrefix(secret, service.ClientSecretPrefix) || testutil.Get(d, "rotateApplicationKey", "publicKey") != nil {
				t.Fatalf("rotate CLIENT_AUTH: %v", d)
			}
			kd := in.MustDo(alice, keys, map[string]any{"id": appID})
			if testutil.Get(kd, "node", "clientSecretCreatedAt") == nil || len(testutil.Get(kd, "node", "publicKeys").([]any)) != 2 {
				t.Fatalf("after CLIENT_AUTH: %v", kd)
			}
			csRow, err := in.Store.Client.ApplicationKey.Query().Where(applicationkey.Kid(testutil.Str(d, "rotateApplicationKey", "kid"))).Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(secret))
			if !bytes.Equal(csRow.SecretHash, sum[:]) || csRow.PrivateKey != nil {
				t.Fatalf("client secret row: %+v", csRow)
			}
			for _, table := range []string{"application_keys", "audit_events"} {
				if rawRowsContain(t, in, table, []byte(secret)) {
					t.Fatalf("%s holds the client secret", table)
				}
			}
			if ok, _ := in.Service.VerifyClientSecret(ctx, appID, secret); !ok {
				t.Fatal("the new client secret does not verify")
			}
			d = in.MustDo(alice, rotate, map[string]any{"id": appID, "kind": "CLIENT_AUTH"})
			if ok, _ := in.Service.VerifyClientSecret(ctx, appID, secret); ok {
				t.Fatal("a replaced client secret still verifies")
			}
			if ok, _ := in.Service.VerifyClientSecret(ctx, appID, testutil.Str(d, "rotateApplicationKey", "clientSecret")); !ok {
				t.Fatal("the newest client secret does not verify")
			}

			// nothing in the schema reads a secret, hash or private key
			sd := in.MustDo(alice, `{ __schema { types { name fields { name } } } }`, nil)
			for _, ty := range testutil.Get(sd, "__schema", "types").([]any) {
				fields, _ := ty.(map[string]any)["fields"].([]any)
				for _, f := range fields {
					n := strings.ToLower(f.(map[string]any)["name"].(string))
					if n == "secret" || n == "hash" || n == "privatekey" || n == "secrethash" || n == "d" {
						t.Fatalf("%s.%s exposes a secret", ty.(map[string]any)["name"], n)
					}
				}
			}

			// only admins rotate; another tenant cannot see the application
			in.Account("vic", false)
			in.Grant("vic", org, "viewer")
			wantCode(t, "viewer rotates", in.Do(in.Token("vic", ""), rotate, map[string]any{"id": appID, "kind": "SIGNING"}), "FORBIDDEN")
			bob := in.Account("bob", false)
			wantCode(t, "another tenant rotates", in.Do(bob, rotate, map[string]any{"id": appID, "kind": "SIGNING"}), "NOT_FOUND")
			wantCode(t, "rotate a missing application", in.Do(alice, rotate, map[string]any{"id": uuid.New(), "kind": "SIGNING"}), "NOT_FOUND")
		})
	}
}

// TestSigningKeyOverlapEnds: a rotated-out key disappears when the configured
// overlap ends; the embedded default encrypts with a generated data key.
func TestSigningKeyOverlapEnds(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) { c.KeyOverlap = 4 * time.Second })
	ctx := gate.System(context.Background())
	alice := in.Account("alice", false)
	org := mustCreate(t, in, alice, map[string]any{"name": "Overlap"})["id"].(string)
	a := testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "rp", "kind": "NATIVE"}), "createApplication").(map[string]any)
	in.MustDo(alice, `mutation($id: ID!) { rotateApplicationKey(id: $id, kind: SIGNING) { kid } }`, map[string]any{"id": a["id"]})
	count := func() int {
		d := in.MustDo(alice, `query($id: ID!) { node(id: $id) { ... on Application { publicKeys { kid } } } }`, map[string]any{"id": a["id"]})
		return len(testutil.Get(d, "node", "publicKeys").([]any))
	}
	if n := count(); n != 2 {
		t.Fatalf("during the overlap: %d keys", n)
	}
	time.Sleep(4200 * time.Millisecond)
	if n := count(); n != 1 {
		t.Fatalf("after the overlap: %d keys", n)
	}
	// the generated data key is stored sealed (under the master key of the key
	// file) and decrypts the key
	kid, _, err := in.Service.SigningKey(ctx, uuid.MustParse(a["id"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	row := in.Store.Client.ApplicationKey.Query().Where(applicationkey.Kid(kid)).OnlyX(ctx)
	dk, err := in.Store.Client.SealedKey.Get(ctx, row.DataKeyID)
	if err != nil || dk.Kind != sealedkey.KindDATA || dk.MasterKeyID != in.Keys.MasterKeyID() || !bytes.Equal(in.Keys.DataKey(), mustDataKey(t, in, row.DataKeyID)) {
		t.Fatalf("generated data key %s: %+v %v", row.DataKeyID, dk, err)
	}
	if rawRowsContain(t, in, "sealed_keys", in.Keys.DataKey()) {
		t.Fatal("the data key is stored in plaintext")
	}
}

// TestAPIKeyLifecycle: shown once, hashed at rest, acts on its org and
// descendants within its role, records lastUsedAt, honours expiry, and stops
// at once when revoked (HTTP 401).
func TestAPIKeyLifecycle(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			ctx := gate.System(context.Background())
			alice := in.Account("alice", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			sub := mustCreate(t, in, alice, map[string]any{"name": "Acme EU", "parentId": root})["id"].(string)
			bob := in.Account("bob", false)
			other := mustCreate(t, in, bob, map[string]any{"name": "Globex"})["id"].(string)

			d := in.MustDo(alice, qCreateKey, map[string]any{"org": root, "name": "ci", "role": "admin"})
			key := testutil.Str(d, "createAPIKey", "key")
			keyID := testutil.Str(d, "createAPIKey", "apiKey", "id")
			if !strings.HasPrefix(key, auth.APIKeyPrefix) || !strings.HasPrefix(key, testutil.Str(d, "createAPIKey", "apiKey", "prefix")) || testutil.Get(d, "createAPIKey", "apiKey", "lastUsedAt") != nil {
				t.Fatalf("createAPIKey: %v", d)
			}
			// only the hash is stored; the key appears nowhere
			row, err := in.Store.Client.APIKey.Get(ctx, uuid.MustParse(keyID))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256([]byte(key)); !bytes.Equal(row.Hash, sum[:]) {
				t.Fatal("stored hash is not the key's SHA-256")
			}
			for _, table := range []string{"api_keys", "audit_events"} {
				if rawRowsContain(t, in, table, []byte(key)) {
					t.Fatalf("%s holds the API key", table)
				}
			}
			// the key is never readable again
			if r := in.Do(alice, `query($id: ID!) { organization(id: $id) { apiKeys { edges { node { key } } } } }`, map[string]any{"id": root}); len(r.Errors) == 0 {
				t.Fatalf("an API key is readable: %s", r.Raw)
			}

			// it acts on its org and descendants, as admin
			p := createPerson(t, in, key, sub, nil, emailH("eu@acme.com"))
			if p == "" {
				t.Fatal("no person")
			}
			in.MustDo(key, qCreateApp, map[string]any{"org": sub, "name": "portal", "kind": "WEB"})
			wantCode(t, "key on another tenant", in.Do(key, qOrgPeople, map[string]any{"org": other}), "NOT_FOUND")
			wantCode(t, "key creates in another tenant", in.Do(key, qCreatePerson, map[string]any{"org": other, "handles": []any{emailH("x@y.org")}}), "NOT_FOUND")
			wantCode(t, "admin key manages members", in.Do(key, `mutation($org: ID!) { inviteMember(organizationId: $org, alias: "bob", role: "viewer") { id } }`, map[string]any{"org": root}), "FORBIDDEN")
			wantCode(t, "a key has no viewer", in.Do(key, `{ viewer { alias } }`, nil), "UNAUTHENTICATED")
			wantCode(t, "a key cannot exchange tokens", in.Do(key, `mutation($org: ID!) { exchangeToken(organizationId: $org) { token } }`, map[string]any{"org": root}), "UNAUTHENTICATED")
			// lastUsedAt and the audit actor
			ks := in.MustDo(alice, `query($id: ID!) { organization(id: $id) { apiKeys { totalCount edges { node { id name role lastUsedAt revokedAt } } } auditEvents(where: {action: "person.created"}) { edges { node { actor } } } } }`, map[string]any{"id": root})
			if testutil.Get(ks, "organization", "apiKeys", "edges", 0, "node", "lastUsedAt") == nil {
				t.Fatalf("lastUsedAt not recorded: %v", ks)
			}
			d = in.MustDo(alice, `query($id: ID!) { organization(id: $id) { auditEvents(where: {action: "person.created"}) { edges { node { actor } } } } }`, map[string]any{"id": sub})
			if testutil.Str(d, "organization", "auditEvents", "edges", 0, "node", "actor") != "apikey:ci" {
				t.Fatalf("audit actor: %v", d)
			}

			// role limits: a viewer key reads but cannot create
			viewerKey := testutil.Str(in.MustDo(alice, qCreateKey, map[string]any{"org": root, "name": "dash", "role": "viewer"}), "createAPIKey", "key")
			if v := viewOrg(t, in, viewerKey, sub); v.count != 1 {
				t.Fatalf("viewer key reads: %+v", v)
			}
			wantCode(t, "viewer key creates a person", in.Do(viewerKey, qCreatePerson, map[string]any{"org": sub, "handles": []any{emailH("v@acme.com")}}), "FORBIDDEN")
			wantCode(t, "viewer key creates a key", in.Do(viewerKey, qCreateKey, map[string]any{"org": root, "name": "x", "role": "viewer"}), "FORBIDDEN")
			wantCode(t, "viewer key revokes", in.Do(viewerKey, qRevokeKey, map[string]any{"id": keyID}), "FORBIDDEN")

			// bad roles and expiry
			wantCode(t, "owner key", in.Do(alice, qCreateKey, map[string]any{"org": root, "name": "x", "role": "owner"}), "BAD_USER_INPUT")
			wantCode(t, "unknown role", in.Do(alice, qCreateKey, map[string]any{"org": root, "name": "x", "role": "superuser"}), "BAD_USER_INPUT")
			wantCode(t, "past expiry", in.Do(alice, qCreateKey, map[string]any{"org": root, "name": "x", "role": "viewer", "exp": time.Now().Add(-time.Hour).Format(time.RFC3339)}), "BAD_USER_INPUT")
			wantCode(t, "blank name", in.Do(alice, qCreateKey, map[string]any{"org": root, "name": " ", "role": "viewer"}), "BAD_USER_INPUT")
			// a key never holds more than its creator: an admin cannot mint a billing key (billing.update)
			in.Account("adm", false)
			in.Grant("adm", root, "admin")
			wantCode(t, "admin delegates billing", in.Do(in.Token("adm", ""), qCreateKey, map[string]any{"org": root, "name": "x", "role": "billing"}), "FORBIDDEN")
			in.MustDo(alice, qCreateKey, map[string]any{"org": root, "name": "billing", "role": "billing"})
			in.MustDo(in.Token("adm", ""), qCreateKey, map[string]any{"org": root, "name": "adm-key", "role": "viewer"})

			// expiry: a key past its expiresAt is refused with 401
			d = in.MustDo(alice, qCreateKey, map[string]any{"org": root, "name": "temp", "role": "viewer", "exp": time.Now().Add(time.Hour).Format(time.RFC3339)})
			temp := testutil.Str(d, "createAPIKey", "key")
			in.MustDo(temp, `{ organizations { totalCount } }`, nil)
			if err := in.Store.Client.APIKey.UpdateOneID(uuid.MustParse(testutil.Str(d, "createAPIKey", "apiKey", "id"))).SetExpiresAt(time.Now().Add(-time.Second)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if r := in.Do(temp, `{ organizations { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("expired key: HTTP %d %s", r.Status, r.Raw)
			}

			// revocation: the next request is 401
			wantCode(t, "another tenant revokes", in.Do(bob, qRevokeKey, map[string]any{"id": keyID}), "NOT_FOUND")
			wantCode(t, "revoke a missing key", in.Do(alice, qRevokeKey, map[string]any{"id": uuid.NewString()}), "NOT_FOUND")
			rv := in.MustDo(alice, qRevokeKey, map[string]any{"id": keyID})
			if testutil.Get(rv, "revokeAPIKey", "revokedAt") == nil {
				t.Fatalf("revoke: %v", rv)
			}
			if r := in.Do(key, `{ organizations { totalCount } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("revoked key: HTTP %d %s", r.Status, r.Raw)
			}
			again := in.MustDo(alice, qRevokeKey, map[string]any{"id": keyID}) // idempotent, keeps the time
			if testutil.Get(again, "revokeAPIKey", "revokedAt") != testutil.Get(rv, "revokeAPIKey", "revokedAt") {
				t.Fatalf("revoking twice moved revokedAt: %v %v", rv, again)
			}
			// a key of a suborg cannot reach its parent
			subKey := testutil.Str(in.MustDo(alice, qCreateKey, map[string]any{"org": sub, "name": "eu", "role": "admin"}), "createAPIKey", "key")
			wantCode(t, "suborg key on the parent", in.Do(subKey, qCreatePerson, map[string]any{"org": root, "handles": []any{emailH("p@acme.com")}}), "NOT_FOUND")
		})
	}
}

// TestExchangeToken: an org-scoped token is short-lived and confined to the
// org's subtree.
func TestExchangeToken(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Tree"})["id"].(string)
			left := mustCreate(t, in, alice, map[string]any{"name": "Left", "parentId": root})["id"].(string)
			leftChild := mustCreate(t, in, alice, map[string]any{"name": "Left child", "parentId": left})["id"].(string)
			right := mustCreate(t, in, alice, map[string]any{"name": "Right", "parentId": root})["id"].(string)
			createPerson(t, in, alice, right, nil, emailH("r@tree.org"))

			const exchange = `mutation($org: ID!) { exchangeToken(organizationId: $org) { token expiresAt organization { id } } }`
			d := in.MustDo(alice, exchange, map[string]any{"org": left})
			tok := testutil.Str(d, "exchangeToken", "token")
			exp, err := time.Parse(time.RFC3339, testutil.Str(d, "exchangeToken", "expiresAt"))
			if err != nil || exp.After(time.Now().Add(time.Hour+time.Minute)) || exp.Before(time.Now()) || testutil.Str(d, "exchangeToken", "organization", "id") != left {
				t.Fatalf("exchangeToken: %v", d)
			}
			// inside the subtree: reads and writes work
			in.MustDo(tok, `query($id: ID!) { organization(id: $id) { name } }`, map[string]any{"id": leftChild})
			createPerson(t, in, tok, leftChild, nil, emailH("c@tree.org"))
			// outside: the sibling subtree and the parent are not found
			for _, id := range []string{right, root} {
				wantCode(t, "scoped token reads outside", in.Do(tok, `query($id: ID!) { organization(id: $id) { name } }`, map[string]any{"id": id}), "NOT_FOUND")
				wantCode(t, "scoped token writes outside", in.Do(tok, qCreatePerson, map[string]any{"org": id, "handles": []any{emailH("x@tree.org")}}), "NOT_FOUND")
			}
			if n := testutil.Get(in.MustDo(tok, `{ organizations { totalCount } }`, nil), "organizations", "totalCount"); n != float64(2) {
				t.Fatalf("a scoped token lists %v orgs, want 2", n)
			}
			// a role-less caller cannot get a token for an org
			in.Account("carol", false)
			carol := in.Token("carol", "")
			wantCode(t, "exchange without a role", in.Do(carol, exchange, map[string]any{"org": root}), "NOT_FOUND")
			bob := in.Account("bob", false)
			in.Grant("bob", left, "viewer")
			wantCode(t, "exchange for a sibling", in.Do(bob, exchange, map[string]any{"org": right}), "NOT_FOUND")
			in.MustDo(bob, exchange, map[string]any{"org": leftChild}) // inherited role
			wantCode(t, "anonymous exchange", in.Do("", exchange, map[string]any{"org": root}), "UNAUTHENTICATED")
			// a scoped token cannot widen itself
			wantCode(t, "re-exchange outside the scope", in.Do(tok, exchange, map[string]any{"org": right}), "NOT_FOUND")
		})
	}
}

// TestIdentityValidationAndAtomicity: handles are normalized, bad input names
// the handle, and a failed mutation leaves no row and no audit event.
func TestIdentityValidationAndAtomicity(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b, func(c *app.Config) { c.Limits.Applications, c.Limits.Sectors = 3, 2 })
			alice := in.Account("alice", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Norm"})["id"].(string)

			d := in.MustDo(alice, qCreatePerson, map[string]any{"org": org, "handles": []any{
				emailH("  Ann.Lee@Bücher.Example "), phoneH("+1 (650) 253-0000"), usernameH(" AnnLee "), emailH("ann.lee@xn--bcher-kva.example"),
			}})
			got := map[string]string{}
			for _, h := range testutil.Get(d, "createPerson", "handles").([]any) {
				got[h.(map[string]any)["type"].(string)+"|"+h.(map[string]any)["value"].(string)] = "ok"
			}
			for _, w := range []string{"EMAIL_ADDRESS|ann.lee@xn--bcher-kva.example", "PHONE_NUMBER|+16502530000", "USERNAME|annlee"} {
				if got[w] == "" {
					t.Fatalf("normalized handles %v lack %s", got, w)
				}
			}
			if len(got) != 3 {
				t.Fatalf("duplicate handles were not merged: %v", got)
			}
			ann := testutil.Str(d, "createPerson", "id")
			if createPerson(t, in, alice, org, nil, phoneH("+16502530000")) != ann || createPerson(t, in, alice, org, nil, usernameH("ANNLEE")) != ann {
				t.Fatal("normalized handles must find the same person")
			}

			before := rowCounts(t, in)
			for name, c := range map[string]struct {
				q    string
				vars map[string]any
				code string
				want string // in the message
			}{
				"bad email":         {qCreatePerson, map[string]any{"org": org, "handles": []any{emailH("ok@example.com"), emailH("not-an-email")}}, "BAD_USER_INPUT", "not-an-email"},
				"bad phone":         {qCreatePerson, map[string]any{"org": org, "handles": []any{phoneH("555-0100")}}, "BAD_USER_INPUT", "555-0100"},
				"bad username":      {qCreatePerson, map[string]any{"org": org, "handles": []any{usernameH("no spaces")}}, "BAD_USER_INPUT", "no spaces"},
				"no handles":        {qCreatePerson, map[string]any{"org": org, "handles": []any{}}, "BAD_USER_INPUT", "handle"},
				"unknown group":     {qCreatePerson, map[string]any{"org": org, "handles": []any{emailH("new@example.com")}, "groups": []string{"ghosts"}}, "NOT_FOUND", "ghosts"},
				"bad handle to add": {qAddHandle, map[string]any{"org": org, "p": ann, "h": emailH("@@")}, "BAD_USER_INPUT", "@@"},
				"missing org":       {qCreatePerson, map[string]any{"org": uuid.NewString(), "handles": []any{emailH("new@example.com")}}, "NOT_FOUND", ""},
			} {
				r := in.Do(alice, c.q, c.vars)
				if r.Code() != c.code || !strings.Contains(r.Errors[0].Message, c.want) {
					t.Fatalf("%s: want %s naming %q, got %s", name, c.code, c.want, r.Raw)
				}
			}
			if after := rowCounts(t, in); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("failed mutations left rows:\nbefore %v\nafter  %v", before, after)
			}

			// a conflict after new rows were written in the same transaction rolls them back
			bea := createPerson(t, in, alice, org, nil, emailH("bea@example.com"))
			before = rowCounts(t, in)
			wantCode(t, "handles of two persons", in.Do(alice, qCreatePerson, map[string]any{"org": org, "handles": []any{emailH("fresh@example.com"), emailH("bea@example.com"), phoneH("+16502530000")}}), "CONFLICT")
			wantCode(t, "unknown group after new handles", in.Do(alice, qCreatePerson, map[string]any{"org": org, "handles": []any{emailH("bea@example.com"), emailH("fresh@example.com")}, "groups": []string{"ghosts"}}), "NOT_FOUND")
			in.MustDo(alice, qCreateGroup, map[string]any{"org": org, "name": "crew"})
			wantCode(t, "duplicate group", in.Do(alice, qCreateGroup, map[string]any{"org": org, "name": " crew "}), "CONFLICT")
			after := rowCounts(t, in)
			if after["persons"] != before["persons"] || after["handles"] != before["handles"] || after["handle_uses"] != before["handle_uses"] ||
				after["groups"] != before["groups"]+1 || after["audit_events"] != before["audit_events"]+1 {
				t.Fatalf("a failed mutation left rows:\nbefore %v\nafter  %v", before, after)
			}
			if v := viewOrg(t, in, alice, org); !eq(v.persons[bea], []string{"bea@example.com"}) {
				t.Fatalf("the conflicting handle leaked onto a person: %v", v.persons)
			}

			// limits: 2 sectors, 3 applications; the failed create leaves nothing
			in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "a1", "kind": "WEB"})
			a2 := testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "a2", "kind": "GAME"}), "createApplication").(map[string]any)
			before = rowCounts(t, in)
			wantCode(t, "third sector", in.Do(alice, qCreateApp, map[string]any{"org": org, "name": "a3", "kind": "CLI"}), "LIMIT_EXCEEDED")
			wantCode(t, "createSector over the limit", in.Do(alice, `mutation($org: ID!) { createSector(organizationId: $org, name: "s") { id } }`, map[string]any{"org": org}), "LIMIT_EXCEEDED")
			if after := rowCounts(t, in); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a limited create left rows:\nbefore %v\nafter  %v", before, after)
			}
			in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "a3", "kind": "CLI", "sector": testutil.Str(a2, "sector", "id")})
			wantCode(t, "fourth application", in.Do(alice, qCreateApp, map[string]any{"org": org, "name": "a4", "kind": "CLI", "sector": testutil.Str(a2, "sector", "id")}), "LIMIT_EXCEEDED")
			wantCode(t, "unknown kind", in.Do(alice, qCreateApp, map[string]any{"org": org, "name": "a4", "kind": "TOASTER"}), "GRAPHQL_VALIDATION_FAILED")

			// a denied mutation writes only its authz.denied event
			in.Account("vic", false)
			in.Grant("vic", org, "viewer")
			before = rowCounts(t, in)
			wantCode(t, "viewer creates a person", in.Do(in.Token("vic", ""), qCreatePerson, map[string]any{"org": org, "handles": []any{emailH("v@example.com")}}), "FORBIDDEN")
			after = rowCounts(t, in)
			after["audit_events"]--
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a denied mutation left more than its audit event:\nbefore %v\nafter  %v", before, after)
			}
			ev := in.MustDo(alice, `query($id: ID!) { organization(id: $id) { auditEvents(where: {action: "authz.denied"}) { totalCount } } }`, map[string]any{"id": org})
			if testutil.Get(ev, "organization", "auditEvents", "totalCount") != float64(1) {
				t.Fatalf("denial audit: %v", ev)
			}
		})
	}
}

// TestPersonListStatementCount: handles and groups of a listed page of persons
// cost a fixed number of statements, not one per person.
func TestPersonListStatementCount(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Many"})["id"].(string)
			in.MustDo(alice, qCreateGroup, map[string]any{"org": org, "name": "g"})
			a := testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "a0", "kind": "WEB"}), "createApplication").(map[string]any)
			const q = `query($org: ID!) { organization(id: $org) {
				persons(first: 50) { edges { node { id handles { value } groups { name } } } }
				applications(first: 50) { edges { node { id publicKeys { kid } clientSecretCreatedAt } } } } }`
			measure := func() int64 {
				before := in.Store.Driver.Statements()
				in.MustDo(alice, q, map[string]any{"org": org})
				return in.Store.Driver.Statements() - before
			}
			grow := func(n int) {
				for i := 0; i < n; i++ {
					createPerson(t, in, alice, org, []string{"g"}, emailH(fmt.Sprintf("p%d-%d@example.com", n, i)), usernameH(fmt.Sprintf("p%d-%d", n, i)))
					in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": fmt.Sprintf("a%d-%d", n, i), "kind": "WEB", "sector": testutil.Str(a, "sector", "id")})
				}
			}
			grow(2)
			small := measure()
			grow(10)
			if large := measure(); large != small {
				t.Fatalf("12 persons and apps cost %d statements, 2 cost %d: the lists are not batched", large, small)
			}
		})
	}
}

// TestConcurrentRegistrationSharesOnePerson: orgs sharing a pool that register
// the same new handle at the same time end up with one person.
func TestConcurrentRegistrationSharesOnePerson(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Clinics"})["id"].(string)
			orgs := []string{mustCreate(t, in, alice, map[string]any{"name": "C0", "parentId": root})["id"].(string)}
			for i := 1; i < 4; i++ {
				orgs = append(orgs, mustCreate(t, in, alice, map[string]any{"name": fmt.Sprintf("C%d", i), "parentId": root, "personsPoolOf": orgs[0]})["id"].(string))
			}
			for round := 0; round < 3; round++ {
				handle := emailH(fmt.Sprintf("same-%d@example.com", round))
				ids := make(chan string, 2*len(orgs))
				errs := make(chan string, 2*len(orgs))
				done := make(chan struct{})
				for i := 0; i < 2*len(orgs); i++ {
					go func(org string) {
						defer func() { done <- struct{}{} }()
						r := in.Do(alice, qCreatePerson, map[string]any{"org": org, "handles": []any{handle}})
						if r.Code() != "" {
							errs <- string(r.Raw)
							return
						}
						ids <- testutil.Str(r.Data, "createPerson", "id")
					}(orgs[i%len(orgs)])
				}
				for i := 0; i < 2*len(orgs); i++ {
					<-done
				}
				close(ids)
				close(errs)
				for e := range errs {
					t.Fatalf("concurrent createPerson: %s", e)
				}
				seen := map[string]bool{}
				for id := range ids {
					seen[id] = true
				}
				if len(seen) != 1 {
					t.Fatalf("round %d: %d persons for one handle", round, len(seen))
				}
				for _, org := range orgs {
					if v := viewOrg(t, in, alice, org); v.count != round+1 {
						t.Fatalf("org sees %d persons after round %d", v.count, round)
					}
				}
			}
		})
	}
}

// mustDataKey is the data key id names, as the keyring opens it.
func mustDataKey(t *testing.T, in *testutil.Instance, id string) []byte {
	t.Helper()
	keys, err := in.Keys.DataKeys(context.Background())
	if err != nil || keys[id] == nil {
		t.Fatalf("data key %s: %v", id, err)
	}
	return keys[id]
}

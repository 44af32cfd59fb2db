package e2e

import (
	"testing"

	"github.com/orgraph/orgraph/internal/testutil"
)

// TestTenantIsolation builds a tenant with one of everything, then reads and
// writes every id of it from another tenant (an owner there, and an admin API
// key there): each read is NOT_FOUND exactly like a random id, each write is
// NOT_FOUND, and the lists the outsider can run show nothing of the tenant.
func TestTenantIsolation(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			mallory := in.Account("mallory", false)
			in.Account("bob", false)

			org := mustCreate(t, in, alice, map[string]any{"name": "Victim", "domains": []string{"victim.example"}})["id"].(string)
			sub := mustCreate(t, in, alice, map[string]any{"name": "Victim sub", "parentId": org})["id"].(string)
			ids := map[string]string{"org": org, "suborg": sub}
			d := in.MustDo(alice, `mutation($org: ID!) {
				app: createApplication(organizationId: $org, name: "web", kind: WEB) { id sector { id } }
				person: createPerson(organizationId: $org, handles: [{type: EMAIL_ADDRESS, value: "p@victim.example"}], groups: []) { id }
				group: createGroup(organizationId: $org, name: "staff") { id }
				key: createAPIKey(organizationId: $org, name: "ci", role: "viewer") { apiKey { id } }
				inv: inviteMember(organizationId: $org, alias: "bob", role: "viewer") { id }
			}`, map[string]any{"org": org})
			ids["application"] = testutil.Str(d, "app", "id")
			ids["sector"] = testutil.Str(d, "app", "sector", "id")
			ids["person"] = testutil.Str(d, "person", "id")
			ids["group"] = testutil.Str(d, "group", "id")
			ids["apikey"] = testutil.Str(d, "key", "apiKey", "id")
			ids["invitation"] = testutil.Str(d, "inv", "id")
			m := in.MustDo(alice, `query($org: ID!) { organization(id: $org) {
				members { edges { node { id account { id } } } }
				auditEvents(first: 1) { edges { node { id } } }
				persons { edges { node { handles { id } } } }
			} }`, map[string]any{"org": org})
			ids["membership"] = testutil.Str(m, "organization", "members", "edges", 0, "node", "id")
			ids["account"] = testutil.Str(m, "organization", "members", "edges", 0, "node", "account", "id")
			ids["auditEvent"] = testutil.Str(m, "organization", "auditEvents", "edges", 0, "node", "id")
			ids["handle"] = testutil.Str(m, "organization", "persons", "edges", 0, "node", "handles", 0, "id")
			for k, v := range ids {
				if v == "" {
					t.Fatalf("setup: no id for %s", k)
				}
			}

			other := mustCreate(t, in, mallory, map[string]any{"name": "Attacker"})["id"].(string)
			key := testutil.Str(in.MustDo(mallory, `mutation($org: ID!) { createAPIKey(organizationId: $org, name: "x", role: "admin") { key } }`,
				map[string]any{"org": other}), "createAPIKey", "key")
			const random = "0c9b3c52-3a7e-4a55-9a51-2f0d4a3e8d11"

			for who, tok := range map[string]string{"owner of another tenant": mallory, "admin API key of another tenant": key} {
				missing := in.Do(tok, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": random})
				for kind, id := range ids {
					r := in.Do(tok, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
					if r.Code() != "NOT_FOUND" || r.Errors[0].Message == "" || testutil.Get(r.Data, "node") != nil {
						t.Errorf("%s reads %s: %s", who, kind, r.Raw)
					}
					if len(r.Errors[0].Message) != len(missing.Errors[0].Message) {
						t.Errorf("%s can tell %s from a missing id: %q vs %q", who, kind, r.Errors[0].Message, missing.Errors[0].Message)
					}
					a := in.Do(tok, `query($id: ID!) { authorize(action: "organization.read", resource: $id) { allowed } }`, map[string]any{"id": id})
					if a.Code() != "NOT_FOUND" && !(a.Code() == "BAD_USER_INPUT" && kind != "org" && kind != "suborg") {
						t.Errorf("%s asks authorize on %s: %s", who, kind, a.Raw)
					}
				}
				for name, q := range map[string]string{
					"organization":         `query { organization(id: "` + org + `") { id } }`,
					"organization by slug": `query { organization(slug: "victim") { id } }`,
					"by domain":            `query { organizationByDomain(domain: "victim.example") { id } }`,
				} {
					if r := in.Do(tok, q, nil); r.Code() != "NOT_FOUND" {
						t.Errorf("%s: %s: %s", who, name, r.Raw)
					}
				}
				writes := map[string]struct {
					q    string
					vars map[string]any
				}{
					"update":           {`mutation($id: ID!) { updateOrganization(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": org}},
					"create suborg":    {`mutation($id: ID!) { createOrganization(input: {name: "x", parentId: $id}) { id } }`, map[string]any{"id": org}},
					"invite":           {`mutation($id: ID!) { inviteMember(organizationId: $id, alias: "mallory", role: "viewer") { id } }`, map[string]any{"id": org}},
					"remove member":    {`mutation($id: ID!) { removeMember(organizationId: $id, alias: "alice") }`, map[string]any{"id": org}},
					"retire app":       {`mutation($id: ID!) { retireApplication(id: $id) { id } }`, map[string]any{"id": ids["application"]}},
					"rotate key":       {`mutation($id: ID!) { rotateApplicationKey(id: $id, kind: CLIENT_AUTH) { kid } }`, map[string]any{"id": ids["application"]}},
					"revoke api key":   {`mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": ids["apikey"]}},
					"revoke invite":    {`mutation($id: ID!) { revokeInvitation(id: $id) { id } }`, map[string]any{"id": ids["invitation"]}},
					"accept invite":    {`mutation($id: ID!) { acceptInvitation(id: $id) { id } }`, map[string]any{"id": ids["invitation"]}},
					"create person":    {`mutation($id: ID!) { createPerson(organizationId: $id, handles: [{type: USERNAME, value: "x"}]) { id } }`, map[string]any{"id": org}},
					"add group member": {`mutation($id: ID!, $p: ID!) { addGroupMember(organizationId: $id, group: "staff", personId: $p) { id } }`, map[string]any{"id": org, "p": ids["person"]}},
					"exchange token":   {`mutation($id: ID!) { exchangeToken(organizationId: $id) { token } }`, map[string]any{"id": org}},
				}
				for name, w := range writes {
					r := in.Do(tok, w.q, w.vars)
					if r.Code() != "NOT_FOUND" && !(r.Code() == "UNAUTHENTICATED" && tok == key) {
						t.Errorf("%s: %s: %s", who, name, r.Raw)
					}
				}
				lists := in.Do(tok, `{ organizations { totalCount } }`, nil)
				if testutil.Get(lists.Data, "organizations", "totalCount") != float64(1) {
					t.Errorf("%s lists: %s", who, lists.Raw)
				}
			}
			// nothing changed for alice
			after := in.MustDo(alice, `query($id: ID!) { organization(id: $id) { name members { totalCount } children { totalCount } } }`, map[string]any{"id": org})
			if testutil.Str(after, "organization", "name") != "Victim" || testutil.Get(after, "organization", "members", "totalCount") != float64(1) ||
				testutil.Get(after, "organization", "children", "totalCount") != float64(1) {
				t.Fatalf("the victim tenant changed: %v", after)
			}
		})
	}
}

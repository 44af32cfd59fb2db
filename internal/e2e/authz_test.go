package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/orgraph/orgraph/internal/testutil"
)

// rolePermissions is the default role matrix of SPEC §3 for the actions the
// table exercises (the contract policy/rego/data.json implements).
var rolePermissions = map[string][]string{
	"owner":   {"organization.read", "organization.update", "members.invite", "application.create", "billing.update"},
	"admin":   {"organization.read", "organization.update", "application.create"},
	"billing": {"organization.read", "billing.update"},
	"member":  {"organization.read"},
	"viewer":  {"organization.read"},
}

// capabilityOf names the capability of the ceiling each action needs.
var capabilityOf = map[string]string{
	"organization.read": "core", "organization.update": "core", "members.invite": "core",
	"application.create": "applications", "billing.update": "billing",
}

// TestAuthorizationMatrix runs role × action × target × ceiling × token over
// HTTP: decisions through Query.authorize, and enforcement through real reads
// and updateOrganization, on both back ends.
func TestAuthorizationMatrix(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			rootA := mustCreate(t, in, alice, map[string]any{"name": "Tenant A"})["id"].(string)
			// full ceiling suborg, and a suborg whose ceiling is only "core"
			subFull := mustCreate(t, in, alice, map[string]any{"name": "A full", "parentId": rootA})["id"].(string)
			subCore := mustCreate(t, in, alice, map[string]any{"name": "A core", "parentId": rootA, "capabilities": []string{"core"}})["id"].(string)
			elsewhere := mustCreate(t, in, alice, map[string]any{"name": "A elsewhere", "parentId": rootA})["id"].(string)
			rootB := mustCreate(t, in, bob, map[string]any{"name": "Tenant B"})["id"].(string)

			for role := range rolePermissions {
				in.Account(role+"-x", false)
				in.Grant(role+"-x", rootA, role)
			}
			type target struct {
				name, id               string
				ownTenant, fullCeiling bool
			}
			targets := []target{
				{"own root", rootA, true, true},
				{"suborg", subFull, true, true},
				{"suborg with core ceiling", subCore, true, false},
				{"other tenant", rootB, false, true},
			}
			for role, perms := range rolePermissions {
				alias := role + "-x"
				for _, scoped := range []bool{false, true} {
					token := in.Token(alias, "")
					if scoped {
						token = in.Token(alias, elsewhere) // confined to another subtree of A
					}
					for _, tg := range targets {
						visible := tg.ownTenant && !scoped
						for action, capability := range capabilityOf {
							name := fmt.Sprintf("%s/scoped=%v/%s/%s", role, scoped, tg.name, action)
							granted := slices.Contains(perms, action)
							ceilingOK := tg.fullCeiling || capability == "core"
							want := granted && ceilingOK && visible
							r := in.Do(token, `query($a: String!, $r: ID!) { authorize(action: $a, resource: $r) { allowed reasons { rule permission message } } }`,
								map[string]any{"a": action, "r": tg.id})
							if !visible {
								if r.Code() != "NOT_FOUND" {
									t.Errorf("%s: invisible target should be NOT_FOUND: %s", name, r.Raw)
								}
								continue
							}
							if r.Code() != "" {
								t.Errorf("%s: %s", name, r.Raw)
								continue
							}
							got := testutil.Get(r.Data, "authorize", "allowed") == true
							if got != want {
								t.Errorf("%s: allowed=%v, want %v (%s)", name, got, want, r.Raw)
							}
							if !want {
								rules := map[string]bool{}
								for _, rs := range testutil.Get(r.Data, "authorize", "reasons").([]any) {
									reason := rs.(map[string]any)
									if reason["permission"] != action || reason["message"] == "" {
										t.Errorf("%s: reason %v", name, reason)
									}
									rules[reason["rule"].(string)] = true
								}
								if rules["roles"] != !granted || rules["ceiling"] != !ceilingOK {
									t.Errorf("%s: reasons name rules %v (granted=%v ceilingOK=%v)", name, rules, granted, ceilingOK)
								}
							}
						}
						// enforcement: a read and a write of the target org
						read := in.Do(token, `query($id: ID!) { organization(id: $id) { name } }`, map[string]any{"id": tg.id})
						upd := in.Do(token, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "Renamed"}) { name } }`, map[string]any{"id": tg.id})
						switch {
						case !visible:
							if read.Code() != "NOT_FOUND" || upd.Code() != "NOT_FOUND" {
								t.Errorf("%s/%s enforcement: read %s, update %s", role, tg.name, read.Raw, upd.Raw)
							}
						case slices.Contains(perms, "organization.update"):
							if read.Code() != "" || upd.Code() != "" {
								t.Errorf("%s/%s enforcement: read %s, update %s", role, tg.name, read.Raw, upd.Raw)
							}
						default:
							if read.Code() != "" || upd.Code() != "FORBIDDEN" || upd.Errors[0].Extensions["reasons"] == nil {
								t.Errorf("%s/%s enforcement: read %s, update %s", role, tg.name, read.Raw, upd.Raw)
							}
						}
					}
				}
			}

			// every denied mutation left an authz.denied event and changed nothing
			events := in.MustDo(alice, `query($id: ID!) { organization(id: $id) { auditEvents(where: {action: "authz.denied"}) { totalCount edges { node { actor after } } } } }`, map[string]any{"id": rootA})
			if n := testutil.Get(events, "organization", "auditEvents", "totalCount").(float64); n < 3 {
				t.Fatalf("expected authz.denied events for the denied updates, got %v", n)
			}
		})
	}
}

func TestPlatformAdmin(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			root := in.Account("root", true)
			a := mustCreate(t, in, alice, map[string]any{"name": "A"})["id"].(string)
			aKid := mustCreate(t, in, alice, map[string]any{"name": "A kid", "parentId": a})["id"].(string)
			mustCreate(t, in, bob, map[string]any{"name": "B"})

			if n := testutil.Get(in.MustDo(root, `{ organizations { totalCount } }`, nil), "organizations", "totalCount"); n != float64(3) {
				t.Fatalf("platform admin lists %v orgs, want 3", n)
			}
			if n := testutil.Get(in.MustDo(alice, `{ organizations { totalCount } }`, nil), "organizations", "totalCount"); n != float64(2) {
				t.Fatalf("alice lists %v orgs, want 2", n)
			}
			in.MustDo(root, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "A by root"}) { name } }`, map[string]any{"id": a})
			// a platform admin's token confined to A's kid sees only that subtree
			scoped := in.Token("root", aKid)
			if n := testutil.Get(in.MustDo(scoped, `{ organizations { totalCount } }`, nil), "organizations", "totalCount"); n != float64(1) {
				t.Fatalf("confined platform admin lists %v orgs, want 1", n)
			}
			if r := in.Do(scoped, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "x"}) { name } }`, map[string]any{"id": a}); r.Code() != "NOT_FOUND" {
				t.Fatalf("confined platform admin writes outside: %s", r.Raw)
			}
			// frozen binds platform admins too
			in.MustDo(alice, `mutation($id: ID!) { retireOrganization(id: $id) { status } }`, map[string]any{"id": aKid})
			if r := in.Do(root, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "x"}) { name } }`, map[string]any{"id": aKid}); r.Code() != "FAILED_PRECONDITION" || !strings.Contains(string(r.Raw), "frozen") {
				t.Fatalf("platform admin writes in a retired org: %s", r.Raw)
			}
		})
	}
}

// TestCeilingNarrowsDown: narrowing an org's capabilities narrows every suborg
// with it, and a suborg can never be given more than its parent.
func TestCeilingNarrowsDown(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Root"})["id"].(string)
			mid := mustCreate(t, in, alice, map[string]any{"name": "Mid", "parentId": root})["id"].(string)
			leaf := mustCreate(t, in, alice, map[string]any{"name": "Leaf", "parentId": mid})["id"].(string)
			createApp := `mutation($org: ID!) { createApplication(organizationId: $org, name: "web", kind: WEB) { id } }`
			in.MustDo(alice, createApp, map[string]any{"org": leaf})

			in.MustDo(alice, `mutation($id: ID!) { updateOrganization(id: $id, input: {capabilities: ["core", "identities"]}) { id } }`, map[string]any{"id": root})
			d := in.MustDo(alice, `query($id: ID!) { organization(id: $id) { capabilities } }`, map[string]any{"id": leaf})
			if got := fmt.Sprint(testutil.Get(d, "organization", "capabilities")); got != "[core identities]" {
				t.Fatalf("leaf capabilities after narrowing the root: %s", got)
			}
			if r := in.Do(alice, createApp, map[string]any{"org": leaf}); r.Code() != "FORBIDDEN" || !strings.Contains(string(r.Raw), "ceiling") {
				t.Fatalf("create an application under the narrowed ceiling: %s", r.Raw)
			}
			if r := in.Do(alice, `mutation($id: ID!) { updateOrganization(id: $id, input: {capabilities: ["core", "applications"]}) { id } }`, map[string]any{"id": mid}); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("widen a suborg beyond its parent: %s", r.Raw)
			}
			// Lists and filters follow the ceiling like checks do: the leaf's
			// application is no longer listed, found by a filter or counted.
			lists := in.Do(alice, `query($leaf: ID!) {
				found: organizations(where: {hasApplicationsWith: {name: "web"}}) { totalCount }
				leaf: organization(id: $leaf) { name }
			}`, map[string]any{"leaf": leaf})
			if testutil.Get(lists.Data, "found", "totalCount") != float64(0) || testutil.Str(lists.Data, "leaf", "name") != "Leaf" {
				t.Fatalf("a filter over applications finds an org whose ceiling forbids reading them: %s", lists.Raw)
			}
		})
	}
}

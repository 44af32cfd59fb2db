package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/grouppool"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/personpool"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

const (
	invite = `mutation($org: ID!, $alias: String!, $role: String!) { inviteMember(organizationId: $org, alias: $alias, role: $role) { id status role alias expiresAt } }`
	accept = `mutation($id: ID!) { acceptInvitation(id: $id) { role organization { slug } account { alias } } }`
	change = `mutation($org: ID!, $alias: String!, $role: String!) { changeMemberRole(organizationId: $org, alias: $alias, role: $role) { role } }`
	remove = `mutation($org: ID!, $alias: String!) { removeMember(organizationId: $org, alias: $alias) }`
)

func TestInvitations(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			carol := in.Account("carol", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)

			cases := []struct {
				alias, role, code string
			}{
				{"bob", "owner", "BAD_USER_INPUT"},
				{"bob", "emperor", "BAD_USER_INPUT"},
				{"nobody-here", "admin", "NOT_FOUND"},
				{"alice", "admin", "CONFLICT"}, // already a member
			}
			for _, c := range cases {
				if r := in.Do(alice, invite, map[string]any{"org": org, "alias": c.alias, "role": c.role}); r.Code() != c.code {
					t.Fatalf("invite %s as %s: %s", c.alias, c.role, r.Raw)
				}
			}
			inv := testutil.Get(in.MustDo(alice, invite, map[string]any{"org": org, "alias": "bob", "role": "admin"}), "inviteMember").(map[string]any)
			if inv["status"] != "PENDING" {
				t.Fatalf("invitation = %v", inv)
			}
			exp, _ := time.Parse(time.RFC3339, inv["expiresAt"].(string))
			if d := time.Until(exp); d < 6*24*time.Hour || d > 7*24*time.Hour+time.Minute {
				t.Fatalf("default expiry in %v, want 7 days", d)
			}
			if r := in.Do(alice, invite, map[string]any{"org": org, "alias": "bob", "role": "viewer"}); r.Code() != "CONFLICT" {
				t.Fatalf("duplicate pending invitation: %s", r.Raw)
			}
			// bob, not an owner yet, cannot invite; a stranger cannot see the org at all
			if r := in.Do(bob, invite, map[string]any{"org": org, "alias": "carol", "role": "viewer"}); r.Code() != "NOT_FOUND" {
				t.Fatalf("stranger invites: %s", r.Raw)
			}
			// the invitee sees it, with the org's name; others cannot accept it
			mine := in.MustDo(bob, `{ viewer { invitations(status: PENDING) { id role organizationName } } }`, nil)
			if testutil.Str(mine, "viewer", "invitations", 0, "organizationName") != "Acme" {
				t.Fatalf("bob's invitations = %v", mine)
			}
			for _, tok := range []string{carol, alice} {
				if r := in.Do(tok, accept, map[string]any{"id": inv["id"]}); r.Code() != "NOT_FOUND" {
					t.Fatalf("someone else accepts: %s", r.Raw)
				}
			}
			m := in.MustDo(bob, accept, map[string]any{"id": inv["id"]})
			if testutil.Str(m, "acceptInvitation", "role") != "admin" || testutil.Str(m, "acceptInvitation", "account", "alias") != "bob" {
				t.Fatalf("accepted = %v", m)
			}
			if r := in.Do(bob, accept, map[string]any{"id": inv["id"]}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("accept twice: %s", r.Raw)
			}
			// decline and revoke
			inv2 := testutil.Get(in.MustDo(alice, invite, map[string]any{"org": org, "alias": "carol", "role": "viewer"}), "inviteMember").(map[string]any)
			if r := in.Do(bob, `mutation($id: ID!) { revokeInvitation(id: $id) { status } }`, map[string]any{"id": inv2["id"]}); r.Code() != "FORBIDDEN" {
				t.Fatalf("admin revokes: %s", r.Raw)
			}
			d := in.MustDo(carol, `mutation($id: ID!) { declineInvitation(id: $id) { status } }`, map[string]any{"id": inv2["id"]})
			if testutil.Str(d, "declineInvitation", "status") != "DECLINED" {
				t.Fatalf("decline = %v", d)
			}
			inv3 := testutil.Get(in.MustDo(alice, invite, map[string]any{"org": org, "alias": "carol", "role": "viewer"}), "inviteMember").(map[string]any)
			rv := in.MustDo(alice, `mutation($id: ID!) { revokeInvitation(id: $id) { status } }`, map[string]any{"id": inv3["id"]})
			if testutil.Str(rv, "revokeInvitation", "status") != "REVOKED" {
				t.Fatalf("revoke = %v", rv)
			}
			if r := in.Do(carol, accept, map[string]any{"id": inv3["id"]}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("accept revoked: %s", r.Raw)
			}
			// the trail, newest first, filterable by action and actor
			ev := in.MustDo(alice, `query($id: ID!) { organization(id: $id) {
				all: auditEvents { edges { node { action actor } } }
				accepted: auditEvents(where: {action: "invitation.accepted"}) { totalCount edges { node { actor } } }
				byCarol: auditEvents(where: {actor: "carol"}) { totalCount }
			} }`, map[string]any{"id": org})
			if testutil.Str(ev, "organization", "all", "edges", 0, "node", "action") != "invitation.revoked" {
				t.Fatalf("newest event = %v", testutil.Get(ev, "organization", "all", "edges", 0))
			}
			if testutil.Get(ev, "organization", "accepted", "totalCount") != float64(1) || testutil.Str(ev, "organization", "accepted", "edges", 0, "node", "actor") != "bob" {
				t.Fatalf("accepted events = %v", testutil.Get(ev, "organization", "accepted"))
			}
			if testutil.Get(ev, "organization", "byCarol", "totalCount") != float64(1) {
				t.Fatalf("carol's events = %v", testutil.Get(ev, "organization", "byCarol"))
			}
		})
	}
}

func TestInvitationExpiry(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) { c.InvitationTTL = time.Nanosecond })
	alice := in.Account("alice", false)
	bob := in.Account("bob", false)
	org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
	inv := testutil.Get(in.MustDo(alice, invite, map[string]any{"org": org, "alias": "bob", "role": "viewer"}), "inviteMember").(map[string]any)
	// before anyone touches it, it already reads as expired and is not pending
	early := in.MustDo(bob, `{ pending: viewer { invitations(status: PENDING) { id } } expired: viewer { invitations(status: EXPIRED) { status } } }`, nil)
	if len(testutil.Get(early, "pending", "invitations").([]any)) != 0 || testutil.Str(early, "expired", "invitations", 0, "status") != "EXPIRED" {
		t.Fatalf("an expired invitation before acceptance: %v", early)
	}
	if r := in.Do(bob, accept, map[string]any{"id": inv["id"]}); r.Code() != "FAILED_PRECONDITION" || !strings.Contains(r.Errors[0].Message, "expired") {
		t.Fatalf("accept expired: %s", r.Raw)
	}
	st := in.MustDo(bob, `{ viewer { invitations { status } } }`, nil)
	if testutil.Str(st, "viewer", "invitations", 0, "status") != "EXPIRED" {
		t.Fatalf("expired invitation status = %v", st)
	}
	// an expired invitation does not block a new one
	in.MustDo(alice, invite, map[string]any{"org": org, "alias": "bob", "role": "viewer"})

	// the sweeper stores the expiry, with its event, so filters on status agree
	ctx, _ := in.Fixture()
	if n, err := in.Service.ExpireInvitations(ctx, 100); err != nil || n != 1 {
		t.Fatalf("expired %d invitations: %v", n, err)
	}
	d := in.MustDo(alice, `query($id: ID!) { organization(id: $id) {
		pending: invitations(where: {status: PENDING}) { totalCount }
		expired: invitations(where: {status: EXPIRED}) { totalCount }
		events: auditEvents(where: {action: "invitation.expired", actor: "system"}) { totalCount }
	} }`, map[string]any{"id": org})
	if testutil.Get(d, "organization", "pending", "totalCount") != float64(0) || testutil.Get(d, "organization", "expired", "totalCount") != float64(2) ||
		testutil.Get(d, "organization", "events", "totalCount") != float64(1) {
		t.Fatalf("after the sweep: %v", d)
	}
}

// TestInvitationStatusWithoutExpiresAt checks that Invitation.status does not
// depend on whether expiresAt is selected too, wherever invitations are read:
// a pending invitation reads PENDING until its expiry and EXPIRED after it.
func TestInvitationStatusWithoutExpiresAt(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			tokens := map[string]string{"bob": in.Account("bob", false), "carol": in.Account("carol", false)}
			in.Account("dave", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			ids := map[string]string{}
			for _, alias := range []string{"bob", "carol"} {
				ids[alias] = testutil.Str(in.MustDo(alice, invite, map[string]any{"org": org, "alias": alias, "role": "viewer"}), "inviteMember", "id")
			}
			// carol's is past its expiry but not swept yet: its row still says PENDING
			ctx, client := in.Fixture()
			if err := client.Invitation.UpdateOneID(uuid.MustParse(ids["carol"])).SetExpiresAt(time.Now().Add(-time.Hour)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{ids["bob"]: "PENDING", ids["carol"]: "EXPIRED"}

			d := in.MustDo(alice, `mutation($org: ID!) { inviteMember(organizationId: $org, alias: "dave", role: "viewer") { status } }`, map[string]any{"org": org})
			if got := testutil.Str(d, "inviteMember", "status"); got != "PENDING" {
				t.Fatalf("inviteMember { status }: %s", got)
			}
			for _, fields := range []string{"id status", "status id", "id alias status", "id status expiresAt"} {
				for what, q := range map[string]string{
					"Organization.invitations":  `query($org: ID!) { organization(id: $org) { invitations(first: 10) { edges { node { ` + fields + ` } } } } }`,
					"organizations.invitations": `{ organizations { edges { node { invitations { edges { node { ` + fields + ` } } } } } } }`,
				} {
					d := in.MustDo(alice, q, map[string]any{"org": org})
					edges := testutil.Get(d, "organization", "invitations", "edges")
					if edges == nil {
						edges = testutil.Get(d, "organizations", "edges", 0, "node", "invitations", "edges")
					}
					seen := 0
					for _, e := range edges.([]any) {
						if w, ok := want[testutil.Str(e, "node", "id")]; ok {
							seen++
							if got := testutil.Str(e, "node", "status"); got != w {
								t.Fatalf("%s { %s }: status %s, want %s", what, fields, got, w)
							}
						}
					}
					if seen != len(want) {
						t.Fatalf("%s { %s }: %v", what, fields, d)
					}
				}
				for alias, id := range ids {
					d := in.MustDo(alice, `query($id: ID!) { node(id: $id) { ... on Invitation { `+fields+` } } }`, map[string]any{"id": id})
					if got := testutil.Str(d, "node", "status"); got != want[id] {
						t.Fatalf("node { %s } of %s's invitation: status %s, want %s", fields, alias, got, want[id])
					}
					d = in.MustDo(tokens[alias], `{ viewer { invitations { `+fields+` } } }`, nil)
					if got := testutil.Str(d, "viewer", "invitations", 0, "status"); got != want[id] {
						t.Fatalf("%s's viewer.invitations { %s }: status %s, want %s", alias, fields, got, want[id])
					}
				}
			}
		})
	}
}

func TestRolesAndLastOwner(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			in.Grant("bob", org, "admin")

			if r := in.Do(alice, change, map[string]any{"org": org, "alias": "alice", "role": "admin"}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("demote the last owner: %s", r.Raw)
			}
			if r := in.Do(alice, remove, map[string]any{"org": org, "alias": "alice"}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("last owner leaves: %s", r.Raw)
			}
			if r := in.Do(bob, change, map[string]any{"org": org, "alias": "bob", "role": "owner"}); r.Code() != "FORBIDDEN" {
				t.Fatalf("admin promotes itself: %s", r.Raw)
			}
			// transfer: promote bob, then alice may step down
			in.MustDo(alice, change, map[string]any{"org": org, "alias": "bob", "role": "owner"})
			in.MustDo(alice, change, map[string]any{"org": org, "alias": "alice", "role": "viewer"})
			// alice (viewer) leaves; bob cannot leave as the last owner
			in.MustDo(alice, `mutation($org: ID!) { leaveOrganization(organizationId: $org) }`, map[string]any{"org": org})
			if r := in.Do(bob, `mutation($org: ID!) { leaveOrganization(organizationId: $org) }`, map[string]any{"org": org}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("last owner leaves: %s", r.Raw)
			}
			if r := in.Do(bob, change, map[string]any{"org": org, "alias": "nobody", "role": "admin"}); r.Code() != "NOT_FOUND" {
				t.Fatalf("change a non-member: %s", r.Raw)
			}
			ev := in.MustDo(bob, `query($id: ID!) { organization(id: $id) { auditEvents(where: {action: "members.role_changed"}) { edges { node { before after } } } } }`, map[string]any{"id": org})
			last := testutil.Get(ev, "organization", "auditEvents", "edges", 0, "node").(map[string]any)
			if testutil.Str(last, "before", "role") != "owner" || testutil.Str(last, "after", "role") != "viewer" {
				t.Fatalf("role change event = %v", last)
			}
		})
	}
}

// TestLastOwnerUnderConcurrency: two owners demote and remove each other with
// 2×50 concurrent requests, 20 times; every run must end with an owner and every
// request must succeed or fail cleanly.
func TestLastOwnerUnderConcurrency(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			tokens := map[string]string{"alice": in.Account("alice", false), "bob": in.Account("bob", false)}
			ctx, client := in.Fixture()
			for run := 0; run < 20; run++ {
				org := mustCreate(t, in, tokens["alice"], map[string]any{"name": fmt.Sprintf("Race %d", run)})["id"].(string)
				in.Grant("bob", org, "owner")
				var wg sync.WaitGroup
				var mu sync.Mutex
				outcomes := map[string]int{}
				for i := 0; i < 100; i++ {
					// each owner demotes or removes itself and the other
					actor := []string{"alice", "bob"}[i%2]
					target := []string{"alice", "bob"}[(i/2)%2]
					wg.Add(1)
					go func(i int, actor, target string) {
						defer wg.Done()
						var r *testutil.Response
						if (i/4)%2 == 0 {
							r = in.Do(tokens[actor], change, map[string]any{"org": org, "alias": target, "role": "admin"})
						} else {
							r = in.Do(tokens[actor], remove, map[string]any{"org": org, "alias": target})
						}
						mu.Lock()
						defer mu.Unlock()
						if r.Status != http.StatusOK {
							outcomes[fmt.Sprintf("HTTP %d", r.Status)]++
							return
						}
						outcomes[r.Code()]++
					}(i, actor, target)
				}
				wg.Wait()
				for code, n := range outcomes {
					switch code {
					case "", "FAILED_PRECONDITION", "FORBIDDEN", "NOT_FOUND":
					default:
						t.Fatalf("run %d: %d requests ended with %s (%v)", run, n, code, outcomes)
					}
				}
				owners, err := client.Membership.Query().Where(membership.OrganizationID(uuid.MustParse(org)), membership.Role("owner")).Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if owners < 1 {
					t.Fatalf("run %d: org left without an owner (%v)", run, outcomes)
				}
				if outcomes[""] == 0 {
					t.Fatalf("run %d: no request succeeded (%v)", run, outcomes)
				}
			}
		})
	}
}

// TestFailedMutationLeavesNothing: createOrganization writes a person pool,
// then fails on a bad groupsPoolOf; neither the pool nor an event remains.
func TestFailedMutationLeavesNothing(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			foreign := mustCreate(t, in, bob, map[string]any{"name": "Other"})["id"].(string)
			ctx, client := in.Fixture()
			count := func() [4]int {
				p, _ := client.PersonPool.Query().Where(personpool.IDNEQ(uuid.Nil)).Count(ctx)
				g, _ := client.GroupPool.Query().Where(grouppool.IDNEQ(uuid.Nil)).Count(ctx)
				e, _ := client.AuditEvent.Query().Where(auditevent.Action("organization.created")).Count(ctx)
				o, _ := client.Organization.Query().Count(ctx)
				return [4]int{p, g, e, o}
			}
			before := count()
			r := in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "Child", "parentId": root, "groupsPoolOf": foreign}})
			if r.Code() != "NOT_FOUND" {
				t.Fatalf("foreign groupsPoolOf: %s", r.Raw)
			}
			if after := count(); after != before {
				t.Fatalf("a failed mutation left rows: before %v, after %v", before, after)
			}
		})
	}
}

func TestRetireOrderAndFrozenOrg(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			root := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			sub := mustCreate(t, in, alice, map[string]any{"name": "Sub", "parentId": root})["id"].(string)
			created := in.MustDo(alice, `mutation($org: ID!) { createApplication(organizationId: $org, name: "web", kind: WEB) { id sector { id } } }`, map[string]any{"org": root})
			appID, secID := testutil.Str(created, "createApplication", "id"), testutil.Str(created, "createApplication", "sector", "id")

			retireOrg := `mutation($id: ID!) { retireOrganization(id: $id) { status } }`
			reenableOrg := `mutation($id: ID!) { reenableOrganization(id: $id) { status } }`
			retireSec := `mutation($id: ID!) { retireSector(id: $id) { status } }`
			retireApp := `mutation($id: ID!) { retireApplication(id: $id) { status } }`

			// order: the org has a live app, sector and suborg
			r := in.Do(alice, retireOrg, map[string]any{"id": root})
			if r.Code() != "FAILED_PRECONDITION" || !strings.Contains(r.Errors[0].Message, "application") || !strings.Contains(r.Errors[0].Message, "sector") || !strings.Contains(r.Errors[0].Message, "suborganization") {
				t.Fatalf("retire with live resources: %s", r.Raw)
			}
			if r := in.Do(alice, retireSec, map[string]any{"id": secID}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("retire sector with a live app: %s", r.Raw)
			}
			// sole owner: with a co-owner, nobody may retire
			in.Grant("bob", root, "owner")
			if r := in.Do(alice, retireApp, map[string]any{"id": appID}); r.Code() != "FORBIDDEN" || !strings.Contains(string(r.Raw), "sole_owner") {
				t.Fatalf("retire as a co-owner: %s", r.Raw)
			}
			in.MustDo(bob, remove, map[string]any{"org": root, "alias": "bob"})
			in.MustDo(alice, retireApp, map[string]any{"id": appID})
			in.MustDo(alice, retireSec, map[string]any{"id": secID})
			in.MustDo(alice, retireOrg, map[string]any{"id": sub})
			if d := in.MustDo(alice, retireOrg, map[string]any{"id": root}); testutil.Str(d, "retireOrganization", "status") != "RETIRED" {
				t.Fatalf("retire = %v", d)
			}
			// frozen: reads work, writes fail, re-enable works
			in.MustDo(alice, `query($id: ID!) { organization(id: $id) { name status members { totalCount } } }`, map[string]any{"id": root})
			for name, q := range map[string]string{
				"rename": `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "New"}) { name } }`,
				"invite": `mutation($id: ID!) { inviteMember(organizationId: $id, alias: "bob", role: "viewer") { id } }`,
				"create": `mutation($id: ID!) { createOrganization(input: {name: "Kid", parentId: $id}) { id } }`,
			} {
				// SPEC §5: a frozen org is a failed precondition, with the policy's reason.
				if r := in.Do(alice, q, map[string]any{"id": root}); r.Code() != "FAILED_PRECONDITION" || !strings.Contains(string(r.Raw), `"rule":"frozen"`) {
					t.Fatalf("%s in a frozen org: %s", name, r.Raw)
				}
			}
			if r := in.Do(alice, reenableOrg, map[string]any{"id": sub}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("re-enable a child of a retired org: %s", r.Raw)
			}
			in.MustDo(alice, reenableOrg, map[string]any{"id": root})
			in.MustDo(alice, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "New"}) { name } }`, map[string]any{"id": root})
			in.MustDo(alice, `mutation($id: ID!) { reenableSector(id: $id) { status } }`, map[string]any{"id": secID})
			in.MustDo(alice, `mutation($id: ID!) { reenableApplication(id: $id) { status } }`, map[string]any{"id": appID})
		})
	}
}

func TestDeleteAccountGuard(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			solo := mustCreate(t, in, alice, map[string]any{"name": "Solo"})["id"].(string)
			shared := mustCreate(t, in, alice, map[string]any{"name": "Shared"})["id"].(string)
			in.Grant("bob", shared, "owner")
			live := map[string][2]string{}
			for _, org := range []string{solo, shared} {
				d := in.MustDo(alice, `mutation($org: ID!) { createApplication(organizationId: $org, name: "a", kind: WEB) { id sector { id } } }`, map[string]any{"org": org})
				live[org] = [2]string{testutil.Str(d, "createApplication", "id"), testutil.Str(d, "createApplication", "sector", "id")}
			}
			r := in.Do(alice, `mutation { deleteAccount }`, nil)
			if r.Code() != "FAILED_PRECONDITION" || !strings.Contains(r.Errors[0].Message, "solo") || strings.Contains(r.Errors[0].Message, "shared") {
				t.Fatalf("delete while sole owner of live resources: %s", r.Raw)
			}
			// retire solo's resources; the co-owned org never blocks
			in.MustDo(alice, `mutation($id: ID!) { retireApplication(id: $id) { status } }`, map[string]any{"id": live[solo][0]})
			if r := in.Do(alice, `mutation { deleteAccount }`, nil); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("delete while sole owner of a live sector: %s", r.Raw)
			}
			in.MustDo(alice, `mutation($id: ID!) { retireSector(id: $id) { status } }`, map[string]any{"id": live[solo][1]})
			in.MustDo(alice, `mutation { deleteAccount }`, nil)
			if r := in.Do(alice, `{ viewer { alias } }`, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("deleted account's token still works: %s", r.Raw)
			}
			// alias is free again, memberships are gone, bob still owns shared
			in.Account("alice", false)
			d := in.MustDo(bob, `query($id: ID!) { organization(id: $id) { members { edges { node { role account { alias } } } } } }`, map[string]any{"id": shared})
			if edges := testutil.Get(d, "organization", "members", "edges").([]any); len(edges) != 1 || testutil.Str(edges[0], "node", "account", "alias") != "bob" {
				t.Fatalf("shared members after deletion = %v", edges)
			}
		})
	}
}

var _ = ent.IsNotFound

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/internal/testutil"
)

const (
	deleteAccount = `mutation { deleteAccount }`
	retiredEvent  = "organization.retired"
)

// ownerlessActive lists the slugs of the ACTIVE orgs with no owner anywhere on
// their chain (the org and its ancestors), read straight from the database.
func ownerlessActive(t *testing.T, in *testutil.Instance) []string {
	t.Helper()
	ctx, client := in.Fixture()
	orgs, err := client.Organization.Query().Where(organization.DeletedAtIsNil()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var owned []uuid.UUID
	if err := client.Membership.Query().Where(membership.Role("owner")).
		Select(membership.FieldOrganizationID).Scan(ctx, &owned); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range orgs {
		if o.Status != organization.StatusACTIVE {
			continue
		}
		chain := append(slices.Clone(o.Ancestry), o.ID)
		if !slices.ContainsFunc(chain, func(id uuid.UUID) bool { return slices.Contains(owned, id) }) {
			out = append(out, o.Slug)
		}
	}
	return out
}

// statusOf reads an org's status from the database.
func statusOf(t *testing.T, in *testutil.Instance, id string) organization.Status {
	t.Helper()
	ctx, client := in.Fixture()
	o, err := client.Organization.Get(ctx, uuid.MustParse(id))
	if err != nil {
		t.Fatal(err)
	}
	return o.Status
}

// retiredEvents returns the organization.retired events of an org.
func retiredEvents(t *testing.T, in *testutil.Instance, id string) []*ent.AuditEvent {
	t.Helper()
	ctx, client := in.Fixture()
	evs, err := client.AuditEvent.Query().Where(auditevent.Action(retiredEvent),
		auditevent.OrganizationID(uuid.MustParse(id))).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestDeleteAccountRetiresOrphanedOrgs: the sole owner of orgs without live
// resources deletes their account; every org left with no owner on its chain
// is retired with an event, and every org that still has an owner (co-owned,
// owned directly, or through an ancestor) stays ACTIVE.
func TestDeleteAccountRetiresOrphanedOrgs(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			create := func(name, parent string) string {
				input := map[string]any{"name": name}
				if parent != "" {
					input["parentId"] = parent
				}
				return mustCreate(t, in, alice, input)["id"].(string)
			}
			// solo: alice alone; kid and grandkid inherit her ownership
			solo := create("Solo", "")
			kid := create("Kid", solo)
			grandkid := create("Grandkid", kid)
			// kept: a suborg of solo with its own direct owner (bob), and its child
			kept := create("Kept", solo)
			in.Grant("bob", kept, "owner")
			keptKid := create("Kept Kid", kept)
			// shared: co-owned with bob, and its child
			shared := create("Shared", "")
			in.Grant("bob", shared, "owner")
			sharedKid := create("Shared Kid", shared)
			// team: alice owns a suborg of bob's org directly; bob owns the chain
			bobs := mustCreate(t, in, bob, map[string]any{"name": "Bobs"})["id"].(string)
			team := mustCreate(t, in, bob, map[string]any{"name": "Team", "parentId": bobs})["id"].(string)
			in.Grant("alice", team, "owner")
			// old: already retired before the deletion
			old := create("Old", "")
			in.MustDo(alice, `mutation($id: ID!) { retireOrganization(id: $id) { status } }`, map[string]any{"id": old})

			if left := ownerlessActive(t, in); len(left) != 0 {
				t.Fatalf("ownerless ACTIVE orgs before the deletion: %v", left)
			}
			in.MustDo(alice, deleteAccount, nil)
			if r := in.Do(alice, `{ viewer { alias } }`, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("deleted account's token still works: %s", r.Raw)
			}

			if left := ownerlessActive(t, in); len(left) != 0 {
				t.Fatalf("ACTIVE orgs without an owner after the deletion: %v", left)
			}
			for name, id := range map[string]string{"solo": solo, "kid": kid, "grandkid": grandkid} {
				if st := statusOf(t, in, id); st != organization.StatusRETIRED {
					t.Fatalf("%s left without an owner is %s, want RETIRED", name, st)
				}
				evs := retiredEvents(t, in, id)
				if len(evs) != 1 || evs[0].Actor != "alice" || evs[0].ResourceID != id ||
					evs[0].Before["status"] != "ACTIVE" || evs[0].After["status"] != "RETIRED" ||
					evs[0].After["reason"] != "owner account deleted" {
					t.Fatalf("%s: retired events = %+v", name, evs)
				}
			}
			for name, id := range map[string]string{"kept": kept, "kept kid": keptKid, "shared": shared, "shared kid": sharedKid, "bobs": bobs, "team": team} {
				if st := statusOf(t, in, id); st != organization.StatusACTIVE {
					t.Fatalf("%s, which still has an owner, is %s", name, st)
				}
				if evs := retiredEvents(t, in, id); len(evs) != 0 {
					t.Fatalf("%s: unexpected retired events %+v", name, evs)
				}
			}
			// the already retired org is left as it was: one event, its own
			if evs := retiredEvents(t, in, old); len(evs) != 1 || evs[0].After["reason"] != nil {
				t.Fatalf("old: retired events = %+v", evs)
			}
			// bob still runs his suborg of the retired org, and his own trees
			in.MustDo(bob, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "Kept 2"}) { name } }`, map[string]any{"id": kept})
			in.MustDo(bob, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "Team 2"}) { name } }`, map[string]any{"id": team})
			// the retirement is in the org's trail, which the platform admin reads
			ops := in.Account("ops", true)
			ev := in.MustDo(ops, `query($id: ID!) { organization(id: $id) { status auditEvents(where: {action: "organization.retired"}) { edges { node { actor after } } } } }`, map[string]any{"id": solo})
			if testutil.Str(ev, "organization", "status") != "RETIRED" || testutil.Str(ev, "organization", "auditEvents", "edges", 0, "node", "after", "reason") != "owner account deleted" {
				t.Fatalf("solo seen by the platform = %v", ev)
			}
		})
	}
}

// TestDeleteAccountOrphanRecovery: a platform admin re-enables an org retired
// by its owner's deletion and gives it an owner again through the API.
func TestDeleteAccountOrphanRecovery(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			carol := in.Account("carol", false)
			ops := in.Account("ops", true)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			sub := mustCreate(t, in, alice, map[string]any{"name": "Acme Sub", "parentId": org})["id"].(string)
			in.MustDo(alice, deleteAccount, nil)
			if statusOf(t, in, org) != organization.StatusRETIRED || statusOf(t, in, sub) != organization.StatusRETIRED {
				t.Fatalf("orphaned orgs are %s and %s, want RETIRED", statusOf(t, in, org), statusOf(t, in, sub))
			}

			reenable := `mutation($id: ID!) { reenableOrganization(id: $id) { status } }`
			// nobody else can touch it: it has no members left
			if r := in.Do(bob, reenable, map[string]any{"id": org}); r.Code() != "NOT_FOUND" {
				t.Fatalf("a stranger re-enables the orphan: %s", r.Raw)
			}
			// frozen: the platform admin cannot invite before re-enabling
			if r := in.Do(ops, invite, map[string]any{"org": org, "alias": "carol", "role": "admin"}); r.Code() != "FAILED_PRECONDITION" || !strings.Contains(string(r.Raw), "frozen") {
				t.Fatalf("invite into the retired orphan: %s", r.Raw)
			}
			if d := in.MustDo(ops, reenable, map[string]any{"id": org}); testutil.Str(d, "reenableOrganization", "status") != "ACTIVE" {
				t.Fatalf("re-enable = %v", d)
			}
			inv := testutil.Get(in.MustDo(ops, invite, map[string]any{"org": org, "alias": "carol", "role": "admin"}), "inviteMember").(map[string]any)
			in.MustDo(carol, accept, map[string]any{"id": inv["id"]})
			if d := in.MustDo(ops, change, map[string]any{"org": org, "alias": "carol", "role": "owner"}); testutil.Str(d, "changeMemberRole", "role") != "owner" {
				t.Fatalf("promote = %v", d)
			}
			if left := ownerlessActive(t, in); len(left) != 0 {
				t.Fatalf("ACTIVE orgs without an owner after the recovery: %v", left)
			}
			// carol is the org's sole owner now: she re-enables the suborg herself
			d := in.MustDo(carol, `query($id: ID!) { organization(id: $id) { viewerRole viewerCan(action: "members.invite") } }`, map[string]any{"id": org})
			if testutil.Str(d, "organization", "viewerRole") != "owner" || testutil.Get(d, "organization", "viewerCan") != true {
				t.Fatalf("carol on the recovered org = %v", d)
			}
			in.MustDo(carol, reenable, map[string]any{"id": sub})
			in.MustDo(carol, invite, map[string]any{"org": org, "alias": "bob", "role": "viewer"})
			// and she is protected by the last-owner rule like any owner
			if r := in.Do(carol, change, map[string]any{"org": org, "alias": "carol", "role": "admin"}); r.Code() != "FAILED_PRECONDITION" {
				t.Fatalf("demote the recovered org's last owner: %s", r.Raw)
			}
		})
	}
}

// TestDeleteAccountGuardChangesNothing: a refused deletion (a live resource in
// an org the account alone owns, directly or through an ancestor) leaves
// every org, membership, event and the account as they were.
func TestDeleteAccountGuardChangesNothing(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			// idle would be retired, but the deletion is refused as a whole
			idle := mustCreate(t, in, alice, map[string]any{"name": "Idle"})["id"].(string)
			// parent has nothing live; its child (owned through parent) has an application
			parent := mustCreate(t, in, alice, map[string]any{"name": "Parent"})["id"].(string)
			child := mustCreate(t, in, alice, map[string]any{"name": "Child", "parentId": parent})["id"].(string)
			in.MustDo(alice, `mutation($org: ID!) { createApplication(organizationId: $org, name: "a", kind: WEB) { id } }`, map[string]any{"org": child})

			ctx, client := in.Fixture()
			snapshot := func() (statuses map[uuid.UUID]organization.Status, members, events int, deleted bool) {
				statuses = map[uuid.UUID]organization.Status{}
				orgs, err := client.Organization.Query().All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range orgs {
					statuses[o.ID] = o.Status
				}
				if members, err = client.Membership.Query().Count(ctx); err != nil {
					t.Fatal(err)
				}
				if events, err = client.AuditEvent.Query().Count(ctx); err != nil {
					t.Fatal(err)
				}
				acc, err := client.Account.Query().Where(account.Alias("alice")).Only(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return statuses, members, events, acc.DeletedAt != nil
			}
			s0, m0, e0, d0 := snapshot()

			r := in.Do(alice, deleteAccount, nil)
			if r.Code() != "FAILED_PRECONDITION" || !strings.Contains(r.Errors[0].Message, "child") {
				t.Fatalf("delete while sole owner (through the parent) of a live application: %s", r.Raw)
			}
			s1, m1, e1, d1 := snapshot()
			if len(s0) != len(s1) || m0 != m1 || e0 != e1 || d0 || d1 {
				t.Fatalf("a refused deletion changed something: orgs %d→%d, memberships %d→%d, events %d→%d, deleted %v→%v", len(s0), len(s1), m0, m1, e0, e1, d0, d1)
			}
			for id, st := range s0 {
				if s1[id] != st {
					t.Fatalf("org %s went from %s to %s", id, st, s1[id])
				}
			}
			if statusOf(t, in, idle) != organization.StatusACTIVE {
				t.Fatal("idle was retired by a refused deletion")
			}
			in.MustDo(alice, `{ viewer { alias } }`, nil)
		})
	}
}

// TestDeleteAccountConcurrentOwners: bob owns a root, alice directly owns a
// suborg of it; both delete their accounts at once, 10 times. Each decision
// depends on the other's owner membership, so both must end up retired, never
// an ACTIVE org without an owner.
func TestDeleteAccountConcurrentOwners(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			for i := range 10 {
				a, bo := fmt.Sprintf("alice%d", i), fmt.Sprintf("bob%d", i)
				alice, bob := in.Account(a, false), in.Account(bo, false)
				root := mustCreate(t, in, bob, map[string]any{"name": "Root " + bo})["id"].(string)
				sub := mustCreate(t, in, bob, map[string]any{"name": "Sub " + bo, "parentId": root})["id"].(string)
				in.Grant(a, sub, "owner")
				var wg sync.WaitGroup
				for _, tok := range []string{alice, bob} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if r := in.Do(tok, deleteAccount, nil); len(r.Errors) > 0 {
							t.Errorf("concurrent deleteAccount: %s", r.Raw)
						}
					}()
				}
				wg.Wait()
				if left := ownerlessActive(t, in); len(left) != 0 {
					t.Fatalf("run %d: ACTIVE orgs without an owner: %v", i, left)
				}
				if statusOf(t, in, root) != organization.StatusRETIRED || statusOf(t, in, sub) != organization.StatusRETIRED {
					t.Fatalf("run %d: root %s, sub %s, want both RETIRED", i, statusOf(t, in, root), statusOf(t, in, sub))
				}
			}
		})
	}
}

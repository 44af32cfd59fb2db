package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/seed"
	"github.com/orgraph/orgraph/internal/testutil"
)

// TestViewerRoleFollowsThePolicy: Organization.viewerRole is the policy's
// answer, so switching inheritance off in the policy data (globally or per
// role) changes it, with no Go change. The tree is root → mid → leaf; alice
// owns the root and is a viewer of mid, bob is an admin of the root.
func TestViewerRoleFollowsThePolicy(t *testing.T) {
	for name, tc := range map[string]struct {
		inherit      bool
		inheritRoles map[string]bool
		alice, bob   any // viewerRole on the leaf; nil: no role applies (the leaf is not readable)
	}{
		"inheritance on":          {inherit: true, alice: "viewer", bob: "admin"},
		"inheritance off":         {inherit: false, alice: nil, bob: nil},
		"off, but admins inherit": {inherit: false, inheritRoles: map[string]bool{"admin": true}, alice: nil, bob: "admin"},
		"on, but viewers do not":  {inherit: true, inheritRoles: map[string]bool{"viewer": false}, alice: "owner", bob: "admin"},
		"on, but owners do not":   {inherit: true, inheritRoles: map[string]bool{"owner": false}, alice: "viewer", bob: "admin"},
	} {
		for _, b := range testutil.Backends {
			t.Run(name+"/"+string(b), func(t *testing.T) {
				dir := copyPolicies(t)
				path := filepath.Join(dir, "data.json")
				var data map[string]map[string]any
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(raw, &data); err != nil {
					t.Fatal(err)
				}
				data["orgraph"]["inherit"] = tc.inherit
				data["orgraph"]["inherit_roles"] = map[string]bool{}
				if tc.inheritRoles != nil {
					data["orgraph"]["inherit_roles"] = tc.inheritRoles
				}
				raw, _ = json.Marshal(data)
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
				in := testutil.Start(t, b, func(c *app.Config) { c.PolicyDir = dir })
				alice := in.Account("alice", false)
				bob := in.Account("bob", false)
				// Written directly: with inheritance off the root's owner could
				// not read (so not create) the suborgs.
				ctx, db := in.Fixture()
				owner, err := in.Service.AccountByAlias(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				ids, err := seed.Tree(ctx, db, in.Engine, owner, "Root", 1, 2, 3)
				if err != nil {
					t.Fatal(err)
				}
				root, mid, leaf := ids[0].String(), ids[1].String(), ids[2].String()
				in.Grant("alice", mid, "viewer")
				in.Grant("bob", root, "admin")
				q := `query($id: ID!) { organization(id: $id) { viewerRole } }`
				for who, tok := range map[string]string{"alice": alice, "bob": bob} {
					want := map[string]any{"alice": tc.alice, "bob": tc.bob}[who]
					r := in.Do(tok, q, map[string]any{"id": leaf})
					if want == nil {
						if r.Code() != "NOT_FOUND" {
							t.Errorf("%s on the leaf: %s; want NOT_FOUND (no role applies)", who, r.Raw)
						}
						continue
					}
					if got := testutil.Get(r.Data, "organization", "viewerRole"); got != want {
						t.Errorf("%s on the leaf: viewerRole %v, want %v (%s)", who, got, want, r.Raw)
					}
				}
			})
		}
	}
}

// TestOwnRowsFollowThePolicy: whether one's own memberships are listed is the
// policy's data.orgraph.self_actions, for lists and checks alike.
func TestOwnRowsFollowThePolicy(t *testing.T) {
	for _, b := range testutil.Backends {
		for name, withSelf := range map[string]bool{"members.read a self action": true, "members.read not a self action": false} {
			t.Run(string(b)+"/"+name, func(t *testing.T) {
				dir := copyPolicies(t)
				if !withSelf {
					path := filepath.Join(dir, "data.json")
					var data map[string]map[string]any
					raw, _ := os.ReadFile(path)
					if err := json.Unmarshal(raw, &data); err != nil {
						t.Fatal(err)
					}
					var kept []any
					for _, a := range data["orgraph"]["self_actions"].([]any) {
						if a != "members.read" {
							kept = append(kept, a)
						}
					}
					data["orgraph"]["self_actions"] = kept
					raw, _ = json.Marshal(data)
					if err := os.WriteFile(path, raw, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				in := testutil.Start(t, b, func(c *app.Config) { c.PolicyDir = dir })
				alice := in.Account("alice", false)
				bill := in.Account("bill", false)
				org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
				in.Grant("bill", org, "billing") // billing does not read members
				r := in.Do(bill, `{ viewer { memberships { totalCount edges { node { role } } } } }`, nil)
				total := testutil.Get(r.Data, "viewer", "memberships", "totalCount")
				role := testutil.Get(r.Data, "viewer", "memberships", "edges", 0, "node", "role")
				if withSelf && (total != float64(1) || role != "billing" || len(r.Errors) > 0) {
					t.Errorf("own membership not listed and readable: %s", r.Raw)
				}
				if !withSelf && total != float64(0) {
					t.Errorf("own membership listed although the policy does not allow it: %s", r.Raw)
				}
			})
		}
	}
}

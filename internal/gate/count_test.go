package gate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/orgsubtreecount"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/internal/testutil"
	"github.com/orgraph/orgraph/policy"
)

// forest is a random org forest written the way the service writes it: an
// org row, then its closure rows; a deletion soft-deletes a whole subtree and
// removes its closure rows; capability changes narrow a subtree.
type forest struct {
	t      *testing.T
	ctx    context.Context
	client *ent.Client
	rng    *rand.Rand
	ids    []uuid.UUID
	live   []uuid.UUID // not deleted: the service creates suborgs only there
	anc    map[uuid.UUID][]uuid.UUID
	pp, gp uuid.UUID
}

var capSets = [][]string{{"core"}, {"core", "applications"}, {"applications"}, {"billing", "core"}, {}}

func (f *forest) create(n int) {
	tx, err := f.client.Tx(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var links []*ent.OrgClosureCreate
	for i := 0; i < n; i++ {
		id := uuid.New()
		var ancestry []uuid.UUID
		c := tx.Organization.Create().SetID(id).SetName(fmt.Sprintf("Org %c%d", 'a'+rune(f.rng.IntN(26)), len(f.ids))).
			SetSlug(id.String()).SetTenant("t").SetPersonPoolID(f.pp).SetGroupPoolID(f.gp).
			SetCapabilities(capSets[f.rng.IntN(len(capSets))])
		if len(f.live) > 0 && f.rng.IntN(5) > 0 {
			parent := f.live[f.rng.IntN(len(f.live))]
			ancestry = append(slices.Clone(f.anc[parent]), parent)
			c.SetParentID(parent)
		}
		c.SetAncestry(ancestry).SetDepth(len(ancestry))
		if err := c.Exec(f.ctx); err != nil {
			f.t.Fatal(err)
		}
		for d, a := range ancestry {
			links = append(links, tx.OrgClosure.Create().SetAncestorID(a).SetDescendantID(id).SetDepth(len(ancestry)-d))
		}
		links = append(links, tx.OrgClosure.Create().SetAncestorID(id).SetDescendantID(id).SetDepth(0))
		f.ids = append(f.ids, id)
		f.live = append(f.live, id)
		f.anc[id] = ancestry
		if f.rng.IntN(3) == 0 { // some one by one, some in bulk
			if err := tx.OrgClosure.CreateBulk(links...).Exec(f.ctx); err != nil {
				f.t.Fatal(err)
			}
			links = nil
		}
	}
	if err := tx.OrgClosure.CreateBulk(links...).Exec(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *forest) mutate() {
	org := f.ids[f.rng.IntN(len(f.ids))]
	var sub []uuid.UUID
	if err := f.client.OrgClosure.Query().Where(orgclosure.AncestorID(org)).Select(orgclosure.FieldDescendantID).Scan(f.ctx, &sub); err != nil {
		f.t.Fatal(err)
	}
	tx, err := f.client.Tx(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	deleted := false
	switch f.rng.IntN(4) {
	case 0: // delete the subtree, as DeleteOrganization does
		deleted = true
		if _, err := tx.Organization.Update().Where(organization.IDIn(sub...), organization.DeletedAtIsNil()).SetDeletedAt(time.Now()).Save(f.ctx); err != nil {
			f.t.Fatal(err)
		}
		if _, err := tx.OrgClosure.Delete().Where(orgclosure.DescendantIDIn(sub...)).Exec(f.ctx); err != nil {
			f.t.Fatal(err)
		}
	case 1: // one org's capabilities
		if err := tx.Organization.UpdateOneID(org).SetCapabilities(capSets[f.rng.IntN(len(capSets))]).Exec(f.ctx); err != nil {
			f.t.Fatal(err)
		}
	case 2: // a whole subtree's capabilities in one statement
		if _, err := tx.Organization.Update().Where(organization.IDIn(sub...)).SetCapabilities(capSets[f.rng.IntN(len(capSets))]).Save(f.ctx); err != nil {
			f.t.Fatal(err)
		}
	case 3: // a write the counts ignore
		if _, err := tx.Organization.Update().Where(organization.IDIn(sub...)).SetTenant("renamed").Save(f.ctx); err != nil {
			f.t.Fatal(err)
		}
	}
	if f.rng.IntN(4) == 0 {
		_ = tx.Rollback() // a rolled back change leaves the counts as they were
		return
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
	if deleted {
		f.live = slices.DeleteFunc(f.live, func(id uuid.UUID) bool { return slices.Contains(sub, id) })
	}
}

func (f *forest) scope() policy.Scope {
	pick := func() string {
		if f.rng.IntN(15) == 0 {
			return uuid.NewString() // an org that does not exist
		}
		return f.ids[f.rng.IntN(len(f.ids))].String()
	}
	var s policy.Scope
	if f.rng.IntN(8) == 0 {
		s.All = true
	} else {
		for n := f.rng.IntN(6); n > 0; n-- {
			org := pick()
			s.Orgs = append(s.Orgs, policy.ScopeGrant{Org: org, Subtree: f.rng.IntN(4) > 0})
			if f.rng.IntN(6) == 0 { // the same org twice, as both kinds
				s.Orgs = append(s.Orgs, policy.ScopeGrant{Org: org, Subtree: f.rng.IntN(2) == 0})
			}
		}
	}
	if f.rng.IntN(3) == 0 {
		s.Within = pick()
	}
	switch f.rng.IntN(4) {
	case 0:
	case 1:
		s.Ceiling = []string{}
	case 2:
		s.Ceiling = []string{"core"}
	default:
		s.Ceiling = []string{"applications", "billing"}
	}
	return s
}

// TestSubtreeCountOracle checks the count from subtree sizes against the
// list's own SQL count, for random forests, scopes, deletions and
// capability changes, on both back ends.
func TestSubtreeCountOracle(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("ORGRAPH_COUNT_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (replay with ORGRAPH_COUNT_SEED=%d)", seed, seed)
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			st, err := store.Open(testutil.DatabaseURL(t, b))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			ctx := gate.System(context.Background())
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			pp := st.Client.PersonPool.Create().SaveX(ctx)
			gp := st.Client.GroupPool.Create().SaveX(ctx)
			f := &forest{t: t, ctx: ctx, client: st.Client, rng: rand.New(rand.NewPCG(seed, 12)), anc: map[uuid.UUID][]uuid.UUID{}, pp: pp.ID, gp: gp.ID}
			for round := 0; round < 8; round++ {
				f.create(5 + f.rng.IntN(30))
				for i := f.rng.IntN(6); i > 0; i-- {
					f.mutate()
				}
				for i := 0; i < 40; i++ {
					scope := f.scope()
					got, ok, err := gate.CountScope(ctx, st.Client, scope)
					if err != nil || !ok {
						t.Fatalf("count %+v: %v (counted: %v)", scope, err, ok)
					}
					want, err := st.Client.Organization.Query().Where(gate.OrgListPredicate(scope, f.rng.IntN(2) == 0)).Count(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Logf("ceiling nil: %v", scope.Ceiling == nil)
						for _, o := range st.Client.Organization.Query().Where(gate.OrgListPredicate(scope, false)).AllX(ctx) {
							t.Logf("listed %s caps %v deleted %v", o.ID, o.Capabilities, o.DeletedAt)
						}
						for _, g := range scope.Orgs {
							id, _ := uuid.Parse(g.Org)
							rows := st.Client.OrgSubtreeCount.Query().Where(orgsubtreecount.AncestorID(id)).AllX(ctx)
							n := st.Client.OrgClosure.Query().Where(orgclosure.AncestorID(id), orgclosure.HasDescendantWith(organization.DeletedAtIsNil())).CountX(ctx)
							o := st.Client.Organization.GetX(ctx, id)
							t.Logf("%s deleted %v: closure live %d", id, o.DeletedAt, n)
							for _, r := range rows {
								t.Logf("   %s %d", r.Capabilities, r.Live)
							}
						}
						t.Fatalf("round %d: scope %+v counts %d from subtree sizes, the list holds %d", round, scope, got, want)
					}
				}
			}
		})
	}
}

// Package seed writes synthetic tenant trees for benchmarks and tests.
package seed

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
)

// Policy is what seeding takes from the policy data: the role the tree's
// owner gets and the capabilities of every org (all of them).
type Policy interface {
	OwnerRole() string
	Capabilities() []string
}

type node struct {
	id       uuid.UUID
	ancestry []uuid.UUID
}

// Tree writes one tenant tree of n orgs (breadth first, fanout children per org,
// at most depth levels below the root) owned by owner, with its closure rows, and
// returns the ids in breadth-first order.
func Tree(ctx context.Context, client *ent.Client, pol Policy, owner *ent.Account, name string, fanout, depth, n int) ([]uuid.UUID, error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	rollback := func(err error) ([]uuid.UUID, error) { _ = tx.Rollback(); return nil, err }
	pp, err := tx.PersonPool.Create().Save(ctx)
	if err != nil {
		return rollback(err)
	}
	gp, err := tx.GroupPool.Create().Save(ctx)
	if err != nil {
		return rollback(err)
	}
	tenant := name
	suffix := uuid.NewString()[:8]
	queue := []node{{id: uuid.New(), ancestry: []uuid.UUID{}}}
	var orgs []*ent.OrganizationCreate
	var links []*ent.OrgClosureCreate
	var slugs []*ent.SlugReservationCreate
	flush := func() error {
		if err := tx.Organization.CreateBulk(orgs...).Exec(ctx); err != nil {
			return err
		}
		if err := tx.OrgClosure.CreateBulk(links...).Exec(ctx); err != nil {
			return err
		}
		if err := tx.SlugReservation.CreateBulk(slugs...).Exec(ctx); err != nil {
			return err
		}
		orgs, links, slugs = orgs[:0], links[:0], slugs[:0]
		return nil
	}
	for i := 0; i < n; i++ {
		o := queue[i]
		slug := fmt.Sprintf("%s-%d", suffix, i)
		slugs = append(slugs, tx.SlugReservation.Create().SetSlug(slug).SetOrganizationID(o.id))
		create := tx.Organization.Create().SetID(o.id).SetName(fmt.Sprintf("%s %d", tenant, i)).
			SetSlug(slug).SetTenant(tenant).SetDepth(len(o.ancestry)).
			SetAncestry(o.ancestry).SetCapabilities(pol.Capabilities()).SetPersonPoolID(pp.ID).SetGroupPoolID(gp.ID)
		if len(o.ancestry) > 0 {
			create.SetParentID(o.ancestry[len(o.ancestry)-1])
		}
		orgs = append(orgs, create)
		for d, anc := range o.ancestry {
			links = append(links, tx.OrgClosure.Create().SetAncestorID(anc).SetDescendantID(o.id).SetDepth(len(o.ancestry)-d))
		}
		links = append(links, tx.OrgClosure.Create().SetAncestorID(o.id).SetDescendantID(o.id).SetDepth(0))
		if len(o.ancestry) < depth {
			for k := 0; k < fanout; k++ {
				queue = append(queue, node{id: uuid.New(), ancestry: append(append([]uuid.UUID{}, o.ancestry...), o.id)})
			}
		}
		// Both back ends bound the parameters of one statement; stay well below.
		if len(orgs) >= 200 {
			if err := flush(); err != nil {
				return rollback(err)
			}
		}
	}
	if err := flush(); err != nil {
		return rollback(err)
	}
	if err := tx.Membership.Create().SetAccountID(owner.ID).SetOrganizationID(queue[0].id).SetRole(pol.OwnerRole()).Exec(ctx); err != nil {
		return rollback(err)
	}
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = queue[i].id
	}
	return ids, tx.Commit()
}

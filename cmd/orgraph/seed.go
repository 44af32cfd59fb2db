package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/gate"
)

type seedCmd struct {
	dbFlag
	Orgs   int    `required:"" help:"How many orgs to write."`
	Depth  int    `default:"3" help:"Depth of each tenant tree below its root."`
	Fanout int    `default:"5" help:"Children per org."`
	Owner  string `default:"seed-owner" help:"Alias of the account owning every root (created if missing)."`
}

// Run writes tenant trees breadth-first in batches, closure rows included.
func (c *seedCmd) Run() error {
	ctx := gate.System(context.Background())
	a, err := openApp(ctx, c.DB)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	owner, err := a.Service.AccountByAlias(ctx, c.Owner)
	if err != nil {
		if owner, err = a.Service.CreateAccount(ctx, c.Owner, "Seed owner", false); err != nil {
			return err
		}
	}
	treeSize := 0
	for d, n := 0, 1; d <= c.Depth; d, n = d+1, n*c.Fanout {
		treeSize += n
	}
	start := time.Now()
	written := 0
	for tree := 0; written < c.Orgs; tree++ {
		n := min(treeSize, c.Orgs-written)
		if err := c.writeTree(ctx, a, owner, tree, n); err != nil {
			return err
		}
		written += n
		fmt.Fprintf(os.Stderr, "\rseeded %d/%d orgs (%.0f/s)", written, c.Orgs, float64(written)/time.Since(start).Seconds())
	}
	fmt.Fprintln(os.Stderr)
	return nil
}

type seedOrg struct {
	id       uuid.UUID
	ancestry []uuid.UUID
}

func (c *seedCmd) writeTree(ctx context.Context, a *app.App, owner *ent.Account, tree, n int) error {
	tx, err := a.Store.Client.Tx(ctx)
	if err != nil {
		return err
	}
	rollback := func(err error) error { _ = tx.Rollback(); return err }
	pp, err := tx.PersonPool.Create().Save(ctx)
	if err != nil {
		return rollback(err)
	}
	gp, err := tx.GroupPool.Create().Save(ctx)
	if err != nil {
		return rollback(err)
	}
	tenant := fmt.Sprintf("Tenant %d", tree)
	suffix := uuid.NewString()[:8]
	queue := []seedOrg{{id: uuid.New()}}
	var orgs []*ent.OrganizationCreate
	var links []*ent.OrgClosureCreate
	flush := func() error {
		if err := tx.Organization.CreateBulk(orgs...).Exec(ctx); err != nil {
			return err
		}
		if err := tx.OrgClosure.CreateBulk(links...).Exec(ctx); err != nil {
			return err
		}
		orgs, links = orgs[:0], links[:0]
		return nil
	}
	for i := 0; i < n; i++ {
		o := queue[i]
		create := tx.Organization.Create().SetID(o.id).SetName(fmt.Sprintf("%s org %d", tenant, i)).
			SetSlug(fmt.Sprintf("t%d-%s-%d", tree, suffix, i)).SetTenant(tenant).SetDepth(len(o.ancestry)).
			SetAncestry(o.ancestry).SetCapabilities(app.Capabilities).SetPersonPoolID(pp.ID).SetGroupPoolID(gp.ID)
		if len(o.ancestry) > 0 {
			create.SetParentID(o.ancestry[len(o.ancestry)-1])
		}
		orgs = append(orgs, create)
		for d, anc := range o.ancestry {
			links = append(links, tx.OrgClosure.Create().SetAncestorID(anc).SetDescendantID(o.id).SetDepth(len(o.ancestry)-d))
		}
		links = append(links, tx.OrgClosure.Create().SetAncestorID(o.id).SetDescendantID(o.id).SetDepth(0))
		if len(o.ancestry) < c.Depth {
			for k := 0; k < c.Fanout; k++ {
				queue = append(queue, seedOrg{id: uuid.New(), ancestry: append(append([]uuid.UUID{}, o.ancestry...), o.id)})
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
	if err := tx.Membership.Create().SetAccountID(owner.ID).SetOrganizationID(queue[0].id).SetRole("owner").Exec(ctx); err != nil {
		return rollback(err)
	}
	return tx.Commit()
}

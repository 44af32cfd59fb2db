package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/seed"
)

type seedCmd struct {
	dbFlag
	keyFlags
	Orgs   int    `required:"" help:"How many orgs to write."`
	Depth  int    `default:"3" help:"Depth of each tenant tree below its root."`
	Fanout int    `default:"5" help:"Children per org."`
	Owner  string `default:"seed-owner" help:"Alias of the account owning every root (created if missing)."`
}

// Run writes tenant trees breadth-first in batches, closure rows included.
func (c *seedCmd) Run() error {
	ctx := gate.System(context.Background())
	a, err := openApp(ctx, c.dbFlag, c.keyFlags)
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
		if _, err := seed.Tree(ctx, a.Store.Client, a.Engine, owner, fmt.Sprintf("Tenant %d", tree), c.Fanout, c.Depth, n); err != nil {
			return err
		}
		written += n
		fmt.Fprintf(os.Stderr, "\rseeded %d/%d orgs (%.0f/s)", written, c.Orgs, float64(written)/time.Since(start).Seconds())
	}
	fmt.Fprintln(os.Stderr)
	if a.Store.IsPostgres() {
		// Fresh statistics, so the planner sees the new tree sizes at once.
		if _, err := a.Store.DB.ExecContext(ctx, "ANALYZE"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
	}
	return nil
}

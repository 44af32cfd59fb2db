package gate

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"

	entbase "entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/orgsubtreecount"
	"github.com/orgraph/orgraph/policy"
)

// An organizations list that no where filter narrows counts its total from
// org_subtree_counts (live orgs per subtree and capability set, kept by
// triggers in the transaction of every change to the tree) instead of
// counting every org in scope: a few indexed rows per grant instead of a
// probe per org (seconds at a million orgs). The figure is exact: it is the
// number of rows the list's own predicate (readRules["Organization"] over the
// scope, see scopePredicate) selects, derived from the same closure rows.

type countKey struct{}

// countMark is consumed by the first organization count made with its context.
type countMark struct{ used atomic.Bool }

// CountFromSubtrees returns the context for paginating the top-level
// organizations list: when unfiltered is true (no where filter narrows the
// list) and the pagination will count it, the count is computed from subtree
// sizes. Call it with the resolver's context, before Paginate.
func CountFromSubtrees(ctx context.Context, unfiltered, paginated bool) context.Context {
	if !unfiltered || graphql.GetFieldContext(ctx) == nil {
		return ctx
	}
	counted := collects(ctx, "totalCount") || collects(ctx, "pageInfo")
	if !counted || !(paginated || !collects(ctx, "edges")) {
		return ctx
	}
	return context.WithValue(ctx, countKey{}, &countMark{})
}

// collects tells whether the current field selects name (as entgql's
// pagination looks for it: by alias).
func collects(ctx context.Context, name string) bool {
	fc := graphql.GetFieldContext(ctx)
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, nil) {
		if f.Alias == name {
			return true
		}
	}
	return false
}

// subtreeCounter answers a marked count from the subtree sizes when the
// caller's scope allows; any other query, and a scope it cannot count, go on
// to SQL.
func (g *Gate) subtreeCounter() ent.Interceptor {
	return ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			m, ok := ctx.Value(countKey{}).(*countMark)
			if !ok || isSystem(ctx) || ctx.Value(requestKey{}) == nil {
				return next.Query(ctx, q)
			}
			if qc := entbase.QueryFromContext(ctx); qc == nil || qc.Op != entbase.OpQueryCount || !m.used.CompareAndSwap(false, true) {
				return next.Query(ctx, q)
			}
			n, ok, err := g.CountReadableOrgs(ctx)
			if err != nil {
				return nil, err
			}
			if !ok {
				return next.Query(ctx, q)
			}
			return n, nil
		})
	})
}

// CountReadableOrgs counts the live orgs the caller may list (the rows of an
// unfiltered organizations list) from the subtree sizes; ok is false when the
// scope is not one it counts.
func (g *Gate) CountReadableOrgs(ctx context.Context) (n int, ok bool, err error) {
	scope, err := g.Scope(ctx, readRules["Organization"].action)
	if err != nil {
		return 0, false, err
	}
	// The service's own queries: no filter, no request memo.
	ctx = System(context.WithValue(ctx, requestKey{}, nil))
	return countScope(ctx, g.client, scope)
}

// countScope counts the live orgs of scope (see policy.Scope and scopePredicate).
func countScope(ctx context.Context, client *ent.Client, scope policy.Scope) (int, bool, error) {
	holds := func([]string) bool { return true }
	if scope.Ceiling != nil {
		holds = func(caps []string) bool {
			return slices.ContainsFunc(caps, func(c string) bool { return slices.Contains(scope.Ceiling, c) })
		}
	}
	var within uuid.UUID
	if scope.Within != "" {
		w, err := uuid.Parse(scope.Within)
		if err != nil {
			return 0, true, nil // scopePredicate: false
		}
		within = w
	}
	var subtrees, exact []uuid.UUID
	switch {
	case scope.All && within == uuid.Nil:
		return countAll(ctx, client, holds)
	case scope.All:
		subtrees = []uuid.UUID{within}
		within = uuid.Nil
	default:
		for _, gr := range scope.Orgs {
			id, err := uuid.Parse(gr.Org)
			if err != nil {
				continue
			}
			if gr.Subtree {
				subtrees = append(subtrees, id)
			} else {
				exact = append(exact, id)
			}
		}
	}
	named := append(append([]uuid.UUID{}, subtrees...), exact...)
	if within != uuid.Nil {
		named = append(named, within)
	}
	slices.SortFunc(named, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	named = slices.Compact(named)
	if len(named) == 0 {
		return 0, true, nil
	}
	// below[{a, d}]: d is a proper descendant of a, both named, by the
	// closure rows the list's predicate reads (a soft-deleted org has none).
	var links []struct {
		A uuid.UUID `json:"ancestor_id"`
		D uuid.UUID `json:"descendant_id"`
	}
	// By descendant only (a few rows each, on its index): with both lists
	// SQLite probes every pair of the ancestor list's subtrees.
	if err := client.OrgClosure.Query().Where(orgclosure.DescendantIDIn(named...)).
		Select(orgclosure.FieldAncestorID, orgclosure.FieldDescendantID).Scan(ctx, &links); err != nil {
		return 0, false, err
	}
	isNamed := make(map[uuid.UUID]bool, len(named))
	for _, id := range named {
		isNamed[id] = true
	}
	links = slices.DeleteFunc(links, func(l struct {
		A uuid.UUID `json:"ancestor_id"`
		D uuid.UUID `json:"descendant_id"`
	}) bool {
		return !isNamed[l.A]
	})
	below := map[[2]uuid.UUID]bool{}
	linked := map[uuid.UUID]bool{} // has its own closure row: not deleted
	for _, l := range links {
		if l.A == l.D {
			linked[l.A] = true
		} else {
			below[[2]uuid.UUID{l.A, l.D}] = true
		}
	}
	under := func(d, a uuid.UUID) bool { return d == a || below[[2]uuid.UUID{a, d}] }

	// The subtrees in scope: a grant's subtree within the token's org is the
	// deeper of the two, or nothing when neither holds the other.
	isRoot := map[uuid.UUID]bool{}
	for _, s := range subtrees {
		switch {
		case within == uuid.Nil || under(s, within):
			isRoot[s] = true
		case under(within, s):
			isRoot[within] = true
		}
	}
	// A subtree inside another is counted once, with the outer one; so is a
	// single org inside a counted subtree.
	covered := map[uuid.UUID]bool{}
	for _, l := range links {
		if isRoot[l.A] && l.A != l.D {
			covered[l.D] = true
		}
	}
	var outer, unlinked []uuid.UUID
	for r := range isRoot {
		if covered[r] {
			continue
		}
		outer = append(outer, r)
		if !linked[r] {
			unlinked = append(unlinked, r)
		}
	}
	// Single orgs: those within the token's org and in no counted subtree.
	var singles []uuid.UUID
	for _, e := range exact {
		if within != uuid.Nil && !under(e, within) || isRoot[e] || covered[e] || slices.Contains(singles, e) {
			continue
		}
		singles = append(singles, e)
	}
	total := 0
	if len(singles) > 0 {
		orgs, err := client.Organization.Query().Where(organization.IDIn(singles...), organization.DeletedAtIsNil()).
			Select(organization.FieldID, organization.FieldCapabilities).All(ctx)
		if err != nil {
			return 0, false, err
		}
		for _, o := range orgs {
			if holds(o.Capabilities) {
				total++
			}
		}
	}
	if len(unlinked) > 0 {
		// A deleted org keeps no closure rows, so none says whether its
		// subtree lies in another one. The service deletes whole subtrees,
		// leaving it nothing to count; should it hold live orgs all the
		// same, the list's SQL count decides.
		live, err := client.OrgSubtreeCount.Query().Where(orgsubtreecount.AncestorIDIn(unlinked...), orgsubtreecount.LiveNEQ(0)).Exist(ctx)
		if err != nil || live {
			return 0, false, err
		}
	}
	if len(outer) > 0 {
		var rows []capsCount
		if err := client.OrgSubtreeCount.Query().Where(orgsubtreecount.AncestorIDIn(outer...)).
			GroupBy(orgsubtreecount.FieldCapabilities).Aggregate(ent.Sum(orgsubtreecount.FieldLive)).Scan(ctx, &rows); err != nil {
			return 0, false, err
		}
		n, err := sumHolding(rows, holds)
		if err != nil {
			return 0, false, err
		}
		total += n
	}
	return total, true, nil
}

// countAll counts every live org (a platform admin's unconfined scope) as the
// sum over the roots' subtrees.
func countAll(ctx context.Context, client *ent.Client, holds func([]string) bool) (int, bool, error) {
	var rows []capsCount
	err := client.OrgSubtreeCount.Query().Where(func(s *sql.Selector) {
		roots := sql.Dialect(s.Dialect()).Select(organization.FieldID).From(sql.Table(organization.Table)).Where(sql.IsNull(organization.FieldParentID))
		s.Where(sql.In(s.C(orgsubtreecount.FieldAncestorID), roots))
	}).GroupBy(orgsubtreecount.FieldCapabilities).Aggregate(ent.Sum(orgsubtreecount.FieldLive)).Scan(ctx, &rows)
	if err != nil {
		return 0, false, err
	}
	n, err := sumHolding(rows, holds)
	return n, err == nil, err
}

// capsCount is one capability set's live orgs, summed over subtrees.
type capsCount struct {
	Caps string `json:"capabilities"`
	Live int    `json:"sum"`
}

func sumHolding(rows []capsCount, holds func([]string) bool) (int, error) {
	total := 0
	for _, r := range rows {
		var caps []string
		if err := json.Unmarshal([]byte(r.Caps), &caps); err != nil {
			return 0, err
		}
		if holds(caps) {
			total += r.Live
		}
	}
	return total, nil
}

package graph

import (
	"context"
	"fmt"
	"sync"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/group"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
)

// listLoader memoizes, per request, a field's values computed for a whole
// list of orgs at once (the orgs one query loaded together: a tree level, a
// page), so a field on the elements of a list costs statements per list, not
// per element. Unlike a time-window dataloader, the number of statements does
// not depend on goroutine timing.
type listLoader struct {
	mu     sync.Mutex
	values map[string]map[uuid.UUID]any
}

type listLoaderKey struct{}

func withListLoader(ctx context.Context) context.Context {
	return context.WithValue(ctx, listLoaderKey{}, &listLoader{values: map[string]map[uuid.UUID]any{}})
}

// perList returns org's value of the field key, loading it for org's whole
// list on a miss.
func perList[T any](ctx context.Context, key string, org uuid.UUID, load func(orgs []uuid.UUID) (map[uuid.UUID]T, error)) (T, error) {
	var zero T
	l, ok := ctx.Value(listLoaderKey{}).(*listLoader)
	if !ok {
		got, err := load([]uuid.UUID{org})
		return got[org], err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	byOrg := l.values[key]
	if byOrg == nil {
		byOrg = map[uuid.UUID]any{}
		l.values[key] = byOrg
	}
	if v, ok := byOrg[org]; ok {
		return v.(T), nil
	}
	ids := []uuid.UUID{org}
	for _, id := range gate.Batch(ctx, org) {
		if _, done := byOrg[id]; !done && id != org {
			ids = append(ids, id)
		}
	}
	got, err := load(ids)
	if err != nil {
		return zero, err
	}
	for _, id := range ids {
		if v, ok := got[id]; ok {
			byOrg[id] = v
		} else {
			byOrg[id] = zero
		}
	}
	return byOrg[org].(T), nil
}

// prefill records a value loaded with the org (graph/prefetch.go).
func prefill(ctx context.Context, key string, org uuid.UUID, v any) {
	l, ok := ctx.Value(listLoaderKey{}).(*listLoader)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.values[key] == nil {
		l.values[key] = map[uuid.UUID]any{}
	}
	l.values[key][org] = v
}

// fieldKey names the current field with its arguments: the same field asked
// with other arguments (under another alias) is another value.
func fieldKey(ctx context.Context) string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return ""
	}
	return fmt.Sprint(fc.Field.Name, fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables))
}

// selectsTotalCount: the current connection field selects totalCount.
func selectsTotalCount(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return true
	}
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, nil) {
		if f.Name == "totalCount" {
			return true
		}
	}
	return false
}

// ancestors reads the ancestors of every org of the list in one statement.
func (r *Resolver) ancestors(ctx context.Context, org *ent.Organization) ([]*ent.Organization, error) {
	return perList(ctx, "ancestors", org.ID, func(ids []uuid.UUID) (map[uuid.UUID][]*ent.Organization, error) {
		chains := map[uuid.UUID][]uuid.UUID{org.ID: org.Ancestry}
		var all []uuid.UUID
		for _, id := range ids {
			if id != org.ID {
				o, err := r.Gate.Org(ctx, id)
				if err != nil {
					continue // not this list's concern: its own call reads it
				}
				chains[id] = o.Ancestry
			}
			all = append(all, chains[id]...)
		}
		found, err := r.Client.Organization.Query().Where(organization.IDIn(all...)).All(ctx)
		if err != nil {
			return nil, err
		}
		byID := make(map[uuid.UUID]*ent.Organization, len(found))
		for _, o := range found {
			byID[o.ID] = o
		}
		out := map[uuid.UUID][]*ent.Organization{}
		for id, chain := range chains {
			list := make([]*ent.Organization, 0, len(chain))
			for _, a := range chain { // root first; unreadable ancestors are left out
				if o, ok := byID[a]; ok {
					list = append(list, o)
				}
			}
			out[id] = list
		}
		return out, nil
	})
}

// noCursors: pages that start at a cursor are read per org (a client pages
// one connection at a time); first pages of every org of a list are batched.
func noCursors(after, before *entgql.Cursor[uuid.UUID]) bool { return after == nil && before == nil }

// descendants pages the descendants of every org of the list in one statement
// (and counts them in one more).
func (r *Resolver) descendants(ctx context.Context, org *ent.Organization, maxDepth *int, after *entgql.Cursor[uuid.UUID], first *int, before *entgql.Cursor[uuid.UUID], last *int, orderBy []*ent.OrganizationOrder, where *ent.OrganizationWhereInput) (*ent.OrganizationConnection, error) {
	if maxDepth != nil && *maxDepth < 1 {
		return nil, apperr.New(apperr.BadUserInput, "maxDepth must be at least 1")
	}
	opts := []ent.OrganizationPaginateOption{ent.WithOrganizationOrder(orderBy), ent.WithOrganizationFilter(where.Filter)}
	below := func(ancestors ...uuid.UUID) func(*sql.Selector) {
		return func(s *sql.Selector) {
			c := sql.Table(orgclosure.Table).As("dc")
			s.Join(c).On(s.C(organization.FieldID), c.C(orgclosure.FieldDescendantID))
			preds := []*sql.Predicate{sql.In(c.C(orgclosure.FieldAncestorID), anys(ancestors)...), sql.GT(c.C(orgclosure.FieldDepth), 0)}
			if maxDepth != nil {
				preds = append(preds, sql.LTE(c.C(orgclosure.FieldDepth), *maxDepth))
			}
			s.Where(sql.And(preds...))
			s.AppendSelectAs(c.C(orgclosure.FieldAncestorID), orgclosure.FieldAncestorID)
		}
	}
	if !noCursors(after, before) {
		q := r.Client.Organization.Query()
		q.Modify(below(org.ID))
		return q.Paginate(ctx, after, first, before, last, opts...)
	}
	total := selectsTotalCount(ctx)
	return perList(ctx, fieldKey(ctx), org.ID, func(ids []uuid.UUID) (map[uuid.UUID]*ent.OrganizationConnection, error) {
		q := r.Client.Organization.Query()
		q.Modify(below(ids...))
		q, err := q.PageEach(orgclosure.FieldAncestorID, first, last, opts...)
		if err != nil {
			return nil, err
		}
		rows, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		pages := map[uuid.UUID][]*ent.Organization{}
		for _, o := range rows {
			if a, ok := uuidValue(o, orgclosure.FieldAncestorID); ok {
				pages[a] = append(pages[a], o)
			}
		}
		counts := map[uuid.UUID]int{}
		if total {
			cq := r.Client.Organization.Query()
			if cq, err = where.Filter(cq); err != nil {
				return nil, err
			}
			var scanned []struct {
				AncestorID uuid.UUID `json:"ancestor_id"`
				Count      int       `json:"count"`
			}
			err = cq.Modify(below(ids...), func(s *sql.Selector) {
				c := sql.Table(orgclosure.Table).As("dc")
				s.Select(c.C(orgclosure.FieldAncestorID), sql.As(sql.Count("*"), "count")).GroupBy(c.C(orgclosure.FieldAncestorID))
			}).Scan(ctx, &scanned)
			if err != nil {
				return nil, err
			}
			for _, c := range scanned {
				counts[c.AncestorID] = c.Count
			}
		}
		out := map[uuid.UUID]*ent.OrganizationConnection{}
		for _, id := range ids {
			conn, err := ent.BuildOrganizationConnection(pages[id], counts[id], after, first, before, last, opts...)
			if err != nil {
				return nil, err
			}
			out[id] = conn
		}
		return out, nil
	})
}

// auditEvents pages the trail of every org of the list in one statement (and
// counts them in one more); newest first unless ordered otherwise.
func (r *Resolver) auditEvents(ctx context.Context, org *ent.Organization, after *entgql.Cursor[uuid.UUID], first *int, before *entgql.Cursor[uuid.UUID], last *int, orderBy []*ent.AuditEventOrder, where *ent.AuditEventWhereInput) (*ent.AuditEventConnection, error) {
	if len(orderBy) == 0 {
		orderBy = []*ent.AuditEventOrder{{Field: ent.AuditEventOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc}}
	}
	opts := []ent.AuditEventPaginateOption{ent.WithAuditEventOrder(orderBy), ent.WithAuditEventFilter(where.Filter)}
	if !noCursors(after, before) {
		return r.Client.AuditEvent.Query().Where(auditevent.OrganizationID(org.ID)).
			Paginate(ctx, after, first, before, last, opts...)
	}
	total := selectsTotalCount(ctx)
	return perList(ctx, fieldKey(ctx), org.ID, func(ids []uuid.UUID) (map[uuid.UUID]*ent.AuditEventConnection, error) {
		q, err := r.Client.AuditEvent.Query().Where(auditevent.OrganizationIDIn(ids...)).
			PageEach(auditevent.FieldOrganizationID, first, last, opts...)
		if err != nil {
			return nil, err
		}
		rows, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		pages := map[uuid.UUID][]*ent.AuditEvent{}
		for _, e := range rows {
			if e.OrganizationID != nil {
				pages[*e.OrganizationID] = append(pages[*e.OrganizationID], e)
			}
		}
		counts := map[uuid.UUID]int{}
		if total {
			cq, err := where.Filter(r.Client.AuditEvent.Query().Where(auditevent.OrganizationIDIn(ids...)))
			if err != nil {
				return nil, err
			}
			var scanned []struct {
				OrganizationID uuid.UUID `json:"organization_id"`
				Count          int       `json:"count"`
			}
			if err := cq.GroupBy(auditevent.FieldOrganizationID).Aggregate(ent.Count()).Scan(ctx, &scanned); err != nil {
				return nil, err
			}
			for _, c := range scanned {
				counts[c.OrganizationID] = c.Count
			}
		}
		out := map[uuid.UUID]*ent.AuditEventConnection{}
		for _, id := range ids {
			if out[id], err = ent.BuildAuditEventConnection(pages[id], counts[id], after, first, before, last, opts...); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
}

// orgGroups pages the groups of the pool of every org of the list in one
// statement (after one reading the orgs' pools, and one counting).
func (r *Resolver) orgGroups(ctx context.Context, org *ent.Organization, after *entgql.Cursor[uuid.UUID], first *int, before *entgql.Cursor[uuid.UUID], last *int, orderBy []*ent.GroupOrder, where *ent.GroupWhereInput) (*ent.GroupConnection, error) {
	opts := []ent.GroupPaginateOption{ent.WithGroupOrder(orderBy), ent.WithGroupFilter(where.Filter)}
	poolOf := func(ids ...uuid.UUID) func(*sql.Selector) {
		return func(s *sql.Selector) {
			t := sql.Table(organization.Table)
			s.Where(sql.In(s.C(group.FieldPoolID),
				sql.Select(t.C(organization.FieldGroupPoolID)).From(t).Where(sql.In(t.C(organization.FieldID), anys(ids)...))))
		}
	}
	if !noCursors(after, before) {
		return r.Client.Group.Query().Where(poolOf(org.ID)).Paginate(ctx, after, first, before, last, opts...)
	}
	total := selectsTotalCount(ctx)
	return perList(ctx, fieldKey(ctx), org.ID, func(ids []uuid.UUID) (map[uuid.UUID]*ent.GroupConnection, error) {
		pools, err := r.Client.Organization.Query().Where(organization.IDIn(ids...)).
			Select(organization.FieldID, organization.FieldGroupPoolID).All(gate.System(ctx))
		if err != nil {
			return nil, err
		}
		q, err := r.Client.Group.Query().Where(poolOf(ids...)).PageEach(group.FieldPoolID, first, last, opts...)
		if err != nil {
			return nil, err
		}
		rows, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		pages := map[uuid.UUID][]*ent.Group{}
		for _, g := range rows {
			pages[g.PoolID] = append(pages[g.PoolID], g)
		}
		counts := map[uuid.UUID]int{}
		if total {
			cq, err := where.Filter(r.Client.Group.Query().Where(poolOf(ids...)))
			if err != nil {
				return nil, err
			}
			var scanned []struct {
				PoolID uuid.UUID `json:"pool_id"`
				Count  int       `json:"count"`
			}
			if err := cq.GroupBy(group.FieldPoolID).Aggregate(ent.Count()).Scan(ctx, &scanned); err != nil {
				return nil, err
			}
			for _, c := range scanned {
				counts[c.PoolID] = c.Count
			}
		}
		out := map[uuid.UUID]*ent.GroupConnection{}
		for _, o := range pools {
			if out[o.ID], err = ent.BuildGroupConnection(pages[o.GroupPoolID], counts[o.GroupPoolID], after, first, before, last, opts...); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
}

func anys(ids []uuid.UUID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// uuidValue reads a uuid column a query added to a row.
func uuidValue(v interface {
	Value(string) (ent.Value, error)
}, column string) (uuid.UUID, bool) {
	x, err := v.Value(column)
	if err != nil || x == nil {
		return uuid.Nil, false
	}
	switch t := x.(type) {
	case uuid.UUID:
		return t, true
	case string:
		id, err := uuid.Parse(t)
		return id, err == nil
	case []byte:
		if len(t) == 16 {
			id, err := uuid.FromBytes(t)
			return id, err == nil
		}
		id, err := uuid.ParseBytes(t)
		return id, err == nil
	case [16]byte:
		return uuid.UUID(t), true
	}
	return uuid.Nil, false
}

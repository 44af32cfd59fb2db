package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/apikey"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/group"
	"github.com/orgraph/orgraph/ent/intercept"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/person"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/policy"
)

// installFilters makes every query of org data made for a GraphQL request
// return only rows of orgs the caller may read, as SQL predicates over the
// closure table, so totalCount and pagination stay exact.
func (g *Gate) installFilters(client *ent.Client) {
	client.Organization.Intercept(recordLoadedOrgs())
	client.Organization.Intercept(
		intercept.TraverseOrganization(func(ctx context.Context, q *ent.OrganizationQuery) error {
			selectDecisionColumns(q)
			return g.filter(ctx, "organization.read", func(p func(*sql.Selector)) {
				q.Where(organization.DeletedAtIsNil(), func(s *sql.Selector) { p(s) })
			}, organization.FieldID)
		}))
	client.Membership.Intercept(
		intercept.TraverseMembership(func(ctx context.Context, q *ent.MembershipQuery) error {
			withColumn(q.SelectedFields(), q.Select, membership.FieldOrganizationID)
			if !isSystem(ctx) && ctx.Value(requestKey{}) != nil {
				// One's own memberships are listed even without members.read, but
				// not those of soft-deleted orgs.
				q.Where(membership.HasOrganizationWith(organization.DeletedAtIsNil()))
			}
			return g.filterOr(ctx, "members.read", membership.FieldOrganizationID, membership.FieldAccountID, func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Invitation.Intercept(
		intercept.TraverseInvitation(func(ctx context.Context, q *ent.InvitationQuery) error {
			withColumn(q.SelectedFields(), q.Select, invitation.FieldOrganizationID)
			// Invitation.status reads EXPIRED for a pending invitation past its
			// expiry, so a row load with the status has the expiry too.
			if slices.Contains(q.SelectedFields(), invitation.FieldStatus) {
				withColumn(q.SelectedFields(), q.Select, invitation.FieldExpiresAt)
			}
			return g.filterOr(ctx, "invitations.read", invitation.FieldOrganizationID, invitation.FieldInviteeID, func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Application.Intercept(
		intercept.TraverseApplication(func(ctx context.Context, q *ent.ApplicationQuery) error {
			withColumn(q.SelectedFields(), q.Select, application.FieldOrganizationID)
			return g.filter(ctx, "application.read", func(p func(*sql.Selector)) { q.Where(p) }, application.FieldOrganizationID)
		}))
	client.Sector.Intercept(
		intercept.TraverseSector(func(ctx context.Context, q *ent.SectorQuery) error {
			withColumn(q.SelectedFields(), q.Select, sector.FieldOrganizationID)
			return g.filter(ctx, "sector.read", func(p func(*sql.Selector)) { q.Where(p) }, sector.FieldOrganizationID)
		}))
	client.APIKey.Intercept(
		intercept.TraverseAPIKey(func(ctx context.Context, q *ent.APIKeyQuery) error {
			withColumn(q.SelectedFields(), q.Select, apikey.FieldOrganizationID)
			return g.filter(ctx, "apikey.read", func(p func(*sql.Selector)) { q.Where(p) }, apikey.FieldOrganizationID)
		}))
	client.AuditEvent.Intercept(
		intercept.TraverseAuditEvent(func(ctx context.Context, q *ent.AuditEventQuery) error {
			withColumn(q.SelectedFields(), q.Select, auditevent.FieldOrganizationID)
			return g.filter(ctx, "audit.read", func(p func(*sql.Selector)) { q.Where(p) }, auditevent.FieldOrganizationID)
		}))
	client.Person.Intercept(
		intercept.TraversePerson(func(ctx context.Context, q *ent.PersonQuery) error {
			return g.filter(ctx, "person.read", func(p func(*sql.Selector)) {
				q.Where(person.HasOrganizationsWith(func(s *sql.Selector) { p(s) }))
			}, organization.FieldID)
		}))
	client.Group.Intercept(
		intercept.TraverseGroup(func(ctx context.Context, q *ent.GroupQuery) error {
			return g.filter(ctx, "group.read", func(p func(*sql.Selector)) {
				q.Where(func(s *sql.Selector) {
					orgs := sql.Select(organization.FieldGroupPoolID).From(sql.Table(organization.Table))
					p(orgs)
					s.Where(sql.In(s.C(group.FieldPoolID), orgs))
				})
			}, organization.FieldID)
		}))
	g.installIdentityFilters(client)
	client.Account.Intercept(
		intercept.TraverseAccount(func(ctx context.Context, q *ent.AccountQuery) error {
			return g.filter(ctx, "members.read", func(p func(*sql.Selector)) {
				self := selfID(ctx)
				q.Where(account.Or(
					account.ID(self),
					account.HasMembershipsWith(func(s *sql.Selector) { p(s) }),
				))
			}, membership.FieldOrganizationID)
		}))
}

// recordLoadedOrgs remembers, per request, every org a query returned and the
// batch it came in: eager loading fetches one tree level in one query, so the
// batch is the whole level and per-org counts can be fetched for it at once.
func recordLoadedOrgs() ent.Interceptor {
	return ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			v, err := next.Query(ctx, q)
			orgs, ok := v.([]*ent.Organization)
			if err != nil || !ok || len(orgs) == 0 || ctx.Value(requestKey{}) == nil {
				return v, err
			}
			r := requestOf(ctx)
			batch := make([]uuid.UUID, len(orgs))
			for i, o := range orgs {
				batch[i] = o.ID
			}
			r.mu.Lock()
			for _, o := range orgs {
				r.batches[o.ID] = batch
				if complete(o) {
					if _, seen := r.orgs[o.ID]; !seen {
						r.orgs[o.ID] = o
					}
				}
			}
			r.mu.Unlock()
			return v, err
		})
	})
}

// Batch returns the ids of the orgs loaded together with id in this request.
func Batch(ctx context.Context, id uuid.UUID) []uuid.UUID {
	r := requestOf(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches[id]
}

// decisionColumns are what a policy input is built from. Field collection
// loads only the requested columns, so row loads get these added; a partial
// org that slips through is completed by the field middleware.
var decisionColumns = []string{
	organization.FieldStatus, organization.FieldCapabilities, organization.FieldAncestry,
	organization.FieldParentID, organization.FieldDeletedAt,
}

func selectDecisionColumns(q *ent.OrganizationQuery) {
	fields := q.SelectedFields()
	// Row loads by field collection start with the id and name more columns;
	// IDs() and group-by scans select exactly what they scan into.
	if len(fields) < 2 || fields[0] != organization.FieldID {
		return
	}
	for _, c := range decisionColumns {
		if !slices.Contains(fields, c) {
			q.Select(c)
		}
	}
}

// withColumn adds column to a field-collected row load (see selectDecisionColumns).
func withColumn[S any](fields []string, sel func(...string) S, column string) {
	if len(fields) >= 2 && fields[0] == "id" && !slices.Contains(fields, column) {
		sel(column)
	}
}

func selfID(ctx context.Context) uuid.UUID {
	if p := auth.FromContext(ctx); p != nil && p.Account != nil {
		return p.Account.ID
	}
	return uuid.Nil
}

// filter applies the scope of action to column (an org id column) of the query.
func (g *Gate) filter(ctx context.Context, action string, where func(func(*sql.Selector)), column string) error {
	if isSystem(ctx) || ctx.Value(requestKey{}) == nil {
		return nil
	}
	scope, err := g.Scope(ctx, action)
	if err != nil {
		return err
	}
	sh, err := g.scopeShape(ctx, scope)
	if err != nil {
		return err
	}
	where(func(s *sql.Selector) { s.Where(scopePredicate(s, scope, sh, column)) })
	return nil
}

// filterOr is filter, also letting the caller see rows that are about themselves.
func (g *Gate) filterOr(ctx context.Context, action, orgColumn, selfColumn string, where func(func(*sql.Selector))) error {
	if isSystem(ctx) || ctx.Value(requestKey{}) == nil {
		return nil
	}
	scope, err := g.Scope(ctx, action)
	if err != nil {
		return err
	}
	sh, err := g.scopeShape(ctx, scope)
	if err != nil {
		return err
	}
	self := selfID(ctx)
	where(func(s *sql.Selector) {
		s.Where(sql.Or(sql.EQ(s.C(selfColumn), self), scopePredicate(s, scope, sh, orgColumn)))
	})
	return nil
}

// probeAbove is the subtree size from which a scope is probed per row
// (correlated EXISTS on the closure index) instead of being materialized once
// (IN over the subtree): a small subtree is cheapest as a list, a large one
// would be rebuilt by every statement of a request whatever rows it returns.
const probeAbove = 1000

// shape tells how to render a scope: per grant kind, whether to probe.
type shape struct{ probeSubtrees, probeWithin bool }

// scopeShape measures the scope's subtrees (capped) once per request.
func (g *Gate) scopeShape(ctx context.Context, scope policy.Scope) (shape, error) {
	var sh shape
	var subtrees []uuid.UUID
	for _, gr := range scope.Orgs {
		if id, err := uuid.Parse(gr.Org); err == nil && gr.Subtree {
			subtrees = append(subtrees, id)
		}
	}
	var err error
	if !scope.All && len(subtrees) > 0 {
		if sh.probeSubtrees, err = g.subtreeLarge(ctx, subtrees); err != nil {
			return sh, err
		}
	}
	if within, perr := uuid.Parse(scope.Within); perr == nil {
		if sh.probeWithin, err = g.subtreeLarge(ctx, []uuid.UUID{within}); err != nil {
			return sh, err
		}
	}
	return sh, nil
}

// subtreeLarge tells whether the subtrees of roots hold more than probeAbove orgs (memoized per request).
func (g *Gate) subtreeLarge(ctx context.Context, roots []uuid.UUID) (bool, error) {
	slices.SortFunc(roots, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	key := fmt.Sprint(roots)
	r := requestOf(ctx)
	r.mu.Lock()
	large, ok := r.large[key]
	r.mu.Unlock()
	if ok {
		return large, nil
	}
	ids, err := g.client.OrgClosure.Query().Where(orgclosure.AncestorIDIn(roots...)).Limit(probeAbove + 1).IDs(System(ctx))
	if err != nil {
		return false, err
	}
	large = len(ids) > probeAbove
	r.mu.Lock()
	r.large[key] = large
	r.mu.Unlock()
	return large, nil
}

// inSubtrees is "col is one of roots or below them", as a list or as a probe.
func inSubtrees(s *sql.Selector, col string, roots []any, probe bool) *sql.Predicate {
	if !probe {
		return sql.In(col, sql.Dialect(s.Dialect()).Select(orgclosure.FieldDescendantID).From(sql.Table(orgclosure.Table)).
			Where(sql.In(orgclosure.FieldAncestorID, roots...)))
	}
	c := sql.Table(orgclosure.Table).As("scope_closure")
	ancestor := c.C(orgclosure.FieldAncestorID)
	if s.Dialect() == dialect.SQLite {
		// Unary + keeps SQLite off the (ancestor, descendant) index, which it
		// would otherwise probe once per root for every row: 1 281 roots over a
		// million orgs took minutes; the descendant index takes seconds.
		ancestor = "+" + ancestor
	}
	return sql.Exists(sql.Dialect(s.Dialect()).Select(c.C(orgclosure.FieldAncestorID)).From(c).
		Where(sql.And(sql.ColumnsEQ(c.C(orgclosure.FieldDescendantID), col), sql.In(ancestor, roots...))))
}

// scopePredicate turns a policy scope into SQL on an org id column.
func scopePredicate(s *sql.Selector, scope policy.Scope, sh shape, column string) *sql.Predicate {
	col := s.C(column)
	var preds []*sql.Predicate
	if !scope.All {
		var subtrees, exact []any
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
		var any []*sql.Predicate
		if len(subtrees) > 0 {
			any = append(any, inSubtrees(s, col, subtrees, sh.probeSubtrees))
		}
		if len(exact) > 0 {
			any = append(any, sql.In(col, exact...))
		}
		if len(any) == 0 {
			return sql.False()
		}
		preds = append(preds, sql.Or(any...))
	}
	if scope.Within != "" {
		within, err := uuid.Parse(scope.Within)
		if err != nil {
			return sql.False()
		}
		preds = append(preds, inSubtrees(s, col, []any{within}, sh.probeWithin))
	}
	if len(preds) == 0 {
		return sql.P(func(b *sql.Builder) { b.WriteString("1 = 1") })
	}
	return sql.And(preds...)
}

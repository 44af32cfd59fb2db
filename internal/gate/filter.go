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
	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/ent/handleuse"
	"github.com/orgraph/orgraph/ent/intercept"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/person"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/policy"
)

// installFilters makes every query of org data made for a GraphQL request
// return only rows of orgs the caller may read, as SQL predicates over the
// closure table, so totalCount and pagination stay exact. The same rules
// (readRules) confine the subqueries of has<Edge>With filters (see Readable).
func (g *Gate) installFilters(client *ent.Client) {
	client.Organization.Intercept(recordLoadedOrgs(), g.subtreeCounter())
	client.Organization.Intercept(
		intercept.TraverseOrganization(func(ctx context.Context, q *ent.OrganizationQuery) error {
			selectDecisionColumns(q)
			return g.confine(ctx, "Organization", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Membership.Intercept(
		intercept.TraverseMembership(func(ctx context.Context, q *ent.MembershipQuery) error {
			withColumn(q.SelectedFields(), q.Select, membership.FieldOrganizationID)
			withColumn(q.SelectedFields(), q.Select, membership.FieldAccountID)
			return g.confine(ctx, "Membership", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Invitation.Intercept(
		intercept.TraverseInvitation(func(ctx context.Context, q *ent.InvitationQuery) error {
			withColumn(q.SelectedFields(), q.Select, invitation.FieldOrganizationID)
			// A row about the caller is decided as such: the field gate needs whom it is about.
			withColumn(q.SelectedFields(), q.Select, invitation.FieldInviteeID)
			// Invitation.status reads EXPIRED for a pending invitation past its
			// expiry, so a row load with the status has the expiry too.
			if slices.Contains(q.SelectedFields(), invitation.FieldStatus) {
				withColumn(q.SelectedFields(), q.Select, invitation.FieldExpiresAt)
			}
			return g.confine(ctx, "Invitation", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Application.Intercept(
		intercept.TraverseApplication(func(ctx context.Context, q *ent.ApplicationQuery) error {
			withColumn(q.SelectedFields(), q.Select, application.FieldOrganizationID)
			return g.confine(ctx, "Application", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Sector.Intercept(
		intercept.TraverseSector(func(ctx context.Context, q *ent.SectorQuery) error {
			withColumn(q.SelectedFields(), q.Select, sector.FieldOrganizationID)
			return g.confine(ctx, "Sector", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.APIKey.Intercept(
		intercept.TraverseAPIKey(func(ctx context.Context, q *ent.APIKeyQuery) error {
			withColumn(q.SelectedFields(), q.Select, apikey.FieldOrganizationID)
			return g.confine(ctx, "APIKey", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.AuditEvent.Intercept(
		intercept.TraverseAuditEvent(func(ctx context.Context, q *ent.AuditEventQuery) error {
			withColumn(q.SelectedFields(), q.Select, auditevent.FieldOrganizationID)
			return g.confine(ctx, "AuditEvent", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Person.Intercept(
		intercept.TraversePerson(func(ctx context.Context, q *ent.PersonQuery) error {
			return g.confine(ctx, "Person", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Group.Intercept(
		intercept.TraverseGroup(func(ctx context.Context, q *ent.GroupQuery) error {
			return g.confine(ctx, "Group", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Handle.Intercept(
		intercept.TraverseHandle(func(ctx context.Context, q *ent.HandleQuery) error {
			return g.confine(ctx, "Handle", func(p func(*sql.Selector)) { q.Where(p) })
		}))
	client.Account.Intercept(
		intercept.TraverseAccount(func(ctx context.Context, q *ent.AccountQuery) error {
			return g.confine(ctx, "Account", func(p func(*sql.Selector)) { q.Where(p) })
		}))
}

// inScope renders the caller's scope for one read action on an org-id column
// of a selector (the list's own, or a filter's subquery).
type inScope func(s *sql.Selector, orgColumn string) *sql.Predicate

// readRule says which read action guards rows of a type and how a row is tied
// to the orgs that action's scope names.
type readRule struct {
	action string
	// where confines a selector; self is the caller's account when the
	// policy lists rows about the caller for this action (uuid.Nil otherwise).
	where func(s *sql.Selector, self uuid.UUID, in inScope, confined inScope)
}

// readRules holds one rule per type that carries org data. A type without a
// rule cannot be filtered over an edge (Readable fails closed).
var readRules = map[string]readRule{
	"Organization": {"organization.read", func(s *sql.Selector, _ uuid.UUID, in, _ inScope) {
		s.Where(sql.And(sql.IsNull(s.C(organization.FieldDeletedAt)), in(s, organization.FieldID)))
	}},
	// One's own memberships are listed even without members.read (within the
	// token's org context), but not those of soft-deleted orgs.
	"Membership": {"members.read", func(s *sql.Selector, self uuid.UUID, in, confined inScope) {
		membership.HasOrganizationWith(organization.DeletedAtIsNil())(s)
		s.Where(sql.Or(
			sql.And(sql.EQ(s.C(membership.FieldAccountID), self), confined(s, membership.FieldOrganizationID)),
			in(s, membership.FieldOrganizationID)))
	}},
	// An invitation is also readable by its invitee (within the token's org context).
	"Invitation": {"invitations.read", func(s *sql.Selector, self uuid.UUID, in, confined inScope) {
		s.Where(sql.Or(
			sql.And(sql.EQ(s.C(invitation.FieldInviteeID), self), confined(s, invitation.FieldOrganizationID)),
			in(s, invitation.FieldOrganizationID)))
	}},
	"Application": {"application.read", orgColumn(application.FieldOrganizationID)},
	"Sector":      {"sector.read", orgColumn(sector.FieldOrganizationID)},
	"APIKey":      {"apikey.read", orgColumn(apikey.FieldOrganizationID)},
	"AuditEvent":  {"audit.read", orgColumn(auditevent.FieldOrganizationID)},
	// Persons belong to pools: a person is readable through an org it is registered with.
	"Person": {"person.read", func(s *sql.Selector, _ uuid.UUID, in, _ inScope) {
		person.HasOrganizationsWith(func(o *sql.Selector) { o.Where(in(o, organization.FieldID)) })(s)
	}},
	// Groups belong to pools: a group is readable through an org using its pool.
	"Group": {"group.read", func(s *sql.Selector, _ uuid.UUID, in, _ inScope) {
		orgs := sql.Dialect(s.Dialect()).Select(organization.FieldGroupPoolID).From(sql.Table(organization.Table))
		orgs.Where(in(orgs, organization.FieldID))
		s.Where(sql.In(s.C(group.FieldPoolID), orgs))
	}},
	// A handle is readable only through an org it was used in (or added through).
	"Handle": {"person.read", func(s *sql.Selector, _ uuid.UUID, in, _ inScope) {
		handle.HasUsesWith(func(u *sql.Selector) { u.Where(in(u, handleuse.FieldOrganizationID)) })(s)
	}},
	// An account is visible to itself and to whoever may read members of an org it belongs to.
	"Account": {"members.read", func(s *sql.Selector, self uuid.UUID, in, _ inScope) {
		account.Or(account.ID(self), account.HasMembershipsWith(func(m *sql.Selector) {
			m.Where(in(m, membership.FieldOrganizationID))
		}))(s)
	}},
}

func orgColumn(column string) func(*sql.Selector, uuid.UUID, inScope, inScope) {
	return func(s *sql.Selector, _ uuid.UUID, in, _ inScope) { s.Where(in(s, column)) }
}

// confine applies the read rule of typ to a query made for a GraphQL request
// (the service's own queries and those outside a request are not filtered).
func (g *Gate) confine(ctx context.Context, typ string, where func(func(*sql.Selector))) error {
	if isSystem(ctx) || ctx.Value(requestKey{}) == nil {
		return nil
	}
	p, err := g.readable(ctx, typ)
	if err != nil {
		return err
	}
	where(p)
	return nil
}

// readable is the predicate confining rows of typ to what the caller may read.
func (g *Gate) readable(ctx context.Context, typ string) (func(*sql.Selector), error) {
	rule, ok := readRules[typ]
	if !ok {
		return nil, apperr.New(apperr.Forbidden, "%s has no read rule", typ)
	}
	scope, err := g.Scope(ctx, rule.action)
	if err != nil {
		return nil, err
	}
	sh, err := g.scopeShape(ctx, scope)
	if err != nil {
		return nil, err
	}
	in := func(s *sql.Selector, col string) *sql.Predicate { return scopePredicate(s, scope, sh, col) }
	tokenOnly := policy.Scope{All: true, Within: scope.Within}
	confined := func(s *sql.Selector, col string) *sql.Predicate { return scopePredicate(s, tokenOnly, sh, col) }
	self := uuid.Nil
	if scope.Self {
		self = selfID(ctx)
	}
	return func(s *sql.Selector) { rule.where(s, self, in, confined) }, nil
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

// underCeiling is "the org in column holds one of caps" (the org-role
// ceiling): on the org row itself when the selector reads organizations by
// id, through the org otherwise.
func underCeiling(s *sql.Selector, column string, caps []string) *sql.Predicate {
	if len(caps) == 0 {
		return sql.False()
	}
	if column == organization.FieldID && s.TableName() == organization.Table {
		return holdsCapability(s, s.C(organization.FieldCapabilities), caps)
	}
	// Correlated on the row's org (a primary-key probe), never a scan of all orgs.
	o := sql.Table(organization.Table).As("ceiling_org")
	return sql.Exists(sql.Dialect(s.Dialect()).Select(o.C(organization.FieldID)).From(o).
		Where(sql.And(sql.ColumnsEQ(o.C(organization.FieldID), s.C(column)),
			holdsCapability(s, o.C(organization.FieldCapabilities), caps))))
}

// holdsCapability is "the JSON array in col holds one of caps".
func holdsCapability(s *sql.Selector, col string, caps []string) *sql.Predicate {
	return sql.P(func(b *sql.Builder) {
		if s.Dialect() == dialect.Postgres {
			// jsonb's "?|" as a function (no placeholder-like character):
			// a test per row, where unnesting the array was a subplan per row
			b.WriteString("jsonb_exists_any(" + col + ", ARRAY[")
			for i, c := range caps {
				if i > 0 {
					b.Comma()
				}
				b.Arg(c)
			}
			b.WriteString("]::text[])")
			return
		} else {
			b.WriteString("EXISTS (SELECT 1 FROM json_each(" + col + ") AS cap WHERE cap.value IN (")
		}
		for i, c := range caps {
			if i > 0 {
				b.Comma()
			}
			b.Arg(c)
		}
		b.WriteString("))")
	})
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
	if scope.Ceiling != nil {
		preds = append(preds, underCeiling(s, column, scope.Ceiling))
	}
	switch len(preds) {
	case 0:
		return sql.P(func(b *sql.Builder) { b.WriteString("1 = 1") })
	case 1:
		// Not sql.And of one: ent renders that as its element without
		// telling it that it is nested, and a nested OR (subtree or single
		// grants) then loses its parentheses: "deleted_at IS NULL AND a OR b".
		return preds[0]
	}
	return sql.And(preds...)
}

package gate

import (
	"context"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/apperr"
)

// Readable implements @readable, which the schema puts on every
// has<Edge>With field of every where input: the subquery of a filter over an
// edge gets the same read rule as a list of that type, so a filter can match
// only rows the caller could read, and guessing at hidden data through
// filters answers exactly as if the data did not exist. It runs when the
// argument is decoded, for resolvers and for eager loading alike.
func (g *Gate) Readable(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	v, err := next(ctx)
	if err != nil || v == nil {
		return v, err
	}
	switch in := v.(type) {
	case []*ent.OrganizationWhereInput:
		return in, confineAll(ctx, g, "Organization", in)
	case []*ent.MembershipWhereInput:
		return in, confineAll(ctx, g, "Membership", in)
	case []*ent.InvitationWhereInput:
		return in, confineAll(ctx, g, "Invitation", in)
	case []*ent.ApplicationWhereInput:
		return in, confineAll(ctx, g, "Application", in)
	case []*ent.SectorWhereInput:
		return in, confineAll(ctx, g, "Sector", in)
	case []*ent.APIKeyWhereInput:
		return in, confineAll(ctx, g, "APIKey", in)
	case []*ent.AuditEventWhereInput:
		return in, confineAll(ctx, g, "AuditEvent", in)
	case []*ent.PersonWhereInput:
		return in, confineAll(ctx, g, "Person", in)
	case []*ent.GroupWhereInput:
		return in, confineAll(ctx, g, "Group", in)
	case []*ent.HandleWhereInput:
		return in, confineAll(ctx, g, "Handle", in)
	case []*ent.AccountWhereInput:
		return in, confineAll(ctx, g, "Account", in)
	}
	// Fail closed: an edge to a type nobody gave a read rule cannot be filtered on.
	return nil, apperr.New(apperr.BadUserInput, "filtering over this edge is not supported")
}

// ReadRule is the predicate confining rows of typ to what the caller may
// read, the one lists and filters get, for statements built outside ent's
// queries (graph/prefetch.go ranks and counts rows inside one statement).
func (g *Gate) ReadRule(ctx context.Context, typ string) (func(*sql.Selector), error) {
	return g.readable(ctx, typ)
}

// whereInput is what every generated where input has: extra predicates ANDed into its own.
type whereInput[P ~func(*sql.Selector)] interface{ AddPredicates(...P) }

func confineAll[P ~func(*sql.Selector), W whereInput[P]](ctx context.Context, g *Gate, typ string, list []W) error {
	p, err := g.readable(ctx, typ)
	if err != nil {
		return err
	}
	for _, w := range list {
		w.AddPredicates(P(p))
	}
	return nil
}

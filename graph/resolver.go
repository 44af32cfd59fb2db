// Package graph holds the GraphQL schema and its resolvers; resolvers stay one
// expression wide and call the service layer (writes) or ent (reads).
package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/graph/generated"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
)

// Resolver carries the dependencies of every resolver.
type Resolver struct {
	Client  *ent.Client
	Service *service.Service
	Gate    *gate.Gate
	Auth    *auth.Authenticator
	// NodeType resolves which table a node id lives in.
	NodeType NodeTypeFunc
	// TokenTTL is the lifetime of exchangeToken's tokens.
	TokenTTL time.Duration
}

// NewSchema builds the executable schema.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	cfg := generated.Config{Resolvers: r}
	if r.Gate != nil {
		cfg.Directives.Readable = r.Gate.Readable
	}
	return generated.NewExecutableSchema(cfg)
}

// nullable is a resolver's value for a nullable field (a count the policy may
// refuse: see internal/readaction).
func nullable[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// NodeTypeFunc finds the table of a node id.
type NodeTypeFunc func(ctx context.Context, id uuid.UUID) (string, error)

// MutationPath runs every Mutation field through the service's one write
// path (Service.Mutate): declared, decided, readable, or rolled back.
func (r *Resolver) MutationPath(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Mutation" {
		return next(ctx)
	}
	return r.Service.Mutate(ctx, fc.Field.Name, next)
}

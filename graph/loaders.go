package graph

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/registration"
	"github.com/orgraph/orgraph/internal/gate"
)

// Loaders batch per-org counts so a tree of N orgs costs one query per count kind.
type Loaders struct {
	Members      *dataloadgen.Loader[uuid.UUID, int]
	Applications *dataloadgen.Loader[uuid.UUID, int]
	Persons      *dataloadgen.Loader[uuid.UUID, int]
}

type loadersKey struct{}

// WithLoaders attaches fresh loaders to a request context.
func WithLoaders(ctx context.Context, client *ent.Client) context.Context {
	wait := dataloadgen.WithWait(time.Millisecond)
	l := &Loaders{
		Members: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([]int, []error) {
			return countBy(ctx, ids, func(ctx context.Context, v any) error {
				return client.Membership.Query().Where(membership.OrganizationIDIn(ids...)).
					GroupBy(membership.FieldOrganizationID).Aggregate(ent.Count()).Scan(ctx, v)
			})
		}, wait),
		Applications: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([]int, []error) {
			return countBy(ctx, ids, func(ctx context.Context, v any) error {
				return client.Application.Query().Where(application.OrganizationIDIn(ids...)).
					GroupBy(application.FieldOrganizationID).Aggregate(ent.Count()).Scan(ctx, v)
			})
		}, wait),
		Persons: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([]int, []error) {
			return personsCount(ctx, client, ids)
		}, wait),
	}
	return context.WithValue(ctx, loadersKey{}, l)
}

func loaders(ctx context.Context) *Loaders { return ctx.Value(loadersKey{}).(*Loaders) }

func countBy(ctx context.Context, ids []uuid.UUID, scan func(context.Context, any) error) ([]int, []error) {
	var rows []struct {
		OrganizationID uuid.UUID `json:"organization_id"`
		Count          int       `json:"count"`
	}
	if err := scan(gate.System(ctx), &rows); err != nil {
		return nil, []error{err}
	}
	byID := make(map[uuid.UUID]int, len(rows))
	for _, r := range rows {
		byID[r.OrganizationID] = r.Count
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// personsCount counts registrations per org.
func personsCount(ctx context.Context, client *ent.Client, ids []uuid.UUID) ([]int, []error) {
	return countBy(ctx, ids, func(ctx context.Context, v any) error {
		return client.Registration.Query().Where(registration.OrganizationIDIn(ids...)).
			GroupBy(registration.FieldOrganizationID).Aggregate(ent.Count()).Scan(ctx, v)
	})
}

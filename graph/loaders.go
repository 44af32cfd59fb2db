package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/registration"
	"github.com/orgraph/orgraph/internal/gate"
)

// WithLoaders attaches the per-request loaders.
func WithLoaders(ctx context.Context, _ *ent.Client) context.Context {
	ctx = withIdentityLoader(ctx)
	return withListLoader(ctx)
}

// countKey is the list loader's key of a per-org count.
func countKey(kind string) string { return "count:" + kind }

// count reads a per-org count of every row of kind (the field asking for it
// is decided by the policy), for the org's whole list at once.
func (r *Resolver) count(ctx context.Context, kind string, org *ent.Organization) (int, error) {
	return perList(ctx, countKey(kind), org.ID, func(ids []uuid.UUID) (map[uuid.UUID]int, error) {
		var rows []struct {
			OrganizationID uuid.UUID `json:"organization_id"`
			Count          int       `json:"count"`
		}
		sys := gate.System(ctx)
		var err error
		switch kind {
		case "members":
			err = r.Client.Membership.Query().Where(membership.OrganizationIDIn(ids...)).
				GroupBy(membership.FieldOrganizationID).Aggregate(ent.Count()).Scan(sys, &rows)
		case "applications":
			err = r.Client.Application.Query().Where(application.OrganizationIDIn(ids...)).
				GroupBy(application.FieldOrganizationID).Aggregate(ent.Count()).Scan(sys, &rows)
		default:
			err = r.Client.Registration.Query().Where(registration.OrganizationIDIn(ids...)).
				GroupBy(registration.FieldOrganizationID).Aggregate(ent.Count()).Scan(sys, &rows)
		}
		counts := make(map[uuid.UUID]int, len(rows))
		for _, row := range rows {
			counts[row.OrganizationID] = row.Count
		}
		return counts, err
	})
}

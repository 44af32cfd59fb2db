package graph

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/registration"
	"github.com/orgraph/orgraph/internal/gate"
)

// counter memoizes per-org counts for one request. An org's count is fetched
// together with its whole batch (the orgs one query loaded: a tree level), so a
// level costs one grouped query. Unlike a time-window dataloader, the number of
// statements does not depend on goroutine timing.
type counter struct {
	client *ent.Client
	mu     sync.Mutex
	counts map[string]map[uuid.UUID]int
}

type counterKey struct{}

// WithLoaders attaches a fresh per-request counter.
func WithLoaders(ctx context.Context, client *ent.Client) context.Context {
	ctx = withIdentityLoader(ctx)
	return context.WithValue(ctx, counterKey{}, &counter{client: client, counts: map[string]map[uuid.UUID]int{}})
}

func counterOf(ctx context.Context, client *ent.Client) *counter {
	if c, ok := ctx.Value(counterKey{}).(*counter); ok {
		return c
	}
	return &counter{client: client, counts: map[string]map[uuid.UUID]int{}}
}

// prefill records a count loaded with the org (graph/prefetch.go).
func (c *counter) prefill(kind string, org uuid.UUID, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts[kind] == nil {
		c.counts[kind] = map[uuid.UUID]int{}
	}
	c.counts[kind][org] = n
}

// count returns kind's count for org, loading the org's whole batch on a miss.
func (c *counter) count(ctx context.Context, kind string, org uuid.UUID) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byOrg := c.counts[kind]
	if byOrg == nil {
		byOrg = map[uuid.UUID]int{}
		c.counts[kind] = byOrg
	}
	if n, ok := byOrg[org]; ok {
		return n, nil
	}
	ids := []uuid.UUID{org}
	for _, id := range gate.Batch(ctx, org) {
		if _, ok := byOrg[id]; !ok && id != org {
			ids = append(ids, id)
		}
	}
	var rows []struct {
		OrganizationID uuid.UUID `json:"organization_id"`
		Count          int       `json:"count"`
	}
	sys := gate.System(ctx)
	var err error
	switch kind {
	case "members":
		err = c.client.Membership.Query().Where(membership.OrganizationIDIn(ids...)).
			GroupBy(membership.FieldOrganizationID).Aggregate(ent.Count()).Scan(sys, &rows)
	case "applications":
		err = c.client.Application.Query().Where(application.OrganizationIDIn(ids...)).
			GroupBy(application.FieldOrganizationID).Aggregate(ent.Count()).Scan(sys, &rows)
	default:
		err = c.client.Registration.Query().Where(registration.OrganizationIDIn(ids...)).
			GroupBy(registration.FieldOrganizationID).Aggregate(ent.Count()).Scan(sys, &rows)
	}
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		byOrg[id] = 0
	}
	for _, r := range rows {
		byOrg[r.OrganizationID] = r.Count
	}
	return byOrg[org], nil
}

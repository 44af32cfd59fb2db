package graph

import (
	"context"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgdomain"
	"github.com/orgraph/orgraph/ent/predicate"
	"github.com/orgraph/orgraph/graph/model"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
)

func (r *Resolver) node(ctx context.Context, id uuid.UUID) (ent.Noder, error) {
	n, err := r.Client.Noder(ctx, id, ent.WithNodeType(r.NodeType))
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "node not found")
	}
	return n, err
}

func (r *Resolver) viewer(ctx context.Context) (*ent.Account, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Account == nil {
		return nil, apperr.New(apperr.Unauthenticated, "viewer needs an account token")
	}
	return p.Account, nil
}

// organization finds an org by id or slug through the read filter, so another
// tenant's org is NOT_FOUND exactly like a missing one.
func (r *Resolver) organization(ctx context.Context, id *uuid.UUID, slug *string) (*ent.Organization, error) {
	var where predicate.Organization
	switch {
	case id != nil && slug == nil:
		where = organization.ID(*id)
	case slug != nil && id == nil:
		where = organization.Slug(*slug)
	default:
		return nil, apperr.New(apperr.BadUserInput, "give exactly one of id and slug")
	}
	if org, ok, err := r.prefetchOrganization(ctx, where); ok {
		if err == nil && org == nil {
			return nil, apperr.New(apperr.NotFound, "organization not found")
		}
		return org, err
	}
	q, err := r.Client.Organization.Query().Where(where).CollectFields(ctx)
	if err != nil {
		return nil, err
	}
	org, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "organization not found")
	}
	return org, err
}

// organizationByDomain resolves a domain through the org_domains index; the
// org is then read through the read filter like any other.
func (r *Resolver) organizationByDomain(ctx context.Context, domain string) (*ent.Organization, error) {
	d, err := service.NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	org, err := r.Client.Organization.Query().Where(func(s *sql.Selector) {
		t := sql.Table(orgdomain.Table)
		s.Where(sql.In(s.C(organization.FieldID),
			sql.Select(t.C(orgdomain.FieldOrganizationID)).From(t).Where(sql.EQ(t.C(orgdomain.FieldDomain), d))))
	}).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no organization holds domain %q", d)
	}
	return org, err
}

func (r *Resolver) viewerCan(ctx context.Context, org *ent.Organization, action string) (bool, error) {
	d, err := r.Gate.Can(ctx, action, org)
	return d.Allowed, err
}

// authorize explains a decision on any node the caller can see.
func (r *Resolver) authorize(ctx context.Context, action string, id uuid.UUID) (*model.Decision, error) {
	n, err := r.node(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := r.targetOf(ctx, n)
	if err != nil {
		return nil, err
	}
	d, err := r.Gate.Explain(ctx, r.Client, action, t)
	if err != nil {
		return nil, err
	}
	out := &model.Decision{Allowed: d.Allowed, Reasons: make([]*model.DecisionReason, len(d.Reasons))}
	for i, rs := range d.Reasons {
		out.Reasons[i] = &model.DecisionReason{Rule: rs.Rule, Permission: rs.Permission, Message: rs.Message}
	}
	return out, nil
}

// targetOf describes a node for the policy.
func (r *Resolver) targetOf(ctx context.Context, n ent.Noder) (gate.Target, error) {
	var orgID uuid.UUID
	t := gate.Target{}
	switch v := n.(type) {
	case *ent.Organization:
		t.Type, t.ID, t.Status, orgID = "organization", v.ID.String(), string(v.Status), v.ID
	case *ent.Application:
		t.Type, t.ID, t.Status, orgID = "application", v.ID.String(), string(v.Status), v.OrganizationID
	case *ent.Sector:
		t.Type, t.ID, t.Status, orgID = "sector", v.ID.String(), string(v.Status), v.OrganizationID
	case *ent.Membership:
		t.Type, t.ID, orgID = "membership", v.ID.String(), v.OrganizationID
	case *ent.Invitation:
		t.Type, t.ID, t.Status, orgID = "invitation", v.ID.String(), string(v.Status), v.OrganizationID
	case *ent.APIKey:
		t.Type, t.ID, orgID = "apikey", v.ID.String(), v.OrganizationID
	default:
		return t, apperr.New(apperr.BadUserInput, "authorize takes an organization, application, sector, membership, invitation or API key id")
	}
	org, err := r.Gate.Org(ctx, orgID)
	if err != nil {
		return t, err
	}
	t.Org = org
	return t, nil
}

func (r *Resolver) createOrganization(ctx context.Context, in model.CreateOrganizationInput) (*ent.Organization, error) {
	return r.Service.CreateOrganization(sys(ctx), service.CreateOrgInput{
		Name: in.Name, Slug: in.Slug, ParentID: in.ParentID, PersonsPoolOf: in.PersonsPoolOf,
		GroupsPoolOf: in.GroupsPoolOf, Capabilities: in.Capabilities, Domains: in.Domains, Settings: in.Settings,
	})
}

func (r *Resolver) updateOrganization(ctx context.Context, id uuid.UUID, in model.UpdateOrganizationInput) (*ent.Organization, error) {
	return r.Service.UpdateOrganization(sys(ctx), id, service.UpdateOrgInput{
		Name: in.Name, Slug: in.Slug, Capabilities: in.Capabilities, Domains: in.Domains, Settings: in.Settings,
	})
}

func (r *Resolver) exchangeToken(ctx context.Context, orgID uuid.UUID) (*model.Token, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Account == nil {
		return nil, apperr.New(apperr.Unauthenticated, "exchangeToken needs an account token")
	}
	// An org the caller may not read is NOT_FOUND, like a missing one.
	org, err := r.Gate.DecideIn(ctx, "organization.read", orgID)
	if err != nil {
		return nil, err
	}
	tok, exp, err := r.Auth.Issue(p.Account, &org.ID, r.TokenTTL)
	if err != nil {
		return nil, err
	}
	return &model.Token{Token: tok, ExpiresAt: exp, Organization: org}, nil
}

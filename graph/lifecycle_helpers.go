package graph

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/schema/types"
	"github.com/orgraph/orgraph/graph/model"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
)

// done turns an error-only service call into a Boolean mutation result.
func done(err error) (bool, error) { return err == nil, err }

// sys is the context a service call runs in: the service reads unfiltered and
// asks the gate itself.
func sys(ctx context.Context) context.Context { return gate.System(ctx) }

// invitationStatus is the status as the invitee sees it now: a pending
// invitation past its expiry is EXPIRED (the row follows on the next write).
func invitationStatus(inv *ent.Invitation) invitation.Status {
	if inv.Status == invitation.StatusPENDING && !time.Now().Before(inv.ExpiresAt) {
		return invitation.StatusEXPIRED
	}
	return inv.Status
}

func (r *Resolver) accountInvitations(ctx context.Context, acc *ent.Account, status *invitation.Status) ([]*ent.Invitation, error) {
	q := r.Client.Invitation.Query().Where(invitation.InviteeID(acc.ID)).Order(ent.Desc(invitation.FieldCreatedAt))
	now := time.Now()
	switch {
	case status == nil:
	case *status == invitation.StatusPENDING:
		q = q.Where(invitation.StatusEQ(invitation.StatusPENDING), invitation.ExpiresAtGT(now))
	case *status == invitation.StatusEXPIRED:
		q = q.Where(invitation.Or(invitation.StatusEQ(invitation.StatusEXPIRED),
			invitation.And(invitation.StatusEQ(invitation.StatusPENDING), invitation.ExpiresAtLTE(now))))
	default:
		q = q.Where(invitation.StatusEQ(*status))
	}
	return q.All(ctx)
}

// invitationOrgName reads the inviting org's name, which the invitee may see
// although the org itself is not readable to them yet.
func (r *Resolver) invitationOrgName(ctx context.Context, inv *ent.Invitation) (string, error) {
	org, err := r.Gate.Org(ctx, inv.OrganizationID)
	if err != nil {
		return "", err
	}
	return org.Name, nil
}

func (r *Resolver) leave(ctx context.Context, orgID uuid.UUID) (bool, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Account == nil || p.Account.Alias == nil {
		return false, apperr.New(apperr.Unauthenticated, "leaving needs an account token")
	}
	return done(r.Service.RemoveMember(sys(ctx), orgID, *p.Account.Alias))
}

func (r *Resolver) setLimits(ctx context.Context, id uuid.UUID, in model.OrgLimitsInput) (*ent.Organization, error) {
	v := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	return r.Service.SetOrganizationLimits(sys(ctx), id, types.OrgLimits{Applications: v(in.Applications), Sectors: v(in.Sectors), Suborgs: v(in.Suborgs)})
}

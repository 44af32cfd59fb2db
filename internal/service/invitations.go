package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
)

// Invitations: invite, accept, decline, revoke, expire.

// InviteMember invites an account, by alias, into an org with a role other than owner.
func (s *Service) InviteMember(ctx context.Context, orgID uuid.UUID, alias, role string) (*ent.Invitation, error) {
	if role == s.cfg.OwnerRole() {
		return nil, apperr.New(apperr.BadUserInput, "owner is never invitable: invite with another role, then promote")
	}
	if err := s.checkRole(role); err != nil {
		return nil, err
	}
	var inv *ent.Invitation
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writableOrg(ctx, tx, orgID, "members.invite")
		if err != nil {
			return err
		}
		invitee, err := tx.Account.Query().Where(account.Alias(alias), account.DeletedAtIsNil()).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "no account with alias %q", alias)
		}
		if err != nil {
			return err
		}
		member, err := tx.Membership.Query().Where(membership.AccountID(invitee.ID), membership.OrganizationID(org.ID)).Exist(ctx)
		if err != nil {
			return err
		}
		if member {
			return apperr.New(apperr.Conflict, "%s is already a member of %q", alias, org.Slug)
		}
		now := s.now()
		// A pending invitation past its expiry is expired, not a duplicate.
		if _, err := tx.Invitation.Update().Where(invitation.OrganizationID(org.ID), invitation.InviteeID(invitee.ID),
			invitation.StatusEQ(invitation.StatusPENDING), invitation.ExpiresAtLTE(now)).
			SetStatus(invitation.StatusEXPIRED).Save(ctx); err != nil {
			return err
		}
		pending, err := tx.Invitation.Query().Where(invitation.OrganizationID(org.ID), invitation.InviteeID(invitee.ID),
			invitation.StatusEQ(invitation.StatusPENDING)).Exist(ctx)
		if err != nil {
			return err
		}
		if pending {
			return apperr.New(apperr.Conflict, "%s already has a pending invitation to %q", alias, org.Slug)
		}
		inv, err = tx.Invitation.Create().SetOrganizationID(org.ID).SetInviteeID(invitee.ID).SetAlias(alias).
			SetRole(role).SetNillableInvitedBy(callerID(ctx)).SetExpiresAt(now.Add(s.cfg.InvitationTTL)).Save(ctx)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, "members.invited", &org.ID, "invitation", inv.ID.String(), nil,
			map[string]any{"alias": alias, "role": role, "expiresAt": inv.ExpiresAt})
	})
	if err != nil {
		return nil, err
	}
	return inv.Unwrap(), nil
}

// invitationForInvitee loads an invitation addressed to the caller; anyone
// else's is reported as not found.
func (s *Service) invitationForInvitee(ctx context.Context, tx *ent.Tx, id uuid.UUID) (*ent.Invitation, error) {
	acc, err := accountOf(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := tx.Invitation.Query().Where(invitation.ID(id), invitation.InviteeID(acc.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, gate.NotFound(Target{Type: "invitation", ID: id.String(), Named: true})
	}
	return inv, err
}

// respond moves a pending invitation of the caller to a final status.
func (s *Service) respond(ctx context.Context, id uuid.UUID, accept bool) (*ent.Invitation, *ent.Membership, error) {
	var (
		inv *ent.Invitation
		m   *ent.Membership
	)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		if inv, err = s.invitationForInvitee(ctx, tx, id); err != nil {
			return err
		}
		org, err := s.lockOrg(ctx, tx, inv.OrganizationID)
		if err != nil {
			return err
		}
		// The invitation's org is the one a response is decided in: the
		// invitee has no role there yet, so the policy's self rule decides,
		// within the token's org context, never in a retired org.
		if err := s.authorize(ctx, tx, "invitations.respond", Target{Type: "invitation", ID: inv.ID.String(),
			Org: org, Status: string(inv.Status), Account: &inv.InviteeID}); err != nil {
			return err
		}
		if inv.Status != invitation.StatusPENDING {
			return apperr.New(apperr.FailedPrecondition, "invitation is %s, not PENDING", inv.Status)
		}
		now := s.now()
		if !now.Before(inv.ExpiresAt) {
			// A failed response changes nothing; the sweeper records the expiry.
			return apperr.New(apperr.FailedPrecondition, "invitation expired at %s", inv.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
		}
		if accept {
			exists, err := tx.Membership.Query().Where(membership.AccountID(inv.InviteeID), membership.OrganizationID(org.ID)).Exist(ctx)
			if err != nil {
				return err
			}
			if exists {
				return apperr.New(apperr.Conflict, "already a member of %q", org.Slug)
			}
			if m, err = tx.Membership.Create().SetAccountID(inv.InviteeID).SetOrganizationID(org.ID).SetRole(inv.Role).Save(ctx); err != nil {
				return err
			}
		}
		status, action := invitation.StatusDECLINED, "invitation.declined"
		if accept {
			status, action = invitation.StatusACCEPTED, "invitation.accepted"
		}
		if inv, err = tx.Invitation.UpdateOne(inv).SetStatus(status).SetRespondedAt(now).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, action, &org.ID, "invitation", inv.ID.String(), nil, map[string]any{"alias": inv.Alias, "role": inv.Role})
	})
	if err != nil {
		return nil, nil, err
	}
	if m != nil {
		m = m.Unwrap()
	}
	return inv.Unwrap(), m, nil
}

// AcceptInvitation makes the invited caller a member with the invited role.
func (s *Service) AcceptInvitation(ctx context.Context, id uuid.UUID) (*ent.Membership, error) {
	_, m, err := s.respond(ctx, id, true)
	return m, err
}

// DeclineInvitation declines an invitation addressed to the caller.
func (s *Service) DeclineInvitation(ctx context.Context, id uuid.UUID) (*ent.Invitation, error) {
	inv, _, err := s.respond(ctx, id, false)
	return inv, err
}

// RevokeInvitation withdraws a pending invitation.
func (s *Service) RevokeInvitation(ctx context.Context, id uuid.UUID) (*ent.Invitation, error) {
	var inv *ent.Invitation
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var err error
		inv, err = tx.Invitation.Get(ctx, id)
		if ent.IsNotFound(err) {
			return gate.NotFound(Target{Type: "invitation", ID: id.String(), Named: true})
		}
		if err != nil {
			return err
		}
		org, err := s.writable(ctx, tx, inv.OrganizationID, "invitations.revoke", Target{Type: "invitation", ID: inv.ID.String(), Status: string(inv.Status), Named: true})
		if err != nil {
			return err
		}
		if inv.Status != invitation.StatusPENDING {
			return apperr.New(apperr.FailedPrecondition, "invitation is %s, not PENDING", inv.Status)
		}
		if inv, err = tx.Invitation.UpdateOne(inv).SetStatus(invitation.StatusREVOKED).SetRespondedAt(s.now()).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "invitation.revoked", &org.ID, "invitation", inv.ID.String(), nil, map[string]any{"alias": inv.Alias})
	})
	if err != nil {
		return nil, err
	}
	return inv.Unwrap(), nil
}

// ExpireInvitations marks pending invitations past their expiry as EXPIRED,
// each with its invitation.expired event, in batches of at most limit. The
// server runs it periodically so stored statuses (and filters on them) match
// what reads already show.
func (s *Service) ExpireInvitations(ctx context.Context, limit int) (int, error) {
	ctx = auth.WithPrincipal(ctx, &auth.Principal{}) // audited as "system"
	n := 0
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		due, err := tx.Invitation.Query().Where(invitation.StatusEQ(invitation.StatusPENDING),
			invitation.ExpiresAtLTE(s.now())).Limit(limit).All(ctx)
		if err != nil {
			return err
		}
		for _, inv := range due {
			if err := tx.Invitation.UpdateOne(inv).SetStatus(invitation.StatusEXPIRED).Exec(ctx); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "invitation.expired", &inv.OrganizationID, "invitation", inv.ID.String(),
				map[string]any{"status": string(invitation.StatusPENDING)}, map[string]any{"status": string(invitation.StatusEXPIRED)}); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

// SweepInvitations expires due invitations every interval until ctx ends.
func (s *Service) SweepInvitations(ctx context.Context, interval time.Duration, log func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for {
				n, err := s.ExpireInvitations(ctx, 500)
				if err != nil && ctx.Err() == nil {
					log(err)
				}
				if err != nil || n < 500 {
					break
				}
			}
		}
	}
}

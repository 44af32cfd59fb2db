package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/orgdomain"
	"github.com/orgraph/orgraph/ent/schema/types"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/ent/slugreservation"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
)

const ownerRole = "owner"

func orgTarget(org *ent.Organization) Target {
	return Target{Type: "organization", ID: org.ID.String(), Org: org, Status: string(org.Status)}
}

// checkRole validates a role name against the policy data.
func (s *Service) checkRole(role string) error {
	if known := s.cfg.Roles(); !slices.Contains(known, role) {
		return apperr.New(apperr.BadUserInput, "unknown role %q (known: %s)", role, strings.Join(known, ", "))
	}
	return nil
}

// InviteMember invites an account, by alias, into an org with a role other than owner.
func (s *Service) InviteMember(ctx context.Context, orgID uuid.UUID, alias, role string) (*ent.Invitation, error) {
	if role == ownerRole {
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
		return nil, apperr.New(apperr.NotFound, "invitation %s not found", id)
	}
	return inv, err
}

// respond moves a pending invitation of the caller to a final status.
func (s *Service) respond(ctx context.Context, id uuid.UUID, accept bool) (*ent.Invitation, *ent.Membership, error) {
	var (
		inv     *ent.Invitation
		m       *ent.Membership
		expired bool
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
		if inv.Status != invitation.StatusPENDING {
			return apperr.New(apperr.FailedPrecondition, "invitation is %s, not PENDING", inv.Status)
		}
		now := s.now()
		if !now.Before(inv.ExpiresAt) {
			// Record the expiry and report it; the status change is committed.
			expired = true
			inv, err = tx.Invitation.UpdateOne(inv).SetStatus(invitation.StatusEXPIRED).Save(ctx)
			return err
		}
		if accept {
			if err := frozen(org); err != nil {
				return err
			}
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
	if expired {
		return nil, nil, apperr.New(apperr.FailedPrecondition, "invitation expired at %s", inv.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
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
			return apperr.New(apperr.NotFound, "invitation %s not found", id)
		}
		if err != nil {
			return err
		}
		org, err := s.writable(ctx, tx, inv.OrganizationID, "invitations.revoke", Target{Type: "invitation", ID: inv.ID.String(), Status: string(inv.Status)})
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

// memberOf finds the membership of alias in org.
func memberOf(ctx context.Context, tx *ent.Tx, org *ent.Organization, alias string) (*ent.Membership, error) {
	m, err := tx.Membership.Query().Where(membership.OrganizationID(org.ID),
		membership.HasAccountWith(account.Alias(alias))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "%s is not a member of %q", alias, org.Slug)
	}
	return m, err
}

// keepAnOwner fails when m is the org's last owner. The org row is locked by
// the caller, so concurrent demotions and removals are serialized here.
func keepAnOwner(ctx context.Context, tx *ent.Tx, org *ent.Organization, m *ent.Membership) error {
	if m.Role != ownerRole {
		return nil
	}
	owners, err := tx.Membership.Query().Where(membership.OrganizationID(org.ID), membership.Role(ownerRole)).Count(ctx)
	if err != nil {
		return err
	}
	if owners <= 1 {
		return apperr.New(apperr.FailedPrecondition, "%q would have no owner left: promote another member to owner first", org.Slug)
	}
	return nil
}

// ChangeMemberRole sets a member's role; promoting to owner transfers ownership.
func (s *Service) ChangeMemberRole(ctx context.Context, orgID uuid.UUID, alias, role string) (*ent.Membership, error) {
	if err := s.checkRole(role); err != nil {
		return nil, err
	}
	var m *ent.Membership
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writableOrg(ctx, tx, orgID, "members.change_role")
		if err != nil {
			return err
		}
		if m, err = memberOf(ctx, tx, org, alias); err != nil {
			return err
		}
		before := m.Role
		if before == role {
			return nil
		}
		if role != ownerRole {
			if err := keepAnOwner(ctx, tx, org, m); err != nil {
				return err
			}
		}
		if m, err = tx.Membership.UpdateOne(m).SetRole(role).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "members.role_changed", &org.ID, "membership", m.ID.String(),
			map[string]any{"alias": alias, "role": before}, map[string]any{"alias": alias, "role": role})
	})
	if err != nil {
		return nil, err
	}
	return m.Unwrap(), nil
}

// RemoveMember removes alias from the org; removing oneself is leaving.
func (s *Service) RemoveMember(ctx context.Context, orgID uuid.UUID, alias string) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		action, event := "members.remove", "members.removed"
		if acc, _ := accountOf(ctx); acc != nil && acc.Alias != nil && *acc.Alias == alias {
			action, event = "members.leave", "members.left"
		}
		org, err := s.writableOrg(ctx, tx, orgID, action)
		if err != nil {
			return err
		}
		m, err := memberOf(ctx, tx, org, alias)
		if err != nil {
			return err
		}
		if err := keepAnOwner(ctx, tx, org, m); err != nil {
			return err
		}
		if err := tx.Membership.DeleteOne(m).Exec(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, event, &org.ID, "membership", m.ID.String(), map[string]any{"alias": alias, "role": m.Role}, nil)
	})
}

// RetireOrganization retires an org whose applications, sectors and suborgs are all retired.
func (s *Service) RetireOrganization(ctx context.Context, id uuid.UUID) (*ent.Organization, error) {
	return s.setOrgStatus(ctx, id, organization.StatusRETIRED)
}

// ReenableOrganization lifts the freeze of a retired org.
func (s *Service) ReenableOrganization(ctx context.Context, id uuid.UUID) (*ent.Organization, error) {
	return s.setOrgStatus(ctx, id, organization.StatusACTIVE)
}

func (s *Service) setOrgStatus(ctx context.Context, id uuid.UUID, status organization.Status) (*ent.Organization, error) {
	var out *ent.Organization
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, id)
		if err != nil {
			return err
		}
		action, event := "organization.retire", "organization.retired"
		if status == organization.StatusACTIVE {
			action, event = "organization.reenable", "organization.reenabled"
		}
		if err := s.authorize(ctx, tx, action, orgTarget(org)); err != nil {
			return err
		}
		if org.Status == status {
			return apperr.New(apperr.FailedPrecondition, "organization %q is already %s", org.Slug, status)
		}
		if status == organization.StatusRETIRED {
			if err := s.nothingLive(ctx, tx, org); err != nil {
				return err
			}
		} else if org.ParentID != nil {
			parent, err := tx.Organization.Get(ctx, *org.ParentID)
			if err != nil {
				return err
			}
			if parent.Status == organization.StatusRETIRED {
				return apperr.New(apperr.FailedPrecondition, "parent organization %q is retired: re-enable it first", parent.Slug)
			}
		}
		if out, err = tx.Organization.UpdateOne(org).SetStatus(status).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, event, &org.ID, "organization", org.ID.String(),
			map[string]any{"status": string(org.Status)}, map[string]any{"status": string(status)})
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// nothingLive enforces the retire order: applications, then sectors, then suborgs.
func (s *Service) nothingLive(ctx context.Context, tx *ent.Tx, org *ent.Organization) error {
	var live []string
	apps, err := tx.Application.Query().Where(application.OrganizationID(org.ID), application.StatusEQ(application.StatusACTIVE)).Count(ctx)
	if err != nil {
		return err
	}
	if apps > 0 {
		live = append(live, fmt.Sprintf("%d application(s)", apps))
	}
	sectors, err := tx.Sector.Query().Where(sector.OrganizationID(org.ID), sector.StatusEQ(sector.StatusACTIVE)).Count(ctx)
	if err != nil {
		return err
	}
	if sectors > 0 {
		live = append(live, fmt.Sprintf("%d sector(s)", sectors))
	}
	subs, err := tx.Organization.Query().Where(organization.ParentID(org.ID), organization.DeletedAtIsNil(),
		organization.StatusEQ(organization.StatusACTIVE)).Count(ctx)
	if err != nil {
		return err
	}
	if subs > 0 {
		live = append(live, fmt.Sprintf("%d suborganization(s)", subs))
	}
	if len(live) > 0 {
		return apperr.New(apperr.FailedPrecondition, "organization %q still has live %s: retire them first", org.Slug, strings.Join(live, ", "))
	}
	return nil
}

// RetireSector retires a sector whose applications are all retired.
func (s *Service) RetireSector(ctx context.Context, id uuid.UUID) (*ent.Sector, error) {
	return s.setSectorStatus(ctx, id, sector.StatusRETIRED)
}

// ReenableSector puts a retired sector back in service.
func (s *Service) ReenableSector(ctx context.Context, id uuid.UUID) (*ent.Sector, error) {
	return s.setSectorStatus(ctx, id, sector.StatusACTIVE)
}

func (s *Service) setSectorStatus(ctx context.Context, id uuid.UUID, status sector.Status) (*ent.Sector, error) {
	var out *ent.Sector
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		sec, err := tx.Sector.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "sector %s not found", id)
		}
		if err != nil {
			return err
		}
		action, event := "sector.retire", "sector.retired"
		if status == sector.StatusACTIVE {
			action, event = "sector.reenable", "sector.reenabled"
		}
		org, err := s.writable(ctx, tx, sec.OrganizationID, action, Target{Type: "sector", ID: sec.ID.String(), Status: string(sec.Status)})
		if err != nil {
			return err
		}
		if sec.Status == status {
			return apperr.New(apperr.FailedPrecondition, "sector %q is already %s", sec.Name, status)
		}
		if status == sector.StatusRETIRED {
			live, err := tx.Application.Query().Where(application.SectorID(sec.ID), application.StatusEQ(application.StatusACTIVE)).Count(ctx)
			if err != nil {
				return err
			}
			if live > 0 {
				return apperr.New(apperr.FailedPrecondition, "sector %q still has %d live application(s): retire them first", sec.Name, live)
			}
		}
		if out, err = tx.Sector.UpdateOne(sec).SetStatus(status).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, event, &org.ID, "sector", sec.ID.String(),
			map[string]any{"status": string(sec.Status)}, map[string]any{"status": string(status)})
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// RetireApplication retires an application: every new login to it fails.
func (s *Service) RetireApplication(ctx context.Context, id uuid.UUID) (*ent.Application, error) {
	return s.setApplicationStatus(ctx, id, application.StatusRETIRED)
}

// ReenableApplication puts a retired application back in service.
func (s *Service) ReenableApplication(ctx context.Context, id uuid.UUID) (*ent.Application, error) {
	return s.setApplicationStatus(ctx, id, application.StatusACTIVE)
}

func (s *Service) setApplicationStatus(ctx context.Context, id uuid.UUID, status application.Status) (*ent.Application, error) {
	var out *ent.Application
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		app, err := tx.Application.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "application %s not found", id)
		}
		if err != nil {
			return err
		}
		action, event := "application.retire", "application.retired"
		if status == application.StatusACTIVE {
			action, event = "application.reenable", "application.reenabled"
		}
		org, err := s.writable(ctx, tx, app.OrganizationID, action, Target{Type: "application", ID: app.ID.String(), Status: string(app.Status)})
		if err != nil {
			return err
		}
		if app.Status == status {
			return apperr.New(apperr.FailedPrecondition, "application %q is already %s", app.Name, status)
		}
		if status == application.StatusACTIVE {
			sec, err := tx.Sector.Get(ctx, app.SectorID)
			if err != nil {
				return err
			}
			if sec.Status == sector.StatusRETIRED {
				return apperr.New(apperr.FailedPrecondition, "sector %q is retired: re-enable it first", sec.Name)
			}
		}
		if out, err = tx.Application.UpdateOne(app).SetStatus(status).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, event, &org.ID, "application", app.ID.String(),
			map[string]any{"status": string(app.Status)}, map[string]any{"status": string(status)})
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// SetOrganizationLimits overrides an org's limits (platform admins, by policy).
func (s *Service) SetOrganizationLimits(ctx context.Context, id uuid.UUID, limits types.OrgLimits) (*ent.Organization, error) {
	if limits.Applications < 0 || limits.Sectors < 0 || limits.Suborgs < 0 {
		return nil, apperr.New(apperr.BadUserInput, "limits cannot be negative (0 means the configured default)")
	}
	var out *ent.Organization
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "organization.set_limits", orgTarget(org)); err != nil {
			return err
		}
		if out, err = tx.Organization.UpdateOne(org).SetLimits(limits).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "organization.limits_changed", &org.ID, "organization", org.ID.String(),
			map[string]any{"limits": org.Limits}, map[string]any{"limits": limits})
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// DeleteOrganization soft-deletes an org and its subtree (platform admins, by
// policy); their slugs and domains become free again. Rows stay in the database.
func (s *Service) DeleteOrganization(ctx context.Context, id uuid.UUID) error {
	return s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "organization.delete", orgTarget(org)); err != nil {
			return err
		}
		var ids []uuid.UUID
		if err := tx.OrgClosure.Query().Where(orgclosure.AncestorID(org.ID)).
			Select(orgclosure.FieldDescendantID).Scan(ctx, &ids); err != nil {
			return err
		}
		if _, err := tx.Organization.Update().Where(organization.IDIn(ids...), organization.DeletedAtIsNil()).
			SetDeletedAt(s.now()).Save(ctx); err != nil {
			return err
		}
		// The closure is an index, not data: without its rows no subtree grant
		// reaches the deleted orgs, so their members, applications and the
		// rest vanish from every filtered read along with them.
		if _, err := tx.OrgClosure.Delete().Where(orgclosure.DescendantIDIn(ids...)).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.SlugReservation.Delete().Where(slugreservation.OrganizationIDIn(ids...)).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.OrgDomain.Delete().Where(orgdomain.OrganizationIDIn(ids...)).Exec(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "organization.deleted", &org.ID, "organization", org.ID.String(),
			map[string]any{"slug": org.Slug}, map[string]any{"deletedOrganizations": len(ids)})
	})
}

// DeleteAccount erases the caller's account. It is refused while the account
// is the sole owner of an org holding a live resource (an enabled application
// or an active sector); a co-owned org never blocks it.
func (s *Service) DeleteAccount(ctx context.Context) error {
	acc, err := accountOf(ctx)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *ent.Tx) error {
		owned, err := tx.Membership.Query().Where(membership.AccountID(acc.ID), membership.Role(ownerRole)).All(ctx)
		if err != nil {
			return err
		}
		var blocking []string
		for _, m := range owned {
			org, err := s.lockOrg(ctx, tx, m.OrganizationID)
			if apperr.CodeOf(err) == apperr.NotFound {
				continue // soft-deleted
			}
			if err != nil {
				return err
			}
			owners, err := tx.Membership.Query().Where(membership.OrganizationID(org.ID), membership.Role(ownerRole)).Count(ctx)
			if err != nil {
				return err
			}
			if owners > 1 {
				continue
			}
			liveApps, err := tx.Application.Query().Where(application.OrganizationID(org.ID), application.StatusEQ(application.StatusACTIVE)).Exist(ctx)
			if err != nil {
				return err
			}
			liveSectors, err := tx.Sector.Query().Where(sector.OrganizationID(org.ID), sector.StatusEQ(sector.StatusACTIVE)).Exist(ctx)
			if err != nil {
				return err
			}
			if liveApps || liveSectors {
				blocking = append(blocking, org.Slug)
			}
		}
		if len(blocking) > 0 {
			return apperr.New(apperr.FailedPrecondition, "you are the sole owner of %s, which still hold live applications or sectors: retire them or add another owner first", strings.Join(blocking, ", "))
		}
		alias := ""
		if acc.Alias != nil {
			alias = *acc.Alias
		}
		if _, err := tx.Membership.Delete().Where(membership.AccountID(acc.ID)).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.Invitation.Update().Where(invitation.InviteeID(acc.ID), invitation.StatusEQ(invitation.StatusPENDING)).
			SetStatus(invitation.StatusREVOKED).SetRespondedAt(s.now()).Save(ctx); err != nil {
			return err
		}
		// Erasure: personal fields go, the alias is freed, the row stays for the audit trail.
		if err := tx.Account.UpdateOneID(acc.ID).ClearAlias().SetDisplayName("").SetDeletedAt(s.now()).Exec(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "account.deleted", nil, "account", acc.ID.String(), map[string]any{"alias": alias}, nil)
	})
}

// callerID is the calling account's id, if an account is calling.
func callerID(ctx context.Context) *uuid.UUID {
	if acc, err := accountOf(ctx); err == nil {
		return &acc.ID
	}
	return nil
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

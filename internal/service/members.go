package service

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/internal/apperr"
)

// Members: roles, the last-owner rule, removal.

// checkRole validates a role name against the policy data.
func (s *Service) checkRole(role string) error {
	if known := s.cfg.Roles(); !slices.Contains(known, role) {
		return apperr.New(apperr.BadUserInput, "unknown role %q (known: %s)", role, strings.Join(known, ", "))
	}
	return nil
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
func (s *Service) keepAnOwner(ctx context.Context, tx *ent.Tx, org *ent.Organization, m *ent.Membership) error {
	if m.Role != s.cfg.OwnerRole() {
		return nil
	}
	owners, err := tx.Membership.Query().Where(membership.OrganizationID(org.ID), membership.Role(s.cfg.OwnerRole())).Count(ctx)
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
		if role != s.cfg.OwnerRole() {
			if err := s.keepAnOwner(ctx, tx, org, m); err != nil {
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
		if err := s.keepAnOwner(ctx, tx, org, m); err != nil {
			return err
		}
		if err := tx.Membership.DeleteOne(m).Exec(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, event, &org.ID, "membership", m.ID.String(), map[string]any{"alias": alias, "role": m.Role}, nil)
	})
}

// callerID is the calling account's id, if an account is calling.
func callerID(ctx context.Context) *uuid.UUID {
	if acc, err := accountOf(ctx); err == nil {
		return &acc.ID
	}
	return nil
}

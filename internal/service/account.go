package service

import (
	"context"
	"regexp"
	"strings"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/schema"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/internal/apperr"
)

var aliasRE = regexp.MustCompile(schema.AliasPattern)

// CreateAccount registers an account (operators do this from the CLI).
func (s *Service) CreateAccount(ctx context.Context, alias, displayName string, platformAdmin bool) (*ent.Account, error) {
	if !aliasRE.MatchString(alias) {
		return nil, apperr.New(apperr.BadUserInput, "alias %q must match [a-z0-9][a-z0-9._-]{2,39}", alias)
	}
	var acc *ent.Account
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		taken, err := tx.Account.Query().Where(account.Alias(alias)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return apperr.New(apperr.Conflict, "alias %q is taken", alias)
		}
		acc, err = tx.Account.Create().SetAlias(alias).SetDisplayName(displayName).SetPlatformAdmin(platformAdmin).Save(ctx)
		return mapConstraint(err, "alias %q is taken", alias)
	})
	if err != nil {
		return nil, err
	}
	return acc.Unwrap(), nil
}

// AccountByAlias finds a live account.
func (s *Service) AccountByAlias(ctx context.Context, alias string) (*ent.Account, error) {
	acc, err := s.client.Account.Query().Where(account.Alias(alias), account.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no account with alias %q", alias)
	}
	return acc, err
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

package service

import (
	"context"
	"regexp"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/schema"
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

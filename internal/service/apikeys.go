package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
)

// Delegator is implemented by a gate that can tell whether the caller may hand
// out a role: whether the caller holds, on t.Org, every permission role would
// grant there. The policy decides both sides; no role is compared here.
type Delegator interface {
	CheckDelegation(ctx context.Context, tx *ent.Client, role string, t Target) error
}

// CreateAPIKey creates a machine credential of org with role (never owner). It
// returns the key itself, which is shown only this once: only its hash is stored.
func (s *Service) CreateAPIKey(ctx context.Context, orgID uuid.UUID, name, role string, expiresAt *time.Time) (*ent.APIKey, string, error) {
	n, err := cleanName(name)
	if err != nil {
		return nil, "", err
	}
	role = strings.TrimSpace(role)
	if role == s.cfg.OwnerRole() {
		return nil, "", apperr.New(apperr.BadUserInput, "an API key cannot have the owner role")
	}
	if s.cfg.Roles != nil && !slices.Contains(s.cfg.Roles(), role) {
		return nil, "", apperr.New(apperr.BadUserInput, "unknown role %q", role)
	}
	if expiresAt != nil && !expiresAt.After(s.now()) {
		return nil, "", apperr.New(apperr.BadUserInput, "expiresAt must be in the future")
	}
	var (
		k   *ent.APIKey
		key string
	)
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "apikey.create", orgTarget(org)); err != nil {
			return err
		}
		if d, ok := s.gate.(Delegator); ok {
			if err := d.CheckDelegation(ctx, tx.Client(), role, orgTarget(org)); err != nil {
				return err
			}
		}
		if err := frozen(org); err != nil {
			return err
		}
		var prefix string
		if key, prefix, err = auth.NewAPIKey(); err != nil {
			return err
		}
		create := tx.APIKey.Create().SetOrganizationID(org.ID).SetName(n).SetRole(role).
			SetPrefix(prefix).SetHash(auth.HashAPIKey(key))
		if expiresAt != nil {
			create.SetExpiresAt(expiresAt.UTC())
		}
		if k, err = create.Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "apikey.created", &org.ID, "apikey", k.ID.String(), nil, apiKeySnapshot(k))
	})
	if err != nil {
		return nil, "", err
	}
	return k.Unwrap(), key, nil
}

func apiKeySnapshot(k *ent.APIKey) map[string]any {
	m := map[string]any{"name": k.Name, "role": k.Role, "prefix": k.Prefix}
	if k.ExpiresAt != nil {
		m["expiresAt"] = k.ExpiresAt.Format(time.RFC3339)
	}
	if k.RevokedAt != nil {
		m["revokedAt"] = k.RevokedAt.Format(time.RFC3339)
	}
	return m
}

// RevokeAPIKey stops a key at once (the next request with it is HTTP 401).
// Revoking a revoked key changes nothing.
func (s *Service) RevokeAPIKey(ctx context.Context, id uuid.UUID) (*ent.APIKey, error) {
	var k *ent.APIKey
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		before, err := tx.APIKey.Get(ctx, id)
		if ent.IsNotFound(err) {
			return gate.NotFound(Target{Type: "apikey", ID: id.String(), Named: true})
		}
		if err != nil {
			return err
		}
		org, err := s.lockOrg(ctx, tx, before.OrganizationID)
		if err != nil {
			return gate.NotFound(Target{Type: "apikey", ID: id.String(), Named: true})
		}
		if err := s.authorize(ctx, tx, "apikey.revoke", Target{Type: "apikey", ID: id.String(), Org: org, Named: true}); err != nil {
			return err
		}
		if err := frozen(org); err != nil {
			return err
		}
		k = before
		if before.RevokedAt == nil {
			if k, err = tx.APIKey.UpdateOne(before).SetRevokedAt(s.now()).Save(ctx); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, "apikey.revoked", &org.ID, "apikey", id.String(), apiKeySnapshot(before), apiKeySnapshot(k))
	})
	if err != nil {
		return nil, err
	}
	return k.Unwrap(), nil
}

package service

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/predicate"
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

// DeleteAccount erases the caller's account: its memberships go, its pending
// invitations are revoked, its personal fields are cleared.
//
// Orgs left without an owner. An org's owners are the direct owners of the
// nearest org on its chain (itself, then its ancestors) that has any: the rule
// of keepAnOwner and of the gate's sole-owner facts. Deleting the account
// removes its owner memberships, so an org in a subtree it owns directly is
// orphaned when no org on its chain keeps an owner: a suborg inheriting its
// ownership from an orphan is an orphan too; one with a direct owner of its
// own (and whatever inherits from it), or under an ancestor with another
// owner, is not. In the same transaction:
//   - the deletion is refused while the account is the sole owner of an org
//     holding a live resource (an enabled application or an active sector),
//     and while an orphan would hold one: nobody could retire it any more;
//     a co-owned org never blocks;
//   - every ACTIVE orphan is RETIRED, deepest first, each with an
//     organization.retired event (after.reason "owner account deleted"), so
//     every ACTIVE org keeps an owner. A suborg with an owner of its own stays
//     ACTIVE under its retired parent: the retire order binds an owner
//     retiring an org, the freeze applies to an org's own status only, and
//     that suborg's owner keeps running it.
//
// A platform admin recovers an orphan with reenableOrganization, then
// inviteMember, acceptInvitation (by the invitee) and changeMemberRole to owner.
func (s *Service) DeleteAccount(ctx context.Context) error {
	acc, err := accountOf(ctx)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *ent.Tx) error {
		if err := s.authorizeAccountDeletion(ctx, tx, acc.ID); err != nil {
			return err
		}
		region, err := s.lockOwnedSubtrees(ctx, tx, acc.ID)
		if err != nil {
			return err
		}
		if err := region.refuseLive(ctx, tx); err != nil {
			return err
		}
		alias := ""
		if acc.Alias != nil {
			alias = *acc.Alias
		}
		if _, err := tx.Membership.Delete().Where(membership.AccountID(acc.ID)).Exec(ctx); err != nil {
			return err
		}
		for _, org := range region.orphans {
			if org.Status != organization.StatusACTIVE {
				continue
			}
			if err := tx.Organization.UpdateOne(org).SetStatus(organization.StatusRETIRED).Exec(ctx); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "organization.retired", &org.ID, "organization", org.ID.String(),
				map[string]any{"status": string(org.Status)},
				map[string]any{"status": string(organization.StatusRETIRED), "reason": "owner account deleted"}); err != nil {
				return err
			}
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

// ownedSubtrees is what deleting an account does to the orgs it owns directly.
type ownedSubtrees struct {
	// soleOwned are the orgs the account is the only direct owner of.
	soleOwned []*ent.Organization
	// orphans are the orgs left with no owner on their chain, deepest first.
	orphans []*ent.Organization
	// region is every org looked at: the owned orgs, their descendants and ancestors.
	region predicate.Organization
}

// lockOwnedSubtrees locks (on PostgreSQL, in id order) the live orgs the
// account owns directly, their descendants and their ancestors, i.e. every org
// whose owners decide which orgs the deletion orphans, so a concurrent change
// of those owners (which locks the org it changes) waits for this transaction
// or is seen by it.
func (s *Service) lockOwnedSubtrees(ctx context.Context, tx *ent.Tx, accountID uuid.UUID) (*ownedSubtrees, error) {
	var ownedIDs []uuid.UUID
	if err := tx.Membership.Query().Where(membership.AccountID(accountID), membership.Role(s.cfg.OwnerRole())).
		Select(membership.FieldOrganizationID).Scan(ctx, &ownedIDs); err != nil {
		return nil, err
	}
	out := &ownedSubtrees{}
	if len(ownedIDs) == 0 {
		return out, nil
	}
	owned, err := tx.Organization.Query().Where(organization.IDIn(ownedIDs...), organization.DeletedAtIsNil()).All(ctx)
	if err != nil {
		return nil, err
	}
	ownedSet := map[uuid.UUID]bool{}
	var ancestors []uuid.UUID
	for _, o := range owned {
		ownedSet[o.ID] = true
		ancestors = append(ancestors, o.Ancestry...)
	}
	out.region = organization.And(organization.DeletedAtIsNil(), organization.Or(
		organization.IDIn(ancestors...),
		organization.HasAncestorLinksWith(orgclosure.AncestorIDIn(slices.Collect(maps.Keys(ownedSet))...)),
	))
	q := tx.Organization.Query().Where(out.region).Order(ent.Asc(organization.FieldID))
	if s.dialect == dialect.Postgres {
		q = q.ForUpdate()
	}
	region, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	// The orgs of the region that keep a direct owner once the account is gone.
	var kept []uuid.UUID
	if err := tx.Membership.Query().Where(membership.Role(s.cfg.OwnerRole()), membership.AccountIDNEQ(accountID),
		membership.HasOrganizationWith(out.region)).Select(membership.FieldOrganizationID).Scan(ctx, &kept); err != nil {
		return nil, err
	}
	keptSet := map[uuid.UUID]bool{}
	for _, id := range kept {
		keptSet[id] = true
	}
	for _, o := range region {
		if ownedSet[o.ID] && !keptSet[o.ID] {
			out.soleOwned = append(out.soleOwned, o)
		}
		chain := append(slices.Clone(o.Ancestry), o.ID)
		if slices.ContainsFunc(chain, func(id uuid.UUID) bool { return ownedSet[id] }) &&
			!slices.ContainsFunc(chain, func(id uuid.UUID) bool { return keptSet[id] }) {
			out.orphans = append(out.orphans, o)
		}
	}
	slices.SortStableFunc(out.orphans, func(a, b *ent.Organization) int { return b.Depth - a.Depth })
	return out, nil
}

// refuseLive fails when an org the account owns alone, or an org it would
// orphan, holds an enabled application or an active sector.
func (o *ownedSubtrees) refuseLive(ctx context.Context, tx *ent.Tx) error {
	if len(o.soleOwned) == 0 && len(o.orphans) == 0 {
		return nil
	}
	var live []uuid.UUID
	if err := tx.Application.Query().Where(application.StatusEQ(application.StatusACTIVE),
		application.HasOrganizationWith(o.region)).Unique(true).Select(application.FieldOrganizationID).Scan(ctx, &live); err != nil {
		return err
	}
	var liveSectors []uuid.UUID
	if err := tx.Sector.Query().Where(sector.StatusEQ(sector.StatusACTIVE),
		sector.HasOrganizationWith(o.region)).Unique(true).Select(sector.FieldOrganizationID).Scan(ctx, &liveSectors); err != nil {
		return err
	}
	live = append(live, liveSectors...)
	holds := map[uuid.UUID]bool{}
	for _, id := range live {
		holds[id] = true
	}
	var blocking []string
	for _, org := range slices.Concat(o.soleOwned, o.orphans) {
		if holds[org.ID] {
			blocking = append(blocking, org.Slug)
		}
	}
	if len(blocking) > 0 {
		slices.Sort(blocking)
		blocking = slices.Compact(blocking) // a sole-owned org is often an orphan too
		return apperr.New(apperr.FailedPrecondition, "you are the sole owner of %s, which still hold live applications or sectors: retire them or add another owner first", strings.Join(blocking, ", "))
	}
	return nil
}

// authorizeAccountDeletion asks account.delete on every org the account
// belongs to (a token confined to one subtree cannot delete an account that
// reaches beyond it), or on no org when it belongs to none.
func (s *Service) authorizeAccountDeletion(ctx context.Context, tx *ent.Tx, id uuid.UUID) error {
	orgs, err := tx.Organization.Query().Where(organization.DeletedAtIsNil(),
		organization.HasMembersWith(membership.AccountID(id))).Order(ent.Asc(organization.FieldID)).All(ctx)
	if err != nil {
		return err
	}
	t := Target{Type: "account", ID: id.String(), Account: &id}
	if len(orgs) == 0 {
		return s.authorize(ctx, tx, "account.delete", t)
	}
	for _, org := range orgs {
		t.Org = org
		if err := s.authorize(ctx, tx, "account.delete", t); err != nil {
			return err
		}
	}
	return nil
}

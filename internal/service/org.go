package service

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/gosimple/slug"
	"golang.org/x/net/idna"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/orgdomain"
	"github.com/orgraph/orgraph/ent/schema"
	"github.com/orgraph/orgraph/ent/schema/types"
	"github.com/orgraph/orgraph/ent/slugreservation"
	"github.com/orgraph/orgraph/internal/apperr"
)

var slugRE = regexp.MustCompile(schema.SlugPattern)

// CreateOrgInput is createOrganization's input.
type CreateOrgInput struct {
	Name          string
	Slug          *string
	ParentID      *uuid.UUID
	PersonsPoolOf *uuid.UUID
	GroupsPoolOf  *uuid.UUID
	Capabilities  []string // nil: inherit the parent's (or all, for a root)
	Domains       []string
	Settings      map[string]any
}

// UpdateOrgInput is updateOrganization's input; nil fields stay as they are.
type UpdateOrgInput struct {
	Name         *string
	Slug         *string
	Capabilities []string
	Domains      []string
	Settings     map[string]any
}

// CreateOrganization creates a root org (the caller becomes its owner) or a suborg.
func (s *Service) CreateOrganization(ctx context.Context, in CreateOrgInput) (*ent.Organization, error) {
	acc, err := accountOrNilForSuborg(ctx, in.ParentID)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 {
		return nil, apperr.New(apperr.BadUserInput, "name must be 1 to 200 characters")
	}
	domains, err := normalizeDomains(in.Domains)
	if err != nil {
		return nil, err
	}
	if err := s.checkSettings(in.Settings); err != nil {
		return nil, err
	}
	var created *ent.Organization
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		var parent *ent.Organization
		caps := s.cfg.Capabilities()
		limits := types.OrgLimits{}
		tenant := name
		ancestry := []uuid.UUID{}
		depth := 0
		if in.ParentID != nil {
			if parent, err = s.lockOrg(ctx, tx, *in.ParentID); err != nil {
				return err
			}
			if err := s.authorize(ctx, tx, "organization.create_suborg", Target{Type: "organization", ID: parent.ID.String(), Org: parent, Status: string(parent.Status)}); err != nil {
				return err
			}
			if err := frozen(parent); err != nil {
				return err
			}
			n, err := tx.Organization.Query().Where(organization.ParentID(parent.ID), organization.DeletedAtIsNil()).Count(ctx)
			if err != nil {
				return err
			}
			if max := limitOr(parent.Limits.Suborgs, s.cfg.Limits.Suborgs); max > 0 && n >= max {
				return apperr.New(apperr.LimitExceeded, "organization %q has reached its limit of %d suborgs", parent.Slug, max)
			}
			caps, limits, tenant, depth = parent.Capabilities, parent.Limits, parent.Tenant, parent.Depth+1
			ancestry = append(slices.Clone(parent.Ancestry), parent.ID)
		} else if err := s.authorize(ctx, tx, "organization.create", Target{Type: "organization", Account: &acc.ID}); err != nil {
			// A root org belongs to no org yet: the policy decides it as the
			// account's own act, which a token confined to an org may not do.
			return err
		} else if max := s.cfg.Limits.OrgsOwned; max > 0 {
			n, err := tx.Membership.Query().Where(membership.AccountID(acc.ID), membership.Role(s.cfg.OwnerRole())).Count(ctx)
			if err != nil {
				return err
			}
			if n >= max {
				return apperr.New(apperr.LimitExceeded, "account already owns %d organizations, the limit", max)
			}
		}
		if in.Capabilities != nil {
			if err := s.checkCapabilities(in.Capabilities, caps, parent != nil); err != nil {
				return err
			}
			caps = dedupe(in.Capabilities)
		}
		personPool, err := s.pool(ctx, tx, in.PersonsPoolOf, ancestry, parent, true)
		if err != nil {
			return err
		}
		groupPool, err := s.pool(ctx, tx, in.GroupsPoolOf, ancestry, parent, false)
		if err != nil {
			return err
		}
		sl, err := s.chooseSlug(ctx, tx, in.Slug, name)
		if err != nil {
			return err
		}
		settings := in.Settings
		if settings == nil {
			settings = map[string]any{}
		}
		created, err = tx.Organization.Create().
			SetName(name).SetSlug(sl).SetTenant(tenant).SetNillableParentID(in.ParentID).
			SetDepth(depth).SetAncestry(ancestry).SetCapabilities(caps).SetDomains(domains).
			SetSettings(settings).SetLimits(limits).
			SetPersonPoolID(personPool).SetGroupPoolID(groupPool).
			Save(ctx)
		if err != nil {
			return mapConstraint(err, "slug %q is taken", sl)
		}
		if err := s.linkClosure(ctx, tx, created, ancestry); err != nil {
			return err
		}
		if err := reserveSlug(ctx, tx, created.ID, sl); err != nil {
			return err
		}
		if err := adoptDomains(ctx, tx, created.ID, domains); err != nil {
			return err
		}
		if parent == nil {
			if err := tx.Membership.Create().SetAccountID(acc.ID).SetOrganizationID(created.ID).SetRole(s.cfg.OwnerRole()).Exec(ctx); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, "organization.created", &created.ID, "organization", created.ID.String(), nil, orgSnapshot(created))
	})
	if err != nil {
		return nil, err
	}
	return created.Unwrap(), nil
}

// accountOrNilForSuborg: a root org needs a signed-in account (it becomes the owner);
// a suborg may also be created by an API key with the right role.
func accountOrNilForSuborg(ctx context.Context, parent *uuid.UUID) (*ent.Account, error) {
	acc, err := accountOf(ctx)
	if err != nil && parent == nil {
		return nil, err
	}
	return acc, nil
}

// linkClosure inserts one closure row per ancestor and one for the org itself.
func (s *Service) linkClosure(ctx context.Context, tx *ent.Tx, org *ent.Organization, ancestry []uuid.UUID) error {
	rows := make([]*ent.OrgClosureCreate, 0, len(ancestry)+1)
	for i, a := range ancestry {
		rows = append(rows, tx.OrgClosure.Create().SetAncestorID(a).SetDescendantID(org.ID).SetDepth(len(ancestry)-i))
	}
	rows = append(rows, tx.OrgClosure.Create().SetAncestorID(org.ID).SetDescendantID(org.ID).SetDepth(0))
	return tx.OrgClosure.CreateBulk(rows...).Exec(ctx)
}

// pool returns the pool to use: a fresh one, or the one of another org of the same tree.
func (s *Service) pool(ctx context.Context, tx *ent.Tx, of *uuid.UUID, ancestry []uuid.UUID, parent *ent.Organization, persons bool) (uuid.UUID, error) {
	if of == nil {
		if persons {
			p, err := tx.PersonPool.Create().Save(ctx)
			if err != nil {
				return uuid.Nil, err
			}
			return p.ID, nil
		}
		p, err := tx.GroupPool.Create().Save(ctx)
		if err != nil {
			return uuid.Nil, err
		}
		return p.ID, nil
	}
	what := "groupsPoolOf"
	if persons {
		what = "personsPoolOf"
	}
	if parent == nil {
		return uuid.Nil, apperr.New(apperr.BadUserInput, "%s needs a parentId: a root org starts a tree of its own", what)
	}
	src, err := tx.Organization.Query().Where(organization.ID(*of), organization.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return uuid.Nil, apperr.New(apperr.NotFound, "%s: organization %s not found", what, of)
	}
	if err != nil {
		return uuid.Nil, err
	}
	root := parent.ID
	if len(ancestry) > 0 {
		root = ancestry[0]
	}
	srcRoot := src.ID
	if len(src.Ancestry) > 0 {
		srcRoot = src.Ancestry[0]
	}
	if srcRoot != root {
		// Reported like a missing org: another tenant's org must not be confirmed.
		return uuid.Nil, apperr.New(apperr.NotFound, "%s: organization %s not found", what, of)
	}
	if err := s.authorize(ctx, tx, "organization.update", Target{Type: "organization", ID: src.ID.String(), Org: src, Status: string(src.Status)}); err != nil {
		return uuid.Nil, err
	}
	if persons {
		return src.PersonPoolID, nil
	}
	return src.GroupPoolID, nil
}

func (s *Service) chooseSlug(ctx context.Context, tx *ent.Tx, given *string, name string) (string, error) {
	if given != nil {
		if !slugRE.MatchString(*given) {
			return "", apperr.New(apperr.BadUserInput, "slug %q must match [a-z0-9-]{1,100}", *given)
		}
		taken, err := slugTaken(ctx, tx, *given)
		if err != nil {
			return "", err
		}
		if taken {
			return "", apperr.New(apperr.Conflict, "slug %q is taken", *given)
		}
		return *given, nil
	}
	base := deriveSlug(name)
	candidate := base
	for i := 0; i < 20; i++ {
		taken, err := slugTaken(ctx, tx, candidate)
		if err != nil {
			return "", err
		}
		if !taken {
			return candidate, nil
		}
		candidate = fmt.Sprintf("%s-%s", base, uuid.NewString()[:6])
	}
	return "", apperr.New(apperr.Conflict, "could not derive a free slug from %q", name)
}

// deriveSlug makes the slug of a name: transliterated, lowercased, runs of
// anything but letters and digits as one '-', at most 90 bytes (room for a
// suffix), "org" when nothing is left. It always matches schema.SlugPattern.
func deriveSlug(name string) string {
	// slug.Make keeps '_', which a slug may not hold.
	base := strings.Trim(multiDash.ReplaceAllString(strings.ReplaceAll(slug.Make(name), "_", "-"), "-"), "-")
	if len(base) > 90 {
		base = strings.Trim(base[:90], "-")
	}
	if base == "" {
		base = "org"
	}
	return base
}

var multiDash = regexp.MustCompile(`-{2,}`)

// slugTaken: a slug is taken while any live org holds or once held it.
func slugTaken(ctx context.Context, tx *ent.Tx, slug string) (bool, error) {
	return tx.SlugReservation.Query().Where(slugreservation.Slug(slug)).Exist(ctx)
}

// reserveSlug records that org holds slug.
func reserveSlug(ctx context.Context, tx *ent.Tx, org uuid.UUID, slug string) error {
	err := tx.SlugReservation.Create().SetSlug(slug).SetOrganizationID(org).Exec(ctx)
	return mapConstraint(err, "slug %q is taken", slug)
}

// adoptDomains makes org the holder of exactly domains.
func adoptDomains(ctx context.Context, tx *ent.Tx, org uuid.UUID, domains []string) error {
	if _, err := tx.OrgDomain.Delete().Where(orgdomain.OrganizationID(org)).Exec(ctx); err != nil {
		return err
	}
	for _, d := range domains {
		held, err := tx.OrgDomain.Query().Where(orgdomain.Domain(d)).Exist(ctx)
		if err != nil {
			return err
		}
		if held {
			return apperr.New(apperr.Conflict, "domain %q is held by another organization", d)
		}
		if err := tx.OrgDomain.Create().SetDomain(d).SetOrganizationID(org).Exec(ctx); err != nil {
			return mapConstraint(err, "domain %q is held by another organization", d)
		}
	}
	return nil
}

func (s *Service) checkCapabilities(want, ceiling []string, isSuborg bool) error {
	for _, c := range want {
		if known := s.cfg.Capabilities(); !slices.Contains(known, c) {
			return apperr.New(apperr.BadUserInput, "unknown capability %q (known: %s)", c, strings.Join(known, ", "))
		}
		if isSuborg && !slices.Contains(ceiling, c) {
			return apperr.New(apperr.BadUserInput, "capability %q exceeds the parent organization's capabilities", c)
		}
	}
	return nil
}

func (s *Service) checkSettings(settings map[string]any) error {
	if settings == nil {
		return nil
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return apperr.New(apperr.BadUserInput, "settings are not valid JSON")
	}
	if len(b) > s.cfg.MaxSettingsLen {
		return apperr.New(apperr.BadUserInput, "settings are %d bytes, more than the limit of %d", len(b), s.cfg.MaxSettingsLen)
	}
	return nil
}

// UpdateOrganization changes name, slug, capabilities, domains or settings.
func (s *Service) UpdateOrganization(ctx context.Context, id uuid.UUID, in UpdateOrgInput) (*ent.Organization, error) {
	domains, err := normalizeDomains(in.Domains)
	if err != nil {
		return nil, err
	}
	if err := s.checkSettings(in.Settings); err != nil {
		return nil, err
	}
	var updated *ent.Organization
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, id)
		if err != nil {
			return err
		}
		target := Target{Type: "organization", ID: org.ID.String(), Org: org, Status: string(org.Status)}
		if err := s.authorize(ctx, tx, "organization.update", target); err != nil {
			return err
		}
		if err := frozen(org); err != nil {
			return err
		}
		upd := tx.Organization.UpdateOneID(org.ID)
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			if name == "" || len(name) > 200 {
				return apperr.New(apperr.BadUserInput, "name must be 1 to 200 characters")
			}
			upd.SetName(name)
			if org.ParentID == nil && name != org.Name {
				// The tenant is the root's name, shared by the whole tree.
				if _, err := tx.Organization.Update().Where(organization.HasAncestorLinksWith(orgclosure.AncestorID(org.ID))).
					SetTenant(name).Save(ctx); err != nil {
					return err
				}
				upd.SetTenant(name)
			}
		}
		if in.Slug != nil && *in.Slug != org.Slug {
			if err := s.authorize(ctx, tx, "organization.change_slug", target); err != nil {
				return err
			}
			sl, err := s.chooseSlug(ctx, tx, in.Slug, "")
			if err != nil {
				return err
			}
			if err := reserveSlug(ctx, tx, org.ID, sl); err != nil {
				return err
			}
			upd.SetSlug(sl)
		}
		if in.Capabilities != nil {
			ceiling := s.cfg.Capabilities()
			if org.ParentID != nil {
				p, err := tx.Organization.Get(ctx, *org.ParentID)
				if err != nil {
					return err
				}
				ceiling = p.Capabilities
			}
			if err := s.checkCapabilities(in.Capabilities, ceiling, org.ParentID != nil); err != nil {
				return err
			}
			caps := dedupe(in.Capabilities)
			upd.SetCapabilities(caps)
			if err := narrowDescendants(ctx, tx, org.ID, caps); err != nil {
				return err
			}
		}
		if in.Domains != nil {
			if err := adoptDomains(ctx, tx, org.ID, domains); err != nil {
				return err
			}
			upd.SetDomains(domains)
		}
		if in.Settings != nil {
			upd.SetSettings(in.Settings)
		}
		updated, err = upd.Save(ctx)
		if err != nil {
			return mapConstraint(err, "slug is taken")
		}
		return s.audit(ctx, tx, "organization.updated", &org.ID, "organization", org.ID.String(), orgSnapshot(org), orgSnapshot(updated))
	})
	if err != nil {
		return nil, err
	}
	return updated.Unwrap(), nil
}

// narrowDescendants keeps every suborg within its ancestors' capabilities
// after an org's capabilities shrink: a child never exceeds its parent.
func narrowDescendants(ctx context.Context, tx *ent.Tx, orgID uuid.UUID, caps []string) error {
	below, err := tx.Organization.Query().Where(
		organization.HasAncestorLinksWith(orgclosure.AncestorID(orgID), orgclosure.DepthGT(0))).
		Select(organization.FieldID, organization.FieldCapabilities).All(ctx)
	if err != nil {
		return err
	}
	for _, d := range below {
		kept := slices.DeleteFunc(slices.Clone(d.Capabilities), func(c string) bool { return !slices.Contains(caps, c) })
		if len(kept) == len(d.Capabilities) {
			continue
		}
		if err := tx.Organization.UpdateOneID(d.ID).SetCapabilities(kept).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func orgSnapshot(o *ent.Organization) map[string]any {
	return map[string]any{
		"name": o.Name, "slug": o.Slug, "status": string(o.Status),
		"capabilities": o.Capabilities, "domains": o.Domains, "settings": o.Settings,
	}
}

func normalizeDomains(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, d := range in {
		n, err := NormalizeDomain(d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// NormalizeDomain lowercases and IDNA-encodes an email domain.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil || ascii == "" || !strings.Contains(ascii, ".") {
		return "", apperr.New(apperr.BadUserInput, "domain %q is not a valid domain name", d)
	}
	return ascii, nil
}

func dedupe(in []string) []string {
	out := []string{}
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func mapConstraint(err error, format string, args ...any) error {
	if ent.IsConstraintError(err) {
		return apperr.New(apperr.Conflict, format, args...)
	}
	return err
}

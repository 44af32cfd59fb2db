package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/orgdomain"
	"github.com/orgraph/orgraph/ent/schema/types"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/ent/slugreservation"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
)

// Status: retire and re-enable orgs, sectors and applications; limits; soft delete.

func orgTarget(org *ent.Organization) Target {
	return Target{Type: "organization", ID: org.ID.String(), Org: org, Status: string(org.Status)}
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
		live = append(live, fmt.Sprintf("%d live application(s)", apps))
	}
	sectors, err := tx.Sector.Query().Where(sector.OrganizationID(org.ID), sector.StatusEQ(sector.StatusACTIVE)).Count(ctx)
	if err != nil {
		return err
	}
	if sectors > 0 {
		live = append(live, fmt.Sprintf("%d live sector(s)", sectors))
	}
	subs, err := tx.Organization.Query().Where(organization.ParentID(org.ID), organization.DeletedAtIsNil(),
		organization.StatusEQ(organization.StatusACTIVE)).Count(ctx)
	if err != nil {
		return err
	}
	if subs > 0 {
		live = append(live, fmt.Sprintf("%d live suborganization(s)", subs))
	}
	if len(live) > 0 {
		return apperr.New(apperr.FailedPrecondition, "organization %q still has %s: retire them first", org.Slug, strings.Join(live, ", "))
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
			return gate.NotFound(Target{Type: "sector", ID: id.String(), Named: true})
		}
		if err != nil {
			return err
		}
		action, event := "sector.retire", "sector.retired"
		if status == sector.StatusACTIVE {
			action, event = "sector.reenable", "sector.reenabled"
		}
		org, err := s.writable(ctx, tx, sec.OrganizationID, action, Target{Type: "sector", ID: sec.ID.String(), Status: string(sec.Status), Named: true})
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
			return gate.NotFound(Target{Type: "application", ID: id.String(), Named: true})
		}
		if err != nil {
			return err
		}
		action, event := "application.retire", "application.retired"
		if status == application.StatusACTIVE {
			action, event = "application.reenable", "application.reenabled"
		}
		org, err := s.writable(ctx, tx, app.OrganizationID, action, Target{Type: "application", ID: app.ID.String(), Status: string(app.Status), Named: true})
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

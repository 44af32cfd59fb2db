package service

import (
	"context"
	"slices"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/group"
	"github.com/orgraph/orgraph/ent/groupmembership"
	"github.com/orgraph/orgraph/ent/grouppool"
	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/ent/handleuse"
	"github.com/orgraph/orgraph/ent/person"
	"github.com/orgraph/orgraph/ent/personpool"
	"github.com/orgraph/orgraph/ent/predicate"
	"github.com/orgraph/orgraph/ent/registration"
	"github.com/orgraph/orgraph/internal/apperr"
)

// normHandle is a validated, canonical handle.
type normHandle struct {
	Type  handle.Type
	Value string
}

func (h normHandle) String() string { return string(h.Type) + ":" + h.Value }

func normalizeHandles(in []HandleInput) ([]normHandle, error) {
	out := make([]normHandle, 0, len(in))
	for _, h := range in {
		v, err := NormalizeHandle(h)
		if err != nil {
			return nil, err
		}
		n := normHandle{h.Type, v}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func cleanGroupName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > 200 {
		return "", apperr.New(apperr.BadUserInput, "group name must be 1 to 200 characters")
	}
	return n, nil
}

// lockPersonPool serializes person writes of orgs sharing a pool (PostgreSQL;
// SQLite's immediate transactions already serialize writers), so two orgs
// registering the same new handle at once end up with one person.
func (s *Service) lockPersonPool(ctx context.Context, tx *ent.Tx, id uuid.UUID) error {
	if s.dialect != dialect.Postgres {
		return nil
	}
	_, err := tx.PersonPool.Query().Where(personpool.ID(id)).ForUpdate().Only(ctx)
	return err
}

func (s *Service) lockGroupPool(ctx context.Context, tx *ent.Tx, id uuid.UUID) error {
	if s.dialect != dialect.Postgres {
		return nil
	}
	_, err := tx.GroupPool.Query().Where(grouppool.ID(id)).ForUpdate().Only(ctx)
	return err
}

// registeredPerson returns a person registered with org, or NOT_FOUND.
func registeredPerson(ctx context.Context, tx *ent.Tx, org *ent.Organization, id uuid.UUID) (*ent.Person, error) {
	p, err := tx.Person.Query().Where(person.ID(id), person.PoolID(org.PersonPoolID),
		person.HasRegistrationsWith(registration.OrganizationID(org.ID))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "person %s not found in organization %q", id, org.Slug)
	}
	return p, err
}

// poolGroup returns the group called name in org's group pool, or NOT_FOUND.
func poolGroup(ctx context.Context, tx *ent.Tx, org *ent.Organization, name string) (*ent.Group, error) {
	g, err := tx.Group.Query().Where(group.PoolID(org.GroupPoolID), group.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "group %q not found in the group pool of organization %q", name, org.Slug)
	}
	return g, err
}

// useHandles makes handles visible to org (idempotent).
func useHandles(ctx context.Context, tx *ent.Tx, org uuid.UUID, handles []*ent.Handle) error {
	ids := make([]uuid.UUID, len(handles))
	for i, h := range handles {
		ids[i] = h.ID
	}
	used, err := tx.HandleUse.Query().Where(handleuse.OrganizationID(org), handleuse.HandleIDIn(ids...)).All(ctx)
	if err != nil {
		return err
	}
	var rows []*ent.HandleUseCreate
	for _, id := range ids {
		if !slices.ContainsFunc(used, func(u *ent.HandleUse) bool { return u.HandleID == id }) {
			rows = append(rows, tx.HandleUse.Create().SetHandleID(id).SetOrganizationID(org))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.HandleUse.CreateBulk(rows...).Exec(ctx)
}

// register registers person p with org (idempotent); it reports whether it was new.
func register(ctx context.Context, tx *ent.Tx, org, p uuid.UUID) (bool, error) {
	exists, err := tx.Registration.Query().Where(registration.OrganizationID(org), registration.PersonID(p)).Exist(ctx)
	if err != nil || exists {
		return false, err
	}
	return true, tx.Registration.Create().SetOrganizationID(org).SetPersonID(p).Exec(ctx)
}

// addToGroups adds p to groups in org (idempotent).
func addToGroups(ctx context.Context, tx *ent.Tx, org, p uuid.UUID, groups []*ent.Group) error {
	for _, g := range groups {
		exists, err := tx.GroupMembership.Query().Where(groupmembership.GroupID(g.ID),
			groupmembership.PersonID(p), groupmembership.OrganizationID(org)).Exist(ctx)
		if err != nil {
			return err
		}
		if !exists {
			if err := tx.GroupMembership.Create().SetGroupID(g.ID).SetPersonID(p).SetOrganizationID(org).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreatePerson creates a person in org's pool with handles, or, when a handle
// already belongs to a person of the pool, registers that same person with
// org. Handles not yet in the pool are added to the person; every given handle
// becomes visible to org. groups (names in org's group pool) are joined in org.
func (s *Service) CreatePerson(ctx context.Context, orgID uuid.UUID, handles []HandleInput, groups []string) (*ent.Person, error) {
	norm, err := normalizeHandles(handles)
	if err != nil {
		return nil, err
	}
	if len(norm) == 0 {
		return nil, apperr.New(apperr.BadUserInput, "a person needs at least one handle")
	}
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		n, err := cleanGroupName(g)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var p *ent.Person
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "person.create", orgTarget(org)); err != nil {
			return err
		}
		if len(names) > 0 {
			if err := s.authorize(ctx, tx, "group.update", orgTarget(org)); err != nil {
				return err
			}
		}
		if err := frozen(org); err != nil {
			return err
		}
		if err := s.lockPersonPool(ctx, tx, org.PersonPoolID); err != nil {
			return err
		}
		match := make([]predicate.Handle, len(norm))
		for i, h := range norm {
			match[i] = handle.And(handle.TypeEQ(h.Type), handle.Value(h.Value))
		}
		existing, err := tx.Handle.Query().Where(handle.PoolID(org.PersonPoolID), handle.Or(match...)).All(ctx)
		if err != nil {
			return err
		}
		var owner *uuid.UUID
		for _, h := range existing {
			if owner != nil && *owner != h.PersonID {
				return apperr.New(apperr.Conflict, "the handles belong to different persons of the pool")
			}
			owner = &h.PersonID
		}
		created := owner == nil
		if created {
			if p, err = tx.Person.Create().SetPoolID(org.PersonPoolID).Save(ctx); err != nil {
				return err
			}
		} else if p, err = tx.Person.Get(ctx, *owner); err != nil {
			return err
		}
		all := slices.Clone(existing)
		for _, h := range norm {
			if slices.ContainsFunc(existing, func(e *ent.Handle) bool { return e.Type == h.Type && e.Value == h.Value }) {
				continue
			}
			nh, err := tx.Handle.Create().SetPoolID(org.PersonPoolID).SetPersonID(p.ID).SetType(h.Type).SetValue(h.Value).Save(ctx)
			if err != nil {
				return mapConstraint(err, "handle %s already exists in the pool", h)
			}
			all = append(all, nh)
		}
		if err := useHandles(ctx, tx, org.ID, all); err != nil {
			return err
		}
		newlyRegistered, err := register(ctx, tx, org.ID, p.ID)
		if err != nil {
			return err
		}
		joined := make([]*ent.Group, 0, len(names))
		for _, n := range names {
			g, err := poolGroup(ctx, tx, org, n)
			if err != nil {
				return err
			}
			joined = append(joined, g)
		}
		if err := addToGroups(ctx, tx, org.ID, p.ID, joined); err != nil {
			return err
		}
		action := "person.created"
		if !created {
			action = "person.registered"
		}
		hs := make([]string, len(norm))
		for i, h := range norm {
			hs[i] = h.String()
		}
		return s.audit(ctx, tx, action, &org.ID, "person", p.ID.String(), nil, map[string]any{
			"handles": hs, "groups": names, "active": p.Active, "newlyRegistered": newlyRegistered,
		})
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// AddPersonHandle adds a handle to a person registered with org, through org
// (so org sees it). A handle of another person of the pool is a CONFLICT.
func (s *Service) AddPersonHandle(ctx context.Context, orgID, personID uuid.UUID, in HandleInput) (*ent.Person, error) {
	v, err := NormalizeHandle(in)
	if err != nil {
		return nil, err
	}
	h := normHandle{in.Type, v}
	var p *ent.Person
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writable(ctx, tx, orgID, "person.update", Target{Type: "person", ID: personID.String()})
		if err != nil {
			return err
		}
		if err := s.lockPersonPool(ctx, tx, org.PersonPoolID); err != nil {
			return err
		}
		if p, err = registeredPerson(ctx, tx, org, personID); err != nil {
			return err
		}
		found, err := tx.Handle.Query().Where(handle.PoolID(org.PersonPoolID), handle.TypeEQ(h.Type), handle.Value(h.Value)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			if found, err = tx.Handle.Create().SetPoolID(org.PersonPoolID).SetPersonID(p.ID).SetType(h.Type).SetValue(h.Value).Save(ctx); err != nil {
				return mapConstraint(err, "handle %s already exists in the pool", h)
			}
		case err != nil:
			return err
		case found.PersonID != p.ID:
			return apperr.New(apperr.Conflict, "handle %s belongs to another person of the pool", h)
		}
		if err := useHandles(ctx, tx, org.ID, []*ent.Handle{found}); err != nil {
			return err
		}
		return s.audit(ctx, tx, "person.handle_added", &org.ID, "person", p.ID.String(), nil, map[string]any{"handle": h.String()})
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// DeactivatePerson marks a person registered with org inactive. The person
// stays listed (flagged active=false) everywhere it is registered: a person is
// one identity of its pool.
func (s *Service) DeactivatePerson(ctx context.Context, orgID, personID uuid.UUID) (*ent.Person, error) {
	var p *ent.Person
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writable(ctx, tx, orgID, "person.update", Target{Type: "person", ID: personID.String()})
		if err != nil {
			return err
		}
		before, err := registeredPerson(ctx, tx, org, personID)
		if err != nil {
			return err
		}
		if p, err = tx.Person.UpdateOne(before).SetActive(false).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "person.deactivated", &org.ID, "person", p.ID.String(),
			map[string]any{"active": before.Active}, map[string]any{"active": p.Active})
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// CreateGroup creates a group name in org's group pool; every org sharing the
// pool sees it.
func (s *Service) CreateGroup(ctx context.Context, orgID uuid.UUID, name string) (*ent.Group, error) {
	n, err := cleanGroupName(name)
	if err != nil {
		return nil, err
	}
	var g *ent.Group
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writableOrg(ctx, tx, orgID, "group.create")
		if err != nil {
			return err
		}
		if err := s.lockGroupPool(ctx, tx, org.GroupPoolID); err != nil {
			return err
		}
		taken, err := tx.Group.Query().Where(group.PoolID(org.GroupPoolID), group.Name(n)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return apperr.New(apperr.Conflict, "group %q already exists in the group pool", n)
		}
		if g, err = tx.Group.Create().SetPoolID(org.GroupPoolID).SetName(n).Save(ctx); err != nil {
			return mapConstraint(err, "group %q already exists in the group pool", n)
		}
		return s.audit(ctx, tx, "group.created", &org.ID, "group", g.ID.String(), nil, map[string]any{"name": n})
	})
	if err != nil {
		return nil, err
	}
	return g.Unwrap(), nil
}

// AddGroupMember puts a person registered with org into a group of org's pool,
// for org only (idempotent).
func (s *Service) AddGroupMember(ctx context.Context, orgID uuid.UUID, groupName string, personID uuid.UUID) (*ent.Group, error) {
	return s.changeGroupMember(ctx, orgID, groupName, personID, true)
}

// RemoveGroupMember takes a person out of a group in org (idempotent).
func (s *Service) RemoveGroupMember(ctx context.Context, orgID uuid.UUID, groupName string, personID uuid.UUID) (*ent.Group, error) {
	return s.changeGroupMember(ctx, orgID, groupName, personID, false)
}

func (s *Service) changeGroupMember(ctx context.Context, orgID uuid.UUID, groupName string, personID uuid.UUID, add bool) (*ent.Group, error) {
	n, err := cleanGroupName(groupName)
	if err != nil {
		return nil, err
	}
	var g *ent.Group
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writableOrg(ctx, tx, orgID, "group.update")
		if err != nil {
			return err
		}
		if g, err = poolGroup(ctx, tx, org, n); err != nil {
			return err
		}
		if _, err := registeredPerson(ctx, tx, org, personID); err != nil {
			return err
		}
		action := "group.member_added"
		if add {
			err = addToGroups(ctx, tx, org.ID, personID, []*ent.Group{g})
		} else {
			action = "group.member_removed"
			_, err = tx.GroupMembership.Delete().Where(groupmembership.GroupID(g.ID),
				groupmembership.PersonID(personID), groupmembership.OrganizationID(org.ID)).Exec(ctx)
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, action, &org.ID, "group", g.ID.String(), nil,
			map[string]any{"group": g.Name, "person": personID.String()})
	})
	if err != nil {
		return nil, err
	}
	return g.Unwrap(), nil
}

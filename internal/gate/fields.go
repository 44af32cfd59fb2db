package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/readaction"
	"github.com/orgraph/orgraph/policy"
)

// Public marks a field that exposes no org data of its own (its parent was
// checked) or that decides inside its resolver through the gate.
const Public = readaction.Public

// typeActions is the read action for every field of a type holding org data,
// and fieldActions overrides it for single fields: the table lives in
// internal/readaction, where code generation reads it too (a field with an
// action of its own is nullable in the schema).
var typeActions, fieldActions = readaction.Types, readaction.Fields

// structuralTypes carry no org data themselves: connections, edges and values
// reached only through a checked field.
var structuralTypes = map[string]bool{
	"PageInfo": true, "Decision": true, "DecisionReason": true, "Token": true, "OrgLimits": true,
}

// rootFields lists every Query field with how it is authorized: queries read
// through the SQL filters (mutations are declared in mutationActions).
var rootFields = map[string]string{
	"Query.node":                 Public,
	"Query.nodes":                Public,
	"Query.viewer":               Public,
	"Query.organization":         Public,
	"Query.organizations":        Public,
	"Query.organizationByDomain": Public,
	"Query.authorize":            Public,
}

type fieldKey struct{ object, field string }

// fieldIndex is rootFields and fieldActions keyed without building a string
// per resolved field.
var fieldIndex = func() map[fieldKey]string {
	idx := map[fieldKey]string{}
	for _, table := range []map[string]string{fieldActions, rootFields} {
		for k, a := range table {
			object, field, _ := strings.Cut(k, ".")
			idx[fieldKey{object, field}] = a
		}
	}
	return idx
}()

// Action returns the action that guards a field, and whether one is mapped.
func Action(object, field string) (string, bool) {
	if strings.HasPrefix(field, "__") {
		// Introspection (__schema, __type) carries no org data; the server
		// switches it off as a whole when configured to.
		return Public, true
	}
	if object == "Mutation" {
		return mutationAction(field)
	}
	if a, ok := fieldIndex[fieldKey{object, field}]; ok {
		return a, true
	}
	if a, ok := typeActions[object]; ok {
		return a, true
	}
	if structuralTypes[object] || strings.HasSuffix(object, "Connection") || strings.HasSuffix(object, "Edge") || strings.HasPrefix(object, "__") {
		return Public, true
	}
	return "", false
}

// Middleware is the gqlgen field middleware every field passes through.
func (g *Gate) Middleware(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	action, ok := Action(fc.Object, fc.Field.Name)
	if !ok {
		// Fail closed: a field nobody mapped is never served.
		return nil, apperr.New(apperr.Forbidden, "field %s.%s has no authorization rule", fc.Object, fc.Field.Name)
	}
	if action == Public || fc.Object == "Query" || fc.Object == "Mutation" {
		return next(ctx)
	}
	if acc, ok := parentObject(fc).(*ent.Account); ok {
		// An account belongs to no org: decided as such, about itself or not.
		d, err := g.decideAccount(ctx, action, acc)
		if err != nil {
			return nil, err
		}
		if !d.Allowed {
			return nil, forbidden(action, d)
		}
		return next(ctx)
	}
	parent := parentObject(fc)
	orgID, ok := orgOf(parent)
	if !ok {
		// Persons and groups belong to pools, not orgs, and a row loaded with
		// only a few columns may lack its org: decide in the org the object was
		// reached through (its list was filtered in SQL for that org).
		orgID, ok = nearestOrg(fc)
		if !ok && pooledTypes[fc.Object] {
			return next(ctx)
		}
	}
	if !ok {
		return nil, apperr.New(apperr.Forbidden, "cannot tell the organization of %s", fc.Object)
	}
	org, err := g.orgForField(ctx, fc, parent, orgID)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "%s not found", strings.ToLower(fc.Object))
	}
	// A row about the caller (its membership, an invitation addressed to
	// it) is decided as such: the policy says what one may see of one's own.
	about := aboutAccount(parent)
	d, err := g.decideOn(ctx, action, org, about != nil && *about == selfID(ctx) && selfID(ctx) != uuid.Nil)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return nil, forbidden(action, d)
	}
	return next(ctx)
}

// forbidden turns a denial into FORBIDDEN carrying the policy's reasons.
func forbidden(action string, d policy.Decision) *apperr.Error {
	msg := "not allowed: " + action
	reasons := make([]map[string]any, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = map[string]any{"rule": r.Rule, "permission": r.Permission, "message": r.Message}
		if i == 0 {
			msg = r.Message
		}
	}
	return &apperr.Error{Code: apperr.Forbidden, Message: msg, Extra: map[string]any{"reasons": reasons}}
}

var pooledTypes = map[string]bool{"Person": true, "Group": true, "Handle": true}

func nearestOrg(fc *graphql.FieldContext) (uuid.UUID, bool) {
	for p := fc.Parent; p != nil; p = p.Parent {
		if o, ok := deref(p.Result).(*ent.Organization); ok && o != nil {
			return o.ID, true
		}
	}
	return uuid.Nil, false
}

// parentObject is the object whose field is being resolved.
func parentObject(fc *graphql.FieldContext) any {
	for p := fc.Parent; p != nil; p = p.Parent {
		if p.Result != nil {
			return deref(p.Result)
		}
	}
	return nil
}

func deref(v any) any {
	switch x := v.(type) {
	case **ent.Organization:
		return *x
	case **ent.Membership:
		return *x
	case **ent.Account:
		return *x
	case **ent.Invitation:
		return *x
	case **ent.Application:
		return *x
	case **ent.Sector:
		return *x
	case **ent.APIKey:
		return *x
	case **ent.AuditEvent:
		return *x
	case **ent.Person:
		return *x
	case **ent.Group:
		return *x
	case **ent.Handle:
		return *x
	case *ent.Noder: // an element of nodes(ids:)
		if *x != nil {
			return deref(*x)
		}
	}
	return v
}

// orgOf is the org a resource belongs to.
func orgOf(obj any) (uuid.UUID, bool) {
	switch o := obj.(type) {
	case *ent.Organization:
		return o.ID, true
	case *ent.Membership:
		return known(o.OrganizationID)
	case *ent.Invitation:
		return known(o.OrganizationID)
	case *ent.Application:
		return known(o.OrganizationID)
	case *ent.Sector:
		return known(o.OrganizationID)
	case *ent.APIKey:
		return known(o.OrganizationID)
	case *ent.AuditEvent:
		if o.OrganizationID != nil {
			return known(*o.OrganizationID)
		}
	case interface{ OwningOrg() uuid.UUID }:
		return o.OwningOrg(), true
	}
	return uuid.Nil, false
}

// known: a zero id means the column was not loaded.
func known(id uuid.UUID) (uuid.UUID, bool) { return id, id != uuid.Nil }

// String helps debug output.
func (k memoKey) String() string { return fmt.Sprintf("%s@%s", k.action, k.org) }

// complete tells whether an org row carries what a policy input needs: field
// collection loads only the requested columns.
func complete(o *ent.Organization) bool {
	return o.Status != "" && o.Capabilities != nil && o.Ancestry != nil
}

// orgForField returns the full org a field belongs to. An org loaded partially
// by field collection is completed together with its whole list in one query.
func (g *Gate) orgForField(ctx context.Context, fc *graphql.FieldContext, parent any, id uuid.UUID) (*ent.Organization, error) {
	if o, ok := parent.(*ent.Organization); ok && complete(o) {
		return o, nil // remembered when its query returned it (recordLoadedOrgs)
	}
	r := requestOf(ctx)
	if o, ok := r.org(id); ok {
		return o, nil
	}
	// Siblings resolve concurrently: one loads the list, the others wait for it.
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	if o, ok := r.org(id); ok {
		return o, nil
	}
	ids := Batch(ctx, id)
	if len(ids) == 0 {
		ids = ListIDs(fc)
	}
	if !slices.Contains(ids, id) {
		ids = append(ids, id)
	}
	orgs, err := g.client.Organization.Query().Where(organization.IDIn(ids...), organization.DeletedAtIsNil()).All(System(ctx))
	if err != nil {
		return nil, err
	}
	Remember(ctx, orgs...)
	if o, ok := requestOf(ctx).org(id); ok {
		return o, nil
	}
	return nil, apperr.New(apperr.NotFound, "organization not found")
}

func (r *request) org(id uuid.UUID) (*ent.Organization, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.orgs[id]
	return o, ok
}

// ListIDs returns the ids of the nearest list (of orgs, persons or
// applications) the current field's object was resolved in, so a loader can
// fetch for the whole list at once.
func ListIDs(fc *graphql.FieldContext) []uuid.UUID {
	for ; fc != nil; fc = fc.Parent {
		switch list := fc.Result.(type) {
		case []*ent.OrganizationEdge:
			return mapIDs(list, func(e *ent.OrganizationEdge) uuid.UUID { return e.Node.ID })
		case []*ent.Organization:
			return mapIDs(list, func(o *ent.Organization) uuid.UUID { return o.ID })
		case []*ent.PersonEdge:
			return mapIDs(list, func(e *ent.PersonEdge) uuid.UUID { return e.Node.ID })
		case []*ent.Person:
			return mapIDs(list, func(p *ent.Person) uuid.UUID { return p.ID })
		case []*ent.ApplicationEdge:
			return mapIDs(list, func(e *ent.ApplicationEdge) uuid.UUID { return e.Node.ID })
		case []*ent.Application:
			return mapIDs(list, func(a *ent.Application) uuid.UUID { return a.ID })
		}
	}
	return nil
}

func mapIDs[T any](list []T, id func(T) uuid.UUID) []uuid.UUID {
	ids := make([]uuid.UUID, len(list))
	for i, v := range list {
		ids[i] = id(v)
	}
	return ids
}

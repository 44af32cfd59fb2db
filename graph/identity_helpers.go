package graph

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/applicationkey"
	"github.com/orgraph/orgraph/ent/groupmembership"
	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/ent/handleuse"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/orgclosure"
	"github.com/orgraph/orgraph/ent/person"
	"github.com/orgraph/orgraph/graph/model"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
)

// ---- mutations -------------------------------------------------------------

func toHandleInputs(in []*model.HandleInput) []service.HandleInput {
	out := make([]service.HandleInput, 0, len(in))
	for _, h := range in {
		if h != nil {
			out = append(out, service.HandleInput{Type: h.Type, Value: h.Value})
		}
	}
	return out
}

func (r *Resolver) createPerson(ctx context.Context, orgID uuid.UUID, handles []*model.HandleInput, groups []string) (*ent.Person, error) {
	return r.Service.CreatePerson(sys(ctx), orgID, toHandleInputs(handles), groups)
}

func (r *Resolver) addPersonHandle(ctx context.Context, orgID, personID uuid.UUID, h model.HandleInput) (*ent.Person, error) {
	return r.Service.AddPersonHandle(sys(ctx), orgID, personID, service.HandleInput{Type: h.Type, Value: h.Value})
}

func (r *Resolver) deactivatePerson(ctx context.Context, orgID, personID uuid.UUID) (*ent.Person, error) {
	return r.Service.DeactivatePerson(sys(ctx), orgID, personID)
}

func (r *Resolver) createGroup(ctx context.Context, orgID uuid.UUID, name string) (*ent.Group, error) {
	return r.Service.CreateGroup(sys(ctx), orgID, name)
}

func (r *Resolver) addGroupMember(ctx context.Context, orgID uuid.UUID, name string, personID uuid.UUID) (*ent.Group, error) {
	return r.Service.AddGroupMember(sys(ctx), orgID, name, personID)
}

func (r *Resolver) removeGroupMember(ctx context.Context, orgID uuid.UUID, name string, personID uuid.UUID) (*ent.Group, error) {
	return r.Service.RemoveGroupMember(sys(ctx), orgID, name, personID)
}

func (r *Resolver) createSector(ctx context.Context, orgID uuid.UUID, name string) (*ent.Sector, error) {
	return r.Service.CreateSector(sys(ctx), orgID, name)
}

func (r *Resolver) revokeAPIKey(ctx context.Context, id uuid.UUID) (*ent.APIKey, error) {
	return r.Service.RevokeAPIKey(sys(ctx), id)
}

func (r *Resolver) createApplication(ctx context.Context, orgID uuid.UUID, sectorID *uuid.UUID, name string, kind application.Kind, loginRules, claimPolicy map[string]any) (*ent.Application, error) {
	return r.Service.CreateApplication(sys(ctx), service.CreateAppInput{
		OrganizationID: orgID, SectorID: sectorID, Name: name, Kind: kind, LoginRules: loginRules, ClaimPolicy: claimPolicy,
	})
}

func (r *Resolver) updateApplication(ctx context.Context, id uuid.UUID, in model.UpdateApplicationInput) (*ent.Application, error) {
	return r.Service.UpdateApplication(sys(ctx), id, service.UpdateAppInput{
		Name: in.Name, LoginRules: in.LoginRules, ClaimPolicy: in.ClaimPolicy,
	})
}

func (r *Resolver) rotateApplicationKey(ctx context.Context, id uuid.UUID, kind model.ApplicationKeyKind) (*model.RotateApplicationKeyPayload, error) {
	rk, err := r.Service.RotateApplicationKey(sys(ctx), id, applicationkey.Kind(kind))
	if err != nil {
		return nil, err
	}
	out := &model.RotateApplicationKeyPayload{Application: rk.Application, Kind: kind, Kid: rk.Key.Kid}
	if rk.Key.Kind == applicationkey.KindSIGNING {
		out.PublicKey = jwk(rk.Key)
	} else {
		out.ClientSecret = &rk.ClientSecret
	}
	return out, nil
}

func (r *Resolver) createAPIKey(ctx context.Context, orgID uuid.UUID, name, role string, expiresAt *time.Time) (*model.CreateAPIKeyPayload, error) {
	k, key, err := r.Service.CreateAPIKey(sys(ctx), orgID, name, role, expiresAt)
	if err != nil {
		return nil, err
	}
	return &model.CreateAPIKeyPayload{APIKey: k, Key: key}, nil
}

// ---- reads -----------------------------------------------------------------

// orgGroups lists the groups of org's group pool. The pool is found in SQL, so
// an org row loaded with only some columns works too.
// orgFor is the org a pooled object's field is read in: the one named, or the
// one it is listed through. The caller must be allowed action there.
func (r *Resolver) orgFor(ctx context.Context, action string, named *uuid.UUID) (uuid.UUID, error) {
	id, ok := uuid.Nil, false
	if named != nil {
		id, ok = *named, true
	} else {
		id, ok = gate.ListingOrg(ctx)
	}
	if !ok {
		return uuid.Nil, apperr.New(apperr.BadUserInput, "give organizationId: persons and groups are read in an organization")
	}
	_, err := r.Gate.DecideIn(ctx, action, id)
	return id, err
}

// personHandles lists the handles of p that were used or added through the org.
func (r *Resolver) personHandles(ctx context.Context, p *ent.Person, orgID *uuid.UUID) ([]*ent.Handle, error) {
	org, err := r.orgFor(ctx, "person.read", orgID)
	if err != nil {
		return nil, err
	}
	return identityLoaderOf(ctx).handles(ctx, r.Client, org, p.ID)
}

// personGroups lists the groups p is a member of in the org.
func (r *Resolver) personGroups(ctx context.Context, p *ent.Person, orgID *uuid.UUID) ([]*ent.Group, error) {
	org, err := r.orgFor(ctx, "group.read", orgID)
	if err != nil {
		return nil, err
	}
	return identityLoaderOf(ctx).groups(ctx, r.Client, org, p.ID)
}

// groupMembers lists the persons in g in the org.
func (r *Resolver) groupMembers(ctx context.Context, g *ent.Group, orgID *uuid.UUID, after *entgql.Cursor[uuid.UUID], first *int, before *entgql.Cursor[uuid.UUID], last *int, orderBy []*ent.PersonOrder, where *ent.PersonWhereInput) (*ent.PersonConnection, error) {
	org, err := r.orgFor(ctx, "person.read", orgID)
	if err != nil {
		return nil, err
	}
	return r.Client.Person.Query().Where(person.HasGroupMembershipsWith(
		groupmembership.GroupID(g.ID), groupmembership.OrganizationID(org),
	)).Paginate(ctx, after, first, before, last, ent.WithPersonOrder(orderBy), ent.WithPersonFilter(where.Filter))
}

// subjectFor computes the pairwise subject of a person for an application.
// The caller must be allowed to read persons in the application's org, and the
// person must be of that org's pool and registered with it or a descendant.
func (r *Resolver) subjectFor(ctx context.Context, app *ent.Application, personID uuid.UUID) (string, error) {
	// app may have been loaded with only the requested columns; one read gets
	// the row and the sector the service needs.
	full, err := r.Client.Application.Query().Where(application.ID(app.ID)).WithSector().Only(gate.System(ctx))
	if err != nil {
		return "", err
	}
	org, err := r.Gate.DecideIn(ctx, "person.read", full.OrganizationID)
	if err != nil {
		return "", err
	}
	p, err := r.Client.Person.Query().Where(person.ID(personID), person.PoolID(org.PersonPoolID),
		person.HasOrganizationsWith(organization.HasAncestorLinksWith(orgclosure.AncestorID(org.ID)))).Only(ctx)
	if ent.IsNotFound(err) {
		return "", apperr.New(apperr.NotFound, "person %s not found", personID)
	}
	if err != nil {
		return "", err
	}
	return r.Service.SubjectFor(sys(ctx), full, p)
}

// publicKeys lists the application's signing keys still listed (JWKS).
func (r *Resolver) publicKeys(ctx context.Context, app *ent.Application) ([]*model.ApplicationPublicKey, error) {
	keys, err := identityLoaderOf(ctx).keys(ctx, r.Client, app.ID)
	if err != nil {
		return nil, err
	}
	out := []*model.ApplicationPublicKey{}
	for _, k := range keys {
		if k.Kind == applicationkey.KindSIGNING {
			out = append(out, jwk(k))
		}
	}
	return out, nil
}

func (r *Resolver) clientSecretCreatedAt(ctx context.Context, app *ent.Application) (*time.Time, error) {
	keys, err := identityLoaderOf(ctx).keys(ctx, r.Client, app.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Kind == applicationkey.KindCLIENT_AUTH && k.SupersededAt == nil {
			return &k.CreatedAt, nil
		}
	}
	return nil, nil
}

// jwk presents a signing key as a JWK (RFC 8037, OKP/Ed25519).
func jwk(k *ent.ApplicationKey) *model.ApplicationPublicKey {
	return &model.ApplicationPublicKey{
		Kid: k.Kid, Kty: "OKP", Crv: "Ed25519", Alg: "EdDSA", Use: "sig",
		X: base64.RawURLEncoding.EncodeToString(k.PublicKey), CreatedAt: k.CreatedAt,
		Current: k.SupersededAt == nil, ExpiresAt: k.ExpiresAt,
	}
}

// ---- per-request batch loading ---------------------------------------------

// identityLoader loads the per-org handles and groups of persons, and the keys
// of applications, for a whole list at once: the first field resolved in a
// list loads it for all its siblings, so a list costs one statement, not one
// per row.
type identityLoader struct {
	mu        sync.Mutex
	handlesOf map[orgPerson][]*ent.Handle
	groupsOf  map[orgPerson][]*ent.Group
	keysOf    map[uuid.UUID][]*ent.ApplicationKey
}

type orgPerson struct{ org, person uuid.UUID }

type identityLoaderKey struct{}

func withIdentityLoader(ctx context.Context) context.Context {
	return context.WithValue(ctx, identityLoaderKey{}, newIdentityLoader())
}

func newIdentityLoader() *identityLoader {
	return &identityLoader{
		handlesOf: map[orgPerson][]*ent.Handle{},
		groupsOf:  map[orgPerson][]*ent.Group{},
		keysOf:    map[uuid.UUID][]*ent.ApplicationKey{},
	}
}

func identityLoaderOf(ctx context.Context) *identityLoader {
	if l, ok := ctx.Value(identityLoaderKey{}).(*identityLoader); ok {
		return l
	}
	return newIdentityLoader()
}

// siblings returns the ids of the list the current field's parent object was
// resolved in (persons or applications), always including self.
func siblings(ctx context.Context, self uuid.UUID) []uuid.UUID {
	ids := gate.ListIDs(graphql.GetFieldContext(ctx))
	if !slices.Contains(ids, self) {
		ids = append(ids, self)
	}
	return ids
}

func (l *identityLoader) handles(ctx context.Context, client *ent.Client, org, p uuid.UUID) ([]*ent.Handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hs, ok := l.handlesOf[orgPerson{org, p}]; ok {
		return hs, nil
	}
	ids := siblings(ctx, p)
	found, err := client.Handle.Query().
		Where(handle.PersonIDIn(ids...), handle.HasUsesWith(handleuse.OrganizationID(org))).
		Order(ent.Asc(handle.FieldCreatedAt), ent.Asc(handle.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		l.handlesOf[orgPerson{org, id}] = []*ent.Handle{}
	}
	for _, h := range found {
		k := orgPerson{org, h.PersonID}
		l.handlesOf[k] = append(l.handlesOf[k], h)
	}
	return l.handlesOf[orgPerson{org, p}], nil
}

func (l *identityLoader) groups(ctx context.Context, client *ent.Client, org, p uuid.UUID) ([]*ent.Group, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gs, ok := l.groupsOf[orgPerson{org, p}]; ok {
		return gs, nil
	}
	ids := siblings(ctx, p)
	ms, err := client.GroupMembership.Query().
		Where(groupmembership.OrganizationID(org), groupmembership.PersonIDIn(ids...)).
		WithGroup().All(gate.System(ctx)) // the caller was allowed group.read in org
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		l.groupsOf[orgPerson{org, id}] = []*ent.Group{}
	}
	for _, m := range ms {
		k := orgPerson{org, m.PersonID}
		l.groupsOf[k] = append(l.groupsOf[k], m.Edges.Group)
	}
	for _, id := range ids {
		sortGroups(l.groupsOf[orgPerson{org, id}])
	}
	return l.groupsOf[orgPerson{org, p}], nil
}

func sortGroups(gs []*ent.Group) {
	slices.SortFunc(gs, func(a, b *ent.Group) int { return strings.Compare(a.Name, b.Name) })
}

// keys returns the keys of app that are current or still in their overlap.
func (l *identityLoader) keys(ctx context.Context, client *ent.Client, app uuid.UUID) ([]*ent.ApplicationKey, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ks, ok := l.keysOf[app]; ok {
		return ks, nil
	}
	ids := siblings(ctx, app)
	now := time.Now()
	found, err := client.ApplicationKey.Query().
		Where(applicationkey.ApplicationIDIn(ids...),
			applicationkey.Or(applicationkey.ExpiresAtIsNil(), applicationkey.ExpiresAtGT(now))).
		Order(ent.Desc(applicationkey.FieldCreatedAt), ent.Asc(applicationkey.FieldID)).
		All(gate.System(ctx)) // the caller was allowed application.read on app
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		l.keysOf[id] = []*ent.ApplicationKey{}
	}
	for _, k := range found {
		if k.ExpiresAt == nil || k.ExpiresAt.After(now) {
			l.keysOf[k.ApplicationID] = append(l.keysOf[k.ApplicationID], k)
		}
	}
	return l.keysOf[app], nil
}

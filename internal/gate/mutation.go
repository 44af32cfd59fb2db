package gate

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/policy"
)

// mutationActions declares, for every Mutation field, the actions it is
// decided by. The gate refuses a mutation without a declaration before any
// resolver runs, and its transaction cannot commit until the policy has
// allowed one of them (see Guard and Committable): a write that forgot to ask
// fails instead of passing.
var mutationActions = map[string][]string{
	"createOrganization":    {"organization.create", "organization.create_suborg"},
	"updateOrganization":    {"organization.update"},
	"retireOrganization":    {"organization.retire"},
	"reenableOrganization":  {"organization.reenable"},
	"setOrganizationLimits": {"organization.set_limits"},
	"deleteOrganization":    {"organization.delete"},
	"exchangeToken":         {"organization.read"},

	"inviteMember":      {"members.invite"},
	"acceptInvitation":  {"invitations.respond"},
	"declineInvitation": {"invitations.respond"},
	"revokeInvitation":  {"invitations.revoke"},
	"changeMemberRole":  {"members.change_role"},
	"removeMember":      {"members.remove", "members.leave"},
	"leaveOrganization": {"members.leave"},
	"deleteAccount":     {"account.delete"},

	"createSector":         {"sector.create"},
	"retireSector":         {"sector.retire"},
	"reenableSector":       {"sector.reenable"},
	"createApplication":    {"application.create"},
	"updateApplication":    {"application.update"},
	"retireApplication":    {"application.retire"},
	"reenableApplication":  {"application.reenable"},
	"rotateApplicationKey": {"application.rotate_key"},

	"createPerson":      {"person.create"},
	"addPersonHandle":   {"person.update"},
	"deactivatePerson":  {"person.update"},
	"createGroup":       {"group.create"},
	"addGroupMember":    {"group.update"},
	"removeGroupMember": {"group.update"},

	"createAPIKey": {"apikey.create"},
	"revokeAPIKey": {"apikey.revoke"},
}

// Declared returns the actions declared for a Mutation field.
func Declared(field string) ([]string, bool) {
	a, ok := mutationActions[field]
	return a, ok
}

// Asked is one decision taken while a mutation ran.
type Asked struct {
	Action  string
	Org     string // "" for no org
	Allowed bool
}

// guard follows one attempt of one mutation: what it declared and what the
// policy was asked.
type guard struct {
	field    string
	declared []string
	mu       sync.Mutex
	asked    []Asked
}

type guardKey struct{}

// Guard starts following a mutation attempt; it refuses an undeclared field.
func Guard(ctx context.Context, field string) (context.Context, error) {
	declared, ok := Declared(field)
	if !ok {
		return ctx, apperr.New(apperr.Forbidden, "mutation %s declares no action: it is never run", field)
	}
	return context.WithValue(ctx, guardKey{}, &guard{field: field, declared: declared}), nil
}

func guardOf(ctx context.Context) *guard { g, _ := ctx.Value(guardKey{}).(*guard); return g }

// record notes a decision in the mutation being followed, if any.
func record(ctx context.Context, action, org string, d policy.Decision) {
	if g := guardOf(ctx); g != nil {
		g.mu.Lock()
		g.asked = append(g.asked, Asked{Action: action, Org: org, Allowed: d.Allowed})
		g.mu.Unlock()
	}
}

// AskedIn returns the decisions taken so far in the mutation of ctx.
func AskedIn(ctx context.Context) []Asked {
	g := guardOf(ctx)
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.asked)
}

// Committable is the last step before a mutation's transaction commits: the
// policy allowed one of its declared actions, and the caller may read what
// the mutation returns (so a committed write always reports its payload;
// otherwise nothing is committed). client is the transaction's.
func (g *Gate) Committable(ctx context.Context, client *ent.Client, payload any) error {
	gd := guardOf(ctx)
	if gd == nil {
		return nil // not a GraphQL mutation: the service's own work
	}
	gd.mu.Lock()
	ok := slices.ContainsFunc(gd.asked, func(a Asked) bool { return a.Allowed && slices.Contains(gd.declared, a.Action) })
	gd.mu.Unlock()
	if !ok {
		return apperr.New(apperr.Internal, "mutation %s did not ask the policy for %s", gd.field, strings.Join(gd.declared, " or "))
	}
	// The write may have changed the caller's own roles: decide on what the transaction sees.
	Forget(ctx)
	return g.payloadReadable(ctx, client, reflect.ValueOf(payload), 0)
}

// payloadReadable decides the read of every object a payload carries.
func (g *Gate) payloadReadable(ctx context.Context, client *ent.Client, v reflect.Value, depth int) error {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			return nil
		}
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
			break
		}
		v = v.Elem()
	}
	if !v.IsValid() || depth > 2 {
		return nil
	}
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			if err := g.payloadReadable(ctx, client, v.Index(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if v.Kind() != reflect.Pointer {
		return nil // a value: a scalar, a time
	}
	obj, typ := v.Interface(), v.Elem().Type()
	if action, ok := typeActions[typ.Name()]; ok && strings.HasSuffix(typ.PkgPath(), "/ent") {
		return g.objectReadable(ctx, client, action, obj)
	}
	if strings.HasSuffix(typ.PkgPath(), "/ent") {
		// Fail closed: an entity the gate has no read rule for is not reported.
		return apperr.New(apperr.Internal, "payload %T has no read rule", obj)
	}
	// A payload type: each object it carries must be readable.
	for i := 0; i < typ.NumField(); i++ {
		if typ.Field(i).IsExported() {
			if err := g.payloadReadable(ctx, client, v.Elem().Field(i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// objectReadable decides action on obj in its org (or, for persons and
// groups, the org the mutation named).
func (g *Gate) objectReadable(ctx context.Context, client *ent.Client, action string, obj any) error {
	orgID, ok := orgOf(obj)
	if !ok {
		orgID, ok = ListingOrg(ctx)
	}
	if !ok {
		return apperr.New(apperr.Internal, "cannot tell the organization of %T", obj)
	}
	org, err := client.Organization.Get(System(ctx), orgID)
	if err != nil {
		return err
	}
	t := orgTarget(org)
	t.Account = aboutAccount(obj)
	d, err := g.Explain(ctx, client, action, t)
	if err != nil {
		return err
	}
	if !d.Allowed {
		err := forbidden(action, d)
		err.Message = "the change would not be readable to you (" + err.Message + "), so it was not made"
		return err
	}
	return nil
}

// aboutAccount is the account a row is about, if any.
func aboutAccount(obj any) *uuid.UUID {
	switch o := obj.(type) {
	case *ent.Membership:
		return &o.AccountID
	case *ent.Invitation:
		return &o.InviteeID
	}
	return nil
}

// Forget drops what the request memo knows of the caller's roles and the
// decisions taken on them: after a write (or a rolled-back attempt) they
// may have changed.
func Forget(ctx context.Context) {
	r := requestOf(ctx)
	r.mu.Lock()
	r.loaded = false
	r.memberships = nil
	clear(r.decisions)
	clear(r.scopes)
	clear(r.orgs)
	r.mu.Unlock()
}

// mutationAction is the first declared action of a Mutation field, for Action.
func mutationAction(field string) (string, bool) {
	a, ok := mutationActions[field]
	if !ok || len(a) == 0 {
		return "", false
	}
	return a[0], true
}

package gate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/policy"
)

// Rules of the identity plane: persons, handles, groups, sectors,
// applications and their keys, API keys.
func init() {
	// The identity plane's field rules (Organization.groups, Person.groups,
	// Group.members, …) are in internal/readaction with the others.
	// Values reached only through a checked field or an authorized mutation.
	for _, t := range []string{"ApplicationPublicKey", "CreateAPIKeyPayload", "RotateApplicationKeyPayload"} {
		structuralTypes[t] = true
	}
}

// ListingOrg is the org a pooled object (person, group, handle) is being read
// through: the nearest Organization above the field, or the organizationId
// argument of the nearest field that has one (e.g. the createPerson mutation).
func ListingOrg(ctx context.Context) (uuid.UUID, bool) {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if o, ok := deref(fc.Result).(*ent.Organization); ok && o != nil {
			return o.ID, true
		}
		switch id := fc.Args["organizationId"].(type) {
		case uuid.UUID:
			return id, true
		case *uuid.UUID:
			if id != nil {
				return *id, true
			}
		}
	}
	return uuid.Nil, false
}

// DecideIn decides action on a resource of org orgID for a field resolver: nil
// when allowed, NOT_FOUND when the caller cannot read the org (or it does not
// exist), FORBIDDEN with the policy's reason otherwise.
func (g *Gate) DecideIn(ctx context.Context, action string, orgID uuid.UUID) (*ent.Organization, error) {
	missing := NotFound(Target{Type: "organization", ID: orgID.String()})
	org, err := g.Org(ctx, orgID)
	if ent.IsNotFound(err) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	if visible, err := g.Decide(ctx, "organization.read", org); err != nil {
		return nil, err
	} else if !visible.Allowed {
		return nil, missing
	}
	d, err := g.Decide(ctx, action, org)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return nil, forbidden(action, d)
	}
	return org, nil
}

// CheckDelegation refuses to hand out role on t.Org when it would grant an
// action the caller is not allowed there: for every action the policy knows,
// a key holding role is decided against the caller. Only the policy decides.
func (g *Gate) CheckDelegation(ctx context.Context, client *ent.Client, role string, t Target) error {
	lister, ok := g.engine.(interface{ Actions() []string })
	if !ok {
		return apperr.New(apperr.Forbidden, "the policy engine cannot list actions: role %s cannot be delegated", role)
	}
	caller, err := g.subjectWith(ctx, client) // inside the transaction: its client
	if err != nil {
		return err
	}
	key := policy.Subject{Type: "api_key", ID: "delegation-check",
		Memberships: []policy.Membership{{Org: t.Org.ID.String(), Role: role}}}
	var owners policy.Input
	counts, err := g.ownerCountsIn(ctx, client, append(slices.Clone(t.Org.Ancestry), t.Org.ID))
	if err != nil {
		return err
	}
	setOwners(&owners, t.Org, counts)
	var missing []string
	for _, action := range lister.Actions() {
		kin := g.input(ctx, key, action, t)
		kin.TokenOrg = ""
		kd, err := g.engine.Decide(ctx, kin)
		if err != nil {
			return err
		}
		if !kd.Allowed {
			continue
		}
		cin := g.input(ctx, caller, action, t)
		cin.Resource.OwnerOrg, cin.Resource.OwnerCount = owners.Resource.OwnerOrg, owners.Resource.OwnerCount
		cd, err := g.engine.Decide(ctx, cin)
		if err != nil {
			return err
		}
		if !cd.Allowed {
			missing = append(missing, action)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	msg := fmt.Sprintf("role %s would grant %s, which you are not allowed in organization %s", role, strings.Join(missing, ", "), t.Org.ID)
	reasons := []map[string]any{{"rule": "delegation", "permission": missing[0], "message": msg}}
	return &apperr.Error{Code: apperr.Forbidden, Message: msg, Extra: map[string]any{"reasons": reasons},
		Denial: &apperr.Denial{Action: "apikey.create", OrgID: t.Org.ID.String(), ResourceType: t.Type, ResourceID: t.ID, Reasons: reasons}}
}

// Package gate is the one place where authorization is decided: it builds the
// policy input from the caller and the resource, asks the policy engine, and
// turns the answer into errors (for mutations), nulls (for fields) and SQL
// filters (for lists).
package gate

import (
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/policy"
)

// Target is what an action is asked on, as the policy input describes it.
type Target struct {
	Type string
	ID   string
	// Org is the org the resource belongs to; nil for what belongs to none
	// (a root org being created, an account that belongs to no org).
	Org *ent.Organization
	// Status of the resource itself (for an org, its own status).
	Status string
	// Account is the account the resource is about, if any: a membership's
	// member, an invitation's invitee, an account itself. The policy sees
	// only whether that is the caller (input.resource.self).
	Account *uuid.UUID
	// Named: the caller named this resource by its id and its org was
	// derived from it, so a hidden org reads as this resource missing
	// (otherwise the caller named the org).
	Named bool
}

// Engine is what the gate needs of the policy engine.
type Engine interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
	ListScope(ctx context.Context, subj policy.Subject, tokenOrg, action string) (policy.Scope, error)
	// OwnerRole is the role the owner facts count (policy data).
	OwnerRole() string
}

// Gate decides.
type Gate struct {
	client *ent.Client
	engine Engine
}

// New builds the gate. It also installs the list filters on client.
func New(client *ent.Client, engine Engine) *Gate {
	g := &Gate{client: client, engine: engine}
	g.installFilters(client)
	return g
}

type systemKey struct{}

// System marks ctx as the service's own: list filters do not apply.
func System(ctx context.Context) context.Context { return context.WithValue(ctx, systemKey{}, true) }

func isSystem(ctx context.Context) bool { v, _ := ctx.Value(systemKey{}).(bool); return v }

// request is the per-request memo: one load of the caller's memberships, one
// decision per (action, org), one scope per action.
type request struct {
	mu          sync.Mutex
	loadMu      sync.Mutex
	loaded      bool
	memberships []policy.Membership
	decisions   map[memoKey]policy.Decision
	scopes      map[string]policy.Scope
	orgs        map[uuid.UUID]*ent.Organization
	batches     map[uuid.UUID][]uuid.UUID
	large       map[string]bool   // subtree sizes, see scopeShape
	owners      map[uuid.UUID]int // direct owner counts, see ownerCounts
}

type memoKey struct {
	action string
	org    uuid.UUID
	self   bool
}

type requestKey struct{}

// WithRequest starts the per-request memo; the GraphQL handler calls it once per request.
func WithRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, &request{
		decisions: map[memoKey]policy.Decision{},
		scopes:    map[string]policy.Scope{},
		orgs:      map[uuid.UUID]*ent.Organization{},
		batches:   map[uuid.UUID][]uuid.UUID{},
		large:     map[string]bool{},
	})
}

func requestOf(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	if r == nil {
		r = &request{decisions: map[memoKey]policy.Decision{}, scopes: map[string]policy.Scope{}, orgs: map[uuid.UUID]*ent.Organization{}, batches: map[uuid.UUID][]uuid.UUID{}, large: map[string]bool{}}
	}
	return r
}

// subject builds the policy subject with all of the caller's memberships.
func (g *Gate) subject(ctx context.Context) (policy.Subject, error) {
	return g.subjectWith(ctx, g.client)
}

// subjectWith loads the subject through client: inside a transaction that must
// be the transaction's client, or a full connection pool deadlocks.
func (g *Gate) subjectWith(ctx context.Context, client *ent.Client) (policy.Subject, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return policy.Subject{Type: "anonymous"}, nil
	}
	if p.APIKey != nil {
		return policy.Subject{Type: "api_key", ID: p.APIKey.ID.String(),
			Memberships: []policy.Membership{{Org: p.APIKey.OrganizationID.String(), Role: p.APIKey.Role}}}, nil
	}
	r := requestOf(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded {
		ms, err := client.Membership.Query().Where(membership.AccountID(p.Account.ID)).
			Select(membership.FieldOrganizationID, membership.FieldRole).All(System(ctx))
		if err != nil {
			return policy.Subject{}, err
		}
		r.memberships = make([]policy.Membership, len(ms))
		for i, m := range ms {
			r.memberships[i] = policy.Membership{Org: m.OrganizationID.String(), Role: m.Role}
		}
		r.loaded = true
	}
	return policy.Subject{Type: "account", ID: p.Account.ID.String(), PlatformAdmin: p.Account.PlatformAdmin, Memberships: r.memberships}, nil
}

func tokenOrg(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil && p.TokenOrg != nil {
		return p.TokenOrg.String()
	}
	return ""
}

// input builds the policy input for action on t.
func (g *Gate) input(ctx context.Context, subj policy.Subject, action string, t Target) policy.Input {
	self := t.Account != nil && subj.Type == "account" && subj.ID == t.Account.String()
	if t.Org == nil {
		subj.Memberships = nil
		return policy.Input{Subject: subj, TokenOrg: tokenOrg(ctx), Action: action,
			Resource: policy.Resource{Type: t.Type, ID: t.ID, Ancestors: []string{}, Capabilities: []string{}, Status: t.Status, Self: self}}
	}
	org := t.Org
	chain := make([]string, 0, len(org.Ancestry)+1)
	for _, a := range org.Ancestry {
		chain = append(chain, a.String())
	}
	ancestors := slices.Clone(chain)
	chain = append(chain, org.ID.String())
	onChain := make([]policy.Membership, 0, 2)
	for _, m := range subj.Memberships {
		if slices.Contains(chain, m.Org) {
			onChain = append(onChain, m)
		}
	}
	subj.Memberships = onChain
	return policy.Input{
		Subject:  subj,
		TokenOrg: tokenOrg(ctx),
		Action:   action,
		Resource: policy.Resource{
			Type: t.Type, ID: t.ID, Org: org.ID.String(), Ancestors: ancestors,
			OrgStatus: string(org.Status), Status: t.Status, Capabilities: org.Capabilities, Self: self,
		},
	}
}

// orgTarget is an org as the resource.
func orgTarget(org *ent.Organization) Target {
	return Target{Type: "organization", ID: org.ID.String(), Org: org, Status: string(org.Status)}
}

// Decide answers whether the caller may perform action on a resource of org (memoized per request).
func (g *Gate) Decide(ctx context.Context, action string, org *ent.Organization) (policy.Decision, error) {
	return g.decideOn(ctx, action, org, false)
}

// decideOn is Decide on a row of org that may be about the caller itself.
func (g *Gate) decideOn(ctx context.Context, action string, org *ent.Organization, self bool) (policy.Decision, error) {
	r := requestOf(ctx)
	key := memoKey{action, org.ID, self}
	r.mu.Lock()
	d, ok := r.decisions[key]
	r.mu.Unlock()
	if ok {
		if guardOf(ctx) != nil { // only a mutation keeps what it asked
			record(ctx, action, org.ID.String(), d)
		}
		return d, nil
	}
	subj, err := g.subject(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	t := orgTarget(org)
	if self {
		id := selfID(ctx)
		t.Account = &id
	}
	d, err = g.engine.Decide(ctx, g.input(ctx, subj, action, t))
	if err != nil {
		return policy.Decision{}, err
	}
	record(ctx, action, org.ID.String(), d)
	r.mu.Lock()
	r.decisions[key] = d
	r.orgs[org.ID] = org
	r.mu.Unlock()
	return d, nil
}

// decideAccount decides action on an account (memoized per request).
func (g *Gate) decideAccount(ctx context.Context, action string, acc *ent.Account) (policy.Decision, error) {
	self := acc.ID == selfID(ctx) && acc.ID != uuid.Nil
	r := requestOf(ctx)
	key := memoKey{action, uuid.Nil, self}
	r.mu.Lock()
	d, ok := r.decisions[key]
	r.mu.Unlock()
	if ok {
		return d, nil
	}
	subj, err := g.subject(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	id := acc.ID
	d, err = g.engine.Decide(ctx, g.input(ctx, subj, action, Target{Type: "account", ID: id.String(), Account: &id}))
	if err != nil {
		return policy.Decision{}, err
	}
	r.mu.Lock()
	r.decisions[key] = d
	r.mu.Unlock()
	return d, nil
}

// Explain decides on any resource, inside a transaction when client is its client.
func (g *Gate) Explain(ctx context.Context, client *ent.Client, action string, t Target) (policy.Decision, error) {
	return g.explain(ctx, client, action, t, func() (map[uuid.UUID]int, error) {
		return g.ownerCountsIn(ctx, client, append(slices.Clone(t.Org.Ancestry), t.Org.ID))
	})
}

// explain decides action on t with the owner facts owners reads.
func (g *Gate) explain(ctx context.Context, client *ent.Client, action string, t Target, owners func() (map[uuid.UUID]int, error)) (policy.Decision, error) {
	subj, err := g.subjectWith(ctx, client)
	if err != nil {
		return policy.Decision{}, err
	}
	in := g.input(ctx, subj, action, t)
	if t.Org != nil {
		counts, err := owners()
		if err != nil {
			return policy.Decision{}, err
		}
		setOwners(&in, t.Org, counts)
	}
	d, err := g.engine.Decide(ctx, in)
	if err != nil {
		return policy.Decision{}, err
	}
	record(ctx, action, in.Resource.Org, d)
	return d, nil
}

// Can explains a read-side question about an org (Organization.viewerCan):
// like Explain, with the owner facts of the org's whole list loaded at once
// and kept for the request.
func (g *Gate) Can(ctx context.Context, action string, org *ent.Organization) (policy.Decision, error) {
	return g.explain(ctx, g.client, action, orgTarget(org), func() (map[uuid.UUID]int, error) {
		return g.ownerCounts(ctx, org)
	})
}

// ownerCounts are the direct owner counts of org's chain, read for the chains
// of org's whole list in one statement (memoized per request).
func (g *Gate) ownerCounts(ctx context.Context, org *ent.Organization) (map[uuid.UUID]int, error) {
	r := requestOf(ctx)
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	if r.owners == nil {
		r.owners = map[uuid.UUID]int{}
	}
	chain := append(slices.Clone(org.Ancestry), org.ID)
	var missing []uuid.UUID
	r.mu.Lock()
	for _, id := range chain {
		if _, ok := r.owners[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		for _, id := range r.batches[org.ID] {
			if o, ok := r.orgs[id]; ok {
				for _, c := range append(slices.Clone(o.Ancestry), o.ID) {
					if _, ok := r.owners[c]; !ok && !slices.Contains(missing, c) {
						missing = append(missing, c)
					}
				}
			}
		}
	}
	r.mu.Unlock()
	if len(missing) > 0 {
		counts, err := g.ownerCountsIn(ctx, g.client, missing)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		for _, id := range missing {
			r.owners[id] = counts[id]
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[uuid.UUID]int, len(chain))
	for _, id := range chain {
		out[id] = r.owners[id]
	}
	return out, nil
}

// setOwners sets the owner facts used by the sole-owner rule: the nearest org
// on the chain that has direct owners, and how many it has.
func setOwners(in *policy.Input, org *ent.Organization, counts map[uuid.UUID]int) {
	chain := append(slices.Clone(org.Ancestry), org.ID)
	for i := len(chain) - 1; i >= 0; i-- {
		if n := counts[chain[i]]; n > 0 {
			in.Resource.OwnerOrg, in.Resource.OwnerCount = chain[i].String(), n
			return
		}
	}
}

// Authorize is the service's check, inside its transaction. A denial is
// NOT_FOUND, worded exactly like a lookup that found nothing, when the caller
// cannot even read the org of what it named; FAILED_PRECONDITION when only
// the frozen rule refuses; FORBIDDEN with reasons otherwise.
func (g *Gate) Authorize(ctx context.Context, client *ent.Client, action string, t Target) error {
	d, err := g.Explain(ctx, client, action, t)
	if err != nil {
		return err
	}
	if d.Allowed {
		return nil
	}
	refusal := forbidden(action, d)
	denial := &apperr.Denial{Action: action, ResourceType: t.Type, ResourceID: t.ID,
		Reasons: refusal.Extra["reasons"].([]map[string]any)}
	if t.Org != nil {
		denial.OrgID = t.Org.ID.String()
		self := t.Account != nil && *t.Account == selfID(ctx)
		if visible, _ := g.Decide(ctx, "organization.read", t.Org); !visible.Allowed && !self {
			// The victim's trail never hears of an outsider's probe.
			denial.OrgID, denial.Hidden = "", true
			nf := NotFound(t)
			nf.Denial = denial
			return nf
		}
	}
	if onlyFrozen(d) {
		refusal.Code = apperr.FailedPrecondition
	}
	refusal.Denial = denial
	return refusal
}

// NotFound is the one NOT_FOUND for something named by id: the same bytes
// whether it does not exist or the caller may not see it, whatever the id.
func NotFound(t Target) *apperr.Error {
	if !t.Named && t.Org != nil {
		t.Type, t.ID = "organization", t.Org.ID.String()
	}
	noun := t.Type
	if n, ok := nouns[t.Type]; ok {
		noun = n
	}
	// No id in the text: a probe with a real id and one with a random id
	// must get the same bytes.
	return apperr.New(apperr.NotFound, "%s not found", noun)
}

var nouns = map[string]string{"apikey": "API key"}

// onlyFrozen: the write is refused only because the org is retired.
func onlyFrozen(d policy.Decision) bool {
	for _, r := range d.Reasons {
		if r.Rule != "frozen" {
			return false
		}
	}
	return len(d.Reasons) > 0
}

// ownerCountsIn reads, through client, how many direct owners each of orgs has.
func (g *Gate) ownerCountsIn(ctx context.Context, client *ent.Client, orgs []uuid.UUID) (map[uuid.UUID]int, error) {
	var rows []struct {
		OrganizationID uuid.UUID `json:"organization_id"`
		Count          int       `json:"count"`
	}
	err := client.Membership.Query().
		Where(membership.RoleEQ(g.engine.OwnerRole()), membership.OrganizationIDIn(orgs...)).
		GroupBy(membership.FieldOrganizationID).Aggregate(ent.Count()).Scan(System(ctx), &rows)
	if err != nil {
		return nil, err
	}
	counts := make(map[uuid.UUID]int, len(rows))
	for _, row := range rows {
		counts[row.OrganizationID] = row.Count
	}
	return counts, nil
}

// Org returns an org by id through the request memo (unfiltered: callers decide).
func (g *Gate) Org(ctx context.Context, id uuid.UUID) (*ent.Organization, error) {
	r := requestOf(ctx)
	r.mu.Lock()
	o, ok := r.orgs[id]
	r.mu.Unlock()
	if ok {
		return o, nil
	}
	o, err := g.client.Organization.Query().Where(organization.ID(id), organization.DeletedAtIsNil()).Only(System(ctx))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.orgs[id] = o
	r.mu.Unlock()
	return o, nil
}

// Remember puts orgs loaded by a resolver into the request memo.
func Remember(ctx context.Context, orgs ...*ent.Organization) {
	r := requestOf(ctx)
	r.mu.Lock()
	for _, o := range orgs {
		r.orgs[o.ID] = o
	}
	r.mu.Unlock()
}

// Scope returns the readable-org scope for a read action (memoized per request).
func (g *Gate) Scope(ctx context.Context, action string) (policy.Scope, error) {
	r := requestOf(ctx)
	r.mu.Lock()
	s, ok := r.scopes[action]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	subj, err := g.subject(ctx)
	if err != nil {
		return policy.Scope{}, err
	}
	s, err = g.engine.ListScope(ctx, subj, tokenOrg(ctx), action)
	if err != nil {
		return policy.Scope{}, err
	}
	r.mu.Lock()
	r.scopes[action] = s
	r.mu.Unlock()
	return s, nil
}

// ViewerRole is the caller's role that applies nearest to org, as the policy
// says (inheritance and its per-role switches included).
func (g *Gate) ViewerRole(ctx context.Context, org *ent.Organization) (*string, error) {
	d, err := g.Decide(ctx, "organization.read", org)
	if err != nil || d.Role == "" {
		return nil, err
	}
	return &d.Role, nil
}

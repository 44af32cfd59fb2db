package policy

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reason explains one part of a decision: the rule that denied (roles,
// ceiling, token, frozen, sole_owner, unknown_action) or, for an allowed
// request, what granted it (roles or platform_admin).
type Reason struct {
	Rule       string `json:"rule"`
	Permission string `json:"permission"`
	Message    string `json:"message"`
}

// Decision is the outcome of one authorization question.
type Decision struct {
	Allowed bool     `json:"allowed"`
	Reasons []Reason `json:"reasons"`
	// Role is the subject's role that applies nearest to the resource org
	// (its own there, else the nearest inherited one), "" when none does.
	Role string `json:"role,omitempty"`
}

// Membership is a role on an organization.
type Membership struct {
	Org  string `json:"org"`
	Role string `json:"role"`
}

// Subject is the caller: an account or an API key.
type Subject struct {
	Type          string `json:"type"` // "account" or "api_key"
	ID            string `json:"id"`
	PlatformAdmin bool   `json:"platform_admin"`
	// Memberships: for Decide, those on the resource org and its ancestors;
	// for ListScope, all of the subject's memberships.
	Memberships []Membership `json:"memberships"`
}

// Resource is the object acted on.
type Resource struct {
	Type string `json:"type"` // "organization", "application", ...
	ID   string `json:"id"`
	// Org is the organization the resource belongs to (for an organization:
	// itself).
	Org string `json:"org"`
	// Ancestors of Org, root first, excluding Org itself.
	Ancestors []string `json:"ancestors"`
	// OrgStatus is the status of Org ("ACTIVE" or "RETIRED").
	OrgStatus string `json:"org_status"`
	// Status is the status of the resource itself.
	Status string `json:"status"`
	// Capabilities of Org.
	Capabilities []string `json:"capabilities"`
	// OwnerOrg is the nearest organization on the chain Org, parent, ...,
	// root that has direct owners; OwnerCount is its number of owners.
	OwnerOrg   string `json:"owner_org"`
	OwnerCount int    `json:"owner_count"`
	// Self tells that the resource is about the subject itself: its own
	// membership, an invitation addressed to it, its account. A fact, not a
	// grant: what it allows is data.orgraph.self_actions.
	Self bool `json:"self"`
}

// Input is one authorization question.
type Input struct {
	Subject Subject
	// TokenOrg is the org context of the bearer token; "" means none.
	TokenOrg string
	Action   string
	Resource Resource
}

// ScopeGrant is an organization whose items a subject may list, with its
// descendants when Subtree is set.
type ScopeGrant struct {
	Org     string `json:"org"`
	Subtree bool   `json:"subtree"`
}

// Scope is the readable organization set of a subject for one read action.
// An item of organization O is in scope when (All, or O is the Org of a
// grant, or O descends from the Org of a grant with Subtree) and (Within is
// "", or O is Within or descends from it).
//
// The org-role ceiling and organization status are not part of a scope: the
// per-item decision still applies them.
type Scope struct {
	All    bool         `json:"all"`
	Orgs   []ScopeGrant `json:"orgs"`
	Within string       `json:"within"`
	// Self: rows about the subject itself (its memberships, invitations
	// addressed to it) are listable too, within the token's org context.
	Self bool `json:"self"`
	// Ceiling: an item is listable only in an org holding one of these
	// capabilities (the org-role ceiling); nil when no ceiling applies.
	Ceiling []string `json:"ceiling"`
}

// Options configure Open.
type Options struct {
	// Dir is the policy directory: the .rego files, their *_test.rego tests
	// and data.json. A directory that holds no .rego file but has a rego/
	// subdirectory (such as the repository's policy/) means that
	// subdirectory. "" selects the policies embedded in the binary, which are
	// never watched.
	Dir string
	// Logger receives reload results; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the reload counters; nil registers nothing.
	Registerer prometheus.Registerer
	// PollInterval is how often Watch re-reads Dir in addition to file
	// system notifications; 0 means 1s.
	PollInterval time.Duration
}

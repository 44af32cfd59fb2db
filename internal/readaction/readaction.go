// Package readaction is the table of the policy action that guards the read
// of every GraphQL field holding org data: the gate's field middleware
// (internal/gate/fields.go) decides each field by it, and the schema hook of
// ent/entc.go makes every field the policy may refuse on its own nullable,
// so a refused field is null at its path without erasing its parent. It
// imports nothing, so code generation can use it.
package readaction

// Public marks a field that exposes no org data of its own (its parent was
// checked) or that decides inside its resolver through the gate.
const Public = "public"

// Types is the read action for every field of a type holding org data.
var Types = map[string]string{
	"Organization": "organization.read",
	"Membership":   "members.read",
	"Invitation":   "invitations.read",
	"Application":  "application.read",
	"Sector":       "sector.read",
	"Person":       "person.read",
	"Handle":       "person.read",
	"Group":        "group.read",
	"APIKey":       "apikey.read",
	"AuditEvent":   "audit.read",
	// An account's own data (its id, flags, memberships, invitations): the
	// policy shows it to the account itself and to platform admins.
	"Account": "account.read_private",
}

// Fields overrides Types for single fields ("Type.field").
var Fields = map[string]string{
	"Organization.members":           "members.read",
	"Organization.membersCount":      "members.read",
	"Organization.invitations":       "invitations.read",
	"Organization.applications":      "application.read",
	"Organization.applicationsCount": "application.read",
	"Organization.sectors":           "sector.read",
	"Organization.persons":           "person.read",
	"Organization.personsCount":      "person.read",
	"Organization.apiKeys":           "apikey.read",
	"Organization.auditEvents":       "audit.read",
	"Organization.limits":            "organization.read",
	// The org edge is read through the org's own read scope and its fields
	// through their own rules (an invitee who cannot read the org yet reads
	// Invitation.organizationName instead).
	"Invitation.organization": Public,
	// What anyone who can see an account (the SQL filter decides) sees of it.
	"Account.alias":       Public,
	"Account.displayName": Public,
	"Account.createdAt":   Public,

	// The identity plane: persons, handles, groups, applications.
	"Organization.groups": "group.read",
	// Decided in their resolvers in the org they name (or are listed
	// through): person.read there; the parent type's read was checked.
	"Person.handles":         "person.read",
	"Person.groups":          "group.read",
	"Group.members":          "person.read",
	"Application.subjectFor": "application.read",
	"Application.publicKeys": "application.read",
}

// Refusable tells whether the gate may refuse field of object while it lets
// the object itself be read: the field is guarded by an action of its own,
// other than its type's. Such a field must be nullable in the schema, or its
// refusal would null its parent (and, up the tree, the whole answer).
func Refusable(object, field string) bool {
	a, ok := Fields[object+"."+field]
	return ok && a != Public && a != Types[object]
}

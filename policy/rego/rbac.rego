# METADATA
# title: Role matrix
# description: |
#   Grants permissions from the roles the subject holds on the resource
#   organization (directly or inherited), using the operator-replaceable role
#   matrix data.orgraph.roles. Platform administrators hold every permission.
package orgraph.rbac

import data.orgraph.inheritance

# METADATA
# description: Whether the subject is a platform administrator.
platform_admin if input.subject.platform_admin == true

# METADATA
# description: Whether role grants permission (never for a role the matrix does not know).
grants(role, permission) if permission in data.orgraph.roles[role]

# METADATA
# description: Whether permission exists, i.e. some role or the platform grants it.
known(permission) if {
	some permissions in data.orgraph.roles
	permission in permissions
}

known(permission) if permission in data.orgraph.platform_actions

known(permission) if permission in data.orgraph.self_actions

# METADATA
# description: |
#   Whether the action is one an account performs on what is about itself
#   (input.resource.self): reading its own memberships and invitations,
#   responding to an invitation, deleting itself, creating a root
#   organization (data.orgraph.self_actions). Token confinement and the
#   frozen rule still apply.
self_service if {
	input.subject.type == "account"
	input.resource.self == true
	input.action in data.orgraph.self_actions
}

# METADATA
# description: The roles the subject holds on the resource organization.
held_roles contains m.role if {
	some m in input.subject.memberships
	inheritance.applies(m, input.resource)
}

# METADATA
# description: The held roles that grant the requested action.
granting_roles contains role if {
	some role in held_roles
	grants(role, input.action)
}

# METADATA
# description: Whether the requested action is granted, by a role or to a platform administrator.
granted if platform_admin

granted if count(granting_roles) > 0

granted if self_service

# METADATA
# description: The denial when neither a role nor platform administration grants the action.
deny contains reason if {
	not granted
	reason := {
		"rule": "roles",
		"permission": input.action,
		"message": missing_role_message,
	}
}

missing_role_message := sprintf(
	"no role on organization %s or its ancestors grants %s",
	[input.resource.org, input.action],
) if {
	count(held_roles) == 0
	input.resource.org != ""
}

missing_role_message := sprintf(
	"%s belongs to no organization: only the account it is about or a platform administrator holds it",
	[input.action],
) if {
	input.resource.org == ""
}

missing_role_message := sprintf("role %s does not grant %s", [role, input.action]) if {
	count(held_roles) == 1
	some role in held_roles
}

missing_role_message := sprintf(
	"roles %s do not grant %s",
	[concat(", ", sort(held_roles)), input.action],
) if {
	count(held_roles) > 1
}

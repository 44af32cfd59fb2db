# METADATA
# title: Organization lifecycle
# description: |
#   Frozen: in a retired organization no write succeeds except re-enabling
#   it; reads (data.orgraph.read_actions) still work.
#   Sole owner: retiring or re-enabling an organization, application or
#   sector (data.orgraph.sole_owner_actions) requires being the only owner of
#   the nearest organization with direct owners (input.resource.owner_org).
#   Platform administrators are exempt from the sole-owner rule only.
package orgraph.lifecycle

import data.orgraph.rbac

# METADATA
# description: The writes still allowed in a retired organization.
frozen_writes := {"organization.reenable", "account.delete"}

# METADATA
# description: Whether the resource organization is retired.
frozen if input.resource.org_status == "RETIRED"

# METADATA
# description: Whether the requested action is a read.
read if input.action in data.orgraph.read_actions

# METADATA
# description: The denial for a write in a retired organization.
deny contains reason if {
	frozen
	not read
	not input.action in frozen_writes
	reason := {
		"rule": "frozen",
		"permission": input.action,
		"message": sprintf(
			"organization %s is retired: only reads and %s are allowed",
			[input.resource.org, concat(", ", sort(frozen_writes))],
		),
	}
}

# METADATA
# description: Whether the subject holds an owner membership on the owning organization.
owner if {
	some m in input.subject.memberships
	m.org == input.resource.owner_org
	m.role == data.orgraph.owner_role
}

# METADATA
# description: Whether the subject is the sole owner of the owning organization.
sole_owner if {
	owner
	input.resource.owner_count == 1
}

# METADATA
# description: The denial when a sole-owner action is requested by someone other than the sole owner.
deny contains reason if {
	input.action in data.orgraph.sole_owner_actions
	not rbac.platform_admin
	not sole_owner
	reason := {
		"rule": "sole_owner",
		"permission": input.action,
		"message": sole_owner_message,
	}
}

sole_owner_message := sprintf(
	"%s requires being the sole owner of organization %s, which has %d owners",
	[input.action, input.resource.owner_org, input.resource.owner_count],
) if {
	owner
}

sole_owner_message := sprintf(
	"%s requires being the sole owner of organization %s",
	[input.action, input.resource.owner_org],
) if {
	not owner
}

# METADATA
# title: Org-role ceiling
# description: |
#   An organization's capabilities bound what anyone can do in it: effective
#   permissions are the role permissions intersected with the permissions of
#   the organization's capabilities (data.orgraph.capabilities). Platform
#   administrators are exempt only for platform actions
#   (data.orgraph.platform_actions, e.g. organization.delete).
package orgraph.ceiling

import data.orgraph.rbac

# METADATA
# description: Whether some capability of the resource organization allows the requested action.
allowed if {
	some capability in input.resource.capabilities
	input.action in data.orgraph.capabilities[capability]
}

# METADATA
# description: Platform administrators act outside the ceiling for platform actions.
exempt if {
	rbac.platform_admin
	input.action in data.orgraph.platform_actions
}

# A ceiling bounds roles; what an account does about itself is not a role's.
exempt if rbac.self_service

# A ceiling is an org's: what belongs to no org has none.
exempt if input.resource.org == ""

# METADATA
# description: The denial when the capabilities of the organization do not allow the action.
deny contains reason if {
	not allowed
	not exempt
	reason := {
		"rule": "ceiling",
		"permission": input.action,
		"message": sprintf(
			"capabilities [%s] of organization %s do not allow %s",
			[concat(", ", sort(input.resource.capabilities)), input.resource.org, input.action],
		),
	}
}

# METADATA
# title: Authorization entrypoint
# description: |
#   Combines the role matrix, the org-role ceiling, token confinement and the
#   lifecycle rules into one decision. Nothing is allowed by default.
package orgraph.authz

import data.orgraph.ceiling
import data.orgraph.inheritance
import data.orgraph.lifecycle
import data.orgraph.rbac
import data.orgraph.token

# METADATA
# description: Whether the requested action is allowed.
default allow := false

allow if {
	known
	count(denials) == 0
}

# METADATA
# description: Whether the requested action is a permission of the role matrix or a platform action.
known if rbac.known(input.action)

# METADATA
# description: Every rule that denies the request.
denials := ((rbac.deny | ceiling.deny) | token.deny) | lifecycle.deny

# METADATA
# description: |
#   The decision for one request: {"allow": bool, "reasons": [...], "role"}. Each
#   reason is {"rule", "permission", "message"}; a denial lists every rule that
#   denies (sorted), an allowed request lists what granted it.
# entrypoint: true
decision := {"allow": allow, "reasons": reasons, "role": viewer_role}

# METADATA
# description: |
#   The subject's role that applies nearest to the resource organization: its
#   own membership there, else that of the nearest ancestor whose role
#   inherits (data.orgraph.inherit, data.orgraph.inherit_roles); null when
#   none applies. It is what Organization.viewerRole shows.
default viewer_role := null

viewer_role := role if {
	some role in {m.role |
		some m in applying
		m.org == chain[nearest]
	}
}

chain := array.concat(input.resource.ancestors, [input.resource.org])

applying contains m if {
	some m in input.subject.memberships
	inheritance.applies(m, input.resource)
}

nearest := max({i |
	some m in applying
	some i, org in chain
	org == m.org
})

reasons := [{
	"rule": "unknown_action",
	"permission": input.action,
	"message": sprintf("unknown action %s", [input.action]),
}] if {
	not known
}

reasons := sort(denials) if {
	known
	count(denials) > 0
}

reasons := [grant] if allow

grant := {
	"rule": "platform_admin",
	"permission": input.action,
	"message": sprintf("platform administrators hold %s", [input.action]),
} if {
	rbac.platform_admin
}

grant := {
	"rule": "self",
	"permission": input.action,
	"message": sprintf("an account may %s on what is about itself", [input.action]),
} if {
	not rbac.platform_admin
	rbac.self_service
}

grant := {
	"rule": "roles",
	"permission": input.action,
	"message": sprintf(
		"role %s on organization %s or its ancestors grants %s",
		[concat(", ", sort(rbac.granting_roles)), input.resource.org, input.action],
	),
} if {
	not rbac.platform_admin
	not rbac.self_service
}

# METADATA
# description: |
#   The organizations whose items the subject may list for a read action, so
#   that a list can be filtered in SQL instead of deciding once per row:
#   {"all": platform admin, "orgs": [{"org", "subtree"}], "within": token org or null,
#   "self": rows about the subject itself are listable too,
#   "ceiling": capabilities one of which the item's org must hold, or null}.
#   An item is listable when (all or its org is an org of orgs, or a
#   descendant of one whose subtree is true) and (within is null or its org is
#   within or a descendant of within).
#   The role matrix, inheritance, the token and the org-role ceiling
#   ("ceiling": capabilities, checked per org in SQL) are considered here;
#   organization status is not (it only restricts writes).
#   Input: {"subject" (all memberships, any org), "token", "action"}.
# entrypoint: true
list_scope := {
	"self": self_listable,
	"ceiling": ceiling_capabilities,
	"all": all_orgs,
	"orgs": [{"org": org, "subtree": subtree(org)} | some org in sort(scope_orgs)],
	"within": token_org,
}

default token_org := null

token_org := input.token.org

# METADATA
# description: |
#   The org-role ceiling for lists: the capabilities under which the action
#   is allowed at all; an item is listable only in an org holding one of
#   them (null when no ceiling applies: a platform admin's platform action).
#   Rows about the subject itself are exempt, as in the decision.
default ceiling_capabilities := null

ceiling_capabilities := sort([c |
	some c, permissions in data.orgraph.capabilities
	input.action in permissions
]) if {
	not ceiling_exempt
}

ceiling_exempt if {
	rbac.platform_admin
	input.action in data.orgraph.platform_actions
}

# METADATA
# description: Whether rows about the subject itself are listable for the action (data.orgraph.self_actions).
default self_listable := false

self_listable if {
	input.subject.type == "account"
	input.action in data.orgraph.self_actions
}

default all_orgs := false

all_orgs if {
	rbac.platform_admin
	known
}

scope_orgs contains m.org if {
	some m in input.subject.memberships
	rbac.grants(m.role, input.action)
}

default subtree(_) := false

subtree(org) if {
	some m in input.subject.memberships
	m.org == org
	rbac.grants(m.role, input.action)
	inheritance.inherits(m.role)
}

package orgraph.rbac_test

import data.orgraph.fixtures_test as fixtures
import data.orgraph.rbac

deny(patch) := result if {
	result := rbac.deny with input as fixtures.input_with(patch)
		with data.orgraph.roles as fixtures.matrix.roles
		with data.orgraph.platform_actions as fixtures.matrix.platform_actions
		with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
}

held_roles(patch) := result if {
	result := rbac.held_roles with input as fixtures.input_with(patch)
		with data.orgraph.roles as fixtures.matrix.roles
		with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
}

granting_roles(patch) := result if {
	result := rbac.granting_roles with input as fixtures.input_with(patch)
		with data.orgraph.roles as fixtures.matrix.roles
		with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
}

memberships := [
	{"org": "c", "role": "viewer"},
	{"org": "r", "role": "admin"},
	{"org": "x", "role": "owner"},
]

test_platform_admin_only_when_true if {
	rbac.platform_admin with input as {"subject": {"platform_admin": true}}
	not rbac.platform_admin with input as {"subject": {"platform_admin": false}}
	not rbac.platform_admin with input as {"subject": {}}
}

test_grants_from_matrix if {
	rbac.grants("admin", "application.create") with data.orgraph.roles as fixtures.matrix.roles
	not rbac.grants("viewer", "application.create") with data.orgraph.roles as fixtures.matrix.roles
	not rbac.grants("superuser", "organization.read") with data.orgraph.roles as fixtures.matrix.roles
}

test_known_actions if {
	rbac.known("members.invite") with data.orgraph.roles as fixtures.matrix.roles
		with data.orgraph.platform_actions as fixtures.matrix.platform_actions
	rbac.known("organization.delete") with data.orgraph.roles as fixtures.matrix.roles
		with data.orgraph.platform_actions as fixtures.matrix.platform_actions
	not rbac.known("members.frobnicate") with data.orgraph.roles as fixtures.matrix.roles
		with data.orgraph.platform_actions as fixtures.matrix.platform_actions
}

test_held_roles_direct_and_inherited if {
	held_roles(fixtures.memberships(memberships)) == {"viewer", "admin"}
}

test_granting_roles if {
	granting_roles(object.union(fixtures.memberships(memberships), {"action": "application.create"})) == {"admin"}
	granting_roles(object.union(fixtures.memberships(memberships), {"action": "members.read"})) == {"admin", "viewer"}
}

test_no_denial_when_a_role_grants if {
	deny(object.union(fixtures.memberships(memberships), {"action": "application.create"})) == set()
}

test_no_denial_for_platform_admin if {
	deny({"action": "members.invite", "subject": {"platform_admin": true}}) == set()
}

test_denial_without_roles if {
	deny({"action": "members.invite"}) == {{
		"rule": "roles",
		"permission": "members.invite",
		"message": "no role on organization c or its ancestors grants members.invite",
	}}
}

test_denial_with_one_role if {
	deny(object.union(fixtures.memberships([{"org": "c", "role": "viewer"}]), {"action": "members.invite"})) == {{
		"rule": "roles",
		"permission": "members.invite",
		"message": "role viewer does not grant members.invite",
	}}
}

test_denial_with_several_roles if {
	ms := [{"org": "c", "role": "viewer"}, {"org": "p", "role": "billing"}]
	deny(object.union(fixtures.memberships(ms), {"action": "members.invite"})) == {{
		"rule": "roles",
		"permission": "members.invite",
		"message": "roles billing, viewer do not grant members.invite",
	}}
}

test_unknown_role_grants_nothing if {
	deny(fixtures.memberships([{"org": "c", "role": "superuser"}])) == {{
		"rule": "roles",
		"permission": "organization.read",
		"message": "role superuser does not grant organization.read",
	}}
}

# METADATA
# title: Data invariants
# description: |
#   Checks that hold for any role matrix an operator puts in data.json. These
#   tests run against the real data, so a replacement with a typo in a
#   permission is refused on reload.
package orgraph.data_test

permission_pattern := `^[a-z_]+\.[a-z_]+$`

capability_permissions contains p if {
	some permissions in data.orgraph.capabilities
	some p in permissions
}

test_permissions_are_well_formed if {
	malformed := {p |
		some p in capability_permissions
		not regex.match(permission_pattern, p)
	}
	malformed == set()
}

test_role_permissions_are_capability_permissions if {
	outside := {[role, p] |
		some role, permissions in data.orgraph.roles
		some p in permissions
		not p in capability_permissions
	}
	outside == set()
}

test_listed_actions_are_capability_permissions if {
	listed := {p |
		some list in [data.orgraph.read_actions, data.orgraph.sole_owner_actions, data.orgraph.platform_actions]
		some p in list
	}
	outside := {p | some p in listed; not p in capability_permissions}
	outside == set()
}

test_reads_are_read_actions if {
	missing := {p |
		some p in capability_permissions
		endswith(p, ".read")
		not p in data.orgraph.read_actions
	}
	missing == set()
}

test_owner_role_exists if {
	data.orgraph.roles.owner
}

test_inheritance_switches_are_booleans if {
	is_boolean(data.orgraph.inherit)
	not_boolean := {role | some role, on in data.orgraph.inherit_roles; not is_boolean(on)}
	not_boolean == set()
}

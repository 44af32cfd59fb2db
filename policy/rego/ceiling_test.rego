package orgraph.ceiling_test

import data.orgraph.ceiling
import data.orgraph.fixtures_test as fixtures

deny(action, capabilities, platform_admin) := result if {
	patch := {
		"action": action,
		"subject": {"platform_admin": platform_admin},
		"resource": {"capabilities": capabilities},
	}
	result := ceiling.deny with input as fixtures.input_with(patch)
		with data.orgraph.capabilities as fixtures.matrix.capabilities
		with data.orgraph.platform_actions as fixtures.matrix.platform_actions
}

test_capability_allows if {
	deny("application.create", ["applications"], false) == set()
	deny("organization.update", fixtures.all_capabilities, false) == set()
}

test_missing_capability_denies if {
	deny("application.create", ["identities", "core"], false) == {{
		"rule": "ceiling",
		"permission": "application.create",
		"message": "capabilities [core, identities] of organization c do not allow application.create",
	}}
}

test_unknown_or_no_capability_allows_nothing if {
	count(deny("organization.read", ["teleport"], false)) == 1
	deny("organization.read", [], false) == {{
		"rule": "ceiling",
		"permission": "organization.read",
		"message": "capabilities [] of organization c do not allow organization.read",
	}}
}

test_platform_admin_exempt_for_platform_actions_only if {
	deny("organization.delete", [], true) == set()
	deny("organization.set_limits", ["billing"], true) == set()
	count(deny("application.create", ["core"], true)) == 1
}

test_platform_actions_are_bounded_for_others if {
	count(deny("organization.delete", ["billing"], false)) == 1
	deny("organization.delete", ["core"], false) == set()
}

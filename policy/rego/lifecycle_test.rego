package orgraph.lifecycle_test

import data.orgraph.fixtures_test as fixtures
import data.orgraph.lifecycle

deny(patch) := result if {
	result := lifecycle.deny with input as fixtures.input_with(patch)
		with data.orgraph.read_actions as fixtures.matrix.read_actions
		with data.orgraph.sole_owner_actions as fixtures.matrix.sole_owner_actions
}

retired(action) := {"action": action, "resource": {"org_status": "RETIRED"}}

sole_owner := {"subject": {"memberships": [{"org": "c", "role": "owner"}]}}

test_frozen_org_refuses_writes if {
	deny(retired("application.create")) == {{
		"rule": "frozen",
		"permission": "application.create",
		"message": "organization c is retired: only reads and account.delete, organization.reenable are allowed",
	}}
}

test_frozen_org_allows_reads if {
	deny(retired("members.read")) == set()
	deny(retired("audit.read")) == set()
}

test_frozen_org_allows_reenable if {
	deny(object.union(retired("organization.reenable"), sole_owner)) == set()
}

test_active_org_allows_writes if {
	deny({"action": "application.create"}) == set()
}

test_sole_owner_may_retire if {
	deny(object.union({"action": "organization.retire"}, sole_owner)) == set()
	deny(object.union({"action": "sector.reenable"}, sole_owner)) == set()
}

test_owner_among_several_may_not_retire if {
	patch := object.union(sole_owner, {"action": "application.retire", "resource": {"owner_count": 2}})
	deny(patch) == {{
		"rule": "sole_owner",
		"permission": "application.retire",
		"message": "application.retire requires being the sole owner of organization c, which has 2 owners",
	}}
}

test_non_owner_may_not_retire if {
	patch := {"action": "organization.retire", "subject": {"memberships": [{"org": "c", "role": "admin"}]}}
	deny(patch) == {{
		"rule": "sole_owner",
		"permission": "organization.retire",
		"message": "organization.retire requires being the sole owner of organization c",
	}}
}

test_owner_of_another_org_is_not_the_sole_owner if {
	patch := {"action": "organization.retire", "subject": {"memberships": [{"org": "r", "role": "owner"}]}}
	count(deny(patch)) == 1
}

test_owner_of_nearest_owned_ancestor if {
	patch := {
		"action": "sector.retire",
		"subject": {"memberships": [{"org": "p", "role": "owner"}]},
		"resource": {"owner_org": "p", "owner_count": 1},
	}
	deny(patch) == set()
}

test_platform_admin_exempt_from_sole_owner if {
	deny({"action": "organization.retire", "subject": {"platform_admin": true}}) == set()
}

test_platform_admin_not_exempt_from_frozen if {
	count(deny(object.union(retired("application.update"), {"subject": {"platform_admin": true}}))) == 1
}

test_other_actions_need_no_owner if {
	deny({"action": "application.update"}) == set()
}

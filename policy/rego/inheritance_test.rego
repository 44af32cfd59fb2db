package orgraph.inheritance_test

import data.orgraph.inheritance

# Organization c, a child of p, itself a child of the root r.
resource := {"org": "c", "ancestors": ["r", "p"]}

test_applies_on_own_org if {
	inheritance.applies({"org": "c", "role": "viewer"}, resource) with data.orgraph.inherit as false
		with data.orgraph.inherit_roles as {}
}

test_applies_from_every_ancestor_when_inherit_on if {
	inheritance.applies({"org": "r", "role": "viewer"}, resource) with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
	inheritance.applies({"org": "p", "role": "viewer"}, resource) with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
}

test_not_from_ancestor_when_inherit_off if {
	not inheritance.applies({"org": "p", "role": "viewer"}, resource) with data.orgraph.inherit as false
		with data.orgraph.inherit_roles as {}
}

test_never_from_unrelated_or_descendant_org if {
	not inheritance.applies({"org": "x", "role": "owner"}, resource) with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
	not inheritance.applies({"org": "c-child", "role": "owner"}, {"org": "c", "ancestors": []}) with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
}

test_role_override_turns_inheritance_off if {
	not inheritance.applies({"org": "p", "role": "viewer"}, resource) with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {"viewer": false}
	inheritance.applies({"org": "p", "role": "admin"}, resource) with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {"viewer": false}
}

test_role_override_turns_inheritance_on if {
	inheritance.applies({"org": "p", "role": "admin"}, resource) with data.orgraph.inherit as false
		with data.orgraph.inherit_roles as {"admin": true}
	not inheritance.applies({"org": "p", "role": "viewer"}, resource) with data.orgraph.inherit as false
		with data.orgraph.inherit_roles as {"admin": true}
}

test_inherits_only_on_true_and_ignores_non_boolean_overrides if {
	inheritance.inherits("admin") with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {}
	not inheritance.inherits("admin") with data.orgraph.inherit as "yes"
		with data.orgraph.inherit_roles as {}
	inheritance.inherits("admin") with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as {"admin": null}
}

test_inherit_roles_is_optional if {
	inheritance.inherits("admin") with data.orgraph.inherit as true
		with data.orgraph.inherit_roles as null
}

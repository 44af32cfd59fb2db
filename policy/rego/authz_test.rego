package orgraph.authz_test

import data.orgraph.authz
import data.orgraph.fixtures_test as fixtures

# METADATA
# description: The decision for the base input with patch merged in, under data d.
decide_with(patch, d) := result if {
	result := authz.decision with input as fixtures.input_with(patch)
		with data.orgraph.roles as d.roles
		with data.orgraph.capabilities as d.capabilities
		with data.orgraph.inherit as d.inherit
		with data.orgraph.inherit_roles as d.inherit_roles
		with data.orgraph.read_actions as d.read_actions
		with data.orgraph.sole_owner_actions as d.sole_owner_actions
		with data.orgraph.platform_actions as d.platform_actions
		with data.orgraph.self_actions as d.self_actions
		with data.orgraph.owner_role as d.owner_role
		with data.orgraph.account_reads as d.account_reads
}

decide(patch) := decide_with(patch, fixtures.matrix)

# METADATA
# description: The list scope for a complete input, under data d.
scope_with(request, d) := result if {
	result := authz.list_scope with input as request
		with data.orgraph.self_actions as d.self_actions
		with data.orgraph.capabilities as d.capabilities
		with data.orgraph.roles as d.roles
		with data.orgraph.inherit as d.inherit
		with data.orgraph.inherit_roles as d.inherit_roles
		with data.orgraph.platform_actions as d.platform_actions
}

scope(request) := scope_with(request, fixtures.matrix)

as_role(role, action) := object.union(fixtures.memberships([{"org": "c", "role": role}]), {"action": action})

all_actions := {
	"organization.read", "organization.update", "organization.create_suborg", "organization.retire",
	"organization.reenable", "organization.delete", "organization.set_limits",
	"members.read", "members.invite", "members.change_role", "members.remove",
	"invitations.read", "invitations.revoke",
	"application.read", "application.create", "application.update", "application.retire",
	"application.reenable", "application.rotate_key",
	"sector.read", "sector.create", "sector.retire", "sector.reenable",
	"person.read", "person.create", "person.update",
	"group.read", "group.create", "group.update",
	"apikey.read", "apikey.create", "apikey.revoke",
	"audit.read", "billing.read", "billing.update",
}

reads := {
	"organization.read", "members.read", "application.read",
	"sector.read", "person.read", "group.read",
}

admin_actions := reads | {
	"organization.update", "organization.create_suborg",
	"application.create", "application.update", "application.rotate_key",
	"sector.create", "person.create", "person.update", "group.create", "group.update",
	"apikey.read", "apikey.create", "apikey.revoke",
	"invitations.read", "audit.read", "billing.read",
}

owner_actions := admin_actions | {
	"members.invite", "members.change_role", "members.remove", "invitations.revoke",
	"organization.retire", "organization.reenable",
	"application.retire", "application.reenable",
	"sector.retire", "sector.reenable", "billing.update",
}

allowed_actions(role) := {action |
	some action in all_actions
	decide(as_role(role, action)).allow
}

test_role_matrix if {
	allowed_actions("viewer") == reads
	allowed_actions("member") == reads
	allowed_actions("billing") == {"organization.read", "billing.read", "billing.update"}
	allowed_actions("admin") == admin_actions
	allowed_actions("owner") == owner_actions
}

test_platform_admin_holds_every_action if {
	allowed := {action |
		some action in all_actions
		decide({"action": action, "subject": {"platform_admin": true}}).allow
	}
	allowed == all_actions
}

test_nothing_without_membership if {
	allowed := {action |
		some action in all_actions
		decide({"action": action}).allow
	}
	allowed == set()
}

test_decision_shape if {
	d := decide({})
	object.keys(d) == {"allow", "reasons", "role"}
	d.allow == false
	is_array(d.reasons)
}

test_allowed_by_role_says_which if {
	decide(as_role("admin", "application.create")) == {
		"allow": true,
		"role": "admin",
		"reasons": [{
			"rule": "roles",
			"permission": "application.create",
			"message": "role admin on organization c or its ancestors grants application.create",
		}],
	}
}

test_allowed_for_platform_admin_says_so if {
	decide({"action": "organization.delete", "subject": {"platform_admin": true}}) == {
		"allow": true,
		"role": null,
		"reasons": [{
			"rule": "platform_admin",
			"permission": "organization.delete",
			"message": "platform administrators hold organization.delete",
		}],
	}
}

test_denied_by_role if {
	decide(as_role("viewer", "members.invite")) == {
		"allow": false,
		"role": "viewer",
		"reasons": [{
			"rule": "roles",
			"permission": "members.invite",
			"message": "role viewer does not grant members.invite",
		}],
	}
}

test_unknown_action if {
	expected := {
		"allow": false,
		"reasons": [{
			"rule": "unknown_action",
			"permission": "members.frobnicate",
			"message": "unknown action members.frobnicate",
		}],
	}
	object.union(expected, {"role": "owner"}) == decide(as_role("owner", "members.frobnicate"))
	object.union(expected, {"role": null}) == decide({"action": "members.frobnicate", "subject": {"platform_admin": true}})
}

test_api_key_acts_like_a_membership if {
	patch := object.union(as_role("admin", "application.update"), {"subject": {"type": "api_key", "id": "key-1"}})
	decide(patch).allow
}

test_membership_inherited_from_ancestor if {
	patch := object.union(fixtures.memberships([{"org": "r", "role": "admin"}]), {"action": "group.create"})
	decide(patch).allow
	not decide_with(patch, object.union(fixtures.matrix, {"inherit": false})).allow
	decide_with(patch, object.union(fixtures.matrix, {"inherit": false, "inherit_roles": {"admin": true}})).allow
}

test_ceiling_bounds_roles if {
	patch := object.union(as_role("owner", "application.create"), {"resource": {"capabilities": ["core"]}})
	d := decide(patch)
	d.allow == false
	[r.rule | some r in d.reasons] == ["ceiling"]
}

test_ceiling_bounds_platform_admins_except_platform_actions if {
	patch := {"subject": {"platform_admin": true}, "resource": {"capabilities": []}}
	decide(object.union(patch, {"action": "organization.delete"})).allow
	decide(object.union(patch, {"action": "organization.set_limits"})).allow
	not decide(object.union(patch, {"action": "organization.read"})).allow
}

test_token_confines_everyone if {
	outside := {"token": {"org": "x"}}
	d := decide(object.union(as_role("owner", "organization.update"), outside))
	[r.rule | some r in d.reasons] == ["token"]
	not decide(object.union({"action": "organization.delete", "subject": {"platform_admin": true}}, outside)).allow
	decide(object.union(as_role("owner", "organization.update"), {"token": {"org": "p"}})).allow
}

test_frozen_org_refuses_writes_even_to_platform_admins if {
	retired := {"resource": {"org_status": "RETIRED"}}
	not decide(object.union(as_role("owner", "organization.update"), retired)).allow
	not decide(object.union({"action": "organization.update", "subject": {"platform_admin": true}}, retired)).allow
	decide(object.union(as_role("viewer", "members.read"), retired)).allow
	decide(object.union(as_role("owner", "organization.reenable"), retired)).allow
}

test_retire_needs_the_sole_owner if {
	several := {"resource": {"owner_count": 2}}
	d := decide(object.union(as_role("owner", "organization.retire"), several))
	[r.rule | some r in d.reasons] == ["sole_owner"]
	decide(object.union({"action": "organization.retire", "subject": {"platform_admin": true}}, several)).allow
}

test_every_denial_is_reported_in_order if {
	patch := object.union(as_role("viewer", "application.create"), {
		"token": {"org": "x"},
		"resource": {"org_status": "RETIRED", "capabilities": ["core"]},
	})
	d := decide(patch)
	d.allow == false
	[r.rule | some r in d.reasons] == ["ceiling", "frozen", "roles", "token"]
	d.reasons == sort(d.reasons)
}

scope_input(memberships, action) := {
	"subject": {"type": "account", "id": "acc-1", "platform_admin": false, "memberships": memberships},
	"token": {"org": null},
	"action": action,
}

test_scope_lists_granting_memberships if {
	ms := [
		{"org": "b", "role": "billing"},
		{"org": "c", "role": "admin"},
		{"org": "a", "role": "viewer"},
	]
	scope(scope_input(ms, "members.read")) == {
		"all": false,
		"orgs": [{"org": "a", "subtree": true}, {"org": "c", "subtree": true}],
		"within": null,
		"self": true,
		"ceiling": ["core"],
	}
	scope(scope_input(ms, "billing.update")).orgs == [{"org": "b", "subtree": true}]
	scope(scope_input(ms, "members.invite")).orgs == []
}

test_scope_subtree_follows_inheritance if {
	ms := [{"org": "a", "role": "viewer"}, {"org": "b", "role": "admin"}]
	off := object.union(fixtures.matrix, {"inherit": false})
	scope_with(scope_input(ms, "group.read"), off).orgs == [{"org": "a", "subtree": false}, {"org": "b", "subtree": false}]
	per_role := object.union(off, {"inherit_roles": {"admin": true}})
	scope_with(scope_input(ms, "group.read"), per_role).orgs == [{"org": "a", "subtree": false}, {"org": "b", "subtree": true}]
}

test_scope_merges_memberships_on_one_org if {
	ms := [{"org": "a", "role": "viewer"}, {"org": "a", "role": "admin"}]
	d := object.union(fixtures.matrix, {"inherit_roles": {"viewer": false}})
	scope_with(scope_input(ms, "group.read"), d).orgs == [{"org": "a", "subtree": true}]
}

test_scope_platform_admin_sees_all if {
	request := object.union(scope_input([], "organization.read"), {"subject": {"platform_admin": true}})
	scope(request) == {"all": true, "orgs": [], "within": null, "self": false, "ceiling": ["core"]}
	scope(object.union(request, {"action": "members.frobnicate"})).all == false
}

test_scope_within_token_org if {
	scope(object.union(scope_input([], "organization.read"), {"token": {"org": "t"}})).within == "t"
	scope(object.remove(scope_input([], "organization.read"), ["token"])).within == null
}

# One's own: an account acts on what is about itself without a role there,
# within its token's org context and never in a frozen org.

self_patch(action) := {"action": action, "resource": {"type": "invitation", "id": "i", "self": true}}

test_self_service_needs_no_role if {
	every action in ["members.read", "invitations.read", "invitations.respond", "account.delete"] {
		d := decide(self_patch(action))
		d.allow
		d.reasons[0].rule == "self"
	}
}

test_self_service_only_on_what_is_about_oneself if {
	d := decide({"action": "invitations.respond", "resource": {"type": "invitation", "id": "i", "self": false}})
	not d.allow
}

test_self_service_is_for_accounts_only if {
	d := decide(object.union(self_patch("invitations.respond"), {"subject": {"type": "api_key"}}))
	not d.allow
}

test_self_service_ignores_the_ceiling if {
	d := decide(object.union(self_patch("invitations.respond"), {"resource": {"capabilities": []}}))
	d.allow
}

test_self_service_is_confined_by_the_token if {
	d := decide(object.union(self_patch("invitations.respond"), {"token": {"org": "elsewhere"}}))
	not d.allow
	d.reasons[0].rule == "token"
}

test_responding_in_a_retired_org_is_frozen if {
	d := decide(object.union(self_patch("invitations.respond"), {"resource": {"org_status": "RETIRED"}}))
	not d.allow
	d.reasons[0].rule == "frozen"
}

test_deleting_oneself_is_not_frozen if {
	d := decide(object.union(self_patch("account.delete"), {"resource": {"org_status": "RETIRED"}}))
	d.allow
}

test_root_org_creation_needs_no_org if {
	root := {"action": "organization.create", "resource": {"type": "organization", "id": "", "org": "", "ancestors": [], "capabilities": [], "org_status": "", "self": true}}
	decide(root).allow
	not decide(object.union(root, {"token": {"org": "c"}})).allow
	not decide(object.union(root, {"subject": {"type": "api_key"}})).allow
}

# The viewer's role: the nearest membership that applies, by inheritance.

test_viewer_role_is_the_nearest_applying_membership if {
	d := decide(fixtures.memberships([{"org": "r", "role": "owner"}, {"org": "p", "role": "viewer"}]))
	d.role == "viewer"
}

test_viewer_role_of_the_org_itself_wins if {
	d := decide(fixtures.memberships([{"org": "p", "role": "admin"}, {"org": "c", "role": "billing"}]))
	d.role == "billing"
}

test_viewer_role_respects_inheritance_off if {
	off := object.union(fixtures.matrix, {"inherit": false})
	decide_with(fixtures.memberships([{"org": "p", "role": "admin"}]), off).role == null
	on := object.union(fixtures.matrix, {"inherit": false, "inherit_roles": {"admin": true}})
	decide_with(fixtures.memberships([{"org": "r", "role": "owner"}, {"org": "p", "role": "admin"}]), on).role == "admin"
}

test_viewer_role_is_null_without_membership if {
	decide({}).role == null
}

# An account's private fields (its id, platform flag, deletion time).

account_patch(self) := {"action": "account.read_private", "resource": {"type": "account", "id": "a", "org": "", "ancestors": [], "capabilities": [], "org_status": "", "self": self}}

test_an_account_reads_its_own_private_fields if {
	decide(account_patch(true)).allow
}

test_others_private_fields_are_refused if {
	not decide(account_patch(false)).allow
}

test_platform_admins_read_any_account if {
	decide(object.union(account_patch(false), {"subject": {"platform_admin": true}})).allow
}

test_a_scoped_token_still_shows_its_bearer_to_itself if {
	decide(object.union(account_patch(true), {"token": {"org": "c"}})).allow
	not decide(object.union(account_patch(false), {"token": {"org": "c"}, "subject": {"platform_admin": true}})).allow
}

test_what_belongs_to_no_org_is_explained_as_such if {
	d := decide(account_patch(false))
	d.reasons[0].message == "account.read_private belongs to no organization: only the account it is about or a platform administrator holds it"
	root := {"action": "organization.create", "token": {"org": "c"}, "resource": {"type": "organization", "id": "", "org": "", "ancestors": [], "capabilities": [], "org_status": "", "self": true}}
	decide(root).reasons[0].message == "token is confined to organization c and its descendants; organization.create belongs to no organization"
}

test_scope_lists_ones_own_rows_for_self_actions_only if {
	scope(scope_input([], "members.read")).self
	scope(scope_input([], "invitations.read")).self
	not scope(scope_input([], "apikey.read")).self
	not scope(object.union(scope_input([], "members.read"), {"subject": {"type": "api_key"}})).self
	no_self := object.union(fixtures.matrix, {"self_actions": ["invitations.read"]})
	not scope_with(scope_input([], "members.read"), no_self).self
}

test_scope_ceiling_names_the_capabilities_of_the_action if {
	scope(scope_input([], "application.read")).ceiling == ["applications"]
	scope(scope_input([], "members.read")).ceiling == ["core"]
	admin := object.union(scope_input([], "organization.delete"), {"subject": {"platform_admin": true}})
	scope(admin).ceiling == null
	scope(object.union(admin, {"action": "application.read"})).ceiling == ["applications"]
}

# METADATA
# title: Test fixtures
# description: |
#   The default role matrix and a base input, shared by the policy tests.
#   The matrix is copied here on purpose: the tests pin the behaviour of the
#   rules, while data.json stays operator-replaceable (data_test.rego checks
#   the invariants every replacement must keep).
package orgraph.fixtures_test

matrix := {
	"inherit": true,
	"inherit_roles": {},
	"platform_actions": [
		"organization.delete",
		"organization.set_limits",
	],
	"roles": {
		"viewer": [
			"organization.read",
			"members.read",
			"application.read",
			"sector.read",
			"person.read",
			"group.read",
		],
		"member": [
			"organization.read",
			"members.read",
			"application.read",
			"sector.read",
			"person.read",
			"group.read",
		],
		"billing": [
			"organization.read",
			"billing.read",
			"billing.update",
		],
		"admin": [
			"organization.read",
			"members.read",
			"application.read",
			"sector.read",
			"person.read",
			"group.read",
			"organization.update",
			"organization.create_suborg",
			"application.create",
			"application.update",
			"application.rotate_key",
			"sector.create",
			"person.create",
			"person.update",
			"group.create",
			"group.update",
			"apikey.read",
			"apikey.create",
			"apikey.revoke",
			"invitations.read",
			"audit.read",
			"billing.read",
		],
		"owner": [
			"organization.read",
			"members.read",
			"application.read",
			"sector.read",
			"person.read",
			"group.read",
			"organization.update",
			"organization.create_suborg",
			"application.create",
			"application.update",
			"application.rotate_key",
			"sector.create",
			"person.create",
			"person.update",
			"group.create",
			"group.update",
			"apikey.read",
			"apikey.create",
			"apikey.revoke",
			"invitations.read",
			"audit.read",
			"billing.read",
			"members.invite",
			"members.change_role",
			"members.remove",
			"invitations.revoke",
			"organization.retire",
			"organization.reenable",
			"application.retire",
			"application.reenable",
			"sector.retire",
			"sector.reenable",
			"billing.update",
		],
	},
	"capabilities": {
		"core": [
			"organization.read",
			"organization.update",
			"organization.create_suborg",
			"organization.retire",
			"organization.reenable",
			"organization.delete",
			"organization.set_limits",
			"members.read",
			"members.invite",
			"members.change_role",
			"members.remove",
			"invitations.read",
			"invitations.revoke",
			"audit.read",
		],
		"applications": [
			"application.read",
			"application.create",
			"application.update",
			"application.retire",
			"application.reenable",
			"application.rotate_key",
			"sector.read",
			"sector.create",
			"sector.retire",
			"sector.reenable",
		],
		"identities": [
			"person.read",
			"person.create",
			"person.update",
			"group.read",
			"group.create",
			"group.update",
		],
		"billing": [
			"billing.read",
			"billing.update",
		],
		"api_keys": [
			"apikey.read",
			"apikey.create",
			"apikey.revoke",
		],
	},
	"read_actions": [
		"organization.read",
		"members.read",
		"invitations.read",
		"application.read",
		"sector.read",
		"person.read",
		"group.read",
		"apikey.read",
		"audit.read",
		"billing.read",
	],
	"owner_role": "owner",
	"self_actions": [
		"members.read",
		"invitations.read",
		"invitations.respond",
		"account.delete",
		"organization.create",
		"account.read_private",
	],
	"account_reads": ["account.read_private"],
	"sole_owner_actions": [
		"organization.retire",
		"organization.reenable",
		"application.retire",
		"application.reenable",
		"sector.retire",
		"sector.reenable",
	],
}

all_capabilities := ["api_keys", "applications", "billing", "core", "identities"]

# A member of nothing, asking to read organization "c" (a child of "p",
# itself a child of the root "r"), with an unscoped token.
base_input := {
	"subject": {"type": "account", "id": "acc-1", "platform_admin": false, "memberships": []},
	"token": {"org": null},
	"action": "organization.read",
	"resource": {
		"type": "organization",
		"id": "c",
		"org": "c",
		"ancestors": ["r", "p"],
		"org_status": "ACTIVE",
		"status": "ACTIVE",
		"capabilities": all_capabilities,
		"owner_org": "c",
		"owner_count": 1,
		"self": false,
	},
}

# METADATA
# description: The base input with patch merged in (objects merge recursively, arrays are replaced).
input_with(patch) := object.union(base_input, patch)

# METADATA
# description: A patch giving the subject these memberships.
memberships(ms) := {"subject": {"memberships": ms}}

package orgraph.token_test

import data.orgraph.fixtures_test as fixtures
import data.orgraph.token

deny(token_org) := result if {
	result := token.deny with input as fixtures.input_with({"token": {"org": token_org}})
}

test_unscoped_token_confines_nothing if {
	deny(null) == set()
	token.deny == set() with input as object.remove(fixtures.base_input, ["token"])
}

test_token_org_itself if {
	deny("c") == set()
}

test_token_org_ancestor if {
	deny("r") == set()
	deny("p") == set()
}

test_outside_token_org_denied if {
	deny("x") == {{
		"rule": "token",
		"permission": "organization.read",
		"message": "token is confined to organization x and its descendants; organization c is outside",
	}}
}

test_token_on_descendant_does_not_reach_up if {
	count(deny("c-child")) == 1
}

# METADATA
# title: Token org context
# description: |
#   A token scoped to organization X confines its bearer to X and X's
#   descendants, whatever else the subject could do. A token without an org
#   context ({"org": null}) confines nothing.
package orgraph.token

# METADATA
# description: Whether the token carries an org context.
scoped if input.token.org != null

# METADATA
# description: Whether the resource organization is the token's org or one of its descendants.
within if input.resource.org == input.token.org

within if input.token.org in input.resource.ancestors

# An account belongs to no org: a token's org context does not hide its
# bearer's own account from itself (data.orgraph.account_reads).
within if {
	input.resource.self == true
	input.action in data.orgraph.account_reads
}

# METADATA
# description: The denial when the resource lies outside the token's org context.
deny contains reason if {
	scoped
	not within
	reason := {
		"rule": "token",
		"permission": input.action,
		"message": outside_message,
	}
}

outside_message := sprintf(
	"token is confined to organization %s and its descendants; organization %s is outside",
	[input.token.org, input.resource.org],
) if input.resource.org != ""

outside_message := sprintf(
	"token is confined to organization %s and its descendants; %s belongs to no organization",
	[input.token.org, input.action],
) if input.resource.org == ""

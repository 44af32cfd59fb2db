# METADATA
# title: Membership inheritance
# description: |
#   Decides whether a membership on an organization applies to a resource.
#   A membership always applies to its own organization. When inheritance is
#   on (data.orgraph.inherit, overridable per role in
#   data.orgraph.inherit_roles) it also applies to every descendant.
package orgraph.inheritance

# METADATA
# description: Whether memberships with this role also apply to descendant organizations.
inherits(role) if data.orgraph.inherit_roles[role] == true

inherits(role) if {
	not overridden(role)
	data.orgraph.inherit == true
}

# METADATA
# description: Whether data.orgraph.inherit_roles (optional) overrides data.orgraph.inherit for role.
overridden(role) if is_boolean(data.orgraph.inherit_roles[role])

# METADATA
# description: |
#   Whether membership m ({"org", "role"}) applies to resource (an object with
#   "org" and "ancestors", root first).
applies(m, resource) if m.org == resource.org

applies(m, resource) if {
	inherits(m.role)
	m.org in resource.ancestors
}

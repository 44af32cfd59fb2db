// Package bench holds orgraph's performance benchmarks (bench_test.go, run by
// `make bench`) and the GraphQL operations that they and cmd/orgraph-load
// send, so the Go benchmarks and the HTTP load test measure the same query.
//
// The benchmarks run only with -bench: the package has no Test functions.
package bench

// NestedTreeQuery is PostGraphile's benchmark shape from the workspace notes
// (peers.md): an organization and its children three levels deep (1 + 5 + 25 +
// 125 orgs with fanout 5), each with id, name and slug, its first ten members
// with their role and account alias, and its application count.
const NestedTreeQuery = `query Tree($id: ID!) {
  organization(id: $id) {
    id name slug
    members(first: 10) { totalCount edges { node { role account { alias } } } }
    applications { totalCount }
    children(first: 10) { edges { node {
      id name slug
      members(first: 10) { totalCount edges { node { role account { alias } } } }
      applications { totalCount }
      children(first: 10) { edges { node {
        id name slug
        members(first: 10) { totalCount edges { node { role account { alias } } } }
        applications { totalCount }
        children(first: 10) { edges { node {
          id name slug
          members(first: 10) { totalCount edges { node { role account { alias } } } }
          applications { totalCount }
        } } }
      } } }
    } } }
  }
}`

// TenantListQuery lists the first page of the orgs the caller can read, with
// their total (SpiceDB's "list the orgs a tenant owner can view").
const TenantListQuery = `query Orgs { organizations(first: 100) { totalCount edges { node { id } } } }`

// AuthorizeQuery explains one decision on a resource (SpiceDB's check).
const AuthorizeQuery = `query Check($id: ID!) {
  authorize(action: "organization.read", resource: $id) { allowed reasons { rule } }
}`

// RootQuery finds the oldest root org the caller can read; the load generator
// queries its tree. `orgraph seed` writes whole trees first and only its last
// tree may be partial, so the oldest root heads a complete tree.
const RootQuery = `query Root {
  organizations(first: 1, where: {parentIDIsNil: true}, orderBy: [{field: CREATED_AT, direction: ASC}]) {
    edges { node { id } }
  }
}`

// Queries are the operations cmd/orgraph-load knows by name.
var Queries = map[string]string{
	"nested":      NestedTreeQuery,
	"tenant-list": TenantListQuery,
	"authorize":   AuthorizeQuery,
}

// VersusQuery is the query of ../shared/peers/postgraphile/versus in
// orgraph's API: every child at each level (no first), each org's first ten
// members with their aliases and its application count.
const VersusQuery = `query OrgTree($id: ID!) {
  organization(id: $id) {
    ...OrgFields
    children { edges { node { ...OrgFields
      children { edges { node { ...OrgFields
        children { edges { node { ...OrgFields } } }
      } } }
    } } }
  }
}
fragment OrgFields on Organization {
  id name slug
  members(first: 10) { totalCount edges { node { role account { alias } } } }
  applications { totalCount }
}`

// ConsolePageQuery is an admin console's page of orgs from issue 12: the
// first 50 in name order with their total, member and application counts
// and the caller's role.
const ConsolePageQuery = `query Console { organizations(first: 50, orderBy: {field: NAME}) {
  totalCount edges { node { name slug membersCount applicationsCount viewerRole } } } }`

// ConsolePrefixQuery is the console's name search (a prefix no seeded name has).
const ConsolePrefixQuery = `query Search { organizations(first: 50, where: {nameHasPrefix: "x"}) {
  totalCount edges { node { name slug membersCount applicationsCount viewerRole } } } }`

// ConsoleCountQuery is the total alone.
const ConsoleCountQuery = `query Count { organizations { totalCount } }`

package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent/schema/types"
)

// SlugPattern is the form of an organization slug.
const SlugPattern = `^[a-z0-9-]{1,100}$`

// Organization is the tenancy unit; suborgs nest to any depth.
type Organization struct{ ent.Schema }

// Mixin of Organization.
func (Organization) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Organization.
func (Organization) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		// Uniqueness lives in SlugReservation: a soft-deleted org keeps its row
		// and slug here while the slug becomes free for others.
		field.String("slug").
			Annotations(entgql.OrderField("SLUG")),
		field.String("tenant").Annotations(entgql.OrderField("TENANT")),
		field.UUID("parent_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		// depth is 0 for a root; kept so descendants(maxDepth) needs no recursion.
		field.Int("depth").Default(0).Immutable().Annotations(entgql.OrderField("DEPTH")),
		// ancestry lists the ancestor ids root first; orgs never move, so it is
		// immutable and lets a policy input be built from one row.
		field.JSON("ancestry", []uuid.UUID{}).Default([]uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.Enum("status").Values("ACTIVE", "RETIRED").Default("ACTIVE").
			Annotations(entgql.OrderField("STATUS")),
		field.Strings("capabilities").Default([]string{}),
		field.Strings("domains").Default([]string{}),
		field.JSON("settings", map[string]any{}).Default(map[string]any{}).
			Annotations(entgql.Type("Map")),
		field.JSON("limits", types.OrgLimits{}).Default(types.OrgLimits{}).
			Annotations(entgql.Type("OrgLimits")),
		field.UUID("person_pool_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.UUID("group_pool_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.Time("updated_at").Default(now).UpdateDefault(func() time.Time { return now() }).
			Annotations(entgql.OrderField("UPDATED_AT")),
		field.Time("deleted_at").Optional().Nillable(),
	}
}

// Edges of Organization.
func (Organization) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("children", Organization.Type).
			Annotations(entgql.RelayConnection()).
			From("parent").Field("parent_id").Unique().Immutable(),
		// Closure rows: one per (ancestor, descendant) pair, including self at depth 0.
		edge.To("descendant_links", OrgClosure.Type).Annotations(entgql.Skip()),
		edge.To("ancestor_links", OrgClosure.Type).Annotations(entgql.Skip()),
		edge.To("members", Membership.Type).Annotations(entgql.RelayConnection()),
		edge.To("invitations", Invitation.Type).Annotations(entgql.RelayConnection()),
		edge.To("applications", Application.Type).Annotations(entgql.RelayConnection()),
		edge.To("sectors", Sector.Type).Annotations(entgql.RelayConnection()),
		edge.To("api_keys", APIKey.Type).Annotations(entgql.RelayConnection()),
		edge.To("audit_events", AuditEvent.Type).Annotations(entgql.RelayConnection()),
		edge.To("persons", Person.Type).Through("registrations", Registration.Type).
			Annotations(entgql.RelayConnection()),
		edge.To("group_memberships", GroupMembership.Type).Annotations(entgql.Skip()),
		edge.From("person_pool", PersonPool.Type).Ref("organizations").
			Field("person_pool_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
		edge.From("group_pool", GroupPool.Type).Ref("organizations").
			Field("group_pool_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of Organization.
func (Organization) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant"),
		index.Fields("slug"),
		index.Fields("parent_id"),
		index.Fields("created_at"),
		// Console pages ordered by name walk this index (id breaks ties, as
		// the pagination's ORDER BY does) instead of sorting every row in scope.
		index.Fields("name", "id"),
		// nameHasPrefix: PostgreSQL turns LIKE 'p%' into a range on this
		// index whatever the database collation (SQLite ranges over the
		// index above, see internal/gate's NameHasPrefix).
		index.Fields("name").StorageKey("organization_name_pattern").
			Annotations(entsql.OpClass("text_pattern_ops")),
	}
}

// Annotations of Organization.
func (Organization) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.MultiOrder(),
		entgql.QueryField("organizations"),
	}
}

// OrgClosure is the transitive closure of the org tree. A closure table (rather
// than a materialized path) gives "ancestors of X" and "descendants of X up to
// depth d" as one indexed equality lookup on both SQLite and PostgreSQL, and lets
// list filters join on it without string prefix matching.
type OrgClosure struct{ ent.Schema }

// Fields of OrgClosure.
func (OrgClosure) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("ancestor_id", uuid.UUID{}).Immutable(),
		field.UUID("descendant_id", uuid.UUID{}).Immutable(),
		field.Int("depth").Immutable(),
	}
}

// Edges of OrgClosure.
func (OrgClosure) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ancestor", Organization.Type).Ref("descendant_links").
			Field("ancestor_id").Unique().Required().Immutable(),
		edge.From("descendant", Organization.Type).Ref("ancestor_links").
			Field("descendant_id").Unique().Required().Immutable(),
	}
}

// Indexes of OrgClosure.
func (OrgClosure) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("ancestor_id", "descendant_id").Unique(),
		index.Fields("ancestor_id", "depth"),
		index.Fields("descendant_id", "depth"),
	}
}

// Annotations of OrgClosure.
func (OrgClosure) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// OrgSubtreeCount is how many live (not soft-deleted) orgs with one set of
// capabilities the subtree of an org holds (itself included): one row per
// (ancestor, capabilities) over the closure rows. Triggers on org_closures and
// organizations keep it in the same transaction as every change to the tree
// (internal/store/subtree_counts.go, and the migration that added it), so an
// unfiltered organizations list counts its total from a few rows instead of
// every org in scope (internal/gate/count.go).
type OrgSubtreeCount struct{ ent.Schema }

// Fields of OrgSubtreeCount.
func (OrgSubtreeCount) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("ancestor_id", uuid.UUID{}).Immutable(),
		// capabilities is the JSON text of the descendants' capabilities column.
		field.Text("capabilities").Immutable(),
		field.Int("live").Default(0),
	}
}

// Indexes of OrgSubtreeCount.
func (OrgSubtreeCount) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ancestor_id", "capabilities").Unique()}
}

// Annotations of OrgSubtreeCount.
func (OrgSubtreeCount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// SlugReservation keeps every slug an org has had, so a slug is never reused
// while the org that held it exists.
type SlugReservation struct{ ent.Schema }

// Fields of SlugReservation.
func (SlugReservation) Fields() []ent.Field {
	return []ent.Field{
		field.String("slug").Unique().Immutable(),
		field.UUID("organization_id", uuid.UUID{}).Immutable(),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Indexes of SlugReservation.
func (SlugReservation) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id")}
}

// Annotations of SlugReservation.
func (SlugReservation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// OrgDomain is an email domain adopted by an org; a domain is held by at most one live org.
type OrgDomain struct{ ent.Schema }

// Fields of OrgDomain.
func (OrgDomain) Fields() []ent.Field {
	return []ent.Field{
		field.String("domain").Unique().Immutable(),
		field.UUID("organization_id", uuid.UUID{}).Immutable(),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Indexes of OrgDomain.
func (OrgDomain) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id")}
}

// Annotations of OrgDomain.
func (OrgDomain) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

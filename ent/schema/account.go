package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AliasPattern is the user-visible handle of an account.
const AliasPattern = `^[a-z0-9][a-z0-9._-]{2,39}$`

// Account is a person who administers orgs.
type Account struct{ ent.Schema }

// Mixin of Account.
func (Account) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		// Nillable so that an erased account frees its alias.
		field.String("alias").Optional().Nillable().Unique().
			Annotations(entgql.OrderField("ALIAS")),
		field.String("display_name").Default(""),
		field.Bool("platform_admin").Default(false),
		field.Time("deleted_at").Optional().Nillable(),
	}
}

// Edges of Account.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(entgql.RelayConnection()),
	}
}

// Indexes of Account.
func (Account) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at")}
}

// Annotations of Account.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

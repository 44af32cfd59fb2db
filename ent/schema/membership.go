package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Membership is (account, organization, role); it is authoritative for the role.
type Membership struct{ ent.Schema }

// Mixin of Membership.
func (Membership) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Membership.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("account_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.UUID("organization_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.String("role").Annotations(entgql.OrderField("ROLE")),
	}
}

// Edges of Membership.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).Ref("memberships").Field("account_id").
			Unique().Required().Immutable(),
		edge.From("organization", Organization.Type).Ref("members").Field("organization_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of Membership.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "organization_id").Unique(),
		index.Fields("organization_id", "role"),
	}
}

// Annotations of Membership.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// Invitation invites an alias into an org with a role other than owner.
type Invitation struct{ ent.Schema }

// Mixin of Invitation.
func (Invitation) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Invitation.
func (Invitation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("organization_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.UUID("invitee_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.String("alias").Immutable(),
		field.String("role").Immutable(),
		field.Enum("status").Values("PENDING", "ACCEPTED", "DECLINED", "REVOKED", "EXPIRED").
			Default("PENDING").Annotations(entgql.OrderField("STATUS")),
		field.UUID("invited_by", uuid.UUID{}).Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Time("expires_at").Annotations(entgql.OrderField("EXPIRES_AT")),
		field.Time("responded_at").Optional().Nillable(),
	}
}

// Edges of Invitation.
func (Invitation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("invitations").Field("organization_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of Invitation.
func (Invitation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "status"),
		index.Fields("invitee_id", "status"),
	}
}

// Annotations of Invitation.
func (Invitation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// AuditEvent records a successful or denied mutation; never updated or deleted.
type AuditEvent struct{ ent.Schema }

// Mixin of AuditEvent.
func (AuditEvent) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("organization_id", uuid.UUID{}).Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.String("action").Immutable().Annotations(entgql.OrderField("ACTION")),
		// actor is the alias of an account or "apikey:<name>"; never an internal id.
		field.String("actor").Immutable(),
		field.String("resource_type").Immutable(),
		field.String("resource_id").Immutable(),
		field.JSON("before", map[string]any{}).Optional().Immutable().Annotations(entgql.Type("Map")),
		field.JSON("after", map[string]any{}).Optional().Immutable().Annotations(entgql.Type("Map")),
		field.String("request_id").Default("").Immutable(),
	}
}

// Edges of AuditEvent.
func (AuditEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("audit_events").Field("organization_id").
			Unique().Immutable(),
	}
}

// Indexes of AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "created_at")}
}

// Annotations of AuditEvent.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// ServerKey is where orgraph before sealed keys kept its token signing key and
// data key, in plaintext. It is read only to move those keys out on upgrade
// (sealed under the master key into SealedKey, the key file written first), after
// which its rows are removed; nothing writes it.
type ServerKey struct{ ent.Schema }

// Fields of ServerKey.
func (ServerKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable(),
		field.Bytes("secret").Sensitive().Immutable(),
		field.Time("created_at").Default(func() time.Time { return now() }).Immutable(),
	}
}

// Annotations of ServerKey.
func (ServerKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

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

// PersonPool holds persons; one or more orgs of a tenant tree use it.
type PersonPool struct{ ent.Schema }

// Mixin of PersonPool.
func (PersonPool) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Edges of PersonPool.
func (PersonPool) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("organizations", Organization.Type),
		edge.To("persons", Person.Type),
	}
}

// Annotations of PersonPool.
func (PersonPool) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Person is an end user of the customer's apps.
type Person struct{ ent.Schema }

// Mixin of Person.
func (Person) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Person.
func (Person) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("pool_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.Bool("active").Default(true),
	}
}

// Edges of Person.
func (Person) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pool", PersonPool.Type).Ref("persons").Field("pool_id").
			Unique().Required().Immutable().Annotations(entgql.Skip()),
		edge.From("organizations", Organization.Type).Ref("persons").Through("registrations", Registration.Type).
			Annotations(entgql.Skip()),
		edge.To("handles", Handle.Type).Annotations(entgql.Skip()),
		edge.To("group_memberships", GroupMembership.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of Person.
func (Person) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// Handle is a normalized identifier of a person, unique within a pool.
type Handle struct{ ent.Schema }

// Mixin of Handle.
func (Handle) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Handle.
func (Handle) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("pool_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.UUID("person_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.Enum("type").Values("EMAIL_ADDRESS", "PHONE_NUMBER", "USERNAME").Immutable(),
		field.String("value").Immutable(),
	}
}

// Edges of Handle.
func (Handle) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("person", Person.Type).Ref("handles").Field("person_id").
			Unique().Required().Immutable(),
		// uses are the orgs through which the handle was used or added: an org
		// sees a handle only when it has a use of it.
		edge.To("uses", HandleUse.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of Handle.
func (Handle) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("pool_id", "type", "value").Unique(),
		index.Fields("person_id"),
	}
}

// HandleUse records that a handle was used or added through an org. A row per
// (handle, org) rather than a JSON list on the handle keeps visibility a plain
// indexed join on both back ends, and lets the read filter decide it in SQL.
type HandleUse struct{ ent.Schema }

// Mixin of HandleUse.
func (HandleUse) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of HandleUse.
func (HandleUse) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("handle_id", uuid.UUID{}).Immutable(),
		field.UUID("organization_id", uuid.UUID{}).Immutable(),
	}
}

// Edges of HandleUse.
func (HandleUse) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("handle", Handle.Type).Ref("uses").Field("handle_id").Unique().Required().Immutable(),
		edge.To("organization", Organization.Type).Field("organization_id").Unique().Required().Immutable(),
	}
}

// Indexes of HandleUse.
func (HandleUse) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("handle_id", "organization_id").Unique(),
		index.Fields("organization_id"),
	}
}

// Annotations of HandleUse.
func (HandleUse) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// GroupPool holds group names shared by the orgs that use it.
type GroupPool struct{ ent.Schema }

// Mixin of GroupPool.
func (GroupPool) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Edges of GroupPool.
func (GroupPool) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("organizations", Organization.Type),
		edge.To("groups", Group.Type),
	}
}

// Annotations of GroupPool.
func (GroupPool) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Group is a name in a group pool.
type Group struct{ ent.Schema }

// Mixin of Group.
func (Group) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Group.
func (Group) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("pool_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.String("name").NotEmpty().MaxLen(200).Immutable().Annotations(entgql.OrderField("NAME")),
	}
}

// Edges of Group.
func (Group) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pool", GroupPool.Type).Ref("groups").Field("pool_id").
			Unique().Required().Immutable().Annotations(entgql.Skip()),
		edge.To("memberships", GroupMembership.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of Group.
func (Group) Indexes() []ent.Index {
	return []ent.Index{index.Fields("pool_id", "name").Unique()}
}

// Annotations of Group.
func (Group) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// GroupMembership places a person in a group, for one org.
type GroupMembership struct{ ent.Schema }

// Mixin of GroupMembership.
func (GroupMembership) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of GroupMembership.
func (GroupMembership) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("group_id", uuid.UUID{}).Immutable(),
		field.UUID("person_id", uuid.UUID{}).Immutable(),
		field.UUID("organization_id", uuid.UUID{}).Immutable(),
	}
}

// Edges of GroupMembership.
func (GroupMembership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("group", Group.Type).Ref("memberships").Field("group_id").Unique().Required().Immutable(),
		edge.From("person", Person.Type).Ref("group_memberships").Field("person_id").Unique().Required().Immutable(),
		edge.From("organization", Organization.Type).Ref("group_memberships").Field("organization_id").Unique().Required().Immutable(),
	}
}

// Indexes of GroupMembership.
func (GroupMembership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("group_id", "person_id", "organization_id").Unique(),
		index.Fields("organization_id", "person_id"),
	}
}

// Annotations of GroupMembership.
func (GroupMembership) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Sector is the identity-isolation boundary for applications.
type Sector struct{ ent.Schema }

// Mixin of Sector.
func (Sector) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Sector.
func (Sector) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("organization_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		field.Enum("status").Values("ACTIVE", "RETIRED").Default("ACTIVE").Annotations(entgql.OrderField("STATUS")),
		// secret keys the pairwise subjects; never exposed.
		field.Bytes("secret").Sensitive().Immutable().Annotations(entgql.Skip()),
	}
}

// Edges of Sector.
func (Sector) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("sectors").Field("organization_id").
			Unique().Required().Immutable(),
		edge.To("applications", Application.Type).Annotations(entgql.RelayConnection()),
	}
}

// Annotations of Sector.
func (Sector) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// Application is one integration of an org, in one sector.
type Application struct{ ent.Schema }

// Mixin of Application.
func (Application) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of Application.
func (Application) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("organization_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.UUID("sector_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		field.Enum("kind").Values("WEB", "NATIVE", "CLI", "OIDC_RP", "GAME").Annotations(entgql.OrderField("KIND")),
		field.String("anchor").Unique().Immutable(),
		field.Enum("status").Values("ACTIVE", "RETIRED").Default("ACTIVE").Annotations(entgql.OrderField("STATUS")),
		field.JSON("login_rules", map[string]any{}).Default(map[string]any{}).Annotations(entgql.Type("Map")),
		field.JSON("claim_policy", map[string]any{}).Default(map[string]any{}).Annotations(entgql.Type("Map")),
		field.Time("updated_at").Default(now).UpdateDefault(func() time.Time { return now() }),
	}
}

// Edges of Application.
func (Application) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("applications").Field("organization_id").
			Unique().Required().Immutable(),
		edge.From("sector", Sector.Type).Ref("applications").Field("sector_id").
			Unique().Required().Immutable(),
		edge.To("keys", ApplicationKey.Type).Annotations(entgql.Skip()),
	}
}

// ApplicationKey is a signing key pair or a client-authentication secret of an
// application. Only public keys and hashes are readable; a private signing key
// is stored encrypted (AES-256-GCM) under the server's data key.
type ApplicationKey struct{ ent.Schema }

// Mixin of ApplicationKey.
func (ApplicationKey) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of ApplicationKey.
func (ApplicationKey) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("application_id", uuid.UUID{}).Immutable(),
		field.Enum("kind").Values("SIGNING", "CLIENT_AUTH").Immutable(),
		// kid names the key (JWKS "kid"); unique so a verifier can pick it.
		field.String("kid").Unique().Immutable(),
		// public_key is the raw Ed25519 public key of a signing key.
		field.Bytes("public_key").Optional().Immutable(),
		// private_key is nonce || AES-GCM ciphertext of the Ed25519 seed.
		field.Bytes("private_key").Optional().Sensitive().Immutable(),
		// data_key_id fingerprints the data key that encrypted private_key.
		field.String("data_key_id").Optional().Immutable(),
		// secret_hash is the SHA-256 of a client secret.
		field.Bytes("secret_hash").Optional().Sensitive().Immutable(),
		// superseded_at is set when a newer key of the same kind replaces this one.
		field.Time("superseded_at").Optional().Nillable(),
		// expires_at ends the overlap of a superseded key; nil while current.
		field.Time("expires_at").Optional().Nillable(),
	}
}

// Edges of ApplicationKey.
func (ApplicationKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("application", Application.Type).Ref("keys").Field("application_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of ApplicationKey.
func (ApplicationKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("application_id", "kind")}
}

// Annotations of ApplicationKey.
func (ApplicationKey) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Annotations of Application.
func (Application) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// APIKey is a machine credential of one org with a role (never owner).
type APIKey struct{ ent.Schema }

// Mixin of APIKey.
func (APIKey) Mixin() []ent.Mixin { return []ent.Mixin{BaseMixin{}} }

// Fields of APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("organization_id", uuid.UUID{}).Immutable().Annotations(entgql.Skip()),
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		field.String("role").Immutable(),
		// prefix is the visible start of the key, to tell keys apart.
		field.String("prefix").Immutable(),
		field.Bytes("hash").Sensitive().Unique().Immutable().Annotations(entgql.Skip()),
		field.Time("expires_at").Optional().Nillable(),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges of APIKey.
func (APIKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("organization", Organization.Type).Ref("api_keys").Field("organization_id").
			Unique().Required().Immutable(),
	}
}

// Annotations of APIKey.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// Registration records that a person is registered with an org.
type Registration struct{ ent.Schema }

// Fields of Registration.
func (Registration) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("organization_id", uuid.UUID{}).Immutable(),
		field.UUID("person_id", uuid.UUID{}).Immutable(),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Edges of Registration.
func (Registration) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("organization", Organization.Type).Field("organization_id").Unique().Required().Immutable(),
		edge.To("person", Person.Type).Field("person_id").Unique().Required().Immutable(),
	}
}

// Annotations of Registration.
func (Registration) Annotations() []schema.Annotation {
	return []schema.Annotation{field.ID("organization_id", "person_id"), entgql.Skip()}
}

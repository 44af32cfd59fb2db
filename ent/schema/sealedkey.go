package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SealedKey is one of the server's own keys (a token-signing key or a data
// key), sealed under the master key, which never sits in the database: it lives
// in the key file or in the environment (internal/keyring). Only the sealed
// secret and, for a signing key, its public half are stored.
type SealedKey struct{ ent.Schema }

// Fields of SealedKey.
func (SealedKey) Fields() []ent.Field {
	return []ent.Field{
		// id is the kid of a token-signing key, the fingerprint of a data key.
		field.String("id").NotEmpty().Immutable(),
		field.Enum("kind").Values("TOKEN_SIGNING", "DATA").Immutable(),
		// public_key is the raw Ed25519 public key of a token-signing key.
		field.Bytes("public_key").Optional().Immutable(),
		// sealed is nonce || AES-256-GCM ciphertext of the secret under the master
		// key, bound to the kind and id.
		field.Bytes("sealed").Sensitive(),
		// master_key_id fingerprints the master key that sealed it.
		field.String("master_key_id"),
		field.Time("created_at").Default(func() time.Time { return now() }).Immutable(),
		// superseded_at is set when a newer key of the same kind replaces this one.
		field.Time("superseded_at").Optional().Nillable(),
		// expires_at ends the overlap of a superseded key: a signing key verifies
		// tokens until then; a data key is kept until then for servers not yet
		// restarted, and dropped once nothing is sealed under it.
		field.Time("expires_at").Optional().Nillable(),
	}
}

// Indexes of SealedKey.
func (SealedKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("kind", "superseded_at")}
}

// Annotations of SealedKey.
func (SealedKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

-- Create "sealed_keys" table
CREATE TABLE "sealed_keys" ("id" character varying NOT NULL, "kind" character varying NOT NULL, "public_key" bytea NULL, "sealed" bytea NOT NULL, "master_key_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "superseded_at" timestamptz NULL, "expires_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "sealedkey_kind_superseded_at" to table: "sealed_keys"
CREATE INDEX "sealedkey_kind_superseded_at" ON "sealed_keys" ("kind", "superseded_at");

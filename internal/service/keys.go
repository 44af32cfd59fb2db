package service

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/applicationkey"
	"github.com/orgraph/orgraph/ent/predicate"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/keyring"
)

// DefaultKeyOverlap is how long a superseded signing key stays listed.
const DefaultKeyOverlap = 24 * time.Hour

// IdentityConfig configures the secrets of the identity plane.
type IdentityConfig struct {
	// DataKey (32 bytes) encrypts private signing keys at rest (AES-256-GCM).
	DataKey []byte
	// KeyOverlap is how long a rotated-out signing key stays listed (default 24h).
	KeyOverlap time.Duration
}

func (s *Service) keyOverlap() time.Duration {
	if s.cfg.Identity.KeyOverlap > 0 {
		return s.cfg.Identity.KeyOverlap
	}
	return DefaultKeyOverlap
}

// ClientSecretPrefix starts every application client secret.
const ClientSecretPrefix = "orgcs_"

// pairwiseContext separates pairwise subjects from any other use of a sector secret.
const pairwiseContext = "orgraph/pairwise-subject/v1\x00"

// PairwiseSubject is the subject a sector's applications see for a person:
// base64url(HMAC-SHA256(sector secret, context || person id)). Equal within a
// sector, unrelated across sectors, and it does not reveal the person id.
func PairwiseSubject(sectorSecret []byte, personID uuid.UUID) string {
	m := hmac.New(sha256.New, sectorSecret)
	m.Write([]byte(pairwiseContext))
	m.Write(personID[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomBytes(n int) ([]byte, error) { return keyring.RandomBytes(n) }

// newAnchor returns a fresh application anchor: "app_" and 22 base64url characters.
func newAnchor() (string, error) {
	b, err := randomBytes(16)
	if err != nil {
		return "", err
	}
	return "app_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// newKid returns a fresh key id.
func newKid(prefix string) (string, error) {
	b, err := randomBytes(12)
	if err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// newClientSecret returns a client secret and the hash that is stored.
func newClientSecret() (string, []byte, error) {
	b, err := randomBytes(32)
	if err != nil {
		return "", nil, err
	}
	secret := ClientSecretPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashClientSecret(secret), nil
}

// HashClientSecret is how client secrets are stored.
func HashClientSecret(secret string) []byte { return auth.HashSecret(secret) }

// DataKeyID fingerprints a data key, so a ciphertext names the key it needs.
func DataKeyID(key []byte) string { return keyring.DataKeyID(key) }

// signingKeyAAD binds a ciphertext to its application and key id.
func signingKeyAAD(appID uuid.UUID, kid string) []byte {
	return []byte("orgraph/application-signing-key/v1\x00" + appID.String() + "\x00" + kid)
}

// seal encrypts plaintext with AES-256-GCM; the output is nonce || ciphertext.
func seal(key, plaintext, aad []byte) ([]byte, error) { return keyring.Seal(key, plaintext, aad) }

// open reverses seal.
func open(key, sealed, aad []byte) ([]byte, error) { return keyring.Unseal(key, sealed, aad) }

// newSigningKey generates an Ed25519 key pair and seals its seed under the data key.
func (s *Service) newSigningKey(appID uuid.UUID) (kid string, pub ed25519.PublicKey, sealed []byte, err error) {
	if len(s.cfg.Identity.DataKey) != 32 {
		return "", nil, nil, errors.New("no data key configured: cannot store signing keys")
	}
	if kid, err = newKid("sig_"); err != nil {
		return "", nil, nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, nil, err
	}
	sealed, err = seal(s.cfg.Identity.DataKey, priv.Seed(), signingKeyAAD(appID, kid))
	return kid, pub, sealed, err
}

// ResealReport tells what ResealApplicationKeys did.
type ResealReport struct {
	// Resealed counts the private keys now sealed under the target data key.
	Resealed int
	// Unopened counts, by data key id, the private keys left as they were: sealed
	// under a data key that was not given, or that did not open under it.
	Unopened map[string]int
}

// ResealApplicationKeys seals again, under the data key to, every application
// private signing key sealed under another data key (keys holds the data keys
// it may be sealed under, by DataKeyID), in one transaction. It is what a data
// key rotation does to sealed data, and it runs at start-up to finish one (or
// to seal what a server that had not restarted yet sealed under the previous
// key). A row is updated only while it is still sealed under the key it was
// read with.
func ResealApplicationKeys(ctx context.Context, client *ent.Client, keys map[string][]byte, to []byte) (*ResealReport, error) {
	toID := DataKeyID(to)
	rep := &ResealReport{Unopened: map[string]int{}}
	stale := []predicate.ApplicationKey{applicationkey.PrivateKeyNotNil(), applicationkey.Or(applicationkey.DataKeyIDIsNil(), applicationkey.DataKeyIDNEQ(toID))}
	if n, err := client.ApplicationKey.Query().Where(stale...).Count(ctx); err != nil || n == 0 {
		return rep, err
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	err = func() error {
		rows, err := tx.ApplicationKey.Query().Where(stale...).All(ctx)
		if err != nil {
			return err
		}
		for _, row := range rows {
			aad := signingKeyAAD(row.ApplicationID, row.Kid)
			from, ok := keys[row.DataKeyID]
			if !ok {
				rep.Unopened[row.DataKeyID]++
				continue
			}
			seed, err := open(from, row.PrivateKey, aad)
			if err != nil {
				rep.Unopened[row.DataKeyID]++
				continue
			}
			sealed, err := seal(to, seed, aad)
			if err != nil {
				return err
			}
			n, err := tx.ApplicationKey.Update().Where(applicationkey.ID(row.ID), applicationkey.DataKeyID(row.DataKeyID)).
				Modify(func(u *entsql.UpdateBuilder) {
					u.Set(applicationkey.FieldPrivateKey, sealed).Set(applicationkey.FieldDataKeyID, toID)
				}).Save(ctx)
			if err != nil {
				return fmt.Errorf("re-seal application key %s: %w", row.Kid, err)
			}
			rep.Resealed += n
		}
		return nil
	}()
	if err != nil {
		return nil, errors.Join(err, tx.Rollback())
	}
	return rep, tx.Commit()
}

// DataKeysInUse lists the data keys that application private keys are sealed under.
func DataKeysInUse(ctx context.Context, client *ent.Client) ([]string, error) {
	return client.ApplicationKey.Query().Where(applicationkey.PrivateKeyNotNil(), applicationkey.DataKeyIDNotNil()).
		Unique(true).Select(applicationkey.FieldDataKeyID).Strings(ctx)
}

package service

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/internal/auth"
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

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

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
func DataKeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("orgraph/data-key-id\x00"), key...))
	return hex.EncodeToString(sum[:6])
}

// signingKeyAAD binds a ciphertext to its application and key id.
func signingKeyAAD(appID uuid.UUID, kid string) []byte {
	return []byte("orgraph/application-signing-key/v1\x00" + appID.String() + "\x00" + kid)
}

// seal encrypts plaintext with AES-256-GCM; the output is nonce || ciphertext.
func seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce, err := randomBytes(gcm.NonceSize())
	if err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// open reverses seal.
func open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

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

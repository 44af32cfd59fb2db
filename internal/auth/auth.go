// Package auth turns a bearer token into a Principal: server-signed JWTs
// (EdDSA) for accounts and orgk_ API keys for machines.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/apikey"
)

// APIKeyPrefix starts every API key.
const APIKeyPrefix = "orgk_"

const signingKeyID = "jwt-ed25519"

// ErrInvalidToken is returned for malformed, expired, revoked or wrongly signed tokens.
var ErrInvalidToken = errors.New("invalid or expired token")

// Principal is who is calling.
type Principal struct {
	Account *ent.Account // nil for API keys
	APIKey  *ent.APIKey  // nil for accounts
	// TokenOrg confines the bearer to an org's subtree (nil: unconfined).
	TokenOrg *uuid.UUID
}

// Actor names the principal in audit events, never by internal id.
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.APIKey != nil:
		return "apikey:" + p.APIKey.Name
	case p.Account != nil && p.Account.Alias != nil:
		return *p.Account.Alias
	}
	return "system"
}

type ctxKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the caller, or nil when anonymous.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Claims of an orgraph token.
type Claims struct {
	jwt.RegisteredClaims
	Org string `json:"org,omitempty"`
}

// Authenticator issues and verifies tokens.
type Authenticator struct {
	client *ent.Client
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
	now    func() time.Time
}

// New loads the server's signing key, creating it on first use.
func New(ctx context.Context, client *ent.Client) (*Authenticator, error) {
	seed, err := serverSecret(ctx, client, signingKeyID)
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Authenticator{client: client, priv: priv, pub: priv.Public().(ed25519.PublicKey), now: time.Now}, nil
}

// serverSecret returns the server's 32-byte secret named id, generating and
// storing it on first use.
func serverSecret(ctx context.Context, client *ent.Client, id string) ([]byte, error) {
	key, err := client.ServerKey.Get(ctx, id)
	if ent.IsNotFound(err) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		// Two processes may race here; the loser's insert fails and it reads the winner's key.
		_ = client.ServerKey.Create().SetID(id).SetSecret(k).Exec(ctx)
		key, err = client.ServerKey.Get(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if len(key.Secret) != 32 {
		return nil, fmt.Errorf("stored %s has %d bytes, want 32", id, len(key.Secret))
	}
	return key.Secret, nil
}

// Issue signs a token for the account, optionally confined to org.
func (a *Authenticator) Issue(acc *ent.Account, org *uuid.UUID, ttl time.Duration) (string, time.Time, error) {
	now := a.now()
	exp := now.Add(ttl)
	claims := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   acc.ID.String(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		Issuer:    "orgraph",
		ID:        uuid.NewString(),
	}}
	if org != nil {
		claims.Org = org.String()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(a.priv)
	return s, exp, err
}

// Authenticate resolves a bearer token. An empty token is anonymous (nil, nil).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, nil
	}
	if strings.HasPrefix(token, APIKeyPrefix) {
		return a.authenticateAPIKey(ctx, token)
	}
	var claims Claims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer("orgraph"), jwt.WithExpirationRequired(), jwt.WithTimeFunc(a.now))
	if err != nil {
		return nil, ErrInvalidToken
	}
	id, err := uuid.Parse(claims.Subject)
	if err != nil {
		return nil, ErrInvalidToken
	}
	acc, err := a.client.Account.Query().Where(account.ID(id), account.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	p := &Principal{Account: acc}
	if claims.Org != "" {
		org, err := uuid.Parse(claims.Org)
		if err != nil {
			return nil, ErrInvalidToken
		}
		p.TokenOrg = &org
	}
	return p, nil
}

// HashSecret is how API keys and client secrets are stored: only their SHA-256
// (they are 32 random bytes, so no slow hash is needed).
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// HashAPIKey is how API keys are stored.
func HashAPIKey(key string) []byte { return HashSecret(key) }

// NewAPIKey returns a fresh key and its visible prefix.
func NewAPIKey() (key, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, key[:len(APIKeyPrefix)+6], nil
}

func (a *Authenticator) authenticateAPIKey(ctx context.Context, token string) (*Principal, error) {
	k, err := a.client.APIKey.Query().Where(apikey.Hash(HashAPIKey(token)), apikey.RevokedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	// lastUsedAt is advisory: a lost update under concurrency is harmless.
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Second {
		_ = a.client.APIKey.UpdateOneID(k.ID).SetLastUsedAt(now.UTC()).Exec(ctx)
	}
	return &Principal{APIKey: k}, nil
}

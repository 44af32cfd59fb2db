// Package auth turns a bearer token into a Principal: server-signed JWTs
// (EdDSA) for accounts and orgk_ API keys for machines.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/apikey"
	"github.com/orgraph/orgraph/internal/keyring"
)

// APIKeyPrefix starts every API key.
const APIKeyPrefix = "orgk_"

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

// KeySource provides the token-signing keys (a *keyring.Keyring).
type KeySource interface {
	SigningKeys(ctx context.Context) (*keyring.SigningKeys, error)
}

const (
	// keyRefresh is how soon a running server sees a key rotation made by
	// another process (`orgraph keys rotate`, another replica): it signs with the
	// new key from then on.
	keyRefresh = time.Minute
	// keyRetry is how often, at most, the keys are reloaded: for a token whose
	// kid is unknown (perhaps signed with a key rotated in since the last load:
	// it waits for the next reload, at most this long), or after a failed load.
	keyRetry = time.Second
)

// Authenticator issues and verifies tokens.
type Authenticator struct {
	client *ent.Client
	keys   KeySource
	now    func() time.Time

	set   atomic.Pointer[keySet]
	mu    sync.Mutex // serializes reloads
	tried time.Time  // last reload attempt
}

type keySet struct {
	*keyring.SigningKeys
	loaded time.Time
}

// New loads the server's token-signing keys: tokens are signed with the
// current key, whose kid they carry in their header, and verified with the key
// their kid names (a token without a kid, issued before kids, with the key
// moved out of the database on upgrade, keyring.LegacySigningKID).
func New(ctx context.Context, client *ent.Client, keys KeySource) (*Authenticator, error) {
	ks, err := keys.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the token-signing keys: %w", err)
	}
	a := &Authenticator{client: client, keys: keys, now: time.Now}
	a.set.Store(&keySet{SigningKeys: ks, loaded: time.Now()})
	return a, nil
}

// signingKeys returns the keys, reloaded when they are older than keyRefresh
// or when they lack kid. Reloads are at most keyRetry apart: a token with an
// unknown kid waits for the next one (so a token signed with a key rotated in
// elsewhere is accepted at once, and random kids cost one query a second). A
// failed reload keeps the keys loaded before.
func (a *Authenticator) signingKeys(ctx context.Context, kid string) *keyring.SigningKeys {
	ks := a.set.Load()
	_, known := ks.ByKID[kid]
	if time.Since(ks.loaded) < keyRefresh && (kid == "" || known) {
		return ks.SigningKeys
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if cur := a.set.Load(); cur != ks { // reloaded since this call began
			return cur.SigningKeys
		}
		wait := keyRetry - time.Since(a.tried)
		if wait <= 0 {
			break
		}
		if kid == "" { // only stale: the keys at hand will do
			return ks.SigningKeys
		}
		a.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		a.mu.Lock()
		if ctx.Err() != nil {
			return ks.SigningKeys
		}
	}
	a.tried = time.Now()
	fresh, err := a.keys.SigningKeys(ctx)
	if err != nil {
		slog.Default().Warn("reload the token-signing keys (keeping those loaded before)", "err", err)
		return ks.SigningKeys
	}
	a.set.Store(&keySet{SigningKeys: fresh, loaded: time.Now()})
	return fresh
}

// ReloadKeys loads the token-signing keys now (after a rotation in this process).
func (a *Authenticator) ReloadKeys(ctx context.Context) error {
	fresh, err := a.keys.SigningKeys(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tried = time.Now()
	a.set.Store(&keySet{SigningKeys: fresh, loaded: time.Now()})
	return nil
}

// SigningKID is the kid of the key new tokens are signed with.
func (a *Authenticator) SigningKID() string {
	return a.signingKeys(context.Background(), "").Current.KID
}

// Issue signs a token for the account, optionally confined to org.
func (a *Authenticator) Issue(acc *ent.Account, org *uuid.UUID, ttl time.Duration) (string, time.Time, error) {
	key := a.signingKeys(context.Background(), "").Current
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
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.KID
	s, err := tok.SignedString(key.Private)
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
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) { return a.verificationKey(ctx, t) },
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

// verificationKey is the public key that must have signed t: the one its kid
// names (no kid: the key moved out of an older orgraph's database), while it
// verifies.
func (a *Authenticator) verificationKey(ctx context.Context, t *jwt.Token) (any, error) {
	var keys *keyring.SigningKeys
	kid := keyring.LegacySigningKID
	if v, ok := t.Header["kid"]; ok {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, ErrInvalidToken
		}
		kid = s
		keys = a.signingKeys(ctx, kid)
	} else {
		// no kid: the legacy key is there from the start or never, so an
		// absent one is no reason to reload
		keys = a.signingKeys(ctx, "")
	}
	key, ok := keys.ByKID[kid]
	if !ok || (key.ExpiresAt != nil && !a.now().Before(*key.ExpiresAt)) {
		return nil, ErrInvalidToken
	}
	return key.Public, nil
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

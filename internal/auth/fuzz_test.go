package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/keyring"
	"github.com/orgraph/orgraph/internal/store"
)

// FuzzAuthenticate: any bearer token is either refused with ErrInvalidToken
// or is one the server issued (its signed text unchanged), and then names the
// account and org it was issued for. It never panics and never fails otherwise.
func FuzzAuthenticate(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(f.TempDir() + "/auth.db")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	seed := bytes.Repeat([]byte{7}, 32)
	// The fuzzing workers are processes of their own, each with this
	// database: the same signing key and ids make the seeds' tokens valid in
	// every one of them.
	// Written as the previous version stored it; the keyring moves it out
	// (kid jwt-ed25519) under a master key of this worker's own.
	st.Client.ServerKey.Create().SetID("jwt-ed25519").SetSecret(seed).ExecX(ctx)
	ring, err := keyring.Open(ctx, st.Client, st.Dialect, keyring.Options{KeyFile: f.TempDir() + "/auth.keys"})
	if err != nil {
		f.Fatal(err)
	}
	a, err := auth.New(ctx, st.Client, ring)
	if err != nil {
		f.Fatal(err)
	}
	alice := st.Client.Account.Create().SetID(uuid.MustParse("00000000-0000-4000-8000-00000000a11c")).SetAlias("alice").SaveX(ctx)
	gone := st.Client.Account.Create().SetID(uuid.MustParse("00000000-0000-4000-8000-0000000009e0")).SetAlias("gone").SetDeletedAt(time.Now()).SaveX(ctx)
	org := uuid.MustParse("00000000-0000-4000-8000-000000000079")
	issue := func(acc uuid.UUID, org *uuid.UUID, ttl time.Duration) string {
		tok, _, err := a.Issue(st.Client.Account.GetX(ctx, acc), org, ttl)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	for _, tok := range []string{issue(alice.ID, nil, time.Hour), issue(alice.ID, &org, time.Hour), issue(alice.ID, nil, -time.Hour)} {
		f.Add(tok)
		f.Add(tok[:len(tok)-1]) // the last character carries padding bits
	}
	goneTok, _, _ := a.Issue(gone, nil, time.Hour) // issued, but the account is gone: refused
	f.Add(goneTok)
	key, _, _ := auth.NewAPIKey()
	f.Add(key)
	f.Add(auth.APIKeyPrefix)

	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := a.Authenticate(ctx, token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("token %q: %v, want ErrInvalidToken", token, err)
			}
			if p != nil {
				t.Fatalf("token %q: a principal with an error", token)
			}
			return
		}
		if token == "" {
			if p != nil {
				t.Fatal("the empty token is not anonymous")
			}
			return
		}
		if p == nil || p.Account == nil || p.APIKey != nil || p.Account.ID != alice.ID {
			t.Fatalf("token %q accepted as %+v", token, p)
		}
		// checked apart from the library: signed by the server's key over
		// exactly this text, for this account and org, not expired
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("token %q accepted with %d parts", token, len(parts))
		}
		var head struct{ Alg string }
		var claims struct {
			Sub, Iss, Org string
			Exp           float64
		}
		h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		c, err2 := base64.RawURLEncoding.DecodeString(parts[1])
		sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
		if err := errors.Join(err1, err2, err3, json.Unmarshal(h, &head), json.Unmarshal(c, &claims)); err != nil {
			t.Fatalf("token %q accepted but does not decode: %v", token, err)
		}
		if head.Alg != "EdDSA" || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("token %q accepted without the server's signature (alg %q)", token, head.Alg)
		}
		wantOrg := ""
		if p.TokenOrg != nil {
			wantOrg = p.TokenOrg.String()
		}
		if claims.Sub != alice.ID.String() || claims.Iss != "orgraph" || claims.Org != wantOrg || time.Unix(int64(claims.Exp), 0).Before(time.Now()) {
			t.Fatalf("token %q with claims %+v accepted as %v org %v", token, claims, p.Account.ID, p.TokenOrg)
		}
	})
}

package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/keyring"
	"github.com/orgraph/orgraph/internal/store"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &auth.Claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// A server verifies tokens by kid. A key rotated in by another process is
// accepted at once by concurrent requests, and the server signs with it from
// then on; tokens of the previous key keep verifying during the overlap; a
// token without a kid, or with a kid nobody has, is refused.
func TestVerifyByKidAcrossARotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	opts := keyring.Options{KeyFile: filepath.Join(dir, "a.keys")}
	ring, err := keyring.Open(ctx, st.Client, st.Dialect, opts)
	if err != nil {
		t.Fatal(err)
	}
	server, err := auth.New(ctx, st.Client, ring)
	if err != nil {
		t.Fatal(err)
	}
	acc := st.Client.Account.Create().SetAlias("alice").SaveX(ctx)
	before, _, err := server.Issue(acc, nil, time.Hour)
	if err != nil || kidOf(t, before) != server.SigningKID() {
		t.Fatalf("issue: %v", err)
	}

	// another process rotates
	other, err := keyring.Open(ctx, st.Client, st.Dialect, opts)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := other.Rotate(ctx, keyring.RotateOptions{Overlap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rotator, err := auth.New(ctx, st.Client, other)
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := rotator.Issue(acc, nil, time.Hour)
	if err != nil || kidOf(t, after) != rot.SigningKID {
		t.Fatalf("issue after the rotation: kid %s, %v", kidOf(t, after), err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tok := range []string{after, before} {
				if p, err := server.Authenticate(ctx, tok); err != nil || p == nil || *p.Account.Alias != "alice" {
					errs <- err
				}
			}
			if _, _, err := server.Issue(acc, nil, time.Minute); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent verification across the rotation: %v", err)
	}
	if server.SigningKID() != rot.SigningKID {
		t.Fatalf("the server signs with %s after seeing %s", server.SigningKID(), rot.SigningKID)
	}

	// no kid (only the key moved out of an older database verifies those), or an unknown kid
	keys, err := ring.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	noKid, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: acc.ID.String(), Issuer: "orgraph", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}}).SignedString(keys.Current.Private)
	unknown := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: acc.ID.String(), Issuer: "orgraph", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}})
	unknown.Header["kid"] = "tk_nobody"
	unknownTok, _ := unknown.SignedString(keys.Current.Private)
	start := time.Now()
	for _, tok := range []string{noKid, unknownTok} {
		if _, err := server.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("token refused with %v", err)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("refusing an unknown kid took %s", took)
	}
}

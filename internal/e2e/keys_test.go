package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent/applicationkey"
	entmigrate "github.com/orgraph/orgraph/ent/migrate"
	"github.com/orgraph/orgraph/ent/sealedkey"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/keyring"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/internal/testutil"
)

// keyedInstance starts orgraph with its key file at a known place and
// returns the instance, its database URL and the key file.
func keyedInstance(t *testing.T, b testutil.Backend) (in *testutil.Instance, dbURL, keyFile string) {
	t.Helper()
	keyFile = filepath.Join(t.TempDir(), "orgraph.keys")
	in = testutil.Start(t, b, func(c *app.Config) { c.KeyFile, dbURL = keyFile, c.DB })
	return in, dbURL, keyFile
}

// forge signs claims for subject with priv, with header kid ("" for none).
func forge(t *testing.T, priv ed25519.PrivateKey, subject, kid string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: subject, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		Issuer: "orgraph", ID: uuid.NewString(),
	}})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &auth.Claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// viewer answers who the server takes the bearer of token for.
func viewer(in *testutil.Instance, token string) (string, int) {
	r := in.Do(token, `{ viewer { alias } }`, nil)
	return testutil.Str(r.Data, "viewer", "alias"), r.Status
}

// dbValues reads every value of every table of a database with plain SQL, as
// anyone holding a copy of it can.
func dbValues(t *testing.T, st *store.Store) [][]byte {
	t.Helper()
	var out [][]byte
	for _, table := range entmigrate.Tables {
		rows, err := st.DB.Query("SELECT * FROM " + table.Name)
		if err != nil {
			t.Fatalf("read %s: %v", table.Name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					out = append(out, x)
				case string:
					out = append(out, []byte(x))
				}
			}
		}
		rows.Close()
	}
	return out
}

// keyCandidates is every 32 bytes a copy of the database offers as key
// material: every 32-byte window of every binary value, and of what text
// values decode to (base64 or hex).
func keyCandidates(values [][]byte) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	add := func(b []byte) {
		for i := 0; i+32 <= len(b); i++ {
			if w := b[i : i+32]; !seen[string(w)] {
				seen[string(w)] = true
				out = append(out, w)
			}
		}
	}
	for _, v := range values {
		add(v)
		s := strings.Trim(string(v), `"`)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(s); err == nil {
				add(d)
			}
		}
		if d, err := hex.DecodeString(s); err == nil {
			add(d)
		}
	}
	return out
}

// sealedKeyAAD is how the keyring binds a sealed key to its kind and id.
func sealedKeyAAD(kind sealedkey.Kind, id string) []byte {
	return []byte("orgraph/sealed-key/v1\x00" + string(kind) + "\x00" + id)
}

// appKeyAAD is how an application private key is bound to its application and kid.
func appKeyAAD(appID uuid.UUID, kid string) []byte {
	return []byte("orgraph/application-signing-key/v1\x00" + appID.String() + "\x00" + kid)
}

// TestDatabaseCopyForgesNothing: whoever holds a copy of the database, but
// not the key file, tries every 32 bytes it holds as a signing seed and as an
// AES key: no token it forges is accepted and no application signing key (nor
// data key, nor token-signing key) opens. Running orgraph on the copy is
// refused, not answered with new keys. The same attack with the key file
// succeeds, so it is the key file, and only it, that the copy lacks.
func TestDatabaseCopyForgesNothing(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, dbURL, keyFile := keyedInstance(t, b)
			ctx := gate.System(context.Background())
			alice := in.Account("alice", false)
			aliceID := uuid.MustParse(testutil.Str(in.MustDo(alice, `{ viewer { id } }`, nil), "viewer", "id")).String()
			org := mustCreate(t, in, alice, map[string]any{"name": "Target"})["id"].(string)
			a := testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "rp", "kind": "OIDC_RP"}), "createApplication").(map[string]any)
			appID := uuid.MustParse(a["id"].(string))
			pub, _ := base64.RawURLEncoding.DecodeString(testutil.Str(a, "publicKeys", 0, "x"))

			// the copy: on SQLite the database file (and its log) copied alone; on
			// PostgreSQL everything the database holds, read over a connection
			copyURL := dbURL
			if b == testutil.SQLite {
				copyURL = filepath.Join(t.TempDir(), "orgraph.db")
				for _, suffix := range []string{"", "-wal"} {
					raw, err := os.ReadFile(dbURL + suffix)
					if err == nil {
						err = os.WriteFile(copyURL+suffix, raw, 0o600)
					}
					if err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
				}
			}
			cp, err := store.Open(copyURL)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			sealed, err := cp.Client.SealedKey.Query().All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			appKey, err := cp.Client.ApplicationKey.Query().Where(applicationkey.ApplicationID(appID), applicationkey.KindEQ(applicationkey.KindSIGNING)).Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := cp.Client.ServerKey.Query().CountX(ctx); n != 0 {
				t.Fatalf("%d plaintext server keys", n)
			}
			candidates := keyCandidates(dbValues(t, cp))
			if len(candidates) < 50 {
				t.Fatalf("only %d candidates: the copy was not read", len(candidates))
			}
			t.Logf("%d candidate keys from the copy", len(candidates))
			kids := []string{""} // no kid, and every kid the copy names
			for _, s := range sealed {
				if s.Kind == sealedkey.KindTOKEN_SIGNING {
					kids = append(kids, s.ID)
				}
			}

			// forging: every candidate as an Ed25519 seed, under every kid and none
			for i, c := range candidates {
				priv := ed25519.NewKeyFromSeed(c)
				for _, kid := range kids {
					tok := forge(t, priv, aliceID, kid)
					if p, err := in.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) || p != nil {
						t.Fatalf("a token forged from the copy (candidate %d, kid %q) was accepted", i, kid)
					}
				}
				if i == 0 { // and over HTTP, as a client would, also under kids the copy does not name
					for _, kid := range append(kids, keyring.LegacySigningKID, "tk_guessed") {
						if _, status := viewer(in, forge(t, priv, aliceID, kid)); status != http.StatusUnauthorized {
							t.Fatalf("forged token (kid %q): HTTP %d", kid, status)
						}
					}
				}
			}
			// nor by switching algorithms: HMAC with a public key, or none
			for _, s := range sealed {
				if s.Kind != sealedkey.KindTOKEN_SIGNING {
					continue
				}
				claims := auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: aliceID, Issuer: "orgraph", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
				hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
				hs.Header["kid"] = s.ID
				hsTok, _ := hs.SignedString(s.PublicKey)
				noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
				for _, tok := range []string{hsTok, noneTok} {
					if _, status := viewer(in, tok); status != http.StatusUnauthorized {
						t.Fatalf("algorithm switch: HTTP %d", status)
					}
				}
			}

			// decrypting: every candidate as the AES key of the application's private
			// key, of the sealed data keys and of the sealed token-signing keys
			for i, c := range candidates {
				if _, err := keyring.Unseal(c, appKey.PrivateKey, appKeyAAD(appID, appKey.Kid)); err == nil {
					t.Fatalf("candidate %d decrypts the application signing key", i)
				}
				for _, s := range sealed {
					if _, err := keyring.Unseal(c, s.Sealed, sealedKeyAAD(s.Kind, s.ID)); err == nil {
						t.Fatalf("candidate %d opens the sealed %s key %s", i, s.Kind, s.ID)
					}
				}
			}

			// running orgraph on the copy without the key file: refused, no new keys
			before := len(sealed)
			cfg := app.DefaultConfig()
			cfg.DB, cfg.Migrate = copyURL, b == testutil.SQLite
			cfg.KeyFile = filepath.Join(t.TempDir(), "orgraph.keys")
			if _, err := app.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
				t.Fatalf("orgraph on the copy without its key file: %v", err)
			}
			if _, err := os.Stat(cfg.KeyFile); !os.IsNotExist(err) {
				t.Fatal("orgraph on the copy created a key file")
			}
			// nor with a key file of its own
			otherDB, err := store.Open(testutil.DatabaseURL(t, testutil.SQLite))
			if err != nil {
				t.Fatal(err)
			}
			defer otherDB.Close()
			cfg.KeyFile = filepath.Join(t.TempDir(), "other.keys")
			if err := otherDB.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := keyring.Open(ctx, otherDB.Client, otherDB.Dialect, keyring.Options{KeyFile: cfg.KeyFile}); err != nil {
				t.Fatal(err)
			}
			if _, err := app.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "sealed under master key") {
				t.Fatalf("orgraph on the copy with another key file: %v", err)
			}
			if n := cp.Client.SealedKey.Query().CountX(ctx); n != before {
				t.Fatalf("the refused starts changed the sealed keys: %d -> %d", before, n)
			}

			// the control: with the key file, the same steps forge and decrypt
			raw, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			var kf struct {
				MasterKey string `json:"master_key"`
			}
			if err := json.Unmarshal(raw, &kf); err != nil {
				t.Fatal(err)
			}
			master, _ := base64.StdEncoding.DecodeString(kf.MasterKey)
			var forged, opened bool
			for _, s := range sealed {
				secret, err := keyring.Unseal(master, s.Sealed, sealedKeyAAD(s.Kind, s.ID))
				if err != nil {
					t.Fatalf("the master key does not open %s %s: %v", s.Kind, s.ID, err)
				}
				switch {
				case s.Kind == sealedkey.KindTOKEN_SIGNING && s.SupersededAt == nil:
					if alias, status := viewer(in, forge(t, ed25519.NewKeyFromSeed(secret), aliceID, s.ID)); alias != "alice" || status != http.StatusOK {
						t.Fatalf("control: forged with the master key: %q HTTP %d", alias, status)
					}
					forged = true
				case s.Kind == sealedkey.KindDATA && s.ID == appKey.DataKeyID:
					seed, err := keyring.Unseal(secret, appKey.PrivateKey, appKeyAAD(appID, appKey.Kid))
					if err != nil || !bytes.Equal(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), pub) {
						t.Fatalf("control: application key with the master key: %v", err)
					}
					opened = true
				}
			}
			if !forged || !opened {
				t.Fatalf("control: forged %v, opened %v", forged, opened)
			}
		})
	}
}

// TestKeyRotation: `orgraph keys rotate` (another process on the same
// database and key file) adds a signing key; tokens issued before keep working
// until the overlap ends, new ones carry the new kid (the running server
// accepts them at once and signs with the new key from then on); application
// keys are sealed again under a new data key; the previous data key is
// dropped once the overlap is over, and the next rotation deletes the expired
// signing key.
func TestKeyRotation(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, dbURL, keyFile := keyedInstance(t, b)
			ctx := gate.System(context.Background())
			before := in.Account("alice", false)
			oldKID := kidOf(t, before)
			if !strings.HasPrefix(oldKID, "tk_") || oldKID != in.Auth.SigningKID() {
				t.Fatalf("token kid %q, signing kid %q", oldKID, in.Auth.SigningKID())
			}
			org := mustCreate(t, in, before, map[string]any{"name": "Rotating"})["id"].(string)
			a := testutil.Get(in.MustDo(before, qCreateApp, map[string]any{"org": org, "name": "rp", "kind": "OIDC_RP"}), "createApplication").(map[string]any)
			appID := uuid.MustParse(a["id"].(string))
			pub, _ := base64.RawURLEncoding.DecodeString(testutil.Str(a, "publicKeys", 0, "x"))
			row := in.Store.Client.ApplicationKey.Query().Where(applicationkey.ApplicationID(appID)).OnlyX(ctx)

			open := func() *app.App {
				t.Helper()
				cfg := app.DefaultConfig()
				cfg.DB, cfg.KeyFile, cfg.Migrate = dbURL, keyFile, b == testutil.SQLite
				o, err := app.New(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { o.Store.Close() })
				return o
			}
			const overlap = 3 * time.Second
			rot, err := open().RotateKeys(ctx, app.RotateOptions{Overlap: overlap})
			if err != nil {
				t.Fatal(err)
			}
			if alias, status := viewer(in, before); alias != "alice" || status != http.StatusOK {
				t.Fatalf("a token issued before the rotation, during the overlap: %q HTTP %d", alias, status)
			}
			if rot.SigningKID == oldKID || !slices.Equal(rot.Superseded, []string{oldKID}) || rot.Resealed != 1 ||
				rot.PreviousDataKeyID != row.DataKeyID || rot.DataKeyID == row.DataKeyID || len(rot.DroppedDataKeys) != 0 || len(rot.Unopened) != 0 {
				t.Fatalf("rotation: %+v", rot)
			}

			// the rotating process signs with the new key; the running server accepts it at once
			rotator := open()
			acc, err := in.Service.AccountByAlias(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			after, _, err := rotator.Auth.Issue(acc, nil, time.Hour)
			if err != nil || kidOf(t, after) != rot.SigningKID {
				t.Fatalf("token after the rotation: kid %q, %v", kidOf(t, after), err)
			}
			if alias, status := viewer(in, after); alias != "alice" || status != http.StatusOK {
				t.Fatalf("a token with the new kid on the running server: %q HTTP %d", alias, status)
			}
			// and the running server now signs with it too
			if kid := kidOf(t, in.Token("alice", "")); kid != rot.SigningKID {
				t.Fatalf("the running server signs with %q, want %q", kid, rot.SigningKID)
			}

			// the application key is sealed under the new data key; a restarted server opens it
			resealed := in.Store.Client.ApplicationKey.Query().Where(applicationkey.ApplicationID(appID)).OnlyX(ctx)
			if resealed.DataKeyID != rot.DataKeyID || bytes.Equal(resealed.PrivateKey, row.PrivateKey) || resealed.Kid != row.Kid {
				t.Fatalf("application key after the rotation: %s", resealed.DataKeyID)
			}
			kid, priv, err := rotator.Service.SigningKey(ctx, appID)
			if err != nil || kid != row.Kid || !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
				t.Fatalf("application key under the new data key: %s %v", kid, err)
			}
			dataKeys := func() []string {
				ids := in.Store.Client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindDATA)).IDsX(ctx)
				slices.Sort(ids)
				return ids
			}
			if ids := dataKeys(); len(ids) != 2 || !slices.Contains(ids, row.DataKeyID) {
				t.Fatalf("data keys during the overlap: %v", ids)
			}

			// the overlap ends: the old token is refused, the new ones are not
			time.Sleep(time.Until(rot.OverlapEnds) + 100*time.Millisecond)
			if _, status := viewer(in, before); status != http.StatusUnauthorized {
				t.Fatalf("a token of the rotated-out key after the overlap: HTTP %d", status)
			}
			for _, tok := range []string{after, in.Token("alice", "")} {
				if alias, status := viewer(in, tok); alias != "alice" || status != http.StatusOK {
					t.Fatalf("a token of the new key after the overlap: %q HTTP %d", alias, status)
				}
			}

			// the next start drops the previous data key; the next rotation the expired signing key
			next := open()
			if ids := dataKeys(); !slices.Equal(ids, []string{rot.DataKeyID}) {
				t.Fatalf("data keys after the overlap: %v", ids)
			}
			rot2, err := next.RotateKeys(ctx, app.RotateOptions{Overlap: time.Hour})
			if err != nil || !slices.Equal(rot2.Expired, []string{oldKID}) || !slices.Equal(rot2.Superseded, []string{rot.SigningKID}) {
				t.Fatalf("second rotation: %+v %v", rot2, err)
			}
			if in.Store.Client.SealedKey.Query().Where(sealedkey.ID(oldKID)).ExistX(ctx) {
				t.Fatal("the expired signing key is still stored")
			}
		})
	}
}

// With a configured data key, a rotation needs the new one and seals under
// it; a process configured with the new key opens the application keys.
func TestKeyRotationWithConfiguredDataKey(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	var dbURL string
	keyFile := filepath.Join(t.TempDir(), "orgraph.keys")
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) {
		c.KeyFile, dbURL, c.DataKey = keyFile, c.DB, base64.StdEncoding.EncodeToString(oldKey)
	})
	ctx := gate.System(context.Background())
	alice := in.Account("alice", false)
	org := mustCreate(t, in, alice, map[string]any{"name": "Configured"})["id"].(string)
	a := testutil.Get(in.MustDo(alice, qCreateApp, map[string]any{"org": org, "name": "rp", "kind": "OIDC_RP"}), "createApplication").(map[string]any)
	appID := uuid.MustParse(a["id"].(string))

	if _, err := in.RotateKeys(ctx, app.RotateOptions{}); err == nil || !strings.Contains(err.Error(), "new-data-key") {
		t.Fatalf("rotation of a configured data key without the new one: %v", err)
	}
	rot, err := in.RotateKeys(ctx, app.RotateOptions{NewDataKey: newKey})
	if err != nil || rot.DataKeyID != keyring.DataKeyID(newKey) || rot.Resealed != 1 {
		t.Fatalf("rotation: %+v %v", rot, err)
	}
	if n := in.Store.Client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindDATA)).CountX(ctx); n != 0 {
		t.Fatalf("a configured data key was stored (%d)", n)
	}
	cfg := app.DefaultConfig()
	cfg.DB, cfg.KeyFile, cfg.Migrate, cfg.DataKey = dbURL, keyFile, true, base64.StdEncoding.EncodeToString(newKey)
	next, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Store.Close()
	if _, _, err := next.Service.SigningKey(ctx, appID); err != nil {
		t.Fatal(err)
	}
	if _, err := in.RotateKeys(ctx, app.RotateOptions{NewDataKey: newKey}); err == nil {
		t.Fatal("a rotation to the key already configured was accepted")
	}
}

package store_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/applicationkey"
	entmigrate "github.com/orgraph/orgraph/ent/migrate"
	"github.com/orgraph/orgraph/ent/sealedkey"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/keyring"
	"github.com/orgraph/orgraph/internal/seed"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/internal/testutil"
)

// sealedKeysVersion is the migration that added sealed_keys: the databases of
// the version before it keep their server keys in plaintext in server_keys.
const sealedKeysVersion = "20261201221325"

// previousSchema gives st the schema of the orgraph before sealed keys: on
// PostgreSQL the migrations before sealedKeysVersion, on SQLite the
// auto-migrated schema without sealed_keys.
func previousSchema(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	if !st.IsPostgres() {
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB.Exec(`DROP TABLE sealed_keys`); err != nil {
			t.Fatal(err)
		}
		return
	}
	files := shipped(t)
	old := map[string]string{}
	for _, f := range files {
		if f.Version() < sealedKeysVersion {
			old[f.Name()] = string(f.Bytes())
		}
	}
	if len(old) == 0 || len(old) == len(files) {
		t.Fatalf("%d of %d migrations come before %s", len(old), len(files), sealedKeysVersion)
	}
	if _, err := st.ApplyMigrationsFrom(ctx, memDir(t, old), store.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// oldRows is what the orgraph before sealed keys wrote: its token-signing seed
// and generated data key in plaintext, an application signing key sealed
// under that data key, and a token it issued (no kid).
type oldRows struct {
	seed, dataKey []byte
	appID         uuid.UUID
	appKID        string
	appPub        ed25519.PublicKey
	token         string
	alias         string
}

func writeOldRows(t *testing.T, st *store.Store) *oldRows {
	t.Helper()
	ctx := context.Background()
	o := &oldRows{seed: random(t, 32), dataKey: random(t, 32), alias: "alice", appKID: "sig_old"}
	// auth.serverSecret and auth.LoadDataKey of the previous version
	for id, secret := range map[string][]byte{"jwt-ed25519": o.seed, "data-key-aes256": o.dataKey} {
		if err := st.Client.ServerKey.Create().SetID(id).SetSecret(secret).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	acc, err := st.Client.Account.Create().SetAlias(o.alias).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := seed.Tree(ctx, st.Client, previousPolicy{}, acc, "Old", 1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := st.Client.Sector.Create().SetOrganizationID(orgs[0]).SetName("default").SetSecret(random(t, 32)).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Client.Application.Create().SetOrganizationID(orgs[0]).SetSectorID(sec.ID).SetName("rp").
		SetKind(application.KindOIDC_RP).SetAnchor("app_old").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.appID = a.ID
	// service.newSigningKey of the previous version: AES-256-GCM, nonce || ciphertext,
	// bound to the application and kid; data_key_id fingerprints the data key
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o.appPub = pub
	block, _ := aes.NewCipher(o.dataKey)
	gcm, _ := cipher.NewGCM(block)
	nonce := random(t, gcm.NonceSize())
	sealed := gcm.Seal(nonce, nonce, priv.Seed(), []byte("orgraph/application-signing-key/v1\x00"+a.ID.String()+"\x00"+o.appKID))
	sum := sha256.Sum256(append([]byte("orgraph/data-key-id\x00"), o.dataKey...))
	if err := st.Client.ApplicationKey.Create().SetApplicationID(a.ID).SetKind(applicationkey.KindSIGNING).SetKid(o.appKID).
		SetPublicKey(pub).SetPrivateKey(sealed).SetDataKeyID(hex.EncodeToString(sum[:6])).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// auth.Issue of the previous version: EdDSA, no kid
	now := time.Now()
	o.token, err = jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: acc.ID.String(), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		Issuer: "orgraph", ID: uuid.NewString(),
	}}).SignedString(ed25519.NewKeyFromSeed(o.seed))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// tablesHolding lists the tables that hold needle (raw or base64) in a value.
func tablesHolding(t *testing.T, st *store.Store, needle []byte) []string {
	t.Helper()
	forms := [][]byte{needle, []byte(base64.StdEncoding.EncodeToString(needle)), []byte(base64.RawURLEncoding.EncodeToString(needle)), []byte(hex.EncodeToString(needle))}
	var out []string
	for _, table := range entmigrate.Tables {
		rows, err := st.DB.Query("SELECT * FROM " + table.Name)
		if err != nil {
			t.Fatalf("read %s: %v", table.Name, err)
		}
		cols, _ := rows.Columns()
		found := false
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
				b, ok := v.([]byte)
				if !ok {
					b = []byte(fmt.Sprint(v))
				}
				for _, f := range forms {
					found = found || bytes.Contains(b, f)
				}
			}
		}
		rows.Close()
		if found {
			out = append(out, table.Name)
		}
	}
	return out
}

// viewerAlias asks the server who the bearer of token is ("" and the status
// when it is refused).
func viewerAlias(t *testing.T, h http.Handler, token string) (string, int) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { alias } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out struct {
		Data struct{ Viewer struct{ Alias string } }
	}
	_ = json.Unmarshal(body, &out)
	return out.Data.Viewer.Alias, res.StatusCode
}

// TestUpgradeMovesServerKeysOut: a database of the orgraph that kept its keys
// in plaintext is upgraded in place. The key file is written first, then the
// plaintext rows are removed; the tokens it issued keep working and its
// application keys still decrypt. When the key file cannot be written, nothing
// is removed.
func TestUpgradeMovesServerKeysOut(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			url := testutil.DatabaseURL(t, b)
			st, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			previousSchema(t, st)
			old := writeOldRows(t, st)
			st.Close()

			cfg := app.DefaultConfig()
			cfg.DB, cfg.Migrate = url, true
			dir := t.TempDir()

			// the key file cannot be written: the upgrade stops, the plaintext keys stay
			cfg.KeyFile = filepath.Join(dir, "missing", "orgraph.keys")
			if _, err := app.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), cfg.KeyFile) {
				t.Fatalf("upgrade without a writable key file: %v", err)
			}
			check, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			if n := check.Client.ServerKey.Query().CountX(ctx); n != 2 {
				t.Fatalf("a failed upgrade left %d of the 2 plaintext keys", n)
			}
			if n := check.Client.SealedKey.Query().CountX(ctx); n != 0 {
				t.Fatalf("a failed upgrade sealed %d keys", n)
			}
			check.Close()

			// the upgrade
			cfg.KeyFile = filepath.Join(dir, "orgraph.keys")
			a, err := app.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(cfg.KeyFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", fi, err)
			}
			if n := a.Store.Client.ServerKey.Query().CountX(ctx); n != 0 {
				t.Fatalf("%d plaintext server keys after the upgrade", n)
			}
			signing, err := a.Store.Client.SealedKey.Get(ctx, keyring.LegacySigningKID)
			if err != nil || signing.Kind != sealedkey.KindTOKEN_SIGNING || signing.SupersededAt != nil ||
				!bytes.Equal(signing.PublicKey, ed25519.NewKeyFromSeed(old.seed).Public().(ed25519.PublicKey)) {
				t.Fatalf("moved signing key: %+v %v", signing, err)
			}
			data, err := a.Store.Client.SealedKey.Get(ctx, keyring.DataKeyID(old.dataKey))
			if err != nil || data.Kind != sealedkey.KindDATA || data.MasterKeyID != a.Keys.MasterKeyID() {
				t.Fatalf("moved data key: %+v %v", data, err)
			}
			for name, secret := range map[string][]byte{"token-signing seed": old.seed, "data key": old.dataKey} {
				if tables := tablesHolding(t, a.Store, secret); len(tables) > 0 {
					t.Fatalf("the %s is still in plaintext in %v", name, tables)
				}
			}

			// the token issued before the upgrade (no kid) is accepted
			if alias, status := viewerAlias(t, a.Handler, old.token); alias != old.alias || status != http.StatusOK {
				t.Fatalf("old token after the upgrade: %q (HTTP %d)", alias, status)
			}
			// the application key still decrypts, and signs for its published key
			kid, priv, err := a.Service.SigningKey(gate.System(ctx), old.appID)
			if err != nil || kid != old.appKID || !bytes.Equal(priv.Public().(ed25519.PublicKey), old.appPub) {
				t.Fatalf("application key after the upgrade: %s %v", kid, err)
			}
			// new tokens carry the moved key's kid
			acc := a.Store.Client.Account.Query().OnlyX(ctx)
			tok, _, err := a.Auth.Issue(acc, nil, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if parsed, _, _ := jwt.NewParser().ParseUnverified(tok, &auth.Claims{}); parsed.Header["kid"] != keyring.LegacySigningKID {
				t.Fatalf("new token header %v", parsed.Header)
			}
			a.Store.Close()

			// nothing of the plaintext keys is left in the SQLite files either
			if b == testutil.SQLite {
				for _, f := range []string{url, url + "-wal", url + "-shm"} {
					raw, err := os.ReadFile(f)
					if os.IsNotExist(err) {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(raw, old.seed) || bytes.Contains(raw, old.dataKey) {
						t.Fatalf("%s still holds a plaintext key", filepath.Base(f))
					}
				}
			}

			// restarted, it keeps accepting the tokens it issued before and after
			again, err := app.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Store.Close()
			for _, token := range []string{old.token, tok} {
				if alias, status := viewerAlias(t, again.Handler, token); alias != old.alias || status != http.StatusOK {
					t.Fatalf("token after a restart: %q (HTTP %d)", alias, status)
				}
			}
			if _, _, err := again.Service.SigningKey(gate.System(ctx), old.appID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// previousPolicy is the default policy data the previous version seeded with.
type previousPolicy struct{}

func (previousPolicy) OwnerRole() string { return "owner" }
func (previousPolicy) Capabilities() []string {
	return []string{"core", "applications", "identities", "billing", "api_keys"}
}

package keyring_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/orgraph/orgraph/ent/sealedkey"
	"github.com/orgraph/orgraph/internal/keyring"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/internal/testutil"
)

// openStore opens a fresh, migrated database of kind b.
func openStore(t *testing.T, b testutil.Backend) *store.Store {
	t.Helper()
	st, err := store.Open(testutil.DatabaseURL(t, b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func open(t *testing.T, st *store.Store, opts keyring.Options) (*keyring.Keyring, error) {
	t.Helper()
	return keyring.Open(context.Background(), st.Client, st.Dialect, opts)
}

// sealedRows lists the sealed keys as "KIND id master_key_id" lines.
func sealedRows(t *testing.T, st *store.Store) []string {
	t.Helper()
	rows, err := st.Client.SealedKey.Query().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, string(r.Kind)+" "+r.ID+" "+r.MasterKeyID)
	}
	slices.Sort(out)
	return out
}

// On first start the key file is created, readable by its owner only; the
// database holds one current signing key and one data key, sealed under it,
// and nothing in server_keys. Opening again finds the same keys.
func TestKeyFileCreatedOwnerOnly(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			st := openStore(t, b)
			path := filepath.Join(t.TempDir(), "orgraph.keys")
			k, err := open(t, st, keyring.Options{KeyFile: path})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
			}
			var kf struct {
				Version     int    `json:"version"`
				MasterKeyID string `json:"master_key_id"`
				MasterKey   string `json:"master_key"`
			}
			data, _ := os.ReadFile(path)
			if err := json.Unmarshal(data, &kf); err != nil || kf.Version != 1 || kf.MasterKeyID != k.MasterKeyID() {
				t.Fatalf("key file %s: %+v %v", data, kf, err)
			}
			master, _ := base64.StdEncoding.DecodeString(kf.MasterKey)
			if keyring.MasterKeyID(master) != k.MasterKeyID() || k.Source() != "key file "+path {
				t.Fatalf("master key %s from %s", k.MasterKeyID(), k.Source())
			}
			ctx := context.Background()
			sk, err := k.SigningKeys(ctx)
			if err != nil || len(sk.ByKID) != 1 || !strings.HasPrefix(sk.Current.KID, "tk_") {
				t.Fatalf("signing keys: %+v %v", sk, err)
			}
			rows := sealedRows(t, st)
			want := []string{"DATA " + keyring.DataKeyID(k.DataKey()) + " " + k.MasterKeyID(), "TOKEN_SIGNING " + sk.Current.KID + " " + k.MasterKeyID()}
			if !slices.Equal(rows, want) {
				t.Fatalf("sealed keys %v, want %v", rows, want)
			}
			for _, r := range st.Client.SealedKey.Query().AllX(ctx) {
				if bytes.Contains(r.Sealed, k.DataKey()) || bytes.Contains(r.Sealed, sk.Current.Private.Seed()) || bytes.Contains(r.Sealed, master) {
					t.Fatalf("%s %s is stored in clear", r.Kind, r.ID)
				}
			}
			if n := st.Client.ServerKey.Query().CountX(ctx); n != 0 {
				t.Fatalf("%d plaintext server keys", n)
			}

			again, err := open(t, st, keyring.Options{KeyFile: path})
			if err != nil {
				t.Fatal(err)
			}
			sk2, err := again.SigningKeys(ctx)
			if err != nil || sk2.Current.KID != sk.Current.KID || !bytes.Equal(again.DataKey(), k.DataKey()) {
				t.Fatalf("reopened: %v %v", sk2, err)
			}
			if rows := sealedRows(t, st); !slices.Equal(rows, want) {
				t.Fatalf("reopening changed the sealed keys: %v", rows)
			}
		})
	}
}

// A key file that group or others may read (or write) is refused with a
// message that says how to fix it; owner-only modes are accepted.
func TestKeyFileRefusedWhenOthersMayReadIt(t *testing.T) {
	st := openStore(t, testutil.SQLite)
	path := filepath.Join(t.TempDir(), "orgraph.keys")
	if _, err := open(t, st, keyring.Options{KeyFile: path}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602, 0o777} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := open(t, st, keyring.Options{KeyFile: path})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600") ||
			!strings.Contains(err.Error(), "group or others") {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := open(t, st, keyring.Options{KeyFile: path}); err != nil {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
}

// A database whose keys are sealed gets a clear error when the key file is
// missing or holds another master key, never a silent new key: no file is
// created and the sealed keys stay as they were.
func TestMissingOrWrongKeyFileIsAnError(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			st := openStore(t, b)
			dir := t.TempDir()
			path := filepath.Join(dir, "orgraph.keys")
			k, err := open(t, st, keyring.Options{KeyFile: path})
			if err != nil {
				t.Fatal(err)
			}
			before := sealedRows(t, st)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			_, err = open(t, st, keyring.Options{KeyFile: path})
			if err == nil || !strings.Contains(err.Error(), "key file "+path+" does not exist") || !strings.Contains(err.Error(), k.MasterKeyID()) {
				t.Fatalf("missing key file: %v", err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("a key file was created: %v", err)
			}
			if after := sealedRows(t, st); !slices.Equal(after, before) {
				t.Fatalf("the sealed keys changed: %v -> %v", before, after)
			}

			// another database's key file
			other := filepath.Join(dir, "other.keys")
			ok, err := open(t, openStore(t, testutil.SQLite), keyring.Options{KeyFile: other})
			if err != nil {
				t.Fatal(err)
			}
			_, err = open(t, st, keyring.Options{KeyFile: other})
			if err == nil || !strings.Contains(err.Error(), "sealed under master key "+k.MasterKeyID()) ||
				!strings.Contains(err.Error(), "key file "+other+" holds master key "+ok.MasterKeyID()) {
				t.Fatalf("wrong key file: %v", err)
			}
			// a master key from the environment that is not the one
			_, err = open(t, st, keyring.Options{MasterKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))})
			if err == nil || !strings.Contains(err.Error(), "$"+keyring.MasterKeyEnv+" holds master key") {
				t.Fatalf("wrong master key: %v", err)
			}
			if after := sealedRows(t, st); !slices.Equal(after, before) {
				t.Fatalf("the sealed keys changed: %v -> %v", before, after)
			}
		})
	}
}

// The master key may come from the environment instead of a file: no file is
// read or created, and the same key opens the keys again.
func TestMasterKeyFromEnvironment(t *testing.T) {
	st := openStore(t, testutil.SQLite)
	master := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	path := filepath.Join(t.TempDir(), "orgraph.keys")
	k, err := open(t, st, keyring.Options{MasterKey: master, KeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a key file was created with the master key in the environment: %v", err)
	}
	if k.Source() != "$"+keyring.MasterKeyEnv || k.MasterKeyID() != keyring.MasterKeyID(bytes.Repeat([]byte{3}, 32)) {
		t.Fatalf("source %s, master %s", k.Source(), k.MasterKeyID())
	}
	again, err := open(t, st, keyring.Options{MasterKey: " " + master + "\n"})
	if err != nil || !bytes.Equal(again.DataKey(), k.DataKey()) {
		t.Fatalf("reopen: %v", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("sixteen bytes..."))} {
		if _, err := open(t, st, keyring.Options{MasterKey: bad}); err == nil || !strings.Contains(err.Error(), keyring.MasterKeyEnv) {
			t.Fatalf("master key %q: %v", bad, err)
		}
	}
}

// A configured data key ($ORGRAPH_DATA_KEY) is used as is and never stored,
// not even sealed; the token-signing key is still sealed under the master key.
func TestConfiguredDataKey(t *testing.T) {
	st := openStore(t, testutil.SQLite)
	want := bytes.Repeat([]byte{9}, 32)
	path := filepath.Join(t.TempDir(), "orgraph.keys")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		k, err := open(t, st, keyring.Options{KeyFile: path, DataKey: " " + enc.EncodeToString(want) + "\n"})
		if err != nil || !bytes.Equal(k.DataKey(), want) {
			t.Fatalf("configured data key: %x %v", k.DataKey(), err)
		}
	}
	if n := st.Client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindDATA)).CountX(context.Background()); n != 0 {
		t.Fatalf("a configured data key was stored (%d rows)", n)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("sixteen bytes..."))} {
		if _, err := open(t, st, keyring.Options{KeyFile: path, DataKey: bad}); err == nil || !strings.Contains(err.Error(), keyring.DataKeyEnv) {
			t.Fatalf("data key %q: %v", bad, err)
		}
	}
}

// Processes starting at once on a fresh machine agree on one key file and
// one current signing key.
func TestConcurrentFirstStart(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			url := testutil.DatabaseURL(t, b)
			first, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			if err := first.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "orgraph.keys")
			const n = 4
			ids := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := store.Open(url)
					if err != nil {
						errs[i] = err
						return
					}
					defer st.Close()
					k, err := keyring.Open(context.Background(), st.Client, st.Dialect, keyring.Options{KeyFile: path})
					if err != nil {
						errs[i] = err
						return
					}
					sk, err := k.SigningKeys(context.Background())
					if err == nil {
						ids[i] = k.MasterKeyID() + "/" + sk.Current.KID + "/" + keyring.DataKeyID(k.DataKey())
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil || ids[i] != ids[0] {
					t.Fatalf("start %d: %s %v (first: %s)", i, ids[i], errs[i], ids[0])
				}
			}
			if rows := sealedRows(t, first); len(rows) != 2 {
				t.Fatalf("sealed keys after concurrent starts: %v", rows)
			}
			if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(matches) != 1 {
				t.Fatalf("files left next to the key file: %v", matches)
			}
		})
	}
}

func TestDefaultKeyFile(t *testing.T) {
	for db, want := range map[string]string{
		"orgraph.db":                         "orgraph.keys",
		"/var/lib/orgraph/data.db":           "/var/lib/orgraph/data.keys",
		"dir/x.sqlite":                       "dir/x.keys",
		"noext":                              "noext.keys",
		"odd.keys":                           "odd.keys.keys",
		"file:/srv/o.db?_pragma=x":           "/srv/o.keys",
		"postgres://u@h/db":                  "orgraph.keys",
		"postgresql://u@h/db?sslmode=verify": "orgraph.keys",
	} {
		if got := keyring.DefaultKeyFile(db); got != want {
			t.Errorf("DefaultKeyFile(%q) = %q, want %q", db, got, want)
		}
	}
	for _, kf := range []string{"orgraph.db", "./orgraph.db-wal", "orgraph.db-shm"} {
		if err := keyring.CheckKeyFilePath(kf, "orgraph.db"); err == nil {
			t.Errorf("key file %s accepted for orgraph.db", kf)
		}
	}
	if err := keyring.CheckKeyFilePath("orgraph.keys", "orgraph.db"); err != nil {
		t.Error(err)
	}
}

func TestSealUnseal(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	sealed, err := keyring.Seal(key, []byte("secret"), []byte("row 1"))
	if err != nil || bytes.Contains(sealed, []byte("secret")) {
		t.Fatalf("%x %v", sealed, err)
	}
	if got, err := keyring.Unseal(key, sealed, []byte("row 1")); err != nil || string(got) != "secret" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := keyring.Unseal(key, sealed, []byte("row 2")); err == nil {
		t.Fatal("opened with another aad")
	}
	if _, err := keyring.Unseal(bytes.Repeat([]byte{2}, 32), sealed, []byte("row 1")); err == nil {
		t.Fatal("opened with another key")
	}
	if _, err := keyring.Seal([]byte("short"), nil, nil); err == nil {
		t.Fatal("sealed with a short key")
	}
}

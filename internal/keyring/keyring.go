// Package keyring keeps the server's own keys out of reach of a copy of the
// database. The master key lives outside the database, in the key file
// (created with mode 0600 on first start) or in $ORGRAPH_MASTER_KEY. The
// database holds only what it seals: the token-signing keys (Ed25519; their
// public halves in clear) and the data keys that in turn seal application
// secrets (unless the data key is configured, $ORGRAPH_DATA_KEY). Opening the
// keyring moves the plaintext keys an older orgraph kept in server_keys out:
// the key file is written first, then the plaintext rows are removed.
package keyring

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/sealedkey"
	"github.com/orgraph/orgraph/ent/serverkey"
)

const (
	// MasterKeyEnv configures the master key (base64 of 32 bytes) instead of the key file.
	MasterKeyEnv = "ORGRAPH_MASTER_KEY"
	// DataKeyEnv configures the data key (base64 of 32 bytes); it is then never stored.
	DataKeyEnv = "ORGRAPH_DATA_KEY"
	// LegacySigningKID is the id of the token-signing key an older orgraph kept in
	// plaintext; moved out, it keeps this kid, and tokens without a kid (which
	// only that version issued) are verified with it.
	LegacySigningKID = "jwt-ed25519"
	// legacyDataKeyID is the server_keys id of an older orgraph's generated data key.
	legacyDataKeyID = "data-key-aes256"
	// DefaultOverlap is how long a rotated-out signing key keeps verifying.
	DefaultOverlap = 24 * time.Hour
	// lockKey is the PostgreSQL advisory lock taken while the keyring is written.
	lockKey = 0x6f726b6579 // "orkey"
)

// Options configure Open.
type Options struct {
	// KeyFile is where the master key lives; it is created on first start.
	KeyFile string
	// MasterKey (base64 of 32 bytes, e.g. from $ORGRAPH_MASTER_KEY) is the
	// master key; when set the key file is neither read nor created.
	MasterKey string
	// DataKey (base64 of 32 bytes, e.g. from $ORGRAPH_DATA_KEY) is the data key;
	// when set no data key is generated or stored.
	DataKey string
	Logger  *slog.Logger
}

// Keyring is an open set of server keys.
type Keyring struct {
	client   *ent.Client
	postgres bool
	logger   *slog.Logger
	master   []byte
	masterID string
	source   string // where the master key came from, for messages

	mu         sync.Mutex
	configured []byte   // the configured data key, if any
	dataKey    []byte   // the data key new secrets are sealed under
	previous   [][]byte // data keys configured before a rotation in this process
}

// SigningKey is a token-signing key.
type SigningKey struct {
	KID       string
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	CreatedAt time.Time
	// ExpiresAt ends the verification of a superseded key (nil: no end).
	ExpiresAt *time.Time
}

// SigningKeys are the token-signing keys in use: the one that signs, and every
// one that verifies, by kid.
type SigningKeys struct {
	Current SigningKey
	ByKID   map[string]SigningKey
}

// Source says where the master key came from ("key file PATH" or "$ORGRAPH_MASTER_KEY").
func (k *Keyring) Source() string { return k.source }

// MasterKeyID fingerprints the master key in use.
func (k *Keyring) MasterKeyID() string { return k.masterID }

// Open loads the master key (creating the key file on first start), moves the
// plaintext keys of an older orgraph out of the database, and creates the
// first token-signing key and data key when there are none.
//
// A database whose keys are sealed under a master key that is not available
// (the key file is missing, or holds another key) is an error: a new key would
// silently invalidate every token and application key.
func Open(ctx context.Context, client *ent.Client, dialectName string, opts Options) (*Keyring, error) {
	k := &Keyring{client: client, postgres: dialectName == dialect.Postgres, logger: opts.Logger}
	if k.logger == nil {
		k.logger = slog.Default()
	}
	if strings.TrimSpace(opts.DataKey) != "" {
		key, err := ParseKey(DataKeyEnv, opts.DataKey)
		if err != nil {
			return nil, err
		}
		k.configured = key
	}
	if err := k.loadMaster(ctx, opts); err != nil {
		return nil, err
	}
	if err := k.checkMaster(ctx, client.SealedKey.Query); err != nil {
		return nil, err
	}
	if err := k.moveLegacy(ctx); err != nil {
		return nil, err
	}
	if err := k.bootstrap(ctx); err != nil {
		return nil, err
	}
	if k.configured != nil {
		k.dataKey = k.configured
		return k, nil
	}
	keys, err := k.storedDataKeys(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("keyring: no current data key")
	}
	k.dataKey = keys[0]
	return k, nil
}

// loadMaster reads the master key from the environment or the key file,
// creating the file when it is missing and the database holds no sealed key.
func (k *Keyring) loadMaster(ctx context.Context, opts Options) error {
	if strings.TrimSpace(opts.MasterKey) != "" {
		key, err := ParseKey(MasterKeyEnv, opts.MasterKey)
		if err != nil {
			return err
		}
		k.master, k.masterID, k.source = key, MasterKeyID(key), "$"+MasterKeyEnv
		return nil
	}
	path := opts.KeyFile
	if path == "" {
		return fmt.Errorf("no key file configured (--key-file, $%s) and no $%s", KeyFileEnv, MasterKeyEnv)
	}
	k.source = "key file " + path
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		ids, derr := masterIDs(ctx, k.client.SealedKey.Query)
		if derr != nil {
			return fmt.Errorf("read the sealed keys: %w", derr)
		}
		if len(ids) > 0 {
			// A process starting alongside may have created the file and
			// sealed the first keys since we looked.
			if key, err := readKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
				if err != nil {
					return err
				}
				k.master, k.masterID = key, MasterKeyID(key)
				return nil
			}
			return fmt.Errorf("the key file %s does not exist (and $%s is not set), but the database's keys are sealed "+
				"under master key %s, which only that key file holds: restore it (or point --key-file or $%s at it). "+
				"A new key would invalidate every issued token and application key, so none is created",
				path, MasterKeyEnv, strings.Join(ids, ", "), KeyFileEnv)
		}
		if key, err = RandomBytes(KeySize); err != nil {
			return err
		}
		switch err = createKeyFile(path, key); {
		case err == nil:
			k.logger.Info("created the key file: keep it secret and back it up apart from the database",
				"key_file", path, "master_key_id", MasterKeyID(key))
		case errors.Is(err, fs.ErrExist): // another process created it first
			key, err = readKeyFile(path)
		}
	}
	if err != nil {
		return err
	}
	k.master, k.masterID = key, MasterKeyID(key)
	return nil
}

// query starts a query of sealed keys, on the client or in a transaction.
type query func() *ent.SealedKeyQuery

// masterIDs lists the master keys the database's sealed keys need.
func masterIDs(ctx context.Context, q query) ([]string, error) {
	return q().Unique(true).Select(sealedkey.FieldMasterKeyID).Strings(ctx)
}

// checkMaster refuses a master key other than the one the database's keys are sealed under.
func (k *Keyring) checkMaster(ctx context.Context, q query) error {
	ids, err := masterIDs(ctx, q)
	if err != nil {
		return fmt.Errorf("read the sealed keys: %w", err)
	}
	for _, id := range ids {
		if id != k.masterID {
			return fmt.Errorf("the database's keys are sealed under master key %s, but %s holds master key %s: "+
				"wrong key file? Point --key-file (or $%s, or $%s) at the one this database was started with",
				strings.Join(ids, ", "), k.source, k.masterID, KeyFileEnv, MasterKeyEnv)
		}
	}
	return nil
}

// aad binds a sealed key to its kind and id, so that no row can stand in for another.
func aad(kind sealedkey.Kind, id string) []byte {
	return []byte("orgraph/sealed-key/v1\x00" + string(kind) + "\x00" + id)
}

func (k *Keyring) seal(kind sealedkey.Kind, id string, secret []byte) ([]byte, error) {
	return Seal(k.master, secret, aad(kind, id))
}

func (k *Keyring) unseal(row *ent.SealedKey) ([]byte, error) {
	if row.MasterKeyID != k.masterID {
		return nil, fmt.Errorf("%s key %s is sealed under master key %s, not %s (%s)", row.Kind, row.ID, row.MasterKeyID, k.masterID, k.source)
	}
	secret, err := Unseal(k.master, row.Sealed, aad(row.Kind, row.ID))
	if err != nil {
		return nil, fmt.Errorf("%s key %s does not open under master key %s: %w", row.Kind, row.ID, k.masterID, err)
	}
	if len(secret) != KeySize {
		return nil, fmt.Errorf("%s key %s has %d bytes, want %d", row.Kind, row.ID, len(secret), KeySize)
	}
	return secret, nil
}

// inLockedTx runs fn in a transaction that no other keyring writer runs
// alongside: SQLite transactions take the write lock at BEGIN (the store's
// _txlock=immediate); PostgreSQL takes an advisory lock.
func (k *Keyring) inLockedTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := k.client.Tx(ctx)
	if err != nil {
		return err
	}
	if k.postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// newSigningKey generates a token-signing key and its row (not yet saved).
func (k *Keyring) newSigningKey(tx *ent.Tx, now time.Time) (*ent.SealedKeyCreate, string, error) {
	b, err := RandomBytes(12)
	if err != nil {
		return nil, "", err
	}
	kid := "tk_" + base64.RawURLEncoding.EncodeToString(b)
	seed, err := RandomBytes(ed25519.SeedSize)
	if err != nil {
		return nil, "", err
	}
	return k.signingKeyRow(tx, kid, seed, now)
}

func (k *Keyring) signingKeyRow(tx *ent.Tx, kid string, seed []byte, created time.Time) (*ent.SealedKeyCreate, string, error) {
	sealed, err := k.seal(sealedkey.KindTOKEN_SIGNING, kid, seed)
	if err != nil {
		return nil, "", err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return tx.SealedKey.Create().SetID(kid).SetKind(sealedkey.KindTOKEN_SIGNING).SetPublicKey(pub).
		SetSealed(sealed).SetMasterKeyID(k.masterID).SetCreatedAt(created), kid, nil
}

func (k *Keyring) dataKeyRow(tx *ent.Tx, key []byte, created time.Time) (*ent.SealedKeyCreate, string, error) {
	id := DataKeyID(key)
	sealed, err := k.seal(sealedkey.KindDATA, id, key)
	if err != nil {
		return nil, "", err
	}
	return tx.SealedKey.Create().SetID(id).SetKind(sealedkey.KindDATA).SetSealed(sealed).
		SetMasterKeyID(k.masterID).SetCreatedAt(created), id, nil
}

func hasCurrent(ctx context.Context, tx *ent.Tx, kind sealedkey.Kind) (bool, error) {
	return tx.SealedKey.Query().Where(sealedkey.KindEQ(kind), sealedkey.SupersededAtIsNil()).Exist(ctx)
}

// moveLegacy seals the plaintext keys of server_keys (written by an older
// orgraph) under the master key, then removes the plaintext rows, in one
// transaction. The master key is already durable (the key file was written and
// synced before), so a failure leaves the plaintext rows for the next start.
func (k *Keyring) moveLegacy(ctx context.Context) error {
	if n, err := k.client.ServerKey.Query().Count(ctx); err != nil || n == 0 {
		return err
	}
	var moved []string
	err := k.inLockedTx(ctx, func(tx *ent.Tx) error {
		legacy, err := tx.ServerKey.Query().All(ctx)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		for _, row := range legacy {
			if len(row.Secret) != KeySize {
				return fmt.Errorf("server_keys %s has %d bytes, want %d", row.ID, len(row.Secret), KeySize)
			}
			switch row.ID {
			case LegacySigningKID:
				if err := k.moveLegacySigningKey(ctx, tx, row, now); err != nil {
					return err
				}
			case legacyDataKeyID:
				if err := k.moveLegacyDataKey(ctx, tx, row, now); err != nil {
					return err
				}
			default:
				return fmt.Errorf("server_keys holds an unknown key %q: not moving it (nor anything else) out", row.ID)
			}
			moved = append(moved, row.ID)
		}
		if !k.postgres {
			// Overwrite the deleted rows in the file rather than leave them in free pages.
			if _, err := tx.ExecContext(ctx, "PRAGMA secure_delete = ON"); err != nil {
				return err
			}
		}
		if _, err := tx.ServerKey.Delete().Where(serverkey.IDIn(moved...)).Exec(ctx); err != nil {
			return err
		}
		if !k.postgres {
			_, err = tx.ExecContext(ctx, "PRAGMA secure_delete = OFF")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("move the plaintext server keys out of the database: %w", err)
	}
	k.scrub(ctx)
	k.logger.Warn("moved the server keys out of the database: they are now sealed under the master key of "+k.source+
		", without which issued tokens and application keys are lost; back it up apart from the database",
		"keys", moved, "master_key_id", k.masterID)
	return nil
}

func (k *Keyring) moveLegacySigningKey(ctx context.Context, tx *ent.Tx, row *ent.ServerKey, now time.Time) error {
	existing, err := tx.SealedKey.Get(ctx, LegacySigningKID)
	switch {
	case err == nil:
		seed, err := k.unseal(existing)
		if err != nil {
			return err
		}
		if !bytes.Equal(seed, row.Secret) {
			return errors.New("server_keys holds a plaintext token-signing key (written by an older orgraph since the " +
				"upgrade) that differs from the sealed one: remove it with `DELETE FROM server_keys` to keep the sealed key " +
				"(tokens that older orgraph issued since then stop working)")
		}
		return nil
	case !ent.IsNotFound(err):
		return err
	}
	create, _, err := k.signingKeyRow(tx, LegacySigningKID, row.Secret, row.CreatedAt)
	if err != nil {
		return err
	}
	current, err := hasCurrent(ctx, tx, sealedkey.KindTOKEN_SIGNING)
	if err != nil {
		return err
	}
	if current { // a newer key signs; this one verifies what it signed for an overlap
		create.SetSupersededAt(now).SetExpiresAt(now.Add(DefaultOverlap))
	}
	return create.Exec(ctx)
}

func (k *Keyring) moveLegacyDataKey(ctx context.Context, tx *ent.Tx, row *ent.ServerKey, now time.Time) error {
	if exists, err := tx.SealedKey.Query().Where(sealedkey.ID(DataKeyID(row.Secret))).Exist(ctx); err != nil || exists {
		return err
	}
	create, _, err := k.dataKeyRow(tx, row.Secret, row.CreatedAt)
	if err != nil {
		return err
	}
	current, err := hasCurrent(ctx, tx, sealedkey.KindDATA)
	if err != nil {
		return err
	}
	if current { // kept until what it sealed is re-sealed under the current key
		create.SetSupersededAt(now).SetExpiresAt(now)
	}
	return create.Exec(ctx)
}

// scrub makes deleted plaintext unrecoverable from the database files, best
// effort: SQLite checkpoints its write-ahead log into the (overwritten) pages
// and truncates it; PostgreSQL rewrites server_keys.
func (k *Keyring) scrub(ctx context.Context) {
	stmt := "PRAGMA wal_checkpoint(TRUNCATE)"
	if k.postgres {
		stmt = "VACUUM FULL server_keys"
	}
	if _, err := k.client.ExecContext(ctx, stmt); err != nil {
		k.logger.Warn("could not scrub the removed plaintext keys from the database files", "stmt", stmt, "err", err)
	}
}

// bootstrap creates the first token-signing key, and the first data key unless
// one is configured.
func (k *Keyring) bootstrap(ctx context.Context) error {
	// need tells which kinds have no current key.
	need := func(q query) (signing, data bool, err error) {
		hasSigning, err := q().Where(sealedkey.KindEQ(sealedkey.KindTOKEN_SIGNING), sealedkey.SupersededAtIsNil()).Exist(ctx)
		if err != nil || k.configured != nil {
			return !hasSigning, false, err
		}
		hasData, err := q().Where(sealedkey.KindEQ(sealedkey.KindDATA), sealedkey.SupersededAtIsNil()).Exist(ctx)
		return !hasSigning, !hasData, err
	}
	signing, data, err := need(k.client.SealedKey.Query)
	if err != nil || (!signing && !data) {
		return err
	}
	return k.inLockedTx(ctx, func(tx *ent.Tx) error {
		// another process may have won the race, with another master key
		if err := k.checkMaster(ctx, tx.SealedKey.Query); err != nil {
			return err
		}
		signing, data, err := need(tx.SealedKey.Query)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		if signing {
			create, _, err := k.newSigningKey(tx, now)
			if err != nil {
				return err
			}
			if err := create.Exec(ctx); err != nil {
				return err
			}
		}
		if data {
			key, err := RandomBytes(KeySize)
			if err != nil {
				return err
			}
			create, _, err := k.dataKeyRow(tx, key, now)
			if err != nil {
				return err
			}
			return create.Exec(ctx)
		}
		return nil
	})
}

// SigningKeys unseals the token-signing keys that still verify. Each private
// half must open under the master key and match its stored public half, so a
// key written into the database by anyone without the master key is refused.
func (k *Keyring) SigningKeys(ctx context.Context) (*SigningKeys, error) {
	now := time.Now()
	rows, err := k.client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindTOKEN_SIGNING),
		sealedkey.Or(sealedkey.ExpiresAtIsNil(), sealedkey.ExpiresAtGT(now))).All(ctx)
	if err != nil {
		return nil, err
	}
	out := &SigningKeys{ByKID: make(map[string]SigningKey, len(rows))}
	var current *ent.SealedKey
	for _, row := range rows {
		seed, err := k.unseal(row)
		if err != nil {
			return nil, err
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		if !bytes.Equal(pub, row.PublicKey) {
			return nil, fmt.Errorf("token-signing key %s: the stored public key does not match the sealed private key", row.ID)
		}
		out.ByKID[row.ID] = SigningKey{KID: row.ID, Public: pub, Private: priv, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt}
		if row.SupersededAt == nil && (current == nil || newer(row, current)) {
			current = row
		}
	}
	if current == nil {
		return nil, errors.New("no current token-signing key")
	}
	out.Current = out.ByKID[current.ID]
	return out, nil
}

func newer(a, b *ent.SealedKey) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// storedDataKeys unseals the data keys of the database, newest first; only the
// current ones when current is set.
func (k *Keyring) storedDataKeys(ctx context.Context, current bool) ([][]byte, error) {
	q := k.client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindDATA))
	if current {
		q = q.Where(sealedkey.SupersededAtIsNil())
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return newer(rows[i], rows[j]) })
	keys := make([][]byte, len(rows))
	for i, row := range rows {
		if keys[i], err = k.unseal(row); err != nil {
			return nil, err
		}
		if DataKeyID(keys[i]) != row.ID {
			return nil, fmt.Errorf("data key %s: the sealed key does not match its id", row.ID)
		}
	}
	return keys, nil
}

// DataKey is the data key new secrets are sealed under: the configured one,
// else the current stored one.
func (k *Keyring) DataKey() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dataKey
}

// DataKeys returns every data key the keyring can open, by DataKeyID: the
// stored ones (current and superseded) and the configured one (and the one it
// replaced, after Rotate).
func (k *Keyring) DataKeys(ctx context.Context) (map[string][]byte, error) {
	stored, err := k.storedDataKeys(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(stored)+1)
	for _, key := range stored {
		out[DataKeyID(key)] = key
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range append(slices.Clone(k.previous), k.dataKey) {
		out[DataKeyID(key)] = key
	}
	return out, nil
}

// PruneDataKeys deletes the superseded data keys whose overlap has ended and
// under which nothing is sealed any more (inUse lists the data key ids that
// sealed data still names). It returns the ids it deleted.
func (k *Keyring) PruneDataKeys(ctx context.Context, inUse []string) ([]string, error) {
	ids, err := k.client.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindDATA), sealedkey.SupersededAtNotNil(),
		sealedkey.Or(sealedkey.ExpiresAtIsNil(), sealedkey.ExpiresAtLTE(time.Now())),
		sealedkey.IDNotIn(inUse...)).IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if _, err := k.client.SealedKey.Delete().Where(sealedkey.IDIn(ids...), sealedkey.IDNotIn(inUse...)).Exec(ctx); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// RotateOptions adjust Rotate.
type RotateOptions struct {
	// Overlap is how long the superseded token-signing key keeps verifying the
	// tokens it signed (default DefaultOverlap), and how long the superseded
	// data key is kept for servers that have not restarted yet.
	Overlap time.Duration
	// NewDataKey is the data key to move to when the data key is configured
	// (required then, refused otherwise: a stored data key is generated).
	NewDataKey []byte
}

// Rotation tells what Rotate did.
type Rotation struct {
	SigningKID string
	// Superseded lists the signing keys that now verify until OverlapEnds.
	Superseded  []string
	OverlapEnds time.Time
	// Expired lists the superseded signing keys whose overlap had ended, now deleted.
	Expired           []string
	DataKeyID         string
	PreviousDataKeyID string
}

// Rotate adds a token-signing key that signs from now on (the previous one
// keeps verifying until the overlap ends) and a data key that new secrets are
// sealed under. Re-sealing what the previous data key sealed is the caller's
// (it knows the sealed data): DataKeys still opens it until PruneDataKeys.
func (k *Keyring) Rotate(ctx context.Context, opts RotateOptions) (*Rotation, error) {
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.configured != nil && opts.NewDataKey == nil:
		return nil, fmt.Errorf("the data key is configured ($%s): give the new one (--new-data-key, base64 of %d bytes) "+
			"to re-seal under, then configure it in place of the old one", DataKeyEnv, KeySize)
	case k.configured == nil && opts.NewDataKey != nil:
		return nil, fmt.Errorf("a new data key is only given when the data key is configured ($%s); the stored one is generated", DataKeyEnv)
	case opts.NewDataKey != nil && len(opts.NewDataKey) != KeySize:
		return nil, fmt.Errorf("the new data key must be %d bytes, not %d", KeySize, len(opts.NewDataKey))
	case opts.NewDataKey != nil && bytes.Equal(opts.NewDataKey, k.configured):
		return nil, errors.New("the new data key is the configured one")
	}
	rot := &Rotation{PreviousDataKeyID: DataKeyID(k.dataKey)}
	newData := opts.NewDataKey
	err := k.inLockedTx(ctx, func(tx *ent.Tx) error {
		if err := k.checkMaster(ctx, tx.SealedKey.Query); err != nil {
			return err
		}
		now := time.Now().UTC()
		rot.OverlapEnds = now.Add(opts.Overlap)
		var err error
		if rot.Expired, err = tx.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindTOKEN_SIGNING),
			sealedkey.ExpiresAtLTE(now)).IDs(ctx); err != nil {
			return err
		}
		if _, err := tx.SealedKey.Delete().Where(sealedkey.IDIn(rot.Expired...)).Exec(ctx); err != nil {
			return err
		}
		if rot.Superseded, err = tx.SealedKey.Query().Where(sealedkey.KindEQ(sealedkey.KindTOKEN_SIGNING),
			sealedkey.SupersededAtIsNil()).IDs(ctx); err != nil {
			return err
		}
		if err := tx.SealedKey.Update().Where(sealedkey.IDIn(rot.Superseded...)).
			SetSupersededAt(now).SetExpiresAt(rot.OverlapEnds).Exec(ctx); err != nil {
			return err
		}
		create, kid, err := k.newSigningKey(tx, now)
		if err != nil {
			return err
		}
		if err := create.Exec(ctx); err != nil {
			return err
		}
		rot.SigningKID = kid

		// Stored data keys step aside (kept until what they sealed is re-sealed).
		if err := tx.SealedKey.Update().Where(sealedkey.KindEQ(sealedkey.KindDATA), sealedkey.SupersededAtIsNil()).
			SetSupersededAt(now).SetExpiresAt(rot.OverlapEnds).Exec(ctx); err != nil {
			return err
		}
		if newData == nil {
			if newData, err = RandomBytes(KeySize); err != nil {
				return err
			}
			create, _, err := k.dataKeyRow(tx, newData, now)
			if err != nil {
				return err
			}
			return create.Exec(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rotate keys: %w", err)
	}
	if k.configured != nil {
		k.previous = append(k.previous, k.configured)
		k.configured = newData
	}
	k.dataKey = newData
	rot.DataKeyID = DataKeyID(newData)
	slices.Sort(rot.Superseded)
	slices.Sort(rot.Expired)
	return rot, nil
}

package keyring

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// KeyFileEnv names the environment variable that locates the key file.
const KeyFileEnv = "ORGRAPH_KEY_FILE"

// DefaultKeyFileName is the key file of the default database (orgraph.db) and
// of PostgreSQL, in the working directory.
const DefaultKeyFileName = "orgraph.keys"

const keyFileVersion = 1

// keyFile is the content of the key file (JSON).
type keyFile struct {
	Note        string    `json:"note"`
	Version     int       `json:"version"`
	MasterKeyID string    `json:"master_key_id"`
	MasterKey   string    `json:"master_key"`
	CreatedAt   time.Time `json:"created_at"`
}

const keyFileNote = "orgraph master key: it unseals the token-signing and data keys stored in the database. " +
	"Keep it secret (mode 0600), keep it apart from copies of the database, and back it up: without it " +
	"issued tokens cannot be verified and application keys cannot be decrypted."

// DefaultKeyFile is where the key file lives when none is configured: next to
// an SQLite database file, named after it with the extension .keys (orgraph.db:
// orgraph.keys); for PostgreSQL, orgraph.keys in the working directory.
func DefaultKeyFile(dbURL string) string {
	path := sqlitePath(dbURL)
	if path == "" {
		return DefaultKeyFileName
	}
	keys := strings.TrimSuffix(path, filepath.Ext(path)) + ".keys"
	if keys == path {
		keys += ".keys"
	}
	return keys
}

// sqlitePath is the file of an SQLite database URL ("" for PostgreSQL or memory).
func sqlitePath(dbURL string) string {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		return ""
	}
	path := strings.TrimPrefix(dbURL, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == ":memory:" {
		return ""
	}
	return path
}

// CheckKeyFilePath refuses a key file that is the SQLite database file itself
// (or one of its -wal, -shm and -journal companions).
func CheckKeyFilePath(keyFile, dbURL string) error {
	db := sqlitePath(dbURL)
	if db == "" {
		return nil
	}
	kf, err1 := filepath.Abs(keyFile)
	dbAbs, err2 := filepath.Abs(db)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if kf == dbAbs+suffix {
			return fmt.Errorf("the key file %s is a file of the database: it must live outside it", keyFile)
		}
	}
	return nil
}

// readKeyFile returns the master key of the key file at path. A file that
// group or others may access is refused; a missing file is an error wrapping
// fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is accessible by group or others (mode %04o): it holds the master key and must be "+
			"readable by its owner only; run `chmod 600 %s` (and consider the key exposed if others could read it)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("key file %s is not an orgraph key file: %w", path, err)
	}
	if kf.Version != keyFileVersion {
		return nil, fmt.Errorf("key file %s has version %d; this orgraph reads version %d", path, kf.Version, keyFileVersion)
	}
	key, err := ParseKey("the master_key of key file "+path, kf.MasterKey)
	if err != nil {
		return nil, err
	}
	if kf.MasterKeyID != "" && kf.MasterKeyID != MasterKeyID(key) {
		return nil, fmt.Errorf("key file %s is damaged: its master_key does not match its master_key_id %s", path, kf.MasterKeyID)
	}
	return key, nil
}

// createKeyFile writes a new key file holding key at path, readable by its
// owner only. The file appears complete or not at all (it is written aside,
// synced, then linked into place); when path already exists it returns an
// error wrapping fs.ErrExist and leaves the existing file alone.
func createKeyFile(path string, key []byte) error {
	data, err := json.MarshalIndent(keyFile{
		Note: keyFileNote, Version: keyFileVersion, MasterKeyID: MasterKeyID(key),
		MasterKey: base64.StdEncoding.EncodeToString(key), CreatedAt: time.Now().UTC().Truncate(time.Second),
	}, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".orgraph-keys-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSynced(tmp, data); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// No hard links here: create the file exclusively instead.
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return ferr
		}
		if err := writeSynced(f, data); err != nil {
			os.Remove(path)
			return fmt.Errorf("write key file %s: %w", path, err)
		}
	}
	syncDir(dir)
	return nil
}

func writeSynced(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir makes a new directory entry durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Command gen writes the next versioned PostgreSQL migration into
// ent/migrate/migrations: the statements that take a database from the state the
// directory builds to the state of the ent schema (ent/migrate/schema.go, so run
// `make generate` first; `make migration NAME=…` does both).
//
//	go run ./ent/migrate/gen [-dir ent/migrate/migrations] NAME
//	go run ./ent/migrate/gen [-dir ent/migrate/migrations] -hash
//
// The directory is replayed on a temporary database that gen creates (and drops)
// on the PostgreSQL server at $ORGRAPH_TEST_PG
// (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), then
// diffed against the ent schema; the new file and atlas.sum are written only
// when there is a difference. With -hash it only rewrites atlas.sum, after a new
// migration file was edited by hand (make migration-hash).
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/orgraph/orgraph/ent/migrate"
)

// Atlas opens a postgres:// URL with the database/sql driver named "postgres";
// that is pgx here (the tool links no other PostgreSQL driver).
func init() {
	if !slices.Contains(sql.Drivers(), "postgres") {
		sql.Register("postgres", stdlib.GetDefaultDriver())
	}
}

// adminURL is where the temporary dev database is created (as in internal/testutil).
func adminURL() string {
	if u := os.Getenv("ORGRAPH_TEST_PG"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

func main() {
	dir := flag.String("dir", "ent/migrate/migrations", "The migration directory.")
	hash := flag.Bool("hash", false, "Only rewrite atlas.sum (after editing a migration by hand).")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go run ./ent/migrate/gen [-dir DIR] NAME | -hash")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *hash {
		if err := rehash(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "migration:", err)
			os.Exit(1)
		}
		fmt.Println("rewrote", filepath.Join(*dir, "atlas.sum"))
		return
	}
	if flag.NArg() != 1 || !validName.MatchString(flag.Arg(0)) {
		flag.Usage()
		fmt.Fprintln(os.Stderr, "NAME (e.g. add_org_labels) is lowercase letters, digits and underscores")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	written, err := generate(ctx, adminURL(), *dir, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "migration:", err)
		os.Exit(1)
	}
	if len(written) == 0 {
		fmt.Println("no changes: the migration directory already matches the ent schema")
		return
	}
	for _, f := range written {
		fmt.Println("wrote", filepath.Join(*dir, f))
	}
	fmt.Println("review it, then commit it with atlas.sum")
}

// generate creates a temporary database on the server at admin, writes the
// migration named name into dir (created if missing) and returns the names of
// the new files (none when dir is in sync with the ent schema).
func generate(ctx context.Context, admin, dir, name string) ([]string, error) {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	dev := "orgraph_migrate_dev_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+dev); err != nil {
		return nil, fmt.Errorf("create dev database on %s: %w", redact(admin), err)
	}
	defer func() {
		drop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(drop, "DROP DATABASE IF EXISTS "+dev+" WITH (FORCE)")
	}()
	devURL, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", redact(admin), err)
	}
	devURL.Path = "/" + dev
	return diff(ctx, devURL.String(), dir, name)
}

// diff writes the migration named name into dir, replaying dir on the empty
// database at devURL, and returns the names of the new files.
func diff(ctx context.Context, devURL, dir, name string) ([]string, error) {
	// Bind the dev connection to the public schema, the one ent migrates.
	u, err := url.Parse(devURL)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", redact(devURL), err)
	}
	q := u.Query()
	q.Set("search_path", "public")
	u.RawQuery = q.Encode()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	local, err := atlas.NewLocalDir(dir)
	if err != nil {
		return nil, err
	}
	before, err := sqlFiles(dir)
	if err != nil {
		return nil, err
	}
	err = migrate.NamedDiff(ctx, u.String(), name,
		schema.WithDir(local),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(atlas.DefaultFormatter),
		// A field or index removed from ent/schema is dropped by the migration
		// (reviewed before it is committed) rather than left behind.
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	after, err := sqlFiles(dir)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, f := range after {
		if !slices.Contains(before, f) {
			written = append(written, f)
		}
	}
	if len(after) != len(before)+len(written) {
		return nil, errors.New("migration files disappeared while diffing")
	}
	return written, nil
}

// rehash rewrites the atlas.sum of dir from its files.
func rehash(dir string) error {
	local, err := atlas.NewLocalDir(dir)
	if err != nil {
		return err
	}
	sum, err := local.Checksum()
	if err != nil {
		return err
	}
	return atlas.WriteSumFile(local, sum)
}

func sqlFiles(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m, err
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "the PostgreSQL URL"
}

package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgraph/orgraph/ent/migrate"
	"github.com/orgraph/orgraph/ent/migrate/migrations"
	"github.com/orgraph/orgraph/internal/testutil"
)

// copyMigrations writes the embedded migration directory (what the binary
// applies) into a temporary directory.
func copyMigrations(t *testing.T) string {
	t.Helper()
	dir, err := migrations.Dir()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files, err := dir.Files()
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %d files, %v", len(files), err)
	}
	names := []string{"atlas.sum"}
	for _, f := range files {
		names = append(names, f.Name())
	}
	for _, name := range names {
		b, err := fs.ReadFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tmp
}

// The migration directory builds exactly the ent schema: diffing it against
// ent/migrate/schema.go on a fresh database writes nothing.
func TestMigrationsInSyncWithEntSchema(t *testing.T) {
	dev := testutil.DatabaseURL(t, testutil.Postgres)
	dir := copyMigrations(t)
	written, err := diff(context.Background(), dev, dir, "drift")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range written {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		t.Errorf("ent/migrate/migrations is behind the ent schema; run `make migration NAME=<what_changed>` "+
			"and commit the new file with atlas.sum. The missing statements:\n%s", b)
	}
}

// The generator is not vacuous: from an empty directory it writes a migration
// creating every ent table, with its atlas.sum.
func TestGenerateFromEmptyDirectory(t *testing.T) {
	dev := testutil.DatabaseURL(t, testutil.Postgres)
	dir := filepath.Join(t.TempDir(), "migrations")
	written, err := diff(context.Background(), dev, dir, "init")
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || !strings.HasSuffix(written[0], "_init.sql") {
		t.Fatalf("wrote %v, want one <version>_init.sql", written)
	}
	b, err := os.ReadFile(filepath.Join(dir, written[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range migrate.Tables {
		if !strings.Contains(string(b), `CREATE TABLE "`+table.Name+`"`) {
			t.Errorf("the migration does not create %s", table.Name)
		}
	}
	if sum, err := os.ReadFile(filepath.Join(dir, "atlas.sum")); err != nil || !strings.Contains(string(sum), written[0]) {
		t.Fatalf("atlas.sum: %q, %v", sum, err)
	}
	// and diffing again (on another fresh database) finds nothing
	again, err := diff(context.Background(), testutil.DatabaseURL(t, testutil.Postgres), dir, "again")
	if err != nil || len(again) != 0 {
		t.Fatalf("second diff wrote %v, %v", again, err)
	}
}

// Package migrations embeds the versioned PostgreSQL migrations of this
// directory (Atlas format: <version>_<name>.sql files and atlas.sum), which
// `make migration NAME=…` (ent/migrate/gen) writes from the ent schema and
// `orgraph migrate` applies. Only the .sql files and atlas.sum are migrations.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"ariga.io/atlas/sql/migrate"
)

//go:embed *.sql atlas.sum
var files embed.FS

// Dir returns the embedded migration directory, checked against its atlas.sum.
func Dir() (*migrate.MemDir, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	if err := migrate.Validate(dir); err != nil {
		return nil, fmt.Errorf("migration directory does not match its atlas.sum: %w", err)
	}
	return dir, nil
}

package store

import (
	"context"

	"ariga.io/atlas/sql/migrate"
)

// ApplyMigrationsFrom is ApplyMigrations on PostgreSQL with another migration directory.
func (s *Store) ApplyMigrationsFrom(ctx context.Context, dir migrate.Dir, opts MigrateOptions) (*MigrationReport, error) {
	return s.migrateVersioned(ctx, dir, opts)
}

// PendingMigrationsFrom is PendingMigrations with another migration directory.
func (s *Store) PendingMigrationsFrom(ctx context.Context, dir migrate.Dir) ([]string, error) {
	return s.pendingMigrations(ctx, dir)
}

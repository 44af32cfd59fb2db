package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	atlasschema "ariga.io/atlas/sql/schema"

	entmigrate "github.com/orgraph/orgraph/ent/migrate"
	"github.com/orgraph/orgraph/ent/migrate/migrations"
)

const (
	// RevisionsTable records the versioned migrations applied to a PostgreSQL
	// database, one row per version (the layout of the Atlas CLI's table), in the
	// connection's current schema.
	RevisionsTable = "atlas_schema_revisions"
	// migrateLock is the advisory lock held while migrating (the Atlas CLI's name),
	// so that concurrent `orgraph migrate` runs apply each file once.
	migrateLock = "atlas_migrate_execute"
	lockTimeout = 10 * time.Minute
	operator    = "orgraph"
)

// MigrateOptions adjust ApplyMigrations.
type MigrateOptions struct {
	// Baseline marks the versioned migrations up to and including this version
	// as applied without running them. It is for a PostgreSQL database whose
	// schema was created before versioned migrations (by ent auto-migration), and
	// is refused on an empty database or one that already has revisions.
	Baseline string
}

// MigrationReport tells what ApplyMigrations did.
type MigrationReport struct {
	// Versioned is true on PostgreSQL (versioned migrations); SQLite is auto-migrated.
	Versioned bool
	// From and To are the last applied versions before and after ("" for none).
	From, To string
	// Baseline is the version the database was marked as being at, if it was.
	Baseline string
	// Applied lists the migrations that ran, in order.
	Applied []AppliedMigration
}

// AppliedMigration is one migration file that ran.
type AppliedMigration struct {
	Version, Description string
	Statements           int
	Took                 time.Duration
}

// Migrate brings the schema up to date: ent's auto-migration on SQLite, the
// pending versioned migrations of ent/migrate/migrations on PostgreSQL.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.ApplyMigrations(ctx, MigrateOptions{})
	return err
}

// ApplyMigrations is Migrate with options, reporting what it did. On
// PostgreSQL each file runs in its own transaction together with its revision
// row (a file starting with `-- atlas:txmode none` runs outside one), under an
// advisory lock; a database that is up to date is left untouched. When a file
// fails, the report lists the files applied before it.
func (s *Store) ApplyMigrations(ctx context.Context, opts MigrateOptions) (*MigrationReport, error) {
	if !s.IsPostgres() {
		if opts.Baseline != "" {
			return nil, errors.New("migrate: a baseline is for PostgreSQL; SQLite is auto-migrated")
		}
		if err := s.Client.Schema.Create(ctx, entmigrate.WithDropIndex(true)); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		if err := ensureSQLiteSubtreeCounts(ctx, s.DB); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		return &MigrationReport{}, nil
	}
	dir, err := migrations.Dir()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rep, err := s.migrateVersioned(ctx, dir, opts)
	if err != nil {
		return rep, fmt.Errorf("migrate: %w", err)
	}
	return rep, nil
}

// PendingMigrations lists the versioned migrations (file names) not yet
// applied to a PostgreSQL database; it writes nothing. It is nil on SQLite. A
// non-empty database without revisions is an error (see MigrateOptions.Baseline).
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	if !s.IsPostgres() {
		return nil, nil
	}
	dir, err := migrations.Dir()
	if err != nil {
		return nil, err
	}
	return s.pendingMigrations(ctx, dir)
}

func (s *Store) pendingMigrations(ctx context.Context, dir migrate.Dir) ([]string, error) {
	drv, err := postgres.Open(s.DB)
	if err != nil {
		return nil, err
	}
	rrw, err := openRevisions(ctx, s.DB, false)
	if err != nil {
		return nil, err
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw)
	if err != nil {
		return nil, err
	}
	files, err := ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, nil
	}
	if err != nil {
		return nil, explainNotClean(dir, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	return names, nil
}

// migrateVersioned applies the pending files of dir.
func (s *Store) migrateVersioned(ctx context.Context, dir migrate.Dir, opts MigrateOptions) (*MigrationReport, error) {
	drv, err := postgres.Open(s.DB)
	if err != nil {
		return nil, err
	}
	if l, ok := drv.(atlasschema.Locker); ok {
		unlock, err := l.Lock(ctx, migrateLock, lockTimeout)
		if err != nil {
			return nil, fmt.Errorf("acquire the migration lock: %w", err)
		}
		defer func() { _ = unlock() }()
	}
	rrw, err := openRevisions(ctx, s.DB, true)
	if err != nil {
		return nil, err
	}
	revs, err := rrw.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	rep := &MigrationReport{Versioned: true, From: lastVersion(revs)}
	exOpts := []migrate.ExecutorOption{migrate.WithOperatorVersion(operator)}
	if opts.Baseline != "" {
		if len(revs) > 0 {
			return nil, fmt.Errorf("baseline %s: the database already has migration history (at %s)", opts.Baseline, rep.From)
		}
		cc, ok := drv.(migrate.CleanChecker)
		if !ok {
			return nil, errors.New("baseline: the driver cannot tell an empty database")
		}
		switch err := cc.CheckClean(ctx, rrw.Ident()); {
		case err == nil:
			return nil, fmt.Errorf("baseline %s: the database is empty, nothing to baseline: migrate without a baseline", opts.Baseline)
		case !errors.As(err, new(*migrate.NotCleanError)):
			return nil, err
		}
		exOpts = append(exOpts, migrate.WithBaselineVersion(opts.Baseline))
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw, exOpts...)
	if err != nil {
		return nil, err
	}
	pending, err := ex.Pending(ctx) // writes the baseline revision, if any
	if err != nil && !errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, explainNotClean(dir, err)
	}
	if opts.Baseline != "" {
		rep.Baseline = opts.Baseline
	}
	rep.To = rep.From
	if rep.Baseline != "" {
		rep.To = rep.Baseline
	}
	for _, f := range pending {
		start := time.Now()
		if err := s.applyFile(ctx, dir, f, rrw.schema); err != nil {
			return rep, fmt.Errorf("%s: %w", f.Name(), err)
		}
		r, err := rrw.ReadRevision(ctx, f.Version())
		if err != nil {
			return rep, fmt.Errorf("%s: %w", f.Name(), err)
		}
		rep.Applied = append(rep.Applied, AppliedMigration{
			Version: f.Version(), Description: f.Desc(), Statements: r.Applied, Took: time.Since(start),
		})
		rep.To = f.Version()
	}
	return rep, nil
}

// applyFile runs one migration file and records its revision, in one
// transaction unless the file opts out with `-- atlas:txmode none`.
func (s *Store) applyFile(ctx context.Context, dir migrate.Dir, f migrate.File, schemaName string) error {
	if d, ok := f.(interface{ Directive(string) []string }); ok && slices.Equal(d.Directive("txmode"), []string{"none"}) {
		return executeFile(ctx, s.DB, dir, f, schemaName)
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := executeFile(ctx, tx, dir, f, schemaName); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func executeFile(ctx context.Context, q atlasschema.ExecQuerier, dir migrate.Dir, f migrate.File, schemaName string) error {
	drv, err := postgres.Open(q)
	if err != nil {
		return err
	}
	ex, err := migrate.NewExecutor(drv, dir, &revisions{q: q, schema: schemaName, exists: true},
		migrate.WithOperatorVersion(operator))
	if err != nil {
		return err
	}
	return ex.Execute(ctx, f)
}

// explainNotClean adds what to do to the error of a database that has tables
// but no revisions: most likely it was auto-migrated before versioned migrations.
func explainNotClean(dir migrate.Dir, err error) error {
	if !errors.As(err, new(*migrate.NotCleanError)) {
		return err
	}
	first := "VERSION"
	if files, ferr := dir.Files(); ferr == nil && len(files) > 0 {
		first = files[0].Version()
	}
	return fmt.Errorf("%w: the database has tables but no migration history; if an earlier orgraph "+
		"created its schema (auto-migration), mark it as migrated once with `orgraph migrate --baseline %s`", err, first)
}

func lastVersion(revs []*migrate.Revision) string {
	if len(revs) == 0 {
		return ""
	}
	return revs[len(revs)-1].Version
}

// revisions is the migrate.RevisionReadWriter over RevisionsTable.
type revisions struct {
	q      atlasschema.ExecQuerier
	schema string // the schema holding the table: the connection's current schema
	exists bool   // false: the table is absent (and reads see no revisions)
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

// openRevisions finds the revisions table, creating it when create is set.
func openRevisions(ctx context.Context, q atlasschema.ExecQuerier, create bool) (*revisions, error) {
	r := &revisions{q: q}
	var schemaName sql.NullString
	rows, err := q.QueryContext(ctx, `SELECT current_schema(), to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1)) IS NOT NULL`, RevisionsTable)
	if err != nil {
		return nil, fmt.Errorf("find the revisions table: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&schemaName, &r.exists)
	}
	if err = errors.Join(err, rows.Err()); err != nil {
		return nil, fmt.Errorf("find the revisions table: %w", err)
	}
	if !schemaName.Valid {
		return nil, errors.New("find the revisions table: no current schema (check search_path)")
	}
	r.schema = schemaName.String
	if create && !r.exists {
		if _, err := q.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+r.table()+` (
	"version" character varying NOT NULL,
	"description" character varying NOT NULL,
	"type" bigint NOT NULL DEFAULT 2,
	"applied" bigint NOT NULL DEFAULT 0,
	"total" bigint NOT NULL DEFAULT 0,
	"executed_at" timestamptz NOT NULL,
	"execution_time" bigint NOT NULL,
	"error" text NULL,
	"error_stmt" text NULL,
	"hash" character varying NOT NULL,
	"partial_hashes" jsonb NULL,
	"operator_version" character varying NOT NULL,
	PRIMARY KEY ("version")
)`); err != nil {
			return nil, fmt.Errorf("create the revisions table: %w", err)
		}
		r.exists = true
	}
	return r, nil
}

func (r *revisions) table() string {
	return quoteIdent(r.schema) + "." + quoteIdent(RevisionsTable)
}

func quoteIdent(s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return string(append(b, '"'))
}

// Ident implements migrate.RevisionReadWriter.
func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: RevisionsTable, Schema: r.schema}
}

const revisionColumns = `"version", "description", "type", "applied", "total", "executed_at", "execution_time", "error", "error_stmt", "hash", "partial_hashes", "operator_version"`

// ReadRevisions implements migrate.RevisionReadWriter.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	if !r.exists {
		return nil, nil
	}
	return r.read(ctx, `SELECT `+revisionColumns+` FROM `+r.table()+` ORDER BY "version"`)
}

// ReadRevision implements migrate.RevisionReadWriter.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	if !r.exists {
		return nil, migrate.ErrRevisionNotExist
	}
	revs, err := r.read(ctx, `SELECT `+revisionColumns+` FROM `+r.table()+` WHERE "version" = $1`, version)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, migrate.ErrRevisionNotExist
	}
	return revs[0], nil
}

func (r *revisions) read(ctx context.Context, query string, args ...any) ([]*migrate.Revision, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		var (
			rev              migrate.Revision
			typ              int64
			execNanos        int64
			errText, errStmt sql.NullString
			partial          []byte
			applied, total   int64
		)
		if err := rows.Scan(&rev.Version, &rev.Description, &typ, &applied, &total, &rev.ExecutedAt, &execNanos,
			&errText, &errStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
			return nil, err
		}
		rev.Type = migrate.RevisionType(typ)
		rev.Applied, rev.Total = int(applied), int(total)
		rev.ExecutionTime = time.Duration(execNanos)
		rev.Error, rev.ErrorStmt = errText.String, errStmt.String
		if len(partial) > 0 {
			if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
				return nil, fmt.Errorf("revision %s: partial hashes: %w", rev.Version, err)
			}
		}
		revs = append(revs, &rev)
	}
	return revs, rows.Err()
}

// WriteRevision implements migrate.RevisionReadWriter.
func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	if !r.exists {
		return errors.New("the revisions table does not exist")
	}
	var partial, errText, errStmt any
	if len(rev.PartialHashes) > 0 {
		b, err := json.Marshal(rev.PartialHashes)
		if err != nil {
			return err
		}
		partial = string(b)
	}
	if rev.Error != "" {
		errText = rev.Error
	}
	if rev.ErrorStmt != "" {
		errStmt = rev.ErrorStmt
	}
	_, err := r.q.ExecContext(ctx, `INSERT INTO `+r.table()+` (`+revisionColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
ON CONFLICT ("version") DO UPDATE SET
	"description" = EXCLUDED."description", "type" = EXCLUDED."type", "applied" = EXCLUDED."applied",
	"total" = EXCLUDED."total", "executed_at" = EXCLUDED."executed_at", "execution_time" = EXCLUDED."execution_time",
	"error" = EXCLUDED."error", "error_stmt" = EXCLUDED."error_stmt", "hash" = EXCLUDED."hash",
	"partial_hashes" = EXCLUDED."partial_hashes", "operator_version" = EXCLUDED."operator_version"`,
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt, int64(rev.ExecutionTime),
		errText, errStmt, rev.Hash, partial, rev.OperatorVersion)
	return err
}

// DeleteRevision implements migrate.RevisionReadWriter.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	if !r.exists {
		return nil
	}
	_, err := r.q.ExecContext(ctx, `DELETE FROM `+r.table()+` WHERE "version" = $1`, version)
	return err
}

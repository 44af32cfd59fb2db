package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"ariga.io/atlas/sql/migrate"

	"github.com/orgraph/orgraph/ent/migrate/migrations"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/internal/testutil"
)

// openPostgres opens a fresh, empty PostgreSQL database.
func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(testutil.DatabaseURL(t, testutil.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// shipped lists the embedded migration files.
func shipped(t *testing.T) []migrate.File {
	t.Helper()
	dir, err := migrations.Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %d files, %v", len(files), err)
	}
	return files
}

type revisionRow struct {
	Version, Description, Hash, Operator string
	Type, Applied, Total                 int
	Error                                sql.NullString
}

func revisionRows(t *testing.T, st *store.Store) []revisionRow {
	t.Helper()
	rows, err := st.DB.Query(`SELECT version, description, type, applied, total, error, hash, operator_version
		FROM ` + store.RevisionsTable + ` ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []revisionRow
	for rows.Next() {
		var r revisionRow
		if err := rows.Scan(&r.Version, &r.Description, &r.Type, &r.Applied, &r.Total, &r.Error, &r.Hash, &r.Operator); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func tableExists(t *testing.T, st *store.Store, name string) bool {
	t.Helper()
	var ok bool
	if err := st.DB.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// On PostgreSQL, Migrate applies every shipped migration once, records each in
// the revisions table, and a second run applies nothing.
func TestVersionedMigrateTwiceIsANoOp(t *testing.T) {
	st := openPostgres(t)
	ctx := context.Background()
	files := shipped(t)
	last := files[len(files)-1].Version()

	pending, err := st.PendingMigrations(ctx)
	if err != nil || len(pending) != len(files) || pending[0] != files[0].Name() {
		t.Fatalf("pending on an empty database = %v, %v; want all %d files", pending, err, len(files))
	}
	rep, err := st.ApplyMigrations(ctx, store.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Versioned || rep.From != "" || rep.To != last || len(rep.Applied) != len(files) {
		t.Fatalf("first run: %+v", rep)
	}
	for i, a := range rep.Applied {
		if a.Version != files[i].Version() || a.Description != files[i].Desc() || a.Statements == 0 {
			t.Fatalf("applied[%d] = %+v, want %s", i, a, files[i].Name())
		}
	}
	if !tableExists(t, st, "organizations") || !tableExists(t, st, "org_closures") {
		t.Fatal("the migrations did not create the ent tables")
	}
	before := revisionRows(t, st)

	rep, err = st.ApplyMigrations(ctx, store.MigrateOptions{})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if len(rep.Applied) != 0 || rep.From != last || rep.To != last || rep.Baseline != "" {
		t.Fatalf("second run was not a no-op: %+v", rep)
	}
	if after := revisionRows(t, st); len(after) != len(before) {
		t.Fatalf("second run changed the revisions: %v -> %v", before, after)
	}
	if err := st.Migrate(ctx); err != nil { // the plain entry point, a third time
		t.Fatal(err)
	}
	if pending, err := st.PendingMigrations(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("pending after migrating = %v, %v", pending, err)
	}
	// the schema is usable through ent
	if _, err := st.Client.AuditEvent.Create().SetAction("a").SetActor("t").SetResourceType("x").SetResourceID("1").Save(ctx); err != nil {
		t.Fatal(err)
	}
}

// The revisions table holds one fully applied row per shipped file.
func TestVersionedMigrateRecordsRevisions(t *testing.T) {
	st := openPostgres(t)
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	files := shipped(t)
	rows := revisionRows(t, st)
	if len(rows) != len(files) {
		t.Fatalf("%d revisions for %d files: %+v", len(rows), len(files), rows)
	}
	dir, _ := migrations.Dir()
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		f := files[i]
		stmts, err := f.Stmts()
		if err != nil {
			t.Fatal(err)
		}
		hash, _ := sum.SumByName(f.Name())
		if r.Version != f.Version() || r.Description != f.Desc() || r.Type != int(migrate.RevisionTypeExecute) ||
			r.Applied != len(stmts) || r.Total != len(stmts) || r.Error.Valid || r.Hash != hash || r.Operator != "orgraph" {
			t.Fatalf("revision %d = %+v, want %s fully applied (%d statements, hash %s)", i, r, f.Name(), len(stmts), hash)
		}
	}
}

// Every PostgreSQL integration test runs on the versioned schema: an instance
// started by testutil has been migrated through the revisions table.
func TestTestutilPostgresUsesVersionedMigrations(t *testing.T) {
	in := testutil.Start(t, testutil.Postgres)
	rows := revisionRows(t, in.Store)
	files := shipped(t)
	if len(rows) != len(files) || rows[len(rows)-1].Version != files[len(files)-1].Version() {
		t.Fatalf("revisions %+v, want the %d shipped files", rows, len(files))
	}
}

// SQLite keeps ent's auto-migration: no revisions table.
func TestSQLiteMigrateIsAutoMigration(t *testing.T) {
	st, err := store.Open(testutil.DatabaseURL(t, testutil.SQLite))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for range 2 {
		rep, err := st.ApplyMigrations(ctx, store.MigrateOptions{})
		if err != nil || rep.Versioned || len(rep.Applied) != 0 {
			t.Fatalf("sqlite migrate: %+v, %v", rep, err)
		}
	}
	var n int
	if err := st.DB.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = ?`, store.RevisionsTable).Scan(&n); err != nil || n != 0 {
		t.Fatalf("revisions table on SQLite: %d, %v", n, err)
	}
	if pending, err := st.PendingMigrations(ctx); err != nil || pending != nil {
		t.Fatalf("pending on SQLite = %v, %v", pending, err)
	}
	if _, err := st.ApplyMigrations(ctx, store.MigrateOptions{Baseline: "1"}); err == nil {
		t.Fatal("a baseline was accepted on SQLite")
	}
}

// A database auto-migrated before versioned migrations is refused until it is
// baselined; the baseline runs nothing and later runs are no-ops.
func TestVersionedMigrateBaseline(t *testing.T) {
	st := openPostgres(t)
	ctx := context.Background()
	files := shipped(t)
	first, last := files[0].Version(), files[len(files)-1].Version()

	if _, err := st.ApplyMigrations(ctx, store.MigrateOptions{Baseline: first}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("baseline of an empty database: %v", err)
	}
	// what `orgraph migrate` used to do: ent's auto-migration to the schema of
	// then, which the first file holds (later files add to it)
	stmts, err := files[0].Stmts()
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range stmts {
		if _, err := st.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PendingMigrations(ctx); err == nil || !strings.Contains(err.Error(), "--baseline "+first) {
		t.Fatalf("pending on an auto-migrated database: %v", err)
	}
	if _, err := st.ApplyMigrations(ctx, store.MigrateOptions{}); err == nil || !strings.Contains(err.Error(), "--baseline "+first) {
		t.Fatalf("migrating an auto-migrated database without a baseline: %v", err)
	}
	rep, err := st.ApplyMigrations(ctx, store.MigrateOptions{Baseline: first})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Baseline != first || rep.To != last || len(rep.Applied) != len(files)-1 {
		t.Fatalf("baseline run: %+v", rep)
	}
	rows := revisionRows(t, st)
	if rows[0].Version != first || rows[0].Type != int(migrate.RevisionTypeBaseline) {
		t.Fatalf("baseline revision: %+v", rows[0])
	}
	if rep, err := st.ApplyMigrations(ctx, store.MigrateOptions{}); err != nil || len(rep.Applied) != 0 {
		t.Fatalf("run after the baseline: %+v, %v", rep, err)
	}
	if _, err := st.ApplyMigrations(ctx, store.MigrateOptions{Baseline: first}); err == nil {
		t.Fatal("a second baseline was accepted")
	}
}

func memDir(t *testing.T, files map[string]string) migrate.Dir {
	t.Helper()
	dir := &migrate.MemDir{}
	for name, body := range files {
		if err := dir.WriteFile(name, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.WriteSumFile(dir, sum); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A failing file is rolled back with its revision: the files before it stay
// applied, and once it is fixed the next run applies it.
func TestVersionedMigrateFailingFileRollsBack(t *testing.T) {
	st := openPostgres(t)
	ctx := context.Background()
	one := "CREATE TABLE t1 (id int);\n"
	broken := memDir(t, map[string]string{
		"1_one.sql": one,
		"2_two.sql": "CREATE TABLE t2 (id int);\nINSERT INTO missing VALUES (1);\n",
	})
	rep, err := st.ApplyMigrationsFrom(ctx, broken, store.MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "2_two.sql") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("broken file: %v", err)
	}
	if rep == nil || len(rep.Applied) != 1 || rep.Applied[0].Version != "1" {
		t.Fatalf("report of the failed run: %+v", rep)
	}
	if !tableExists(t, st, "t1") || tableExists(t, st, "t2") {
		t.Fatal("the failing file was not rolled back (or the file before it was)")
	}
	if rows := revisionRows(t, st); len(rows) != 1 || rows[0].Version != "1" {
		t.Fatalf("revisions after the failure: %+v", rows)
	}
	fixed := memDir(t, map[string]string{
		"1_one.sql": one,
		"2_two.sql": "CREATE TABLE t2 (id int);\nINSERT INTO t2 VALUES (1);\n",
	})
	if pending, err := st.PendingMigrationsFrom(ctx, fixed); err != nil || len(pending) != 1 || pending[0] != "2_two.sql" {
		t.Fatalf("pending after the fix = %v, %v", pending, err)
	}
	rep, err = st.ApplyMigrationsFrom(ctx, fixed, store.MigrateOptions{})
	if err != nil || len(rep.Applied) != 1 || rep.Applied[0].Version != "2" || rep.Applied[0].Statements != 2 || rep.From != "1" || rep.To != "2" {
		t.Fatalf("run after the fix: %+v, %v", rep, err)
	}
	if !tableExists(t, st, "t2") {
		t.Fatal("t2 missing after the fix")
	}
	// a file that cannot run in a transaction opts out of it
	concurrent := memDir(t, map[string]string{
		"1_one.sql":   one,
		"2_two.sql":   "CREATE TABLE t2 (id int);\nINSERT INTO t2 VALUES (1);\n",
		"3_three.sql": "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);\n",
	})
	if rep, err := st.ApplyMigrationsFrom(ctx, concurrent, store.MigrateOptions{}); err != nil || len(rep.Applied) != 1 || rep.To != "3" {
		t.Fatalf("txmode none: %+v, %v", rep, err)
	}
}

// A directory that does not match its atlas.sum is refused before anything runs.
func TestVersionedMigrateRefusesATamperedDirectory(t *testing.T) {
	st := openPostgres(t)
	dir := memDir(t, map[string]string{"1_one.sql": "CREATE TABLE t1 (id int);\n"})
	if err := dir.WriteFile("1_one.sql", []byte("CREATE TABLE t1 (id bigint);\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyMigrationsFrom(context.Background(), dir, store.MigrateOptions{}); !errors.Is(err, migrate.ErrChecksumMismatch) {
		t.Fatalf("tampered directory: %v", err)
	}
	if tableExists(t, st, "t1") {
		t.Fatal("a tampered directory was applied")
	}
}

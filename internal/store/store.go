// Package store opens the database (embedded SQLite or PostgreSQL) behind ent.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/orgraph/orgraph/ent"
)

// DefaultFile is the embedded database used when no URL is configured.
const DefaultFile = "orgraph.db"

// Store is an open database.
type Store struct {
	Client  *ent.Client
	DB      *sql.DB
	Dialect string
	Driver  *CountingDriver
}

// ResolveURL applies the documented defaults: flag, then $ORGRAPH_DB, then orgraph.db.
func ResolveURL(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("ORGRAPH_DB"); env != "" {
		return env
	}
	return DefaultFile
}

// Open connects to url: postgres://… selects PostgreSQL, anything else is an SQLite file path
// (or a full "file:" DSN).
func Open(url string) (*Store, error) {
	var (
		db   *sql.DB
		dial string
		err  error
	)
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dial = dialect.Postgres
		db, err = sql.Open("pgx", postgresDSN(url))
		if err == nil {
			db.SetMaxOpenConns(20)
			db.SetMaxIdleConns(20)
		}
	default:
		dial = dialect.SQLite
		db, err = sql.Open("sqlite", sqliteDSN(url))
		if err == nil {
			// One writer at a time is all SQLite allows; readers share WAL snapshots.
			db.SetMaxOpenConns(8)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	drv := &CountingDriver{Driver: entsql.OpenDB(dial, db)}
	client := ent.NewClient(ent.Driver(drv))
	client.AuditEvent.Use(appendOnly)
	return &Store{Client: client, DB: db, Dialect: dial, Driver: drv}, nil
}

// appendOnly refuses to update or delete audit events, whoever asks.
func appendOnly(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if !m.Op().Is(ent.OpCreate) {
			return nil, fmt.Errorf("audit events are append-only: %s refused", m.Op())
		}
		return next.Mutate(ctx, m)
	})
}

// postgresDSN asks for custom plans: pgx caches prepared statements, and a
// generic plan cannot see which org subtree a filter's parameters name, which
// made the per-row scope probes 20x slower in benchmarks.
func postgresDSN(url string) string {
	if strings.Contains(url, "plan_cache_mode=") {
		return url
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "plan_cache_mode=force_custom_plan"
}

// sqliteDSN: cache_size(-32768) gives each connection a page cache of up to
// 32 MiB (SQLite's default is 2 MiB, filled only as pages are read): at a
// million orgs a console page probes a few thousand index entries spread over
// gigabytes, which the default cache sends back to the file every time.
func sqliteDSN(path string) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32768)&_txlock=immediate&_time_format=sqlite"
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return s.DB.PingContext(ctx) }

// Close releases the connections.
func (s *Store) Close() error { return s.Client.Close() }

// IsPostgres tells the back end.
func (s *Store) IsPostgres() bool { return s.Dialect == dialect.Postgres }

package store

import (
	"context"
	"database/sql"
	"errors"
	"log"
	"os"
	"sync/atomic"

	"entgo.io/ent/dialect"
)

// CountingDriver counts the statements ent sends; tests use it to prove
// nested reads cost a bounded number of queries.
type CountingDriver struct {
	dialect.Driver
	n atomic.Int64
}

// Statements returns how many statements ran so far.
func (d *CountingDriver) Statements() int64 { return d.n.Load() }

// Exec implements dialect.Driver.
func (d *CountingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Exec(ctx, query, args, v)
}

// Query implements dialect.Driver.
func (d *CountingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	if logSQL {
		log.Println("SQL", query)
	}
	return d.Driver.Query(ctx, query, args, v)
}

// Tx implements dialect.Driver.
func (d *CountingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, n: &d.n}, nil
}

// BeginTx lets ent open transactions with options (isolation levels).
func (d *CountingDriver) BeginTx(ctx context.Context, opts *sqlTxOptions) (dialect.Tx, error) {
	type beginner interface {
		BeginTx(context.Context, *sqlTxOptions) (dialect.Tx, error)
	}
	tx, err := d.Driver.(beginner).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, n: &d.n}, nil
}

type countingTx struct {
	dialect.Tx
	n *atomic.Int64
}

func (t *countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Query(ctx, query, args, v)
}

// execQuerier is what ent's Client.ExecContext and Tx.ExecContext (raw
// statements) ask of a driver or transaction.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var errNoRawSQL = errors.New("raw statements are not supported by this driver")

// ExecContext runs a raw statement (ent's Client.ExecContext).
func (d *CountingDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return execContext(ctx, d.Driver, &d.n, query, args)
}

// QueryContext runs a raw query (ent's Client.QueryContext).
func (d *CountingDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return queryContext(ctx, d.Driver, &d.n, query, args)
}

// ExecContext runs a raw statement in the transaction (ent's Tx.ExecContext).
func (t *countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return execContext(ctx, t.Tx, t.n, query, args)
}

// QueryContext runs a raw query in the transaction (ent's Tx.QueryContext).
func (t *countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return queryContext(ctx, t.Tx, t.n, query, args)
}

func execContext(ctx context.Context, under any, n *atomic.Int64, query string, args []any) (sql.Result, error) {
	eq, ok := under.(execQuerier)
	if !ok {
		return nil, errNoRawSQL
	}
	n.Add(1)
	return eq.ExecContext(ctx, query, args...)
}

func queryContext(ctx context.Context, under any, n *atomic.Int64, query string, args []any) (*sql.Rows, error) {
	eq, ok := under.(execQuerier)
	if !ok {
		return nil, errNoRawSQL
	}
	n.Add(1)
	return eq.QueryContext(ctx, query, args...)
}

var logSQL = os.Getenv("ORGRAPH_SQL_LOG") == "1"

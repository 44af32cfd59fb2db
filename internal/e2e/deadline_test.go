package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// TestRequestDeadline: a request that runs over --request-timeout has its SQL
// cancelled and is answered TIMEOUT (logged at WARN), on both back ends. The
// test holds a lock the request's SQL waits on.
func TestRequestDeadline(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, logs := startLogged(t, b, func(c *app.Config) { c.RequestTimeout = 300 * time.Millisecond })
			alice := in.Account("alice", false)
			ctx := context.Background()
			conn, err := in.Store.DB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			lock := "BEGIN IMMEDIATE"
			if in.Store.IsPostgres() {
				lock = "BEGIN; LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE"
			}
			if _, err := conn.ExecContext(ctx, lock); err != nil {
				t.Fatal(err)
			}
			// released after the checks below, or after 5 s should the request
			// wait on the lock regardless of its deadline
			release := sync.OnceValue(func() error { _, err := conn.ExecContext(ctx, "ROLLBACK"); return err })
			time.AfterFunc(5*time.Second, func() { _ = release() })
			start := time.Now()
			r := in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "Late"}})
			took := time.Since(start)
			if r.Code() != "TIMEOUT" || took > 3*time.Second {
				t.Fatalf("a request past its deadline (after %s): HTTP %d %s", took, r.Status, r.Raw)
			}
			if in.Store.IsPostgres() {
				// the statement was cancelled in the server, not left waiting
				waiting := -1
				for deadline := time.Now().Add(2 * time.Second); waiting != 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					if err := in.Store.DB.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
						t.Fatal(err)
					}
				}
				if waiting != 0 {
					t.Fatalf("%d statements still wait on the lock", waiting)
				}
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if len(logs.lines("WARN")) == 0 {
				t.Fatal("the timeout was not logged at WARN")
			}
			noErrorLogged(t, logs)
			// the lock is gone: the same request now succeeds
			in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "On time"}})
		})
	}
}

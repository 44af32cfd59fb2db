package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
	"github.com/orgraph/orgraph/server"
)

// logRecord is one decoded JSON log line.
type logRecord map[string]any

// records returns the log lines written since mark (a length of the buffer)
// whose message is msg ("" for all).
func (b *logBuffer) records(t *testing.T, mark int, msg string) []logRecord {
	t.Helper()
	b.mu.Lock()
	raw := b.buf.Bytes()[mark:]
	b.mu.Unlock()
	var out []logRecord
	for line := range bytes.SplitSeq(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r logRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg == "" || r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func (b *logBuffer) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// startLevel starts an instance logging at level (and above) into a buffer.
func startLevel(t *testing.T, b testutil.Backend, level slog.Level, opts ...testutil.Option) (*testutil.Instance, *logBuffer) {
	logs := &logBuffer{}
	opts = append([]testutil.Option{func(c *app.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	}}, opts...)
	return testutil.Start(t, b, opts...), logs
}

// TestRequestLogLevels (issue 12, item 3): with the default settings a
// successful request writes nothing at INFO (its line is at DEBUG), a failed
// one is logged at INFO with its status; --log-requests all and none.
func TestRequestLogLevels(t *testing.T) {
	const ok = `{"query":"{ viewer { alias } }"}`
	t.Run("default", func(t *testing.T) {
		in, logs := startLevel(t, testutil.SQLite, slog.LevelInfo)
		alice := in.Account("alice", false)
		mark := logs.mark()
		if a := send(t, in, http.MethodPost, "application/json", "", alice, ok); a.status != http.StatusOK || a.code() != "" {
			t.Fatalf("HTTP %d %s", a.status, a.raw)
		}
		if recs := logs.records(t, mark, ""); len(recs) != 0 {
			t.Fatalf("a successful request logged %v", recs)
		}
		// a request that failed is logged at INFO, with its status
		mark = logs.mark()
		if a := send(t, in, http.MethodPost, "application/json", "", alice, `{"query":`); a.status != http.StatusBadRequest {
			t.Fatalf("malformed JSON: HTTP %d %s", a.status, a.raw)
		}
		recs := logs.records(t, mark, "request")
		if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["status"] != float64(400) || recs[0]["request_id"] == "" {
			t.Fatalf("a failed request logged %v", recs)
		}
		// so is one refused before it runs
		mark = logs.mark()
		if a := send(t, in, http.MethodPost, "application/json", "", "not-a-token", ok); a.status != http.StatusUnauthorized {
			t.Fatalf("bad token: HTTP %d %s", a.status, a.raw)
		}
		if recs := logs.records(t, mark, "request"); len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["status"] != float64(401) {
			t.Fatalf("an unauthenticated request logged %v", recs)
		}
	})
	t.Run("debug", func(t *testing.T) {
		in, logs := startLevel(t, testutil.SQLite, slog.LevelDebug)
		alice := in.Account("alice", false)
		mark := logs.mark()
		send(t, in, http.MethodPost, "application/json", "", alice, ok)
		if recs := logs.records(t, mark, "request"); len(recs) != 1 || recs[0]["level"] != "DEBUG" || recs[0]["status"] != float64(200) {
			t.Fatalf("a successful request at DEBUG logged %v", recs)
		}
	})
	t.Run("all", func(t *testing.T) {
		in, logs := startLevel(t, testutil.SQLite, slog.LevelInfo, func(c *app.Config) { c.LogRequests = server.LogAllRequests })
		alice := in.Account("alice", false)
		mark := logs.mark()
		send(t, in, http.MethodPost, "application/json", "", alice, ok)
		if recs := logs.records(t, mark, "request"); len(recs) != 1 || recs[0]["level"] != "INFO" {
			t.Fatalf("--log-requests all logged %v", recs)
		}
	})
	t.Run("none", func(t *testing.T) {
		in, logs := startLevel(t, testutil.SQLite, slog.LevelDebug, func(c *app.Config) { c.LogRequests = server.LogNoRequests })
		mark := logs.mark()
		send(t, in, http.MethodPost, "application/json", "", "", `{"query":`)
		if recs := logs.records(t, mark, "request"); len(recs) != 0 {
			t.Fatalf("--log-requests none logged %v", recs)
		}
	})
}

// TestClientClosedRequest (issue 12, item 3): a client that goes away while
// its request waits on SQL is a client event, logged once as status 499 at
// INFO; nothing is logged at WARN (a timeout) or ERROR (an internal error),
// on both back ends, for a mutation and (on PostgreSQL, where a read can be
// made to wait) a read.
func TestClientClosedRequest(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, logs := startLevel(t, b, slog.LevelInfo)
			alice := in.Account("alice", false)
			in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "Early"}})
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
			release := sync.OnceValue(func() error { _, err := conn.ExecContext(ctx, "ROLLBACK"); return err })
			time.AfterFunc(20*time.Second, func() { _ = release() })
			ops := []string{createOrg}
			if in.Store.IsPostgres() {
				ops = append(ops, `{ organizations(first: 10) { totalCount edges { node { name membersCount children { totalCount } } } } }`)
			}
			for _, op := range ops {
				mark := logs.mark()
				body, _ := json.Marshal(map[string]any{"query": op, "variables": map[string]any{"in": map[string]any{"name": "Late"}}})
				cctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
				req, _ := http.NewRequestWithContext(cctx, http.MethodPost, in.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+alice)
				res, err := http.DefaultClient.Do(req)
				cancel()
				if err == nil {
					res.Body.Close()
					t.Fatalf("%s was answered (HTTP %d) while its SQL waited on a lock", op, res.StatusCode)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatal(err)
				}
				var recs []logRecord
				for deadline := time.Now().Add(10 * time.Second); len(recs) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					recs = logs.records(t, mark, "client closed request")
				}
				if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["status"] != float64(server.StatusClientClosedRequest) || recs[0]["path"] != "/graphql" {
					t.Fatalf("%s: want one 499 at INFO, got %v\nall: %v", op, recs, logs.records(t, mark, ""))
				}
				for _, r := range logs.records(t, mark, "") {
					if r["level"] == "ERROR" || r["level"] == "WARN" || r["msg"] == "request" {
						t.Fatalf("%s: a client that went away logged %v", op, r)
					}
				}
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			noErrorLogged(t, logs)
			in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "On time"}})
			if len(logs.records(t, 0, "internal error")) > 0 {
				t.Fatal("an internal error was logged")
			}
		})
	}
}

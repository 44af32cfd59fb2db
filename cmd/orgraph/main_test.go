package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/testutil"
)

// capture runs fn with stdout redirected and returns what it printed.
func capture(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := fn()
	w.Close()
	os.Stdout = old
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, r)
	return strings.TrimSpace(buf.String()), err
}

func TestAccountAndTokenCommands(t *testing.T) {
	db := t.TempDir() + "/cli.db"
	id, err := capture(t, (&accountCreateCmd{dbFlag: dbFlag{DB: db}, Alias: "alice"}).Run)
	if err != nil || len(id) != 36 {
		t.Fatalf("account create printed %q, %v", id, err)
	}
	if _, err := capture(t, (&accountCreateCmd{dbFlag: dbFlag{DB: db}, Alias: "alice"}).Run); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("duplicate alias: %v", err)
	}
	for _, bad := range []string{"Al", "UPPER", "-dash", "x y z"} {
		if _, err := capture(t, (&accountCreateCmd{dbFlag: dbFlag{DB: db}, Alias: bad}).Run); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Fatalf("alias %q: %v", bad, err)
		}
	}
	tok, err := capture(t, (&tokenCmd{dbFlag: dbFlag{DB: db}, Alias: "alice", TTL: 3600e9}).Run)
	if err != nil || strings.Count(tok, ".") != 2 {
		t.Fatalf("token printed %q, %v", tok, err)
	}
	// the printed token authenticates against the same database
	a, err := openApp(context.Background(), dbFlag{DB: db}, keyFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store.Close()
	p, err := a.Auth.Authenticate(gate.System(context.Background()), tok)
	if err != nil || p == nil || *p.Account.Alias != "alice" {
		t.Fatalf("authenticate printed token: %v %v", p, err)
	}
	if _, err := capture(t, (&tokenCmd{dbFlag: dbFlag{DB: db}, Alias: "nobody", TTL: 1e9}).Run); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("token for unknown alias: %v", err)
	}
}

func TestSeedCommand(t *testing.T) {
	db := t.TempDir() + "/seed.db"
	if _, err := capture(t, (&seedCmd{dbFlag: dbFlag{DB: db}, Orgs: 200, Depth: 3, Fanout: 5, Owner: "seed-owner"}).Run); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), dbFlag{DB: db}, keyFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store.Close()
	ctx := gate.System(context.Background())
	if n := a.Store.Client.Organization.Query().CountX(ctx); n != 200 {
		t.Fatalf("seeded %d orgs, want 200", n)
	}
	// closure rows: each org has one per ancestor plus itself; trees of 156 and 44
	if n := a.Store.Client.OrgClosure.Query().CountX(ctx); n != 1+5*2+25*3+125*4+(1+5*2+25*3+(44-31)*4) {
		t.Fatalf("closure rows = %d", n)
	}
}

func TestPolicyTestCommand(t *testing.T) {
	out, err := capture(t, (&policyTestCmd{MinCoverage: 90}).Run)
	if err != nil || !strings.Contains(out, "coverage") {
		t.Fatalf("policy test: %v\n%s", err, out)
	}
	if _, err := capture(t, (&policyTestCmd{PolicyDir: t.TempDir(), MinCoverage: 90}).Run); err == nil {
		t.Fatal("an empty policy dir passed its tests")
	}
}

// `orgraph migrate` on PostgreSQL applies the versioned migrations and says so,
// then finds nothing to apply; the other commands refuse an unmigrated database.
func TestMigrateCommandPostgres(t *testing.T) {
	db := testutil.DatabaseURL(t, testutil.Postgres)
	keys := keyFlags{KeyFile: t.TempDir() + "/orgraph.keys"}
	if _, err := capture(t, (&accountCreateCmd{dbFlag: dbFlag{DB: db}, keyFlags: keys, Alias: "alice"}).Run); err == nil ||
		!strings.Contains(err.Error(), "orgraph migrate") {
		t.Fatalf("account create before migrate: %v", err)
	}
	out, err := capture(t, (&migrateCmd{dbFlag: dbFlag{DB: db}}).Run)
	if err != nil || !strings.Contains(out, "applied ") || !strings.Contains(out, "_init (") ||
		!strings.Contains(out, "schema is up to date at version") {
		t.Fatalf("first migrate: %v\n%s", err, out)
	}
	out, err = capture(t, (&migrateCmd{dbFlag: dbFlag{DB: db}}).Run)
	if err != nil || strings.Contains(out, "applied ") || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second migrate: %v\n%s", err, out)
	}
	if id, err := capture(t, (&accountCreateCmd{dbFlag: dbFlag{DB: db}, keyFlags: keys, Alias: "alice"}).Run); err != nil || len(id) != 36 {
		t.Fatalf("account create after migrate: %q, %v", id, err)
	}
}

func TestMigrateCommandSQLite(t *testing.T) {
	db := t.TempDir() + "/m.db"
	for range 2 {
		out, err := capture(t, (&migrateCmd{dbFlag: dbFlag{DB: db}}).Run)
		if err != nil || out != "schema is up to date (SQLite, auto-migration)" {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
	}
}

// TestServeAndGracefulShutdown runs `orgraph serve` on a fresh embedded
// database (the README's one command), waits until it is ready, then sends
// SIGTERM: the server must drain and return cleanly.
func TestServeAndGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := &serveCmd{dbFlag: dbFlag{DB: t.TempDir() + "/serve.db"}, Addr: addr, MaxDepth: 64, MaxComplexity: 200000,
		limitFlags: limitFlags{MaxApplications: 10, MaxSectors: 10, MaxSuborgs: 10, MaxOrgsOwned: 10, InvitationTTL: time.Hour}}
	done := make(chan error, 1)
	go func() { done <- cmd.Run(slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down after SIGTERM")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// `orgraph keys rotate` adds a signing key (tokens issued before keep
// verifying), re-seals under a new data key and says so.
func TestKeysRotateCommand(t *testing.T) {
	t.Setenv("ORGRAPH_KEY_FILE", "")
	t.Setenv("ORGRAPH_MASTER_KEY", "")
	dir := t.TempDir()
	db, keys := dbFlag{DB: dir + "/k.db"}, keyFlags{KeyFile: dir + "/custom.keys"}
	if _, err := capture(t, (&accountCreateCmd{dbFlag: db, keyFlags: keys, Alias: "alice"}).Run); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keys.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--key-file: %v %v", fi, err)
	}
	if _, err := os.Stat(dir + "/k.keys"); !os.IsNotExist(err) {
		t.Fatal("the default key file was created although --key-file was given")
	}
	before, err := capture(t, (&tokenCmd{dbFlag: db, keyFlags: keys, Alias: "alice", TTL: time.Hour}).Run)
	if err != nil {
		t.Fatal(err)
	}
	out, err := capture(t, (&keysRotateCmd{dbFlag: db, keyFlags: keys, Overlap: time.Hour}).Run)
	if err != nil || !strings.Contains(out, "signs from now on") || !strings.Contains(out, "keeps verifying until") ||
		!strings.Contains(out, "0 application keys sealed again") || !strings.Contains(out, "restart every running orgraph serve") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	after, err := capture(t, (&tokenCmd{dbFlag: db, keyFlags: keys, Alias: "alice", TTL: time.Hour}).Run)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), db, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store.Close()
	for _, tok := range []string{before, after} {
		if p, err := a.Auth.Authenticate(gate.System(context.Background()), tok); err != nil || p == nil {
			t.Fatalf("token after the rotation: %v", err)
		}
	}
	if _, err := capture(t, (&keysRotateCmd{dbFlag: db, keyFlags: keys, Overlap: time.Second}).Run); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("--overlap 1s: %v", err)
	}
	if _, err := capture(t, (&keysRotateCmd{dbFlag: db, keyFlags: keys, Overlap: time.Hour, NewDataKey: strings.Repeat("A", 43)}).Run); err == nil ||
		!strings.Contains(err.Error(), "only given when the data key is configured") {
		t.Fatalf("--new-data-key without a configured data key: %v", err)
	}
	// a database with sealed keys and no key file: a clear error, no new key
	if _, err := capture(t, (&tokenCmd{dbFlag: db, Alias: "alice", TTL: time.Hour}).Run); err == nil ||
		!strings.Contains(err.Error(), "k.keys does not exist") {
		t.Fatalf("token without the key file: %v", err)
	}
}

// Every command that opens the database takes --key-file and $ORGRAPH_KEY_FILE.
func TestKeyFileFlag(t *testing.T) {
	for _, args := range [][]string{
		{"serve"}, {"account", "create", "--alias", "a"}, {"token", "--alias", "a"}, {"seed", "--orgs", "1"}, {"keys", "rotate"},
	} {
		for _, viaEnv := range []bool{false, true} {
			var c cli
			parser, err := kong.New(&c, kong.Name("orgraph"), kong.Exit(func(int) { t.Fatalf("%v: exit", args) }))
			if err != nil {
				t.Fatal(err)
			}
			argv := append([]string(nil), args...)
			if viaEnv {
				t.Setenv("ORGRAPH_KEY_FILE", "/keys/env.keys")
			} else {
				argv = append(argv, "--key-file", "/keys/flag.keys")
			}
			if _, err := parser.Parse(argv); err != nil {
				t.Fatalf("%v: %v", argv, err)
			}
			got := map[string]string{
				"serve": c.Serve.KeyFile, "account": c.Account.Create.KeyFile, "token": c.Token.KeyFile,
				"seed": c.Seed.KeyFile, "keys": c.Keys.Rotate.KeyFile,
			}[args[0]]
			if want := map[bool]string{false: "/keys/flag.keys", true: "/keys/env.keys"}[viaEnv]; got != want {
				t.Fatalf("%v (env %v): key file %q, want %q", argv, viaEnv, got, want)
			}
		}
	}
}

// TestServeTunesGC: serve collects at serveGCPercent unless GOGC is set.
func TestServeTunesGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	tuneGC()
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("GOGC unset: collector at %d, want %d", got, serveGCPercent)
	}
	t.Setenv("GOGC", "50")
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: serve changed the collector to %d", got)
	}
}

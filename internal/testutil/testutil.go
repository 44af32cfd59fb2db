// Package testutil starts real orgraph instances for tests: a real HTTP server
// over a real database (an SQLite file, or a fresh PostgreSQL database).
package testutil

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/gate"
)

// PostgresAdminURL is where tests create their databases; ORGRAPH_TEST_PG overrides it.
func PostgresAdminURL() string {
	if u := os.Getenv("ORGRAPH_TEST_PG"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Backend names a database kind under test.
type Backend string

const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Backends lists both back ends; every integration test runs on each.
var Backends = []Backend{SQLite, Postgres}

// DatabaseURL returns a fresh, empty database of kind b, dropped after the test.
// Without PostgreSQL the test is skipped, except in CI (CI=true), where it fails.
func DatabaseURL(t testing.TB, b Backend) string {
	t.Helper()
	if b == SQLite {
		return t.TempDir() + "/orgraph.db"
	}
	admin, err := sql.Open("pgx", PostgresAdminURL())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("PostgreSQL not reachable (%v); set ORGRAPH_TEST_PG", err)
	}
	name := "orgraph_test_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	return strings.Replace(PostgresAdminURL(), "/postgres?", "/"+name+"?", 1)
}

// Instance is a running orgraph behind a real HTTP server.
type Instance struct {
	*app.App
	URL    string
	Server *httptest.Server
	t      testing.TB
}

// Option adjusts the configuration of an instance.
type Option func(*app.Config)

// Start runs orgraph on a fresh database of kind b.
func Start(t testing.TB, b Backend, opts ...Option) *Instance {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DB = DatabaseURL(t, b)
	cfg.KeyFile = t.TempDir() + "/orgraph.keys"
	cfg.Migrate = true
	// A loaded test machine must not trip the production request deadline
	// (tests of the deadline set their own).
	cfg.RequestTimeout = 2 * time.Minute
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start orgraph: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Store.Close() })
	return &Instance{App: a, URL: srv.URL, Server: srv, t: t}
}

// Account creates an account and returns an unconfined token for it.
func (in *Instance) Account(alias string, platformAdmin bool) string {
	in.t.Helper()
	ctx := gate.System(context.Background())
	acc, err := in.Service.CreateAccount(ctx, alias, strings.ToUpper(alias[:1])+alias[1:], platformAdmin)
	if err != nil {
		in.t.Fatalf("create account %s: %v", alias, err)
	}
	tok, _, err := in.Auth.Issue(acc, nil, time.Hour)
	if err != nil {
		in.t.Fatal(err)
	}
	return tok
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw []byte
}

// Code is the extensions.code of the first error, or "".
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Do posts a GraphQL operation with an optional bearer token.
func (in *Instance) Do(token, query string, vars map[string]any) *Response {
	in.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("POST /graphql: %v", err)
	}
	defer res.Body.Close()
	var out Response
	out.Status = res.StatusCode
	buf := new(bytes.Buffer)
	_, _ = buf.ReadFrom(res.Body)
	out.Raw = buf.Bytes()
	if err := json.Unmarshal(out.Raw, &out); err != nil {
		in.t.Fatalf("decode response %q: %v", out.Raw, err)
	}
	return &out
}

// MustDo is Do that fails the test on any GraphQL error.
func (in *Instance) MustDo(token, query string, vars map[string]any) map[string]any {
	in.t.Helper()
	r := in.Do(token, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		in.t.Fatalf("unexpected errors (HTTP %d): %s", r.Status, r.Raw)
	}
	return r.Data
}

// Get walks a decoded JSON value by keys and indexes, e.g. Get(d, "organization", "children", "edges", 0).
func Get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		default:
			panic(fmt.Sprintf("bad path element %v", p))
		}
	}
	return v
}

// Str is Get as a string.
func Str(v any, path ...any) string { s, _ := Get(v, path...).(string); return s }

// Grant gives an account a role on an org directly in the database (a fixture
// shortcut for tests that are not about invitations).
func (in *Instance) Grant(alias, orgID, role string) {
	in.t.Helper()
	ctx := gate.System(context.Background())
	acc, err := in.Service.AccountByAlias(ctx, alias)
	if err != nil {
		in.t.Fatal(err)
	}
	if err := in.Store.Client.Membership.Create().SetAccountID(acc.ID).SetOrganizationID(uuid.MustParse(orgID)).SetRole(role).Exec(ctx); err != nil {
		in.t.Fatalf("grant %s %s on %s: %v", alias, role, orgID, err)
	}
}

// Token issues a token for alias, confined to org when org is not "".
func (in *Instance) Token(alias, org string) string {
	in.t.Helper()
	ctx := gate.System(context.Background())
	acc, err := in.Service.AccountByAlias(ctx, alias)
	if err != nil {
		in.t.Fatal(err)
	}
	var scope *uuid.UUID
	if org != "" {
		id := uuid.MustParse(org)
		scope = &id
	}
	tok, _, err := in.Auth.Issue(acc, scope, time.Hour)
	if err != nil {
		in.t.Fatal(err)
	}
	return tok
}

// Fixture writes rows straight into the database for tests whose subject is
// not how those rows are created (e.g. a live application for a retire test).
func (in *Instance) Fixture() (context.Context, *ent.Client) {
	return gate.System(context.Background()), in.Store.Client
}

// FragmentBomb is an anonymous query of n fragments, each spreading the next
// twice: query { ...F0 } fragment F0 on Query { ...F1 ...F1 } … fragment
// F(n-1) on Query { __typename }. Expanded, it selects 2^(n-1) fields.
func FragmentBomb(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }")
	for i := range n - 1 {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { __typename }", n-1)
	return b.String()
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// The fuzz targets of the API as a client reaches it: through the real
// handler (authentication, transports, the schema, the gate, the resolvers)
// on an SQLite database with a small tenant. They never answer 5xx, never
// answer anything but JSON, and no resolver panics (gqlgen recovers a panic
// as an INTERNAL error; the log line it leaves is what fails the target).
// `make fuzz` runs each for $(FUZZTIME); `go test` runs their seed corpora
// (testdata/fuzz and the f.Add seeds) as ordinary tests.

// panicLog records the errors the server logs; a resolver panic is one.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (*panicLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
		p.mu.Lock()
		p.panics = append(p.panics, b.String())
		p.mu.Unlock()
	}
	return nil
}
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

func (p *panicLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.panics
	p.panics = nil
	return out
}

type fuzzTarget struct {
	in     *testutil.Instance
	log    *panicLog
	tokens []string // "", an owner's token, an outsider's, an API key, garbage
	org    string
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	log := &panicLog{}
	in := testutil.Start(f, testutil.SQLite, func(c *app.Config) {
		c.Logger = slog.New(log)
		c.RateLimit.Disabled = true // thousands of requests a second from one caller
	})
	alice := in.Account("alice", false)
	mallory := in.Account("mallory", false)
	org := testutil.Str(in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "Acme"}}), "createOrganization", "id")
	for _, name := range []string{"Acme EU", "Acme US", "Acme_Labs"} {
		in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": name, "parentId": org}})
	}
	key := testutil.Str(in.MustDo(alice, qCreateKey, map[string]any{"org": org, "name": "ci", "role": "viewer"}), "createAPIKey", "key")
	return &fuzzTarget{in: in, log: log, tokens: []string{"", alice, mallory, key, "garbage"}, org: org}
}

// serve runs one request through the handler and checks what every answer
// must be.
func (ft *fuzzTarget) serve(t testing.TB, req *http.Request, token string) *httptest.ResponseRecorder {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	ft.in.Handler.ServeHTTP(rec, req)
	if p := ft.log.take(); len(p) > 0 {
		t.Fatalf("%s %s: the server panicked: %v", req.Method, req.URL, p)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %s: HTTP %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	if req.URL.Path == "/graphql" && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %s: HTTP %d, not JSON: %q", req.Method, req.URL, rec.Code, rec.Body)
	}
	return rec
}

func (ft *fuzzTarget) post(t testing.TB, token, query string, vars map[string]json.RawMessage) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil
	}
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return ft.serve(t, req, token)
}

// FuzzRequest: any body, content type, method and credential.
func FuzzRequest(f *testing.F) {
	ft := newFuzzTarget(f)
	for _, s := range []struct {
		sel         uint8
		contentType string
		body        string
	}{
		{0, "application/json", `{"query":"{ __typename }"}`},
		{2, "application/json", `{"query":"query($id: ID!) { organization(id: $id) { name children { totalCount } } }","variables":{"id":"` + ft.org + `"}}`},
		{2, "application/json", `{"query":"mutation { createOrganization(input: {name: \"X\"}) { id slug } }"}`},
		{2, "application/json", `{"query":"{ viewer { alias } }","operationName":"Q"}`},
		{1, "", `query=%7B__typename%7D`},
		{3, "", `query=mutation%7BcreateOrganization(input:%7Bname:%22X%22%7D)%7Bid%7D%7D`},
		{0, "application/json", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`},
		{0, "application/json", `[{"query":"{ __typename }"}]`},
		{0, "application/graphql", `{ __typename }`},
		{0, "text/plain", `{"query":"{ __typename }"}`},
		{0, "application/json", `{"query":1}`},
		{0, "application/json", `{"query":"{ __typename }","variables":"oops"}`},
		{0, "application/json", ``},
		{4, "application/json", `{"query":"{ organizations(first: 1000000) { totalCount } }"}`},
		{6, "application/json", `{"query":"{ nodes(ids: [\"x\", \"` + ft.org + `\"]) { id } }"}`},
	} {
		f.Add(s.sel, s.contentType, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, sel uint8, contentType string, body []byte) {
		token := ft.tokens[int(sel>>1)%len(ft.tokens)]
		var req *http.Request
		if sel&1 == 1 {
			req = httptest.NewRequest(http.MethodGet, "/graphql", nil)
			req.URL.RawQuery = string(body)
		} else {
			req = httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", contentType)
		}
		ft.serve(t, req, token)
	})
}

// FuzzOrganizationWhere: any JSON as the where of organizations, decoded by
// the schema into an OrganizationWhereInput, turned into its predicate and
// run; and the same JSON decoded straight into the input type, its predicate
// built for both SQL dialects.
func FuzzOrganizationWhere(f *testing.F) {
	ft := newFuzzTarget(f)
	for _, s := range []string{`{}`, `{"name":"Acme"}`, `{"nameIn":["Acme","Acme EU"]}`, `{"not":{"status":"ACTIVE"}}`,
		`{"or":[{"slugHasPrefix":"acme"},{"depthGT":0}],"and":[{"tenantEqualFold":"ACME"}]}`,
		`{"hasChildrenWith":[{"nameContainsFold":"eu"}]}`, `{"hasChildrenWith":[{}]}`, `{"hasParentWith":[{"hasParentWith":[{"id":"` + ft.org + `"}]}]}`,
		`{"idIn":["` + ft.org + `"],"createdAtGT":"2020-01-01T00:00:00Z"}`, `{"deletedAtIsNil":true,"parentIDNotNil":true}`,
		`{"hasMembersWith":[{"role":"owner"}],"hasAPIKeysWith":[{"name":"ci"}]}`, `{"statusIn":["ACTIVE","RETIRED"]}`, `{"nameGT":"\u0000"}`,
		`{"not":{"not":{"not":{}}}}`, `{"or":[]}`, `{"depth":-1}`, `{"idNEQ":"not a uuid"}`, `null`, `[]`, `"x"`} {
		f.Add(uint8(0), []byte(s))
	}
	const query = `query($w: OrganizationWhereInput) { organizations(first: 5, where: $w) { totalCount edges { node { id children(where: $w) { totalCount } } } } }`
	f.Fuzz(func(t *testing.T, sel uint8, where []byte) {
		if !json.Valid(where) {
			return
		}
		ft.post(t, ft.tokens[int(sel)%len(ft.tokens)], query, map[string]json.RawMessage{"w": where})

		var w ent.OrganizationWhereInput
		if json.Unmarshal(where, &w) != nil || nullInList(reflect.ValueOf(w)) {
			return // the schema refuses null in [OrganizationWhereInput!] and the like
		}
		p, err := w.P()
		if err != nil {
			return
		}
		for _, d := range []string{dialect.SQLite, dialect.Postgres} {
			s := sql.Dialect(d).Select("*").From(sql.Table(organization.Table))
			p(s)
			s.Query()
		}
	})
}

// nullInList reports a nil element in a list of inputs anywhere in v.
func nullInList(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return !v.IsNil() && nullInList(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && nullInList(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if e := v.Index(i); e.Kind() == reflect.Pointer && e.IsNil() || nullInList(e) {
				return true
			}
		}
	}
	return false
}

// FuzzCursor: any string as an entgql cursor, the way the API takes one
// (after/before of a connection, under every order), and decoded alone: a
// cursor that decodes encodes and decodes again.
func FuzzCursor(f *testing.F) {
	ft := newFuzzTarget(f)
	orders := []string{`{field: NAME}`, `{field: SLUG, direction: DESC}`, `[{field: DEPTH}, {field: NAME, direction: DESC}]`, `{field: CREATED_AT}`, `[]`}
	query := func(sel uint8) string {
		arg := "after"
		if sel&1 == 1 {
			arg = "before"
		}
		order := orders[int(sel>>1)%len(orders)]
		return `query($c: Cursor, $id: ID!) {
			organizations(` + arg + `: $c, first: 2, orderBy: ` + order + `) { edges { cursor } }
			organization(id: $id) { children(` + arg + `: $c, last: 2, orderBy: ` + order + `) { edges { cursor } } } }`
	}
	// real cursors of every order
	for sel := range uint8(2 * len(orders)) {
		rec := ft.post(f, ft.tokens[1], query(sel), map[string]json.RawMessage{"c": json.RawMessage("null"), "id": json.RawMessage(strconv.Quote(ft.org))})
		var out struct {
			Data struct {
				Organizations struct{ Edges []struct{ Cursor string } }
			}
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		for _, e := range out.Data.Organizations.Edges {
			f.Add(sel, e.Cursor)
		}
	}
	for _, s := range []string{"", "=", "gqFp2SQ", "gaFp", "kwE", "3wAAAAE", "xQ//////", "AA==", "gqFp2SQwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDChdpKhYQE"} {
		f.Add(uint8(0), s)
	}
	f.Fuzz(func(t *testing.T, sel uint8, s string) {
		var c ent.Cursor
		if err := c.UnmarshalGQL(s); err == nil {
			var buf bytes.Buffer
			c.MarshalGQL(&buf)
			var again ent.Cursor
			if u, err := strconv.Unquote(buf.String()); err != nil || again.UnmarshalGQL(u) != nil {
				t.Fatalf("cursor %q decodes to %+v, which encodes to %s that does not decode", s, c, buf.String())
			}
		}
		raw, _ := json.Marshal(s)
		ft.post(t, ft.tokens[1+int(sel>>4)%2], query(sel), map[string]json.RawMessage{"c": raw, "id": json.RawMessage(strconv.Quote(ft.org))})
	})
}

// A malformed cursor is the client's mistake, top-level or in a nested
// connection (where it used to panic in entgql's field collection).
func TestMalformedCursor(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			mustCreate(t, in, alice, map[string]any{"name": "Acme EU", "parentId": org})
			mustCreate(t, in, alice, map[string]any{"name": "Acme US", "parentId": org})
			const q = `query($id: ID!, $c: Cursor) { organization(id: $id) { children(first: 1, after: $c, orderBy: {field: NAME}) { edges { cursor node { name } } } } }`
			first := in.MustDo(alice, q, map[string]any{"id": org})
			next := in.MustDo(alice, q, map[string]any{"id": org, "c": testutil.Str(first, "organization", "children", "edges", 0, "cursor")})
			if testutil.Str(next, "organization", "children", "edges", 0, "node", "name") != "Acme US" {
				t.Fatalf("paging with a real cursor: %v", next)
			}
			for _, bad := range []string{"garbage", "gaFp", "", "3wAAAAE"} {
				for _, query := range []string{q, `query($c: Cursor) { organizations(after: $c) { totalCount } }`,
					`query($id: ID!) { ...F } fragment F on Query { organization(id: $id) { children(before: "` + bad + `", last: 1) { totalCount } } }`} {
					r := in.Do(alice, query, map[string]any{"id": org, "c": bad})
					if r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "cursor") {
						t.Errorf("cursor %q in %s: %s", bad, query, r.Raw)
					}
				}
			}
		})
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/testutil"
)

const createOrg = `mutation($in: CreateOrganizationInput!) { createOrganization(input: $in) { id name slug tenant status capabilities parent { id } } }`

func mustCreate(t *testing.T, in *testutil.Instance, token string, input map[string]any) map[string]any {
	t.Helper()
	return testutil.Get(in.MustDo(token, createOrg, map[string]any{"in": input}), "createOrganization").(map[string]any)
}

func TestOrganizationTree(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)

			root := mustCreate(t, in, alice, map[string]any{"name": "Acme Corp"})
			if root["slug"] != "acme-corp" || root["tenant"] != "Acme Corp" || root["status"] != "ACTIVE" {
				t.Fatalf("root = %v", root)
			}
			// a taken derived slug gets a suffix; a taken explicit slug is a conflict
			again := mustCreate(t, in, alice, map[string]any{"name": "Acme Corp"})
			if again["slug"] == "acme-corp" || !strings.HasPrefix(again["slug"].(string), "acme-corp-") {
				t.Fatalf("second derived slug = %v", again["slug"])
			}
			r := in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "slug": "acme-corp"}})
			if r.Code() != "CONFLICT" {
				t.Fatalf("taken slug: %s", r.Raw)
			}
			for _, bad := range []string{"Bad Slug", "UPPER", "", strings.Repeat("a", 101)} {
				r = in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "X", "slug": bad}})
				if r.Code() != "BAD_USER_INPUT" {
					t.Fatalf("slug %q: %s", bad, r.Raw)
				}
			}
			r = in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "  "}})
			if r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("blank name: %s", r.Raw)
			}

			// a chain of 6 levels below the root
			ids := []string{root["id"].(string)}
			for i := 1; i <= 6; i++ {
				o := mustCreate(t, in, alice, map[string]any{"name": "Level " + string(rune('0'+i)), "parentId": ids[len(ids)-1]})
				if o["tenant"] != "Acme Corp" || testutil.Str(o, "parent", "id") != ids[len(ids)-1] {
					t.Fatalf("suborg = %v", o)
				}
				ids = append(ids, o["id"].(string))
			}
			// a sibling at level 1
			mustCreate(t, in, alice, map[string]any{"name": "Sibling", "parentId": ids[0]})

			d := in.MustDo(alice, `query($id: ID!, $root: ID!) {
				leaf: organization(id: $id) { ancestors { id } }
				root: organization(id: $root) {
					children { totalCount }
					d2: descendants(maxDepth: 2) { totalCount }
					all: descendants { totalCount }
					page: descendants(first: 3, orderBy: {field: DEPTH, direction: ASC}) { totalCount edges { cursor node { depth } } pageInfo { hasNextPage endCursor } }
				}
			}`, map[string]any{"id": ids[6], "root": ids[0]})
			anc := testutil.Get(d, "leaf", "ancestors").([]any)
			if len(anc) != 6 {
				t.Fatalf("ancestors = %v", anc)
			}
			for i, a := range anc { // root first
				if a.(map[string]any)["id"] != ids[i] {
					t.Fatalf("ancestor %d = %v, want %s", i, a, ids[i])
				}
			}
			for path, want := range map[string]float64{"children": 2, "d2": 3, "all": 7, "page": 7} {
				if got := testutil.Get(d, "root", path, "totalCount"); got != want {
					t.Fatalf("%s.totalCount = %v, want %v", path, got, want)
				}
			}
			page := testutil.Get(d, "root", "page", "edges").([]any)
			if len(page) != 3 || testutil.Get(d, "root", "page", "pageInfo", "hasNextPage") != true {
				t.Fatalf("page = %v", testutil.Get(d, "root", "page"))
			}
			next := in.MustDo(alice, `query($root: ID!, $after: Cursor) { organization(id: $root) { descendants(first: 10, after: $after, orderBy: {field: DEPTH, direction: ASC}) { edges { node { depth } } } } }`,
				map[string]any{"root": ids[0], "after": testutil.Get(d, "root", "page", "pageInfo", "endCursor")})
			if got := len(testutil.Get(next, "organization", "descendants", "edges").([]any)); got != 4 {
				t.Fatalf("second page has %d orgs, want 4", got)
			}

			// by slug, where filters and orderBy on the root list
			bySlug := in.MustDo(alice, `{ organization(slug: "acme-corp") { id } organizations(where: {depthGT: 2}, orderBy: {field: DEPTH, direction: DESC}, first: 2) { totalCount edges { node { depth } } } }`, nil)
			if testutil.Str(bySlug, "organization", "id") != ids[0] {
				t.Fatalf("by slug: %v", bySlug)
			}
			if testutil.Get(bySlug, "organizations", "totalCount") != float64(4) || testutil.Get(bySlug, "organizations", "edges", 0, "node", "depth") != float64(6) {
				t.Fatalf("filtered list: %v", bySlug)
			}

			// update
			u := in.MustDo(alice, `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "Acme Inc", settings: {theme: "dark", n: 3}, domains: ["Acme.COM"]}) { name settings domains } }`, map[string]any{"id": ids[0]})
			if tenant := testutil.Str(in.MustDo(alice, `query($id: ID!) { organization(id: $id) { tenant } }`, map[string]any{"id": ids[6]}), "organization", "tenant"); tenant != "Acme Inc" {
				t.Fatalf("renaming the root left the tree's tenant at %q", tenant)
			}
			if testutil.Str(u, "updateOrganization", "name") != "Acme Inc" || testutil.Get(u, "updateOrganization", "settings", "theme") != "dark" || testutil.Str(u, "updateOrganization", "domains", 0) != "acme.com" {
				t.Fatalf("update = %v", u)
			}

			// node and nodes resolve any id; garbage ids are bad input
			n := in.MustDo(alice, `query($id: ID!) { node(id: $id) { __typename id ... on Organization { slug } } }`, map[string]any{"id": ids[0]})
			if testutil.Str(n, "node", "__typename") != "Organization" {
				t.Fatalf("node = %v", n)
			}
			if r := in.Do(alice, `{ node(id: "not-a-uuid") { id } }`, nil); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("bad id: %s", r.Raw)
			}
			if r := in.Do(alice, `{ organization(id: "7b0e3f36-8a8e-4a8c-9a57-6f2b8d0c1e11") { id } }`, nil); r.Code() != "NOT_FOUND" {
				t.Fatalf("missing org: %s", r.Raw)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite)
	alice := in.Account("alice", false)

	// no token: public fields only
	if r := in.Do("", `{ viewer { alias } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous viewer: %s", r.Raw)
	}
	if r := in.Do("", `{ organizations { totalCount } }`, nil); r.Code() != "" || testutil.Get(r.Data, "organizations", "totalCount") != float64(0) {
		t.Fatalf("anonymous list: %s", r.Raw)
	}
	if r := in.Do("", createOrg, map[string]any{"in": map[string]any{"name": "X"}}); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous create: %s", r.Raw)
	}
	// a good token
	if d := in.MustDo(alice, `{ viewer { alias memberships { totalCount } } }`, nil); testutil.Str(d, "viewer", "alias") != "alice" {
		t.Fatalf("viewer = %v", d)
	}

	ctx := gate.System(context.Background())
	acc, _ := in.Service.AccountByAlias(ctx, "alice")
	expired, _, _ := in.Auth.Issue(acc, nil, -time.Minute)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: acc.ID.String(), Issuer: "orgraph", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}}).SignedString(otherKey)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: acc.ID.String(), Issuer: "orgraph", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tok := range map[string]string{"expired": expired, "wrong key": forged, "alg none": none, "garbage": "abc.def.ghi", "unknown api key": "orgk_nope"} {
		r := in.Do(tok, `{ viewer { alias } }`, nil)
		if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("%s token: HTTP %d %s", name, r.Status, r.Raw)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/graphql", strings.NewReader(`{"query":"{__typename}"}`))
	req.Header.Set("Authorization", "Basic abc")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Basic auth header: HTTP %d", res.StatusCode)
	}
}

func TestHTTPSurface(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite)
	alice := in.Account("alice", false)
	get := func(path string) (int, string) {
		res, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, in.Engine.Version()) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(strings.ToLower(body), "graphiql") {
		t.Fatalf("graphiql: %d", code)
	}
	if code, body := get("/graphql?query=%7B__typename%7D"); code != 200 || !strings.Contains(body, "Query") {
		t.Fatalf("GET /graphql: %d %s", code, body)
	}
	in.MustDo(alice, `query Named { viewer { alias } }`, nil)
	org := mustCreate(t, in, alice, map[string]any{"name": "Metered"})["id"].(string)
	in.MustDo(alice, `query($id: ID!) { organization(id: $id) { name } }`, map[string]any{"id": org})
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `orgraph_graphql_requests_total{operation="Named"} 1`) || !strings.Contains(body, "orgraph_graphql_request_duration_seconds") ||
		!regexp.MustCompile(`orgraph_policy_decisions_total\{cache="(hit|miss)",outcome="allow"\} [1-9]`).MatchString(body) {
		t.Fatalf("metrics: %d", code)
	}

	// body limit
	big := `{"query":"{ __typename }","variables":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
	res, err := http.Post(in.URL+"/graphql", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: HTTP %d", res.StatusCode)
	}

	// depth and complexity limits
	deep := "{ viewer { memberships { edges { node { organization { " + strings.Repeat("children { edges { node { ", 25) + "id" + strings.Repeat(" } } }", 25) + " } } } } } }"
	if r := in.Do(alice, deep, nil); r.Code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("deep query: %s", r.Raw)
	}
	wide := `{ organizations(first: 1000) { edges { node { children(first: 1000) { edges { node { members(first: 1000) { totalCount } } } } } } } }`
	if r := in.Do(alice, wide, nil); r.Code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("costly query: %s", r.Raw)
	}
}

func TestCORS(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) { c.CORSOrigins = []string{"https://console.example"} })
	preflight := func(origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, in.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("https://console.example"); got != "https://console.example" {
		t.Fatalf("allowed origin preflight: %q", got)
	}
	if got := preflight("https://evil.example"); got != "" {
		t.Fatalf("other origin preflight: %q", got)
	}
}

func TestParserLimits(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite)
	alice := in.Account("alice", false)
	huge := "{ " + strings.Repeat("viewer { alias } ", 6000) + "}"
	if r := in.Do(alice, huge, nil); r.Code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("a query of 24 000 tokens: %.300s", r.Raw)
	}
	if r := in.Do(alice, "{ viewer { alias ", nil); r.Code() == "INTERNAL" || r.Code() == "" {
		t.Fatalf("a syntax error: %s", r.Raw)
	}
}

func TestPersistedQueries(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite)
	alice := in.Account("alice", false)
	query := `{ viewer { alias } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	post := func(body map[string]any) string {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, in.URL+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return string(out)
	}
	if got := post(map[string]any{"extensions": ext}); !strings.Contains(got, "PersistedQueryNotFound") {
		t.Fatalf("unknown hash: %s", got)
	}
	if got := post(map[string]any{"query": query, "extensions": ext}); !strings.Contains(got, `"alice"`) {
		t.Fatalf("register: %s", got)
	}
	if got := post(map[string]any{"extensions": ext}); !strings.Contains(got, `"alice"`) {
		t.Fatalf("by hash: %s", got)
	}
}

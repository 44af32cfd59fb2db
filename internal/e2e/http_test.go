package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// TestClientMistakes: every mistake of a client is a client error with a
// code, a JSON body labelled JSON, and a log line below ERROR.
func TestClientMistakes(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, logs := startLogged(t, b)
			alice := in.Account("alice", false)
			in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "Acme"}})
			deep := `{"query":"{ __typename }","variables":{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}}`
			for _, c := range []struct {
				name, method, contentType, body string
				status                          int
				code                            string
			}{
				{"malformed JSON", "POST", "application/json", `{"query": "{ __typename }"`, 400, "BAD_USER_INPUT"},
				{"empty body", "POST", "application/json", ``, 400, "BAD_USER_INPUT"},
				{"variables not an object", "POST", "application/json", `{"query":"{ __typename }","variables":"oops"}`, 400, "BAD_USER_INPUT"},
				{"query not a string", "POST", "application/json", `{"query":1}`, 400, "BAD_USER_INPUT"},
				{"no query", "POST", "application/json", `{"qeury":"{ __typename }"}`, 400, "BAD_USER_INPUT"},
				{"not an object", "POST", "application/json", `"{ __typename }"`, 400, "BAD_USER_INPUT"},
				{"JSON deeper than 10 000", "POST", "application/json", deep, 400, "BAD_USER_INPUT"},
				{"trailing data", "POST", "application/json", `{"query":"{ __typename }"} {}`, 400, "BAD_USER_INPUT"},
				{"invalid UTF-8", "POST", "application/json", "{\"query\":\"{ __typename }\",\"variables\":{\"x\":\"a\xffb\"}}", 400, "BAD_USER_INPUT"},
				{"wrong Content-Type", "POST", "text/plain", `{"query":"{ __typename }"}`, 415, "BAD_USER_INPUT"},
				{"no Content-Type", "POST", "", `{"query":"{ __typename }"}`, 415, "BAD_USER_INPUT"},
				{"another charset", "POST", "application/json; charset=latin1", `{"query":"{ __typename }"}`, 415, "BAD_USER_INPUT"},
				{"PUT", "PUT", "application/json", `{"query":"{ __typename }"}`, 405, "BAD_USER_INPUT"},
				{"mutation over GET", "GET", "", "query=" + url.QueryEscape(`mutation { deleteAccount }`), 405, "BAD_USER_INPUT"},
				{"GET variables not JSON", "GET", "", "query=" + url.QueryEscape(`{ __typename }`) + "&variables=oops", 400, "BAD_USER_INPUT"},
				{"syntax error", "POST", "application/json", `{"query":"{ organizations { "}`, 200, "GRAPHQL_PARSE_FAILED"},
				{"unknown field", "POST", "application/json", `{"query":"{ nope }"}`, 200, "GRAPHQL_VALIDATION_FAILED"},
				{"variable of the wrong type", "POST", "application/json", `{"query":"query($n: Int!) { organizations(first: $n) { totalCount } }","variables":{"n":"x"}}`, 200, "GRAPHQL_VALIDATION_FAILED"},
				{"malformed cursor", "POST", "application/json", `{"query":"{ organizations(after: \"garbage\") { totalCount } }"}`, 200, "BAD_USER_INPUT"},
				{"cursor of a map", "POST", "application/json", cursorQuery(`orderBy: {field: NAME}`, []any{map[string]any{"a": 1}}), 200, "BAD_USER_INPUT"},
				{"cursor of two values for one order", "POST", "application/json", cursorQuery(`orderBy: {field: NAME}`, []any{"a", "b"}), 200, "BAD_USER_INPUT"},
				{"cursor of a value without an order", "POST", "application/json", cursorQuery(``, []any{"a"}), 200, "BAD_USER_INPUT"},
				{"malformed time", "POST", "application/json", `{"query":"{ organizations(where: {createdAtGT: \"garbage\"}) { totalCount } }"}`, 200, "BAD_USER_INPUT"},
				{"empty nested filter", "POST", "application/json", `{"query":"{ organizations(where: {hasChildrenWith: [{}]}) { totalCount } }"}`, 200, "BAD_USER_INPUT"},
				{"empty not filter", "POST", "application/json", `{"query":"{ organizations(where: {not: {}}) { totalCount } }"}`, 200, "BAD_USER_INPUT"},
				{"APQ hash mismatch", "POST", "application/json", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, 200, "BAD_USER_INPUT"},
				{"APQ unknown hash", "POST", "application/json", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, 200, "PERSISTED_QUERY_NOT_FOUND"},
				{"APQ version", "POST", "application/json", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":2,"sha256Hash":"abc"}}}`, 200, "BAD_USER_INPUT"},
				{"unknown operation name", "POST", "application/json", `{"query":"query A { __typename }","operationName":"B"}`, 200, "GRAPHQL_VALIDATION_FAILED"},
			} {
				a := send(t, in, c.method, c.contentType, "", alice, c.body)
				if a.status != c.status || a.code() != c.code || !strings.HasPrefix(a.contentType, "application/json") {
					t.Errorf("%s: HTTP %d %s %.300s; want HTTP %d %s", c.name, a.status, a.contentType, a.raw, c.status, c.code)
				}
				if c.status == 405 && a.allow == "" {
					t.Errorf("%s: 405 without Allow", c.name)
				}
			}
			// a cursor of text for a number: PostgreSQL refuses it, SQLite compares it
			for _, order := range []string{`orderBy: {field: DEPTH}`, `orderBy: [{field: CREATED_AT}]`} {
				a := send(t, in, "POST", "application/json", "", alice, cursorQuery(order, []any{"abc"}))
				if code := a.code(); a.status != 200 || (code != "" && code != "BAD_USER_INPUT") {
					t.Errorf("a cursor of text (%s): HTTP %d %s", order, a.status, a.raw)
				}
			}
			noErrorLogged(t, logs)
			if n := len(logs.lines("INFO")); n == 0 {
				t.Fatal("client errors were not logged")
			}
		})
	}
}

// cursorQuery is a request for a page of organizations after a cursor of
// values (as if forged) with orderBy.
func cursorQuery(orderBy string, values []any) string {
	var b bytes.Buffer
	entgql.Cursor[uuid.UUID]{ID: uuid.New(), Value: values}.MarshalGQL(&b)
	q, _ := json.Marshal(map[string]any{"query": fmt.Sprintf(`{ organizations(after: %s %s) { edges { node { id } } } }`, b.String(), orderBy)})
	return string(q)
}

// TestMediaTypes: GraphQL over HTTP's media types and status codes.
func TestMediaTypes(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite)
	const gqlResponse = "application/graphql-response+json"
	ok := `{"query":"{ __typename }"}`
	for accept, want := range map[string]string{
		"": "application/json", "*/*": "application/json", "application/json": "application/json",
		gqlResponse: gqlResponse, gqlResponse + ", application/json;q=0.9": gqlResponse, "text/html": "application/json",
	} {
		a := send(t, in, "POST", "application/json", accept, "", ok)
		if a.status != 200 || !strings.HasPrefix(a.contentType, want) || testutil.Str(a.body, "data", "__typename") != "Query" {
			t.Errorf("Accept %q: HTTP %d %s %s", accept, a.status, a.contentType, a.raw)
		}
	}
	// a request error: 400 without data with graphql-response+json, 200 with application/json
	for _, body := range []string{`{"query":"{"}`, `{"query":"{ nope }"}`, `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":null}}`} {
		a := send(t, in, "POST", "application/json", gqlResponse, "", body)
		if _, hasData := a.body["data"]; a.status != 400 || hasData || !strings.HasPrefix(a.contentType, gqlResponse) {
			t.Errorf("%s as %s: HTTP %d %s", body, gqlResponse, a.status, a.raw)
		}
		a = send(t, in, "POST", "application/json", "application/json", "", body)
		if _, hasData := a.body["data"]; a.status != 200 || hasData {
			t.Errorf("%s as application/json: HTTP %d %s", body, a.status, a.raw)
		}
	}
	// an execution error keeps its data entry and 200
	a := send(t, in, "POST", "application/json", gqlResponse, "", `{"query":"{ viewer { alias } }"}`)
	if _, hasData := a.body["data"]; a.status != 200 || !hasData || a.code() != "UNAUTHENTICATED" {
		t.Errorf("execution error: HTTP %d %s", a.status, a.raw)
	}
	// GET serves queries, in either media type
	a = send(t, in, "GET", "", gqlResponse, "", "query="+url.QueryEscape(`query($n: String!) { __type(name: $n) { name } }`)+"&variables="+url.QueryEscape(`{"n":"Query"}`))
	if a.status != 200 || testutil.Str(a.body, "data", "__type", "name") != "Query" || !strings.HasPrefix(a.contentType, gqlResponse) {
		t.Errorf("GET: HTTP %d %s", a.status, a.raw)
	}
	// the answers of the HTTP layer itself are JSON with a code
	a = send(t, in, "POST", "application/json", "", "garbage.token.here", ok)
	if a.status != 401 || a.code() != "UNAUTHENTICATED" || !strings.HasPrefix(a.contentType, "application/json") {
		t.Errorf("bad token: HTTP %d %s %s", a.status, a.contentType, a.raw)
	}
}

// TestBatches: a JSON array of up to --max-batch operations is answered with
// an array of results; more (or any, with --max-batch 0) is a 400.
func TestBatches(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, logs := startLogged(t, b, func(c *app.Config) { c.MaxBatch = 3 })
			alice := in.Account("alice", false)
			a := send(t, in, "POST", "application/json", "", alice, `[
				{"query":"mutation { createOrganization(input: {name: \"Batched\"}) { slug } }"},
				{"query":"{ organizations { totalCount } }"},
				{"query":"{ nope }"}]`)
			if a.status != 200 || len(a.batch) != 3 ||
				testutil.Str(a.batch[0], "data", "createOrganization", "slug") != "batched" ||
				testutil.Get(a.batch[1], "data", "organizations", "totalCount") != float64(1) ||
				testutil.Str(a.batch[2], "errors", 0, "extensions", "code") != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("batch: HTTP %d %s", a.status, a.raw)
			}
			for name, body := range map[string]string{
				"four operations": strings.Repeat(`{"query":"{ __typename }"},`, 3) + `{"query":"{ __typename }"}`,
				"empty":           ``,
				"not objects":     `1, 2`,
				"no query":        `{"query":"{ __typename }"}, {"variables":{}}`,
			} {
				a := send(t, in, "POST", "application/json", "", alice, "["+body+"]")
				if a.status != 400 || a.code() != "BAD_USER_INPUT" {
					t.Errorf("batch %s: HTTP %d %s", name, a.status, a.raw)
				}
			}
			noErrorLogged(t, logs)
		})
	}
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) { c.MaxBatch = 0 })
	if a := send(t, in, "POST", "application/json", "", "", `[{"query":"{ __typename }"}]`); a.status != 400 || a.code() != "BAD_USER_INPUT" {
		t.Fatalf("batch with --max-batch 0: HTTP %d %s", a.status, a.raw)
	}
}

// filterOf returns a where filter of n predicates joined by op ("or", "and").

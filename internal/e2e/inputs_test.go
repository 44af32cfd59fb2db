package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/internal/testutil"
)

func filterOf(op string, n int) map[string]any {
	entries := make([]any, n)
	for i := range entries {
		entries[i] = map[string]any{"nameNEQ": fmt.Sprintf("n%d", i)}
	}
	return map[string]any{op: entries}
}

// TestInputCaps: the caps on ids, filter lists, and/or, filter nesting and
// size; what is within them runs on both back ends, what is over is refused.
func TestInputCaps(t *testing.T) {
	const list = `query($w: OrganizationWhereInput) { organizations(where: $w) { totalCount } }`
	const nested = `query($w: OrganizationWhereInput) { viewer { memberships { edges { node { organization { children(where: $w) { totalCount } } } } } } }`
	names := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = fmt.Sprintf("name %d", i)
		}
		return out
	}
	ids := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = uuid.NewString()
		}
		return out
	}
	nest := func(depth int) map[string]any {
		w := map[string]any{"nameNEQ": "x"}
		for range depth - 1 {
			w = map[string]any{"hasChildrenWith": []any{w}}
		}
		return w
	}
	// the largest filter the caps let through: 1 + 100 entries, the first of
	// which holds 100 more, and 1000 values in one list (497 terms)
	largest := filterOf("or", 100)
	inner := filterOf("or", 98)
	inner["nameIn"] = names(1000)
	largest["or"].([]any)[0] = inner
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, logs := startLogged(t, b)
			alice := in.Account("alice", false)
			acme := testutil.Str(in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "Acme"}}), "createOrganization", "id")
			settings := func(depth int) map[string]any {
				var v any = "leaf"
				for range depth {
					v = []any{v}
				}
				return map[string]any{"id": acme, "in": map[string]any{"settings": map[string]any{"deep": v}}}
			}
			const update = `mutation($id: ID!, $in: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $in) { id } }`
			in.MustDo(alice, update, settings(50))
			// 100 ids of nothing: each is NOT_FOUND, none is refused
			r := in.Do(alice, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids(100)})
			if r.Status != 200 || len(r.Errors) != 100 || r.Code() != "NOT_FOUND" {
				t.Errorf("100 ids: HTTP %d %.300s", r.Status, r.Raw)
			}
			for name, c := range map[string]struct {
				query string
				vars  map[string]any
			}{
				"1000 values":              {list, map[string]any{"w": map[string]any{"nameIn": names(1000)}}},
				"1000 values, not in":      {list, map[string]any{"w": map[string]any{"slugNotIn": names(1000)}}},
				"or of 100":                {list, map[string]any{"w": filterOf("or", 100)}},
				"and of 100":               {list, map[string]any{"w": filterOf("and", 100)}},
				"10 levels":                {list, map[string]any{"w": nest(10)}},
				"10 levels, nested field":  {nested, map[string]any{"w": nest(10)}},
				"the largest filter":       {list, map[string]any{"w": largest}},
				"the largest filter, deep": {nested, map[string]any{"w": largest}},
			} {
				if r := in.Do(alice, c.query, c.vars); r.Status != 200 || len(r.Errors) > 0 {
					t.Errorf("%s: HTTP %d %.300s", name, r.Status, r.Raw)
				}
			}
			tooLarge := filterOf("or", 100)
			tooLarge["or"].([]any)[0] = filterOf("or", 100)
			tooLarge["or"].([]any)[1] = filterOf("or", 100)
			spread := filterOf("or", 3)
			for i := range 3 {
				spread["or"].([]any)[i] = map[string]any{"nameIn": names(400)}
			}
			for name, c := range map[string]struct {
				query string
				vars  map[string]any
			}{
				"101 ids":                  {`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids(101)}},
				"50 000 values":            {list, map[string]any{"w": map[string]any{"nameIn": names(50_000)}}},
				"1001 values":              {list, map[string]any{"w": map[string]any{"idNotIn": ids(1001)}}},
				"1200 values in all":       {list, map[string]any{"w": spread}},
				"or of 20 000":             {list, map[string]any{"w": filterOf("or", 20_000)}},
				"and of 101":               {list, map[string]any{"w": filterOf("and", 101)}},
				"11 levels":                {list, map[string]any{"w": nest(11)}},
				"200 levels":               {list, map[string]any{"w": nest(200)}},
				"200 levels, nested field": {nested, map[string]any{"w": nest(200)}},
				"600 terms":                {list, map[string]any{"w": tooLarge}},
				"settings 100 deep":        {update, settings(100)},
				"in a literal":             {`{ organizations(where: {or: [{name: "a"}, {or: [{nameIn: ["a", "b"]}, {not: {}}]}]}) { totalCount } }`, nil},
			} {
				if r := in.Do(alice, c.query, c.vars); r.Status != 200 || r.Code() != "BAD_USER_INPUT" {
					t.Errorf("%s: HTTP %d %.300s", name, r.Status, r.Raw)
				}
			}
			// variables of more than 1000 objects are refused before gqlparser
			// coerces them (0.1 ms for each where input)
			if r := in.Do(alice, list, map[string]any{"w": filterOf("or", 1000)}); r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "variables hold more than 1000 objects") {
				t.Errorf("1001 objects in variables: HTTP %d %.300s", r.Status, r.Raw)
			}
			noErrorLogged(t, logs)
		})
	}
}

// TestTextWithoutNUL: a NUL or invalid UTF-8 in any string, wherever it is
// sent, is BAD_USER_INPUT on both back ends, and nothing is written.
func TestTextWithoutNUL(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in, logs := startLogged(t, b)
			alice := in.Account("alice", false)
			org := testutil.Str(in.MustDo(alice, createOrg, map[string]any{"in": map[string]any{"name": "Acme"}}), "createOrganization", "id")
			const update = `mutation($id: ID!, $in: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $in) { id } }`
			for name, c := range map[string]struct {
				query string
				vars  map[string]any
			}{
				"name":              {createOrg, map[string]any{"in": map[string]any{"name": "a\x00b"}}},
				"slug":              {createOrg, map[string]any{"in": map[string]any{"name": "ok", "slug": "a\x00"}}},
				"name in a literal": {`mutation { createOrganization(input: {name: "a\u0000b"}) { id } }`, nil},
				"settings value":    {update, map[string]any{"id": org, "in": map[string]any{"settings": map[string]any{"k": []any{"v\x00"}}}}},
				"settings key":      {update, map[string]any{"id": org, "in": map[string]any{"settings": map[string]any{"k\x00": 1}}}},
				"domain":            {update, map[string]any{"id": org, "in": map[string]any{"domains": []any{"a\x00.com"}}}},
				"filter":            {`query($n: String) { organizations(where: {nameContains: $n}) { totalCount } }`, map[string]any{"n": "\x00"}},
				"invite alias":      {`mutation($o: ID!) { inviteMember(organizationId: $o, alias: "bo\u0000b", role: "admin") { id } }`, map[string]any{"o": org}},
			} {
				if r := in.Do(alice, c.query, c.vars); r.Status != 200 || r.Code() != "BAD_USER_INPUT" {
					t.Errorf("%s: HTTP %d %.300s", name, r.Status, r.Raw)
				}
			}
			// invalid UTF-8 in the body
			a := send(t, in, "POST", "application/json", "", alice, "{\"query\":\"mutation { createOrganization(input: {name: \\\"a\xc3\\\"}) { id } }\"}")
			if a.status != 400 || a.code() != "BAD_USER_INPUT" {
				t.Errorf("invalid UTF-8: HTTP %d %s", a.status, a.raw)
			}
			a = send(t, in, "GET", "", "", alice, "query="+url.QueryEscape(`query($n: String) { organizations(where: {name: $n}) { totalCount } }`)+"&variables=%7B%22n%22%3A%22%FF%22%7D")
			if a.status != 400 || a.code() != "BAD_USER_INPUT" {
				t.Errorf("invalid UTF-8 over GET: HTTP %d %s", a.status, a.raw)
			}
			if n := testutil.Get(in.MustDo(alice, `{ organizations { totalCount } }`, nil), "organizations", "totalCount"); n != float64(1) {
				t.Fatalf("%v orgs after the refused writes, want 1", n)
			}
			noErrorLogged(t, logs)
		})
	}
}

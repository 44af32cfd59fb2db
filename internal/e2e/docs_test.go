package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/internal/testutil"
)

// docPath is the integrators' contract whose examples TestDocsAuthorization runs (SPEC §5).
const docPath = "../../docs/authorization.md"

// docAccounts are the callers the fixture of the doc creates, in order.
var docAccounts = []string{"alice", "bob", "carol", "dave", "sam", "mallory"}

// docVariables are the fixture values a doc example may declare as variables.
var docVariables = []string{"acme", "acmeEu", "acmeLab", "acmeLegacy", "globex", "invitation", "missing"}

// docExample is one ```graphql block of the doc and the ```json answer right after it.
type docExample struct {
	line   int
	caller string   // an alias, or alias@variable for a token with that org context
	expect []string // nil for "ok"; one extensions.code for every error, or one per error
	query  string
	vars   []string
	answer any // nil when the doc shows no answer
}

var (
	docHeader = regexp.MustCompile(`^#\s*as:\s*([a-z][a-z0-9._-]*)(?:@([A-Za-z]+))?\s+expect:\s*(ok|[A-Z][A-Z_]*(?:\s*,\s*[A-Z][A-Z_]*)*)\s*$`)
	docVarRef = regexp.MustCompile(`\$([A-Za-z]+)`)
)

type fencedBlock struct {
	lang        string
	start       int // line number (1-based) of the opening fence
	body        string
	blankBefore bool // only blank lines separate it from the previous block
}

// readFencedBlocks splits a markdown file into its fenced code blocks.
func readFencedBlocks(t *testing.T, path string) []fencedBlock {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var blocks []fencedBlock
	var cur *fencedBlock
	var body []string
	onlyBlank, lastEnd := true, 0
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &fencedBlock{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), start: n, blankBefore: onlyBlank && lastEnd > 0}
			body = nil
		case cur != nil && trimmed == "```":
			cur.body = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur, onlyBlank, lastEnd = nil, true, n
		case cur != nil:
			body = append(body, line)
		case trimmed != "":
			onlyBlank = false
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block never closed", path, cur.start)
	}
	return blocks
}

// parseDocExamples reads the runnable examples of the doc, failing on any
// block it cannot parse.
func parseDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	blocks := readFencedBlocks(t, path)
	var out []docExample
	for i, b := range blocks {
		where := fmt.Sprintf("%s:%d", path, b.start)
		switch {
		case b.lang == "json":
			var v any
			if err := json.Unmarshal([]byte(b.body), &v); err != nil {
				t.Fatalf("%s: json block does not parse: %v", where, err)
			}
			continue
		case (b.lang != "graphql" && strings.Contains(strings.ToLower(b.lang), "graphql")) || strings.EqualFold(b.lang, "gql"):
			t.Fatalf("%s: write GraphQL examples as ```graphql blocks, not ```%s", where, b.lang)
		case b.lang != "graphql":
			continue
		}
		first, query, _ := strings.Cut(b.body, "\n")
		m := docHeader.FindStringSubmatch(strings.TrimSpace(first))
		if m == nil {
			t.Fatalf("%s: the first line must be `# as: <alias>[@<org variable>] expect: <ok|CODE[, CODE…]>`, got %q", where, first)
		}
		ex := docExample{line: b.start, caller: m[1], query: query}
		if m[3] != "ok" {
			for _, c := range strings.Split(m[3], ",") {
				ex.expect = append(ex.expect, strings.TrimSpace(c))
			}
		}
		if !slices.Contains(docAccounts, m[1]) {
			t.Fatalf("%s: caller %q is not in the fixture %v", where, m[1], docAccounts)
		}
		if m[2] != "" {
			if !slices.Contains(docVariables, m[2]) {
				t.Fatalf("%s: token org %q is not a fixture variable %v", where, m[2], docVariables)
			}
			ex.caller += "@" + m[2]
		}
		doc, err := parser.ParseQuery(&ast.Source{Name: where, Input: query})
		if err != nil {
			t.Fatalf("%s: GraphQL does not parse: %v", where, err)
		}
		if len(doc.Operations) != 1 {
			t.Fatalf("%s: want exactly one operation, got %d", where, len(doc.Operations))
		}
		for _, v := range doc.Operations[0].VariableDefinitions {
			if !slices.Contains(docVariables, v.Variable) {
				t.Fatalf("%s: variable $%s is not in the fixture %v", where, v.Variable, docVariables)
			}
			ex.vars = append(ex.vars, v.Variable)
		}
		if i+1 < len(blocks) && blocks[i+1].lang == "json" && blocks[i+1].blankBefore {
			if err := json.Unmarshal([]byte(blocks[i+1].body), &ex.answer); err != nil {
				t.Fatalf("%s:%d: answer does not parse: %v", path, blocks[i+1].start, err)
			}
			if err := checkDocRefs(ex.answer); err != nil {
				t.Fatalf("%s:%d: %v", path, blocks[i+1].start, err)
			}
		}
		out = append(out, ex)
	}
	return out
}

// checkDocRefs: every $name in an answer's strings is a fixture variable.
func checkDocRefs(v any) error {
	switch x := v.(type) {
	case string:
		for _, m := range docVarRef.FindAllStringSubmatch(x, -1) {
			if !slices.Contains(docVariables, m[1]) {
				return fmt.Errorf("$%s is not a fixture variable %v", m[1], docVariables)
			}
		}
	case []any:
		for _, e := range x {
			if err := checkDocRefs(e); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range x {
			if err := checkDocRefs(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// docMatch reports where got differs from the documented answer want: every
// key of want must be in got with a matching value, arrays have exactly
// want's elements (the errors in any order: a query's fields resolve
// concurrently), "…" matches any value, and $name in strings is the
// fixture's value.
func docMatch(path string, want, got any, fixture map[string]string) []string {
	if w, ok := want.([]any); ok && path == "answer.errors" {
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d errors, got %v", path, len(w), got)}
		}
		used := make([]bool, len(g))
		var out []string
	next:
		for i := range w {
			var first []string
			for j := range g {
				if used[j] {
					continue
				}
				diff := docMatch(fmt.Sprintf("%s[%d]", path, i), w[i], g[j], fixture)
				if len(diff) == 0 {
					used[j] = true
					continue next
				}
				if first == nil {
					first = diff
				}
			}
			out = append(out, fmt.Sprintf("%s[%d]: no error matches; against the first unmatched one: %s", path, i, strings.Join(first, "; ")))
		}
		return out
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %v", path, got)}
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, docMatch(path+"."+k, w[k], gv, fixture)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d elements, got %v", path, len(w), got)}
		}
		var out []string
		for i := range w {
			out = append(out, docMatch(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], fixture)...)
		}
		return out
	case string:
		if w == "…" {
			return nil
		}
		w = docVarRef.ReplaceAllStringFunc(w, func(ref string) string { return fixture[ref[1:]] })
		if got != w {
			return []string{fmt.Sprintf("%s: want %q, got %v", path, w, got)}
		}
		return nil
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: want %v, got %v", path, want, got)}
	}
	return nil
}

// docFixture builds the fixture the doc describes at its top, returning the
// tokens by alias and the values of the variables.
func docFixture(t *testing.T, in *testutil.Instance) (map[string]string, map[string]string) {
	t.Helper()
	tokens := map[string]string{}
	for _, a := range docAccounts {
		tokens[a] = in.Account(a, false)
	}
	alice := tokens["alice"]
	fx := map[string]string{"missing": uuid.NewString()}
	fx["acme"] = mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
	fx["acmeEu"] = mustCreate(t, in, alice, map[string]any{"name": "Acme EU", "parentId": fx["acme"]})["id"].(string)
	fx["acmeLab"] = mustCreate(t, in, alice, map[string]any{"name": "Acme Lab", "parentId": fx["acme"]})["id"].(string)
	fx["acmeLegacy"] = mustCreate(t, in, alice, map[string]any{"name": "Acme Legacy", "parentId": fx["acme"]})["id"].(string)
	in.MustDo(alice, `mutation($lab: ID!, $old: ID!) {
		createApplication(organizationId: $lab, name: "lab-web", kind: WEB) { id }
		updateOrganization(id: $lab, input: {capabilities: ["core"]}) { id }
		retireOrganization(id: $old) { id }
	}`, map[string]any{"lab": fx["acmeLab"], "old": fx["acmeLegacy"]})
	fx["globex"] = mustCreate(t, in, tokens["mallory"], map[string]any{"name": "Globex"})["id"].(string)
	in.Grant("bob", fx["acme"], "viewer")
	in.Grant("sam", fx["acmeEu"], "member")
	in.Grant("sam", fx["globex"], "viewer")
	fx["invitation"] = testutil.Str(in.MustDo(alice, `mutation($o: ID!) { inviteMember(organizationId: $o, alias: "carol", role: "viewer") { id } }`,
		map[string]any{"o": fx["acme"]}), "inviteMember", "id")
	return tokens, fx
}

// TestDocsAuthorization runs every GraphQL example of docs/authorization.md,
// in order, against the fixture the doc describes, on both back ends, and
// checks the documented outcome: the expected code and the answer shown.
func TestDocsAuthorization(t *testing.T) {
	examples := parseDocExamples(t, docPath)
	if len(examples) < 20 {
		t.Fatalf("%s has %d runnable examples; expected at least 20 (a broken fence drops them)", docPath, len(examples))
	}
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			tokens, fx := docFixture(t, in)
			for _, ex := range examples {
				where := fmt.Sprintf("docs/authorization.md:%d (as %s)", ex.line, ex.caller)
				token, ok := tokens[ex.caller]
				if !ok {
					alias, org, _ := strings.Cut(ex.caller, "@")
					token = in.Token(alias, fx[org])
					tokens[ex.caller] = token
				}
				vars := map[string]any{}
				for _, v := range ex.vars {
					vars[v] = fx[v]
				}
				r := in.Do(token, ex.query, vars)
				// GraphQL over HTTP with application/json: 200, whether the
				// document was executed or failed validation.
				status := http.StatusOK
				if r.Status != status {
					t.Errorf("%s: HTTP %d, want %d: %s", where, r.Status, status, r.Raw)
					continue
				}
				var codes []string
				for _, e := range r.Errors {
					c, _ := e.Extensions["code"].(string)
					codes = append(codes, c)
				}
				want := slices.Clone(ex.expect)
				if len(want) == 1 && len(codes) > 0 {
					want = slices.Repeat(want, len(codes))
				}
				slices.Sort(codes)
				slices.Sort(want)
				if !slices.Equal(codes, want) {
					t.Errorf("%s: documented error codes %v, got %v: %s", where, ex.expect, codes, r.Raw)
					continue
				}
				if ex.answer == nil {
					continue
				}
				var got any
				if err := json.Unmarshal(r.Raw, &got); err != nil {
					t.Fatalf("%s: answer is not JSON: %v", where, err)
				}
				if diff := docMatch("answer", ex.answer, got, fx); len(diff) > 0 {
					t.Errorf("%s: the answer differs from the documented one:\n  %s\ngot: %s", where, strings.Join(diff, "\n  "), r.Raw)
				}
			}

			// §7: mallory's probe at Acme went to the platform's trail (an event
			// without an org), which no GraphQL field reads.
			ctx, db := in.Fixture()
			n, err := db.AuditEvent.Query().Where(auditevent.Action("authz.denied"), auditevent.Actor("mallory"),
				auditevent.OrganizationIDIsNil(), auditevent.ResourceID(fx["acme"])).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("docs/authorization.md §7: mallory's probe at Acme should be one authz.denied event in the platform's trail, found %d", n)
			}
		})
	}
}

package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

var meterSchema = gqlparser.MustLoadSchema(&ast.Source{Input: `
	type Query { a: Int, list(first: Int): [Item!]! }
	type Item { a: Int, list(first: Int): [Item!]! }
`})

// fragmentBomb is query { ...F0 } with F(i) spreading F(i+1) twice, n fragments.
func fragmentBomb(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n - 1 {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n-1)
	return b.String()
}

func TestMeterIsLinearInTheDocument(t *testing.T) {
	doc, err := gqlparser.LoadQuery(meterSchema, fragmentBomb(64))
	if err != nil {
		t.Fatal(err)
	}
	m := newMeter(nil)
	depth, cost := m.measure(doc.Operations[0].SelectionSet)
	if cost != costCap || depth != 1 {
		t.Fatalf("depth %d, cost %d; want 1 and the cap %d", depth, cost, costCap)
	}
	// one visit per selection written in the document: 1 + 2×63 + 1
	if m.visits != 128 {
		t.Fatalf("%d selections visited, want 128 (each fragment measured once)", m.visits)
	}
}

func TestMeterCounts(t *testing.T) {
	for q, want := range map[string]size{
		`{ a }`: {1, 1},
		`{ list(first: 10) { a list(first: 5) { a } } }`:                                            {3, 1 + 10*(1+1+5*1)},
		`query($n: Int) { list(first: $n) { a } }`:                                                  {2, 1 + 7*1},
		`{ ...F ...F } fragment F on Query { list(first: 3) { ... on Item { a } } }`:                {2, 2 * (1 + 3)},
		`{ list { ...I } } fragment I on Item { list(first: 2) { ...J } } fragment J on Item { a }`: {3, 1 + (1 + 2)},
	} {
		doc, err := gqlparser.LoadQuery(meterSchema, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		depth, cost := newMeter(map[string]any{"n": int64(7)}).measure(doc.Operations[0].SelectionSet)
		if (size{depth, cost}) != want {
			t.Errorf("%s: depth %d cost %d, want %v", q, depth, cost, want)
		}
	}
}

// nestedRepeats is a field with a selection set written k times at each of d levels.
func nestedRepeats(k, d int) string {
	inner := "a"
	for range d {
		inner = strings.Repeat("list { "+inner+" } ", k)
	}
	return "{ " + inner + " }"
}

func TestDocumentLimits(t *testing.T) {
	l := documentLimits{maxFragments: 100, maxRepeats: 100, tokenLimit: 20000, passed: lru.New[struct{}](10)}
	ctx := graphql.StartOperationTrace(context.Background())
	check := func(q string) *gqlerror.Error {
		start := time.Now()
		err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: q})
		if d := time.Since(start); d > time.Second {
			t.Errorf("checking %.40s… took %s", q, d)
		}
		return err
	}
	for name, q := range map[string]string{
		"one field 10 000 times":       "{ " + strings.Repeat("a ", 10000) + "}",
		"a list 4 times at 5 levels":   nestedRepeats(4, 5),
		"inline fragments":             "{ " + strings.Repeat("... on Query { a } ", 500) + "}",
		"one spread 6000 times":        "{ " + strings.Repeat("...F ", 6000) + "} fragment F on Query { a }",
		"101 fragments":                fragmentBomb(101),
		"aliases repeated":             "{ " + strings.Repeat("x: a ", 200) + "}",
		"repeats spread over the tree": "{ " + strings.Repeat("list { a a } ", 101) + "}",
	} {
		if err := check(q); err == nil || err.Extensions["code"] != "QUERY_TOO_COMPLEX" {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, q := range map[string]string{
		"100 fragments":              fragmentBomb(100),
		"100 repeats":                "{ " + strings.Repeat("a ", 101) + "}",
		"distinct aliases":           "{ x: a y: a a }",
		"the same key in other sets": "{ list { a } list2: list { a } list3: list { a } }",
		"a syntax error":             "{ a ",
	} {
		if err := check(q); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// BenchmarkValidateWithinDocumentLimits is the worst shapes the document
// limits let through, parsed and validated by gqlparser: what validation can
// cost before the cost analysis runs.
func BenchmarkValidateWithinDocumentLimits(b *testing.B) {
	for name, q := range map[string]string{
		"bomb of 100 fragments": fragmentBomb(100),
		"100 repeats":           "{ " + strings.Repeat("a ", 101) + "}",
		"2 lists at 6 levels":   nestedRepeats(2, 6),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := gqlparser.LoadQuery(meterSchema, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

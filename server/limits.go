package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/orgraph/orgraph/internal/apperr"
)

// queryLimits refuses operations that are too deep or too costly before they
// run. Cost multiplies through lists by their first/last argument, so
// children(first: 100) { children(first: 100) } counts 10 000 nodes.
type queryLimits struct {
	maxDepth      int
	maxComplexity int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = queryLimits{}

func (queryLimits) ExtensionName() string                   { return "QueryLimits" }
func (queryLimits) Validate(graphql.ExecutableSchema) error { return nil }
func (l queryLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	depth, cost := newMeter(oc.Variables).measure(oc.Operation.SelectionSet)
	if l.maxDepth > 0 && depth > l.maxDepth {
		return tooComplex("query depth %d exceeds the limit of %d", depth, l.maxDepth)
	}
	if l.maxComplexity > 0 && cost > l.maxComplexity {
		return tooComplex("query complexity %d exceeds the limit of %d", cost, l.maxComplexity)
	}
	return nil
}

func tooComplex(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(apperr.QueryTooComplex)}
	return err
}

const costCap = 1 << 40

// size is the depth (levels of fields) and cost of a selection set.
type size struct{ depth, cost int }

// meter measures a document in time linear in its size: the selection set of
// each fragment is measured once, and every spread of it reuses that size (a
// fragment's depth and cost do not depend on where it is spread, only on the
// variables, which are the same everywhere in one operation).
type meter struct {
	vars      map[string]any
	fragments map[string]size
	visits    int // selections looked at, for tests
}

func newMeter(vars map[string]any) *meter {
	return &meter{vars: vars, fragments: map[string]size{}}
}

// measure returns the depth and cost of a selection set.
func (m *meter) measure(set ast.SelectionSet) (depth, cost int) {
	s := m.size(set)
	return s.depth, s.cost
}

func (m *meter) size(set ast.SelectionSet) size {
	var total size
	for _, sel := range set {
		m.visits++
		var s size
		switch sel := sel.(type) {
		case *ast.Field:
			child := m.size(sel.SelectionSet)
			s = size{depth: 1 + child.depth, cost: 1 + mulCap(multiplier(sel, m.vars), child.cost)}
		case *ast.InlineFragment:
			s = m.size(sel.SelectionSet)
		case *ast.FragmentSpread:
			s = m.fragment(sel)
		}
		total.depth = max(total.depth, s.depth)
		total.cost = min(total.cost+s.cost, costCap)
	}
	return total
}

func (m *meter) fragment(spread *ast.FragmentSpread) size {
	if s, ok := m.fragments[spread.Name]; ok {
		return s
	}
	if spread.Definition == nil {
		return size{}
	}
	// Validation refuses fragment cycles; should one get here, it counts nothing.
	m.fragments[spread.Name] = size{}
	s := m.size(spread.Definition.SelectionSet)
	m.fragments[spread.Name] = s
	return s
}

// mulCap multiplies two costs of at most costCap, saturating at costCap.
func mulCap(a, b int) int {
	if a != 0 && b > costCap/a {
		return costCap
	}
	return a * b
}

func multiplier(f *ast.Field, vars map[string]any) int {
	for _, name := range []string{"first", "last"} {
		if a := f.Arguments.ForName(name); a != nil {
			v, err := a.Value.Value(vars)
			if n, ok := v.(int64); err == nil && ok && n > 0 {
				return int(min(n, 1<<20))
			}
		}
	}
	return 1
}

// documentLimits refuses, before gqlgen validates a document, the shapes
// that make validation itself slow: gqlparser's OverlappingFieldsCanBeMerged
// compares every pair of fields that share a response key, recursively, and
// every pair of fragments, so a 20 KB document of one field repeated (or of
// fields repeated at each of a few levels, or of many fragments) costs
// seconds of CPU before any limit above is asked. A document may define at
// most maxFragments fragments, and repeat a response key or a fragment spread
// within one selection set (inline fragments merged into it) at most
// maxRepeats times in all. The document is parsed (in linear time, under the
// parser's token limit) once per distinct text.
type documentLimits struct {
	maxFragments int
	maxRepeats   int
	tokenLimit   int
	passed       graphql.Cache[struct{}]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }
func (l documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.maxFragments <= 0 && l.maxRepeats <= 0 {
		return nil
	}
	if _, ok := l.passed.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, l.tokenLimit)
	if err != nil {
		return nil // gqlgen parses it again and says why it does not parse
	}
	if l.maxFragments > 0 && len(doc.Fragments) > l.maxFragments {
		return tooComplex("the document defines %d fragments; at most %d are accepted", len(doc.Fragments), l.maxFragments)
	}
	repeats := 0
	for _, op := range doc.Operations {
		repeats += repeatsIn(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		repeats += repeatsIn(f.SelectionSet)
	}
	if l.maxRepeats > 0 && repeats > l.maxRepeats {
		return tooComplex("the document repeats a field or fragment within a selection set %d times; at most %d are accepted", repeats, l.maxRepeats)
	}
	l.passed.Add(ctx, p.Query, struct{}{})
	return nil
}

// repeatsIn counts the selections of set (inline fragments merged into it)
// whose response key or fragment is already selected there, and those of
// every selection set below.
func repeatsIn(set ast.SelectionSet) int {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) int
	walk = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			var key string
			switch sel := sel.(type) {
			case *ast.Field:
				key = sel.Alias
				if key == "" {
					key = sel.Name
				}
				n += repeatsIn(sel.SelectionSet)
			case *ast.FragmentSpread:
				key = "..." + sel.Name
			case *ast.InlineFragment:
				n += walk(sel.SelectionSet)
				continue
			}
			if seen[key] {
				n++
			}
			seen[key] = true
		}
		return n
	}
	return walk(set)
}

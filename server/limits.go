package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
	depth, cost := measure(oc.Operation.SelectionSet, oc.Variables, 1)
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
	err.Extensions = map[string]any{"code": "QUERY_TOO_COMPLEX"}
	return err
}

const costCap = 1 << 40

// measure returns the depth and cost of a selection set.
func measure(set ast.SelectionSet, vars map[string]any, level int) (depth, cost int) {
	depth = level - 1
	for _, sel := range set {
		var d, c int
		switch s := sel.(type) {
		case *ast.Field:
			childDepth, childCost := measure(s.SelectionSet, vars, level+1)
			d, c = max(level, childDepth), 1+multiplier(s, vars)*childCost
		case *ast.InlineFragment:
			d, c = measure(s.SelectionSet, vars, level)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d, c = measure(s.Definition.SelectionSet, vars, level)
			}
		}
		depth = max(depth, d)
		cost = min(cost+c, costCap)
	}
	return depth, cost
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

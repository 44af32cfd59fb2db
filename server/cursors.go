package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/orgraph/orgraph/ent"
)

// cursorArgs refuses a malformed cursor before anything runs. entgql's field
// collection reads the raw after/before of nested connections and, when one
// does not decode, goes on with the string where it expects a cursor (a
// panic, found by FuzzCursor); the top-level connections fail on it later.
// Each fragment is looked at once, however often it is spread.
type cursorArgs struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = cursorArgs{}

func (cursorArgs) ExtensionName() string                   { return "CursorArguments" }
func (cursorArgs) Validate(graphql.ExecutableSchema) error { return nil }
func (cursorArgs) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) *gqlerror.Error
	walk = func(set ast.SelectionSet) *gqlerror.Error {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				for _, a := range s.Arguments {
					if err := checkCursor(s, a, oc.Variables); err != nil {
						return err
					}
				}
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.InlineFragment:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.FragmentSpread:
				if s.Definition != nil && !seen[s.Name] {
					seen[s.Name] = true
					if err := walk(s.Definition.SelectionSet); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return walk(oc.Operation.SelectionSet)
}

func checkCursor(f *ast.Field, a *ast.Argument, vars map[string]any) *gqlerror.Error {
	if a.Value == nil || a.Value.ExpectedType == nil || a.Value.ExpectedType.Name() != "Cursor" {
		return nil
	}
	v, err := a.Value.Value(vars)
	if err != nil || v == nil {
		return nil // the validator has answered for these
	}
	if err := new(ent.Cursor).UnmarshalGQL(v); err != nil {
		e := gqlerror.ErrorPosf(a.Position, "malformed cursor in %s(%s:): pass a cursor this API returned (edges.cursor, pageInfo.startCursor or endCursor)", f.Name, a.Name)
		e.Extensions = map[string]any{"code": "BAD_USER_INPUT"}
		return e
	}
	return nil
}

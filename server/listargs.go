package server

import (
	"context"
	"reflect"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// listArgs gives every list argument to field collection as a list. GraphQL
// lets a client pass a single value where a list is expected (orderBy:
// {field: NAME} for orderBy: [OrganizationOrder!]). gqlgen coerces it for
// resolvers, but entgql's field collection reads the raw argument and
// ignores an orderBy that is not a list, so an eager-loaded edge such as
// children(orderBy: {field: NAME}) would come back unsorted.
type listArgs struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = listArgs{}

func (listArgs) ExtensionName() string                   { return "ListArguments" }
func (listArgs) Validate(graphql.ExecutableSchema) error { return nil }
func (listArgs) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Doc == nil {
		return nil
	}
	// Variables belong to this request; the validator wraps a single value in
	// a typed slice ([]map[string]any) that field collection does not read.
	for _, d := range oc.Operation.VariableDefinitions {
		v := reflect.ValueOf(oc.Variables[d.Variable])
		if d.Type.Elem != nil && v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Interface {
			list := make([]any, v.Len())
			for i := range list {
				list[i] = v.Index(i).Interface()
			}
			oc.Variables[d.Variable] = list
		}
	}
	// The document is shared through the query cache: what changes is copied.
	op := oc.Operation
	if set, ok := listArgsIn(op.SelectionSet); ok {
		c := *op
		c.SelectionSet = set
		op = &c
	}
	var frags ast.FragmentDefinitionList
	for i, f := range oc.Doc.Fragments {
		if set, ok := listArgsIn(f.SelectionSet); ok {
			if frags == nil {
				frags = slices.Clone(oc.Doc.Fragments)
			}
			c := *f
			c.SelectionSet = set
			frags[i] = &c
		}
	}
	if op == oc.Operation && frags == nil {
		return nil
	}
	doc := *oc.Doc
	doc.Operations = slices.Clone(doc.Operations)
	for i, o := range doc.Operations {
		if o == oc.Operation {
			doc.Operations[i] = op
		}
	}
	if frags != nil {
		doc.Fragments = frags
	}
	oc.Doc, oc.Operation = &doc, op
	return nil
}

// listArgsIn returns set with single values for list arguments wrapped in
// lists, and whether anything changed (set itself is left as it is).
func listArgsIn(set ast.SelectionSet) (ast.SelectionSet, bool) {
	var out ast.SelectionSet
	for i, sel := range set {
		var changed ast.Selection
		switch s := sel.(type) {
		case *ast.Field:
			args, argsChanged := listArgsOf(s.Arguments)
			sub, subChanged := listArgsIn(s.SelectionSet)
			if argsChanged || subChanged {
				c := *s
				c.Arguments, c.SelectionSet = args, sub
				changed = &c
			}
		case *ast.InlineFragment:
			if sub, ok := listArgsIn(s.SelectionSet); ok {
				c := *s
				c.SelectionSet = sub
				changed = &c
			}
		}
		if changed != nil {
			if out == nil {
				out = slices.Clone(set)
			}
			out[i] = changed
		}
	}
	if out == nil {
		return set, false
	}
	return out, true
}

func listArgsOf(args ast.ArgumentList) (ast.ArgumentList, bool) {
	var out ast.ArgumentList
	for i, a := range args {
		v := a.Value
		if v == nil || v.ExpectedType == nil || v.ExpectedType.Elem == nil ||
			v.Kind == ast.ListValue || v.Kind == ast.Variable || v.Kind == ast.NullValue {
			continue
		}
		item := *v
		item.ExpectedType = v.ExpectedType.Elem
		c := *a
		c.Value = &ast.Value{Kind: ast.ListValue, Children: ast.ChildValueList{{Value: &item, Position: v.Position}},
			Position: v.Position, ExpectedType: v.ExpectedType, Definition: v.Definition}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = &c
	}
	if out == nil {
		return args, false
	}
	return out, true
}

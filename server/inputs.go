package server

import (
	"context"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/orgraph/orgraph/internal/apperr"
)

// InputLimits caps what the arguments of one field may hold; 0 is no cap.
type InputLimits struct {
	// IDs: values of a list argument named ids (nodes(ids:)).
	IDs int
	// InValues: values of one list of a where input (the *In and *NotIn
	// predicates), and of all the lists of one where argument together, so
	// that no statement nears a database's limit of bound parameters.
	InValues int
	// FilterEntries: entries of one and/or list of a where input.
	FilterEntries int
	// FilterDepth: how deep where inputs nest (not, and, or, has*With).
	FilterDepth int
	// FilterTerms: where inputs and predicates in one where argument, so that
	// no SQL expression nears a database's limit of nesting.
	FilterTerms int
	// VariableObjects: JSON objects in the variables of one operation,
	// counted before gqlparser coerces them (which costs some 0.1 ms for
	// each where input).
	VariableObjects int
}

// inputLimits checks the arguments of every field of an operation before it
// runs, whatever the field, so that a new field is covered without anyone
// remembering: the caps of InputLimits; a where input inside another one is
// not empty (ent refuses {} there); a Cursor decodes to a scalar position;
// and every string, wherever it is (Map values and keys included), is UTF-8
// without NUL (PostgreSQL refuses NUL in text, SQLite would store it). The
// document is walked once (each fragment once), with the variables.
type inputLimits struct {
	InputLimits
	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = &inputLimits{}

func (*inputLimits) ExtensionName() string { return "InputLimits" }
func (l *inputLimits) Validate(s graphql.ExecutableSchema) error {
	l.schema = s.Schema()
	return nil
}

func (l *inputLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.VariableObjects <= 0 {
		return nil
	}
	if n := countObjects(p.Variables, l.VariableObjects); n > l.VariableObjects {
		err := gqlerror.Errorf("the variables hold more than %d objects", l.VariableObjects)
		err.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
		return err
	}
	return nil
}

// countObjects counts the JSON objects in the values of vars, up to just past limit.
func countObjects(vars map[string]any, limit int) int {
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			n++
			for _, e := range v {
				if n > limit {
					return
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				if n > limit {
					return
				}
				walk(e)
			}
		}
	}
	for _, v := range vars {
		walk(v)
	}
	return n
}

func (l *inputLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Doc == nil {
		return nil
	}
	c := &inputCheck{InputLimits: l.InputLimits, schema: l.schema, vars: oc.Variables}
	if err := c.selections(oc.Operation.SelectionSet); err != nil {
		return err
	}
	for _, f := range oc.Doc.Fragments {
		if err := c.selections(f.SelectionSet); err != nil {
			return err
		}
	}
	return nil
}

// maxValueDepth bounds the nesting of any argument value (a Map's JSON
// included); it is far above what a where input may nest.
const maxValueDepth = 64

type inputCheck struct {
	InputLimits
	schema *ast.Schema
	vars   map[string]any

	arg  *ast.Argument
	path ast.Path // inside the argument, for messages
	// orders is how many orders the field's orderBy holds (-1: it has none),
	// which is how many values its cursors hold
	orders int
	// inside one where argument
	whereDepth, terms, values int
}

func (c *inputCheck) selections(set ast.SelectionSet) *gqlerror.Error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			c.orders = c.orderCount(sel)
			for _, a := range sel.Arguments {
				if err := c.argument(a); err != nil {
					return err
				}
			}
			if err := c.selections(sel.SelectionSet); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := c.selections(sel.SelectionSet); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *inputCheck) argument(a *ast.Argument) *gqlerror.Error {
	if a.Value == nil {
		return nil
	}
	v, err := a.Value.Value(c.vars)
	if err != nil {
		return nil // validation has refused it already
	}
	c.arg, c.path = a, ast.Path{ast.PathName(a.Name)}
	if a.Name == "ids" && a.Value.ExpectedType != nil && a.Value.ExpectedType.Elem != nil {
		if n := listLen(v); c.IDs > 0 && n > c.IDs {
			return c.fail("%s holds %d ids; at most %d are accepted", a.Name, n, c.IDs)
		}
	}
	return c.value(v, a.Value.ExpectedType, 0)
}

func (c *inputCheck) fail(format string, args ...any) *gqlerror.Error {
	err := gqlerror.ErrorPosf(c.arg.Position, format, args...)
	err.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
	return err
}

func (c *inputCheck) at(p ast.PathElement) func() {
	c.path = append(c.path, p)
	return func() { c.path = c.path[:len(c.path)-1] }
}

// value checks v, of GraphQL type t (nil: a Map's JSON), nesting levels deep.
func (c *inputCheck) value(v any, t *ast.Type, nesting int) *gqlerror.Error {
	if v == nil {
		return nil
	}
	if nesting > maxValueDepth {
		return c.fail("%s nests deeper than %d levels", c.path, maxValueDepth)
	}
	if s, ok := v.(string); ok {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return c.fail("%s must be UTF-8 text without NUL characters", c.path)
		}
		if t != nil && t.NamedType == "Cursor" {
			return c.cursor(s)
		}
		return nil
	}
	if t != nil && t.Elem != nil {
		return c.list(v, t.Elem, nesting)
	}
	var def *ast.Definition
	if t != nil {
		def = c.schema.Types[t.NamedType]
	}
	if def != nil && def.Kind == ast.InputObject {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		return c.object(m, def, nesting)
	}
	// a Map's JSON, or a scalar
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Array:
		return c.list(v, nil, nesting)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, fv := range m {
			if strings.IndexByte(k, 0) >= 0 || !utf8.ValidString(k) {
				return c.fail("%s: keys must be UTF-8 text without NUL characters", c.path)
			}
			pop := c.at(ast.PathName(k))
			err := c.value(fv, nil, nesting+1)
			pop()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *inputCheck) list(v any, elem *ast.Type, nesting int) *gqlerror.Error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		// a single value given for a list
		return c.value(v, elem, nesting+1)
	}
	c.path = append(c.path, nil)
	defer func() { c.path = c.path[:len(c.path)-1] }()
	for i := range rv.Len() {
		c.path[len(c.path)-1] = ast.PathIndex(i)
		if err := c.value(rv.Index(i).Interface(), elem, nesting+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *inputCheck) object(m map[string]any, def *ast.Definition, nesting int) *gqlerror.Error {
	where := strings.HasSuffix(def.Name, "WhereInput")
	if where {
		if c.whereDepth == 0 {
			c.terms, c.values = 0, 0
		}
		c.whereDepth++
		defer func() { c.whereDepth-- }()
		if c.FilterDepth > 0 && c.whereDepth > c.FilterDepth {
			return c.fail("%s: filters nest at most %d levels deep", c.path, c.FilterDepth)
		}
		set := 0
		for _, fv := range m {
			if fv != nil {
				set++
			}
		}
		if set == 0 && c.whereDepth > 1 {
			return c.fail("%s: an empty filter ({}) is not accepted inside another one", c.path)
		}
		c.terms += 1 + set
		if c.FilterTerms > 0 && c.terms > c.FilterTerms {
			return c.fail("%s: a filter holds at most %d terms (filters and predicates)", c.path[:1], c.FilterTerms)
		}
	}
	for name, fv := range m {
		f := def.Fields.ForName(name)
		if f == nil || fv == nil {
			continue
		}
		pop := c.at(ast.PathName(name))
		err := c.field(fv, f, where, nesting)
		pop()
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *inputCheck) field(v any, f *ast.FieldDefinition, inWhere bool, nesting int) *gqlerror.Error {
	if inWhere && f.Type.Elem != nil {
		n := listLen(v)
		elem := c.schema.Types[f.Type.Elem.NamedType]
		switch {
		case f.Name == "and" || f.Name == "or":
			if c.FilterEntries > 0 && n > c.FilterEntries {
				return c.fail("%s holds %d entries; at most %d are accepted", c.path, n, c.FilterEntries)
			}
		case elem == nil || elem.Kind != ast.InputObject:
			c.values += n
			if c.InValues > 0 && n > c.InValues {
				return c.fail("%s holds %d values; at most %d are accepted", c.path, n, c.InValues)
			}
			if c.InValues > 0 && c.values > c.InValues {
				return c.fail("%s: the lists of a filter hold at most %d values together", c.path[:1], c.InValues)
			}
		}
	}
	return c.value(v, f.Type, nesting+1)
}

func (c *inputCheck) cursor(s string) *gqlerror.Error {
	var cur entgql.Cursor[uuid.UUID]
	if err := cur.UnmarshalGQL(s); err != nil {
		return c.fail("%s is not a cursor this API returned", c.path)
	}
	if cur.Value == nil {
		return nil // a position by id alone
	}
	// a position: the values of the order fields, one for each
	values, ok := cur.Value.([]any)
	if !ok || (c.orders >= 0 && len(values) != c.orders) {
		return c.fail("%s is not a cursor this API returned for this orderBy", c.path)
	}
	for _, v := range values {
		if !cursorScalar(v) {
			return c.fail("%s is not a cursor this API returned", c.path)
		}
	}
	return nil
}

// orderCount returns how many orders the orderBy argument of f holds, -1
// when f has no orderBy argument.
func (c *inputCheck) orderCount(f *ast.Field) int {
	if f.Definition == nil || f.Definition.Arguments.ForName("orderBy") == nil {
		return -1
	}
	a := f.Arguments.ForName("orderBy")
	if a == nil {
		return 0
	}
	v, err := a.Value.Value(c.vars)
	if err != nil || v == nil {
		return 0
	}
	return listLen(v)
}

func cursorScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, time.Time,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

func listLen(v any) int {
	if v == nil {
		return 0
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len()
	}
	return 1
}

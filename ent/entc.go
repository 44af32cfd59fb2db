//go:build ignore

package main

import (
	"log"
	"slices"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/internal/readaction"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("graph/ent.graphql"),
		entgql.WithConfigPath("gqlgen.yml"),
		entgql.WithWhereInputs(true),
		entgql.WithSchemaHook(confineWhereInputs, nullableRefusable),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/orgraph/orgraph/ent",
		Features: []gen.Feature{
			gen.FeatureLock,
			gen.FeatureModifier,
			gen.FeatureExecQuery,
			gen.FeatureUpsert,
			gen.FeatureIntercept,
			gen.FeatureVersionedMigration,
		},
		// entgql's template functions tell which edges are connections and their index.
		Templates: []*gen.Template{gen.MustParse(gen.NewTemplate("preload").Funcs(entgql.TemplateFuncs).ParseFiles("./ent/template/preload.tmpl"))},
	}, entc.Extensions(ex), entc.TemplateFiles("./ent/template/fields.tmpl"))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// privateFields are fields a caller may not select on every row it can list
// (an account shows only its alias, display name and creation time to
// others): they cannot be filtered on either.
var privateFields = map[string][]string{
	"AccountWhereInput": {"id", "platformAdmin", "deletedAt"},
}

// predicateSuffixes are the operators entgql appends to a field name.
var predicateSuffixes = []string{"", "NEQ", "In", "NotIn", "GT", "GTE", "LT", "LTE", "Contains", "HasPrefix",
	"HasSuffix", "IsNil", "NotNil", "EqualFold", "ContainsFold"}

// confineWhereInputs makes every filter over an edge see only what the caller
// may read: each has<Edge>With field carries @readable, whose implementation
// (the gate) adds the edge type's read scope inside the subquery, and bare
// has<Edge>: Boolean fields, which have no subquery to confine, are not
// offered. Every new edge gets the same treatment without anyone remembering.
func confineWhereInputs(_ *gen.Graph, s *ast.Schema) error {
	s.Directives["readable"] = &ast.DirectiveDefinition{
		Name:        "readable",
		Description: "The rows this filter matches are only those the caller may read (the read policy of the edge's type).",
		Locations:   []ast.DirectiveLocation{ast.LocationInputFieldDefinition},
	}
	for name, def := range s.Types {
		if def.Kind != ast.InputObject || !strings.HasSuffix(name, "WhereInput") {
			continue
		}
		kept := def.Fields[:0]
		for _, f := range def.Fields {
			switch {
			case strings.HasPrefix(f.Name, "has") && strings.HasSuffix(f.Name, "With"):
				f.Directives = append(f.Directives, &ast.Directive{Name: "readable", Location: ast.LocationInputFieldDefinition})
			case strings.HasPrefix(f.Name, "has") && f.Type.Name() == "Boolean":
				continue
			case isPrivate(name, f.Name):
				continue
			}
			kept = append(kept, f)
		}
		def.Fields = kept
	}
	return nil
}

func isPrivate(input, field string) bool {
	for _, base := range privateFields[input] {
		for _, suffix := range predicateSuffixes {
			if field == base+suffix {
				return true
			}
		}
	}
	return slices.Contains(privateFields[input], field)
}

// nullableRefusable makes nullable every field the gate may refuse while it
// lets its object be read (a field whose read action is its own, e.g.
// Organization.members needs members.read where the org needs
// organization.read): a refused field is then null at its path, with its
// FORBIDDEN error, instead of nulling the object that holds it and, non-null
// up the tree, the whole answer. The table is the gate's own
// (internal/readaction); hand-written fields of graph/*.graphql follow the
// same rule, which TestRefusableFieldsAreNullable checks over the whole schema.
func nullableRefusable(_ *gen.Graph, s *ast.Schema) error {
	for name, def := range s.Types {
		if def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			if readaction.Refusable(name, f.Name) {
				f.Type.NonNull = false
			}
		}
	}
	return nil
}

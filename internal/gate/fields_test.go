package gate_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/policy"
)

// TestEveryFieldHasARule walks the whole GraphQL schema: every field of every
// object type must map to an action the policy knows, or be explicitly public.
func TestEveryFieldHasARule(t *testing.T) {
	eng, err := policy.Open(context.Background(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	known := eng.Actions()
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	fields := 0
	for name, def := range schema.Types {
		if def.Kind != ast.Object || strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			fields++
			action, ok := gate.Action(name, f.Name)
			if !ok {
				t.Errorf("%s.%s has no authorization rule", name, f.Name)
				continue
			}
			if action != gate.Public && !slices.Contains(known, action) {
				t.Errorf("%s.%s maps to %q, which no policy data names", name, f.Name, action)
			}
			if name == "Mutation" && action == gate.Public {
				t.Errorf("mutation %s is public", f.Name)
			}
		}
	}
	if fields < 100 {
		t.Fatalf("walked only %d fields", fields)
	}
}

func TestUnmappedFieldIsRefused(t *testing.T) {
	if _, ok := gate.Action("SomethingNew", "secret"); ok {
		t.Fatal("an unknown type must have no rule")
	}
	if _, ok := gate.Action("Mutation", "dropEverything"); ok {
		t.Fatal("an unknown mutation must have no rule")
	}
}

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

// TestEveryEdgeFilterIsConfined walks every where input of the schema: each
// filter over an edge carries @readable (the gate confines its subquery to
// what the caller may read), no bare has<Edge>: Boolean is offered (it has no
// subquery to confine), and an account's private fields cannot be filtered on.
func TestEveryEdgeFilterIsConfined(t *testing.T) {
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	edges := 0
	for name, def := range schema.Types {
		if def.Kind != ast.InputObject || !strings.HasSuffix(name, "WhereInput") {
			continue
		}
		for _, f := range def.Fields {
			switch {
			case strings.HasPrefix(f.Name, "has") && strings.HasSuffix(f.Name, "With"):
				edges++
				if f.Directives.ForName("readable") == nil {
					t.Errorf("%s.%s filters over an edge without @readable", name, f.Name)
				}
			case strings.HasPrefix(f.Name, "has") && f.Type.Name() == "Boolean":
				t.Errorf("%s.%s tests an edge with no read scope", name, f.Name)
			}
		}
	}
	if edges < 20 {
		t.Fatalf("only %d edge filters found", edges)
	}
	for _, f := range schema.Types["AccountWhereInput"].Fields {
		for _, private := range []string{"id", "platformAdmin", "deletedAt"} {
			if strings.HasPrefix(f.Name, private) {
				t.Errorf("AccountWhereInput.%s filters on a field only the account itself may read", f.Name)
			}
		}
	}
}

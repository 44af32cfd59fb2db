package gate_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/orgraph/orgraph/policy"
)

// goSources lists the hand-written Go files of the repository (generated
// ent and gqlgen code and tests left out).
func goSources(t *testing.T) []string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || rel == "ent" || rel == filepath.Join("graph", "generated") || rel == filepath.Join("graph", "model") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("only %d Go files found under %s", len(files), root)
	}
	return files
}

// TestNoRoleNameInGo: roles are policy data; no Go code names one (the
// owner role included: it comes from data.orgraph.owner_role).
func TestNoRoleNameInGo(t *testing.T) {
	eng, err := policy.Open(context.Background(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roles := eng.Roles()
	if !slices.Contains(roles, eng.OwnerRole()) || len(roles) < 4 {
		t.Fatalf("roles %v, owner role %q", roles, eng.OwnerRole())
	}
	fset := token.NewFileSet()
	for _, path := range goSources(t) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && slices.Contains(roles, s) {
				t.Errorf("%s: the role name %q is written in Go; it belongs to the policy data", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
}

// TestLayering: the service asks the gate, the gate asks the policy; never
// the reverse (the gate does not import the service, the policy imports
// nothing of ours).
func TestLayering(t *testing.T) {
	fset := token.NewFileSet()
	forbidden := map[string][]string{
		filepath.Join("internal", "gate"):    {"internal/service", "graph", "server"},
		"policy":                             {"github.com/orgraph/orgraph/"},
		filepath.Join("internal", "service"): {"graph", "server"},
	}
	root, _ := filepath.Abs("../..")
	for _, path := range goSources(t) {
		rel, _ := filepath.Rel(root, path)
		for dir, bad := range forbidden {
			if filepath.Dir(rel) != dir {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range bad {
					if strings.HasPrefix(p, "github.com/orgraph/orgraph/"+b) || (strings.HasSuffix(b, "/") && strings.HasPrefix(p, b)) {
						t.Errorf("%s imports %s: %s must not depend on it", rel, p, dir)
					}
				}
			}
		}
	}
}

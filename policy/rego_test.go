package policy

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
)

func embeddedRego(t *testing.T) map[string][]byte {
	t.Helper()
	sub, err := fs.Sub(embedded, "rego")
	if err != nil {
		t.Fatal(err)
	}
	src, err := readSource(sub)
	if err != nil {
		t.Fatal(err)
	}
	return src.files
}

// TestRegoFormatted is `opa fmt --fail` on the embedded policies.
func TestRegoFormatted(t *testing.T) {
	files := embeddedRego(t)
	n := 0
	for name, src := range files {
		if !strings.HasSuffix(name, ".rego") {
			continue
		}
		n++
		got, err := format.SourceWithOpts(name, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not `opa fmt` formatted; run `go tool opa fmt -w policy/rego` or format.Source", name)
		}
	}
	if n == 0 {
		t.Fatal("no embedded .rego files")
	}
}

// TestRegoStrict is `opa check --strict` on the embedded policies and tests.
func TestRegoStrict(t *testing.T) {
	files := embeddedRego(t)
	modules := map[string]*ast.Module{}
	for name, src := range files {
		if !strings.HasSuffix(name, ".rego") {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			t.Fatal(err)
		}
		modules[name] = m
	}
	c := ast.NewCompiler().WithStrict(true).WithCapabilities(capabilities).WithEnablePrintStatements(true)
	if c.Compile(modules); c.Failed() {
		t.Fatalf("strict compile: %v", c.Errors)
	}
	for _, ref := range []ast.Ref{decisionRef, listScopeRef} {
		if len(c.GetRulesExact(ref)) == 0 {
			t.Errorf("no rule %v", ref)
		}
	}
	if _, ok := files[dataFile]; !ok {
		t.Error("no embedded data.json")
	}
}

func TestRunTestsEmbedded(t *testing.T) {
	var out bytes.Buffer
	if err := RunTests(context.Background(), "", &out, 90); err != nil {
		t.Fatalf("RunTests: %v\n%s", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "PASS: ") || !strings.Contains(s, "coverage: 100.00%") {
		t.Fatalf("unexpected output (want every test passing and 100%% coverage):\n%s", s)
	}
	t.Log(s)
}

func TestRunTestsFailures(t *testing.T) {
	ctx := context.Background()
	dir := copyEmbedded(t)

	// Uncovered code: a rule no test reaches lowers coverage below 100%.
	writeFile(t, filepath.Join(dir, "extra.rego"), "package orgraph.extra\n\nx := input.resource.owner_count + 1\n")
	var out bytes.Buffer
	if err := RunTests(ctx, dir, &out, 100); err == nil || !strings.Contains(err.Error(), "coverage") {
		t.Fatalf("RunTests = %v; want a coverage error\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "not covered: extra.rego:3-3") {
		t.Errorf("uncovered line not reported:\n%s", out.String())
	}
	out.Reset()
	if err := RunTests(ctx, dir, &out, 90); err != nil {
		t.Fatalf("RunTests at 90%%: %v\n%s", err, out.String())
	}

	// A failing test.
	writeFile(t, filepath.Join(dir, "extra_test.rego"),
		"package orgraph.extra_test\n\nimport data.orgraph.extra\n\ntest_x if extra.x == 3 with input as {\"a\": 1}\n")
	out.Reset()
	if err := RunTests(ctx, dir, &out, 0); err == nil || !strings.Contains(err.Error(), "1 of") {
		t.Fatalf("RunTests = %v; want a test failure\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "test_x") || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("failure not reported:\n%s", out.String())
	}

	// Bad arguments and broken policies.
	if err := RunTests(ctx, dir, &out, 101); err == nil {
		t.Error("threshold 101 accepted")
	}
	writeFile(t, filepath.Join(dir, "extra.rego"), "package orgraph.extra\n\nx := \n")
	if err := RunTests(ctx, dir, &out, 0); err == nil {
		t.Error("syntax error accepted")
	}
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "p.rego"), "package p\n\nx := 1\n")
	if err := RunTests(ctx, empty, &out, 0); err == nil || !strings.Contains(err.Error(), "no rego tests") {
		t.Errorf("RunTests without tests = %v", err)
	}
}

// copyEmbedded writes the embedded policies to a fresh directory.
func copyEmbedded(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range embeddedRego(t) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, string(b))
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

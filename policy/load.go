package policy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/util"
)

const (
	dataFile   = "data.json"
	testSuffix = "_test.rego"
	// testTimeout bounds one Rego test.
	testTimeout = 10 * time.Second * raceSlowdown
)

var (
	decisionRef  = ast.MustParseRef("data.orgraph.authz.decision")
	listScopeRef = ast.MustParseRef("data.orgraph.authz.list_scope")
)

// source is the content of a policy directory: its .rego files and data.json
// files, by slash-separated path relative to the directory.
type source struct {
	files map[string][]byte
	hash  string // hex sha256 over the sorted paths and contents
}

// policyFS returns the file system of dir ("" = embedded) after resolving a
// directory without .rego files to its rego/ subdirectory.
func policyFS(dir string) (fs.FS, string, error) {
	if dir == "" {
		sub, err := fs.Sub(embedded, "rego")
		return sub, "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, "", fmt.Errorf("policy: %w", err)
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("policy: %s is not a directory", abs)
	}
	if matches, _ := filepath.Glob(filepath.Join(abs, "*.rego")); len(matches) == 0 {
		if st, err := os.Stat(filepath.Join(abs, "rego")); err == nil && st.IsDir() {
			abs = filepath.Join(abs, "rego")
		}
	}
	return os.DirFS(abs), abs, nil
}

// ignored reports whether a file or directory name is skipped: hidden files
// (editor swap files, atomic-write temporaries, Kubernetes ..data links) and
// editor backups.
func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~")
}

func readSource(fsys fs.FS) (*source, error) {
	src := &source{files: map[string][]byte{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if ignored(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || (!strings.HasSuffix(p, ".rego") && d.Name() != dataFile) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		src.files[p] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy: read: %w", err)
	}
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(src.files)) {
		b := src.files[p]
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write([]byte(p))
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	src.hash = hex.EncodeToString(h.Sum(nil))
	return src, nil
}

// parsed is a source parsed into modules and a data document.
type parsed struct {
	modules map[string]*ast.Module // all modules, tests included
	data    map[string]any
}

func (p *parsed) policyModules() map[string]*ast.Module {
	out := make(map[string]*ast.Module, len(p.modules))
	for name, m := range p.modules {
		if !strings.HasSuffix(name, testSuffix) {
			out[name] = m
		}
	}
	return out
}

func parseSource(src *source) (*parsed, error) {
	p := &parsed{modules: map[string]*ast.Module{}, data: map[string]any{}}
	var errs []error
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	for _, name := range slices.Sorted(maps.Keys(src.files)) {
		b := src.files[name]
		if path.Base(name) == dataFile {
			var doc any
			if err := util.UnmarshalJSON(b, &doc); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				continue
			}
			obj, ok := doc.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: top level must be an object", name))
				continue
			}
			var prefix []string
			if dir := path.Dir(name); dir != "." {
				prefix = strings.Split(dir, "/")
			}
			if err := mergeData(p.data, prefix, obj); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, string(b), popts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: empty module", name))
			continue
		}
		p.modules[name] = m
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy: parse: %w", errors.Join(errs...))
	}
	if len(p.policyModules()) == 0 {
		return nil, errors.New("policy: no .rego policy files")
	}
	return p, nil
}

// mergeData merges doc into dst under the path prefix (the directory of the
// data.json file, as `opa` does), refusing to overwrite a non-object value.
func mergeData(dst map[string]any, prefix []string, doc map[string]any) error {
	for i, k := range prefix {
		next, ok := dst[k]
		if !ok {
			m := map[string]any{}
			dst[k] = m
			dst = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("data path %s conflicts with a value", strings.Join(prefix[:i+1], "."))
		}
		dst = m
	}
	for k, v := range doc {
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("data key %q is defined twice", strings.Join(append(slices.Clone(prefix), k), "."))
		}
		if err := mergeData(om, nil, nm); err != nil {
			return err
		}
	}
	return nil
}

// capabilities are OPA's built-ins minus the non-deterministic ones
// (http.send, time.now_ns, rand.intn, ...): decisions are cached on their
// input, so a policy must be a pure function of input and data.
var capabilities = func() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool { return b.Nondeterministic })
	return c
}()

func newStore(data map[string]any) (s storage.Store, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("policy: data: %v", r)
		}
	}()
	return inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true)), nil
}

// compileStrict compiles modules in strict mode, checking that no rule
// conflicts with a path of the data in store.
func compileStrict(ctx context.Context, store storage.Store, modules map[string]*ast.Module) (*ast.Compiler, error) {
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	c := ast.NewCompiler().
		WithStrict(true).
		WithCapabilities(capabilities).
		WithSchemas(inputSchemas).
		WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn))
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("policy: compile: %w", c.Errors)
	}
	return c, nil
}

// testFailure describes the failed or erroneous Rego tests of a run.
type testFailure struct{ failed []string }

func (e *testFailure) Error() string {
	return fmt.Sprintf("policy: %d rego test(s) failed: %s", len(e.failed), strings.Join(e.failed, "; "))
}

// newTestRunner returns a runner for the modules of p, compiled like the
// policies (strict, deterministic built-ins).
func newTestRunner(store storage.Store, modules map[string]*ast.Module) *tester.Runner {
	return tester.NewRunner().
		SetCompiler(ast.NewCompiler().
			WithStrict(true).
			WithCapabilities(capabilities).
			WithEnablePrintStatements(true)).
		SetStore(store).
		SetModules(modules).
		CapturePrintOutput(true).
		SetTimeout(testTimeout)
}

// runRegoTests runs every test_ rule of p; any failure or error is returned.
func runRegoTests(ctx context.Context, store storage.Store, modules map[string]*ast.Module) (passed int, err error) {
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return 0, err
	}
	defer store.Abort(ctx, txn)
	ch, err := newTestRunner(store, modules).RunTests(ctx, txn)
	if err != nil {
		return 0, fmt.Errorf("policy: rego tests: %w", err)
	}
	var tf testFailure
	for r := range ch {
		switch {
		case r.Skip:
		case r.Error != nil:
			tf.failed = append(tf.failed, fmt.Sprintf("%s.%s: %v", r.Package, r.Name, r.Error))
		case r.Fail:
			tf.failed = append(tf.failed, fmt.Sprintf("%s.%s (%s)", r.Package, r.Name, r.Location))
		default:
			passed++
		}
	}
	if len(tf.failed) > 0 {
		slices.Sort(tf.failed)
		return passed, &tf
	}
	return passed, nil
}

// build turns a source into an active-able version: parse, load data,
// compile strictly, run the Rego tests, prepare the two entrypoints.
func build(ctx context.Context, src *source) (*version, error) {
	p, err := parseSource(src)
	if err != nil {
		return nil, err
	}
	store, err := newStore(p.data)
	if err != nil {
		return nil, err
	}
	compiler, err := compileStrict(ctx, store, p.policyModules())
	if err != nil {
		return nil, err
	}
	for _, ref := range []ast.Ref{decisionRef, listScopeRef} {
		if len(compiler.GetRulesExact(ref)) == 0 {
			return nil, fmt.Errorf("policy: no rule %s", ref)
		}
	}
	tests, err := runRegoTests(ctx, store, p.modules)
	if err != nil {
		return nil, err
	}
	prepare := func(ref ast.Ref) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
			rego.Compiler(compiler),
			rego.Store(store),
			rego.Capabilities(capabilities),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
	}
	v := &version{
		hash:   src.hash,
		id:     src.hash[:12],
		tests:  tests,
		cache:  newDecisionCache(),
		scopes: &scopeCache{m: map[string]Scope{}},
	}
	if v.decision, err = prepare(decisionRef); err != nil {
		return nil, fmt.Errorf("policy: prepare %s: %w", decisionRef, err)
	}
	if v.scope, err = prepare(listScopeRef); err != nil {
		return nil, fmt.Errorf("policy: prepare %s: %w", listScopeRef, err)
	}
	v.reads = inputReads(compiler, p.policyModules())
	v.actions = actionsOf(p.data)
	v.roles = keysOf(p.data, "roles")
	v.capabilities = keysOf(p.data, "capabilities")
	orgraph, _ := p.data["orgraph"].(map[string]any)
	v.ownerRole, _ = orgraph["owner_role"].(string)
	if len(v.roles) > 0 && !slices.Contains(v.roles, v.ownerRole) {
		return nil, fmt.Errorf("policy: data.orgraph.owner_role %q must name a role of data.orgraph.roles", v.ownerRole)
	}
	return v, nil
}

// keysOf lists the names of data.orgraph[key] (roles, capabilities).
func keysOf(data map[string]any, key string) []string {
	orgraph, _ := data["orgraph"].(map[string]any)
	m, _ := orgraph[key].(map[string]any)
	return slices.Sorted(maps.Keys(m))
}

// actionsOf lists every permission named in data.orgraph roles,
// capabilities, platform_actions and self_actions.
func actionsOf(data map[string]any) []string {
	set := map[string]struct{}{}
	orgraph, _ := data["orgraph"].(map[string]any)
	addList := func(v any) {
		list, _ := v.([]any)
		for _, a := range list {
			if s, ok := a.(string); ok {
				set[s] = struct{}{}
			}
		}
	}
	for _, key := range []string{"roles", "capabilities"} {
		m, _ := orgraph[key].(map[string]any)
		for _, list := range m {
			addList(list)
		}
	}
	addList(orgraph["platform_actions"])
	addList(orgraph["self_actions"])
	return slices.Sorted(maps.Keys(set))
}

// evalCancel is what an evaluation needs to honour ctx without the
// goroutine rego.Eval starts per call.
func evalCancel(ctx context.Context) (topdown.Cancel, func() bool) {
	c := topdown.NewCancel()
	if ctx.Done() == nil {
		return c, func() bool { return true }
	}
	return c, context.AfterFunc(ctx, c.Cancel)
}

// inputReads finds, in the rules (tests left out), whether the policy reads
// input.subject.id or input.resource.id, which the decision cache leaves out
// of its key otherwise. Any reference it cannot pin down (input as a whole,
// input.subject with a variable key, an object passed on) counts as reading
// both: a cache may serve fewer hits, never a wrong answer.
func inputReads(c *ast.Compiler, modules map[string]*ast.Module) keyReads {
	var r keyReads
	for name := range modules {
		m := c.Modules[name]
		if m == nil {
			m = modules[name]
		}
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			if !ref[0].Equal(ast.InputRootDocument) {
				return false
			}
			if len(ref) < 2 {
				r.subjectID, r.resourceID = true, true
				return false
			}
			part, ok := ref[1].Value.(ast.String)
			if !ok {
				r.subjectID, r.resourceID = true, true
				return false
			}
			field := func() bool {
				if len(ref) < 3 {
					return true // the object itself leaves the rule's sight
				}
				id, ok := ref[2].Value.(ast.String)
				return !ok || id == "id"
			}
			switch part {
			case "subject":
				r.subjectID = r.subjectID || field()
			case "resource":
				r.resourceID = r.resourceID || field()
			}
			return false
		})
	}
	return r
}

// inputSchemas types input for the compiler (InputSchema).
var inputSchemas = func() *ast.SchemaSet {
	var schema any
	if err := util.UnmarshalJSON(InputSchema, &schema); err != nil {
		panic("policy: input.schema.json: " + err.Error())
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.SchemaRootRef, schema)
	return ss
}()

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/orgraph/orgraph/internal/testutil"
)

// auditDir is the audit script and its pinned npm dependencies.
const auditDir = "../../scripts/http-audit"

// TestGraphQLOverHTTPAudit runs graphql-http's server audit (the npm package
// graphql-http, pinned in scripts/http-audit/package-lock.json) against a
// started orgraph: every audit, MUST, SHOULD and MAY, must be "ok". It needs
// node and npm; without them it skips locally and fails in CI (CI=true).
// The packages are installed once (npm ci) into $ORGRAPH_NPM_CACHE, by default
// the user cache directory's orgraph/, under a name that changes with the lock file.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	node := tool(t, "node")
	modules := auditModules(t, tool(t, "npm"))
	in := testutil.Start(t, testutil.SQLite)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(auditDir, "audit.mjs"), in.URL+"/graphql", modules)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("graphql-http audit: %v", err)
	}
}

// tool finds a command; without it the test skips, except in CI.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (apt-get install nodejs npm): %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return path
}

// auditModules returns a directory holding node_modules with the audit's
// pinned packages, installing them on first use.
func auditModules(t *testing.T, npm string) string {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(auditDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	base := os.Getenv("ORGRAPH_NPM_CACHE")
	if base == "" {
		if base, err = os.UserCacheDir(); err != nil {
			base = os.TempDir()
		}
		base = filepath.Join(base, "orgraph")
	}
	dir := filepath.Join(base, "http-audit-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-http", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(base, "http-audit-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(auditDir, f))
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, f), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci (graphql-http for the audit): %v\n%s", err, out)
	}
	// another test process may have installed it meanwhile: either copy will do
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(dir); statErr != nil {
			t.Fatal(err)
		}
	}
	return dir
}

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// copyPolicies writes the repository's policies into a temp dir.
func copyPolicies(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "../../policy/rego"
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, d.Name()), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPolicyHotReload edits the policy directory of a running server: a valid
// change takes effect without restart; a broken one is refused, the last good
// policy stays, and the refusal shows in the metrics.
func TestPolicyHotReload(t *testing.T) {
	dir := copyPolicies(t)
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) { c.PolicyDir = dir })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go in.Engine.Watch(ctx)

	alice := in.Account("alice", false)
	in.Account("vic", false)
	org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
	in.Grant("vic", org, "viewer")
	vic := in.Token("vic", "")
	canInvite := func() bool {
		d := in.MustDo(vic, `query($id: ID!) { organization(id: $id) { viewerCan(action: "members.invite") } }`, map[string]any{"id": org})
		return testutil.Get(d, "organization", "viewerCan") == true
	}
	readyVersion := func() string {
		res, err := http.Get(in.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return body["policy"].(string)
	}
	if canInvite() {
		t.Fatal("a viewer may invite under the default policy")
	}
	v1 := readyVersion()

	// give viewers members.invite in the role matrix
	dataPath := filepath.Join(dir, "data.json")
	raw, _ := os.ReadFile(dataPath)
	var data map[string]any
	_ = json.Unmarshal(raw, &data)
	roles := data["orgraph"].(map[string]any)["roles"].(map[string]any)
	roles["viewer"] = append(roles["viewer"].([]any), "members.invite")
	edited, _ := json.MarshalIndent(data, "", "  ")
	if err := os.WriteFile(dataPath, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 10*time.Second, "the edited policy to take effect", canInvite)
	t.Logf("the edited policy took effect after %v (target: 2 s)", took)
	v2 := readyVersion()
	if v2 == v1 {
		t.Fatal("/readyz still shows the old policy version")
	}

	// a broken policy is refused: the previous decision and version stay
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package orgraph.broken\n\nallow if {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the reload failure to be counted", func() bool {
		res, err := http.Get(in.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return strings.Contains(string(b), "orgraph_policy_reload_failures_total 1")
	})
	if !canInvite() || readyVersion() != v2 {
		t.Fatal("a broken policy replaced the last good one")
	}
}

// waitFor polls cond and returns how long it took. The limit is generous so a
// loaded CI machine does not fail the test; the time taken is logged.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

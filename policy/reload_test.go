package policy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// counterValue reads a counter from a registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// eventually polls cond until it holds or within elapses (stretched under
// the race detector: a reload runs the Rego tests).
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	within *= raceSlowdown
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// editData rewrites dir/data.json after applying f to data.orgraph.
func editData(t *testing.T, dir string, f func(orgraph map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, dataFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	f(doc["orgraph"].(map[string]any))
	if b, err = json.MarshalIndent(doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, string(b))
}

func addPermission(role, perm string) func(map[string]any) {
	return func(orgraph map[string]any) {
		roles := orgraph["roles"].(map[string]any)
		roles[role] = append(roles[role].([]any), perm)
	}
}

type watched struct {
	e      *Engine
	dir    string
	reg    *prometheus.Registry
	ctx    context.Context
	viewer Input // a viewer of c asking to invite
}

// startWatching opens a copy of the embedded policies and watches it. The
// poll interval is long so that the test sees notifications work; polling
// has its own test.
func startWatching(t *testing.T, poll time.Duration) *watched {
	t.Helper()
	dir := copyEmbedded(t)
	reg := prometheus.NewRegistry()
	e, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t), Registerer: reg, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Watch(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &watched{e: e, dir: dir, reg: reg, ctx: ctx, viewer: req("members.invite", Membership{"c", "viewer"})}
}

func (w *watched) allowed(t *testing.T, in Input) bool {
	t.Helper()
	d, err := w.e.Decide(w.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

func TestHotReload(t *testing.T) {
	w := startWatching(t, time.Second)
	if w.allowed(t, w.viewer) {
		t.Fatal("viewer may invite before the change")
	}
	v0 := w.e.Version()
	scope := func() int {
		sc, err := w.e.ListScope(context.Background(), w.viewer.Subject, "", "members.invite")
		if err != nil {
			t.Fatal(err)
		}
		return len(sc.Orgs)
	}
	if scope() != 0 {
		t.Fatal("viewer's invite scope is not empty before the change")
	}
	oldCache := w.e.active.Load().cache
	if oldCache.len() == 0 {
		t.Fatal("decision was not cached")
	}

	editData(t, w.dir, addPermission("viewer", "members.invite"))
	took := eventually(t, 10*time.Second, "viewer may invite after the change", func() bool { return w.allowed(t, w.viewer) })
	t.Logf("change took effect after %v", took)

	v1 := w.e.Version()
	if v1 == v0 {
		t.Fatal("version did not change")
	}
	if w.e.active.Load().cache == oldCache {
		t.Fatal("the decision cache survived the swap")
	}
	if scope() == 0 {
		t.Fatal("the cached list scope survived the swap")
	}
	if got := counterValue(t, w.reg, "orgraph_policy_reloads_total"); got < 1 {
		t.Fatalf("reloads_total = %v", got)
	}

	// A syntactically broken file is refused: the last good version stays.
	failures := counterValue(t, w.reg, "orgraph_policy_reload_failures_total")
	writeFile(t, filepath.Join(w.dir, "broken.rego"), "package orgraph.broken\n\nallow if {\n")
	eventually(t, 10*time.Second, "failure counted", func() bool {
		return counterValue(t, w.reg, "orgraph_policy_reload_failures_total") > failures
	})
	if w.e.Version() != v1 || !w.allowed(t, w.viewer) {
		t.Fatal("a broken policy replaced the last good one")
	}
	// Refused content is not retried on every poll.
	failures = counterValue(t, w.reg, "orgraph_policy_reload_failures_total")
	time.Sleep(300 * time.Millisecond)
	if got := counterValue(t, w.reg, "orgraph_policy_reload_failures_total"); got != failures {
		t.Fatalf("refused content retried: failures %v -> %v", failures, got)
	}
	// Removing it restores a loadable directory (same content as v1).
	if err := os.Remove(filepath.Join(w.dir, "broken.rego")); err != nil {
		t.Fatal(err)
	}

	// A change that fails the policy's own Rego tests is refused too: a
	// typo in a permission breaks the data invariants of data_test.rego ...
	failures = counterValue(t, w.reg, "orgraph_policy_reload_failures_total")
	editData(t, w.dir, addPermission("admin", "members.invit"))
	eventually(t, 10*time.Second, "failing data refused", func() bool {
		return counterValue(t, w.reg, "orgraph_policy_reload_failures_total") > failures
	})
	if w.e.Version() != v1 {
		t.Fatal("data failing its tests was activated")
	}
	editData(t, w.dir, func(orgraph map[string]any) {
		roles := orgraph["roles"].(map[string]any)
		admin := roles["admin"].([]any)
		roles["admin"] = admin[:len(admin)-1]
	})
	eventually(t, 10*time.Second, "fixed data accepted", func() bool { return w.e.Version() == v1 })

	// ... and so is a rule change that a test catches.
	failures = counterValue(t, w.reg, "orgraph_policy_reload_failures_total")
	p := filepath.Join(w.dir, "token.rego")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	loose := strings.Replace(string(b), "scoped if input.token.org != null", "scoped if input.token.org == \"never\"", 1)
	if loose == string(b) {
		t.Fatal("token.rego no longer has the expected rule")
	}
	writeFile(t, p, loose)
	eventually(t, 10*time.Second, "rule failing its tests refused", func() bool {
		return counterValue(t, w.reg, "orgraph_policy_reload_failures_total") > failures
	})
	outside := with(req("organization.read", Membership{"c", "viewer"}), func(in *Input) { in.TokenOrg = "x" })
	if w.e.Version() != v1 || w.allowed(t, outside) {
		t.Fatal("a rule failing its tests was activated")
	}
}

func TestReloadByPolling(t *testing.T) {
	dir := copyEmbedded(t)
	reg := prometheus.NewRegistry()
	e, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t), Registerer: reg, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.pollOnly = true // as on a file system without notifications
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Watch(ctx) }()
	defer func() { cancel(); <-done }()

	viewer := req("members.invite", Membership{"c", "viewer"})
	editData(t, dir, addPermission("viewer", "members.invite"))
	took := eventually(t, 10*time.Second, "polled change in effect", func() bool {
		d, err := e.Decide(ctx, viewer)
		return err == nil && d.Allowed
	})
	t.Logf("change took effect after %v", took)
	time.Sleep(300 * time.Millisecond) // several polls of unchanged content
	if got := counterValue(t, reg, "orgraph_policy_reloads_total"); got != 1 {
		t.Fatalf("reloads_total = %v; want 1 (unchanged content is not reloaded)", got)
	}
}

func TestReloadExplicit(t *testing.T) {
	dir := copyEmbedded(t)
	reg := prometheus.NewRegistry()
	e, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	viewer := req("members.invite", Membership{"c", "viewer"})
	if d, _ := e.Decide(ctx, viewer); d.Allowed {
		t.Fatal("viewer may invite")
	}
	old := e.active.Load()

	// Unchanged content: no swap, the cache is kept.
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if e.active.Load() != old {
		t.Fatal("unchanged content swapped")
	}

	writeFile(t, filepath.Join(dir, dataFile), "{not json")
	if err := e.Reload(ctx); err == nil {
		t.Fatal("bad JSON accepted")
	}
	if e.active.Load() != old || counterValue(t, reg, "orgraph_policy_reload_failures_total") != 1 {
		t.Fatal("bad JSON not refused and counted")
	}

	editData(t, copyBack(t, dir), addPermission("viewer", "members.invite"))
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Decide(ctx, viewer); !d.Allowed {
		t.Fatal("reloaded matrix not in effect (stale cache?)")
	}
	if n := old.cache.len(); n != 1 {
		t.Fatalf("old cache has %d entries", n)
	}
	if counterValue(t, reg, "orgraph_policy_reloads_total") != 1 {
		t.Fatal("reload not counted")
	}

	// A second engine on the same registry shares the counters.
	if _, err := Open(ctx, Options{Dir: dir, Logger: testLogger(t), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	// The repository layout: a directory holding rego/.
	parent := t.TempDir()
	if err := os.Rename(dir, filepath.Join(parent, "rego")); err != nil {
		t.Fatal(err)
	}
	e2, err := Open(ctx, Options{Dir: parent, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if e2.dir != filepath.Join(parent, "rego") {
		t.Fatalf("dir = %s", e2.dir)
	}
}

// copyBack restores the embedded data.json into dir and returns dir.
func copyBack(t *testing.T, dir string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, dataFile), string(embeddedRego(t)[dataFile]))
	return dir
}

func TestWatchEmbeddedReturnsOnCancel(t *testing.T) {
	e := openEmbedded(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Watch(ctx) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return")
	}
}

// TestConcurrentDecideDuringReloads exercises the atomic swap under -race.
func TestConcurrentDecideDuringReloads(t *testing.T) {
	dir := copyEmbedded(t)
	e, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			in := req("organization.read", Membership{"c", "viewer"})
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d, err := e.Decide(ctx, in); err != nil || !d.Allowed {
					t.Errorf("Decide = %+v, %v", d, err)
					return
				}
			}
		})
	}
	for i := range 3 {
		perm := []string{"members.invite", "members.remove", "invitations.revoke"}[i]
		editData(t, dir, addPermission("viewer", perm))
		if err := e.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

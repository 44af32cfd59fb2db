package policy

import (
	"golang.org/x/sync/singleflight"

	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/prometheus/client_golang/prometheus"
)

// version is one loaded, compiled and tested policy. Everything a decision
// needs hangs off it, so an atomic swap of the pointer changes the policy,
// its prepared queries and its decision cache at once.
type version struct {
	hash     string // hex sha256 of the policy files
	id       string // hash[:12], what Version reports
	tests    int    // Rego tests that passed when it was loaded
	decision rego.PreparedEvalQuery
	scope    rego.PreparedEvalQuery
	actions  []string
	// roles and capabilities are the names the data defines; writes validate against them.
	roles        []string
	capabilities []string
	// ownerRole is the role data.orgraph.owner_role names: the one the
	// last-owner and sole-owner rules count, and a root org's creator gets.
	ownerRole string
	// reads: the input fields the key leaves out by default that this
	// version's rules read (so they are keyed too).
	reads    keyReads
	cache    *decisionCache
	scopes   *scopeCache
	inflight singleflight.Group
}

// Engine answers authorization questions with the active policy version. It
// is safe for concurrent use.
type Engine struct {
	dir  string // resolved policy directory; "" = embedded
	fsys fs.FS
	log  *slog.Logger
	poll time.Duration
	// pollOnly disables file system notifications in Watch (tests).
	pollOnly bool

	active atomic.Pointer[version]

	mu        sync.Mutex // serializes reloads
	lastTried string     // hash of the last source a reload attempted

	reloads  prometheus.Counter
	failures prometheus.Counter
	// decisions[allowed][cached] counts answers by outcome and cache use.
	decisions [2][2]prometheus.Counter
}

// Open loads, compiles and tests the policies of opts.Dir (or the embedded
// ones) and returns an engine using them. It fails if the policies do not
// compile in strict mode, the data is not valid JSON, the entrypoints are
// missing, or any of the directory's own Rego tests fails.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	fsys, dir, err := policyFS(opts.Dir)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		dir:  dir,
		fsys: fsys,
		log:  opts.Logger,
		poll: opts.PollInterval,
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.poll <= 0 {
		e.poll = time.Second
	}
	if e.reloads, err = counter(opts.Registerer, "orgraph_policy_reloads_total",
		"Policy reloads that compiled, passed their tests and were activated."); err != nil {
		return nil, err
	}
	if e.failures, err = counter(opts.Registerer, "orgraph_policy_reload_failures_total",
		"Policy reloads refused (read, parse, compile, data or Rego test failure); the last good policy stays active."); err != nil {
		return nil, err
	}
	if err := e.registerDecisionMetrics(opts.Registerer); err != nil {
		return nil, err
	}
	src, err := readSource(fsys)
	if err != nil {
		return nil, err
	}
	v, err := build(ctx, src)
	if err != nil {
		return nil, err
	}
	e.active.Store(v)
	e.lastTried = src.hash
	e.log.Info("policy loaded", "version", v.id, "dir", e.dirName(), "rego_tests", v.tests)
	return e, nil
}

func (e *Engine) registerDecisionMetrics(reg prometheus.Registerer) error {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orgraph_policy_decisions_total",
		Help: "Policy decisions by outcome (allow, deny) and whether the version's cache answered (hit, miss)."},
		[]string{"outcome", "cache"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
			if !ok {
				return fmt.Errorf("policy: register decisions: %w", err)
			}
			if vec, ok = are.ExistingCollector.(*prometheus.CounterVec); !ok {
				return fmt.Errorf("policy: register decisions: %w", err)
			}
		}
	}
	for a, outcome := range []string{"deny", "allow"} {
		for c, cache := range []string{"miss", "hit"} {
			e.decisions[a][c] = vec.WithLabelValues(outcome, cache)
		}
	}
	return nil
}

func (e *Engine) count(d Decision, cached bool) {
	a, c := 0, 0
	if d.Allowed {
		a = 1
	}
	if cached {
		c = 1
	}
	e.decisions[a][c].Inc()
}

func counter(reg prometheus.Registerer, name, help string) (prometheus.Counter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("policy: register %s: %w", name, err)
	}
	return c, nil
}

func (e *Engine) dirName() string {
	if e.dir == "" {
		return "(embedded)"
	}
	return e.dir
}

// Version is a short content hash (12 hex digits of the sha256 of the policy
// files) of the active policy.
func (e *Engine) Version() string { return e.active.Load().id }

// Actions lists, sorted, every permission named in the active data's roles,
// capabilities and platform actions.
func (e *Engine) Actions() []string { return slices.Clone(e.active.Load().actions) }

// Roles returns the role names of the active policy data.
func (e *Engine) Roles() []string { return slices.Clone(e.active.Load().roles) }

// OwnerRole returns the owner role of the active policy data.
func (e *Engine) OwnerRole() string { return e.active.Load().ownerRole }

// Capabilities returns the capability names of the active policy data.
func (e *Engine) Capabilities() []string { return slices.Clone(e.active.Load().capabilities) }

// Decide answers one authorization question. It fails closed: on any
// evaluation error it returns Decision{Allowed: false} and the error.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	return e.decide(ctx, &in, true)
}

// decideUncached is Decide without the decision cache (benchmarks, tests).
func (e *Engine) decideUncached(ctx context.Context, in Input) (Decision, error) {
	return e.decide(ctx, &in, false)
}

func (e *Engine) decide(ctx context.Context, in *Input, useCache bool) (Decision, error) {
	v := e.active.Load()
	var kp *[]byte
	if useCache {
		kp = keyPool.Get().(*[]byte)
		*kp = appendKey((*kp)[:0], in, v.reads)
		defer keyPool.Put(kp)
		if d, ok := v.cache.get(*kp); ok {
			d.Reasons = slices.Clone(d.Reasons)
			e.count(d, true)
			return d, nil
		}
	}
	if !useCache {
		d, err := v.evalDecision(ctx, in)
		if err != nil {
			return Decision{Allowed: false}, err
		}
		e.count(d, false)
		return d, nil
	}
	// Concurrent misses on one key (a cold cache after a swap) evaluate once.
	res, err, shared := v.inflight.Do(string(*kp), func() (any, error) {
		d, err := v.evalDecision(ctx, in)
		if err != nil {
			return nil, err
		}
		v.cache.put(*kp, d)
		return d, nil
	})
	if err != nil && shared && ctx.Err() == nil {
		// The evaluation was another request's, which failed (e.g. its
		// client went away and cancelled it): ours is still wanted.
		res, err = v.evalDecision(ctx, in)
	}
	if err != nil {
		return Decision{Allowed: false}, err
	}
	d := res.(Decision)
	d.Reasons = slices.Clone(d.Reasons)
	e.count(d, false)
	return d, nil
}

// eval evaluates a prepared entrypoint on an AST input, without the
// per-call goroutine, metrics and input conversion rego.Eval does by default.
func eval(ctx context.Context, pq *rego.PreparedEvalQuery, input ast.Value) (ast.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cancel, stop := evalCancel(ctx)
	defer stop()
	rs, err := pq.Eval(ctx,
		rego.EvalParsedInput(input),
		rego.EvalMetrics(metrics.NoOp()),
		rego.EvalExternalCancel(cancel),
		rego.EvalGenerateJSON(asTerm),
	)
	if err != nil {
		return nil, fmt.Errorf("policy: eval: %w", err)
	}
	return resultValue(rs)
}

func (v *version) evalDecision(ctx context.Context, in *Input) (Decision, error) {
	obj, err := eval(ctx, &v.decision, decisionInput(in))
	if err != nil {
		return Decision{}, err
	}
	return parseDecision(obj)
}

// ListScope returns the organizations whose items subj may list for action
// (a read), confined to tokenOrg ("" = no token org). subj.Memberships must
// hold all of the subject's memberships. The ceiling and organization status
// are not considered: apply Decide per item for those.
func (e *Engine) ListScope(ctx context.Context, subj Subject, tokenOrg, action string) (Scope, error) {
	v := e.active.Load()
	key := scopeKey(&subj, tokenOrg, action)
	if sc, ok := v.scopes.get(key); ok {
		return sc, nil
	}
	obj, err := eval(ctx, &v.scope, scopeInput(&subj, tokenOrg, action))
	if err != nil {
		return Scope{}, err
	}
	sc, err := parseScope(obj)
	if err != nil {
		return Scope{}, err
	}
	v.scopes.put(key, sc)
	return sc, nil
}

// Reload re-reads the policy directory, compiles it, runs its Rego tests and,
// only if all of that succeeds, atomically makes it the active version (with
// a fresh decision cache). On failure the last good version stays active, the
// failure is logged and counted, and the error is returned. Unchanged content
// is not swapped.
func (e *Engine) Reload(ctx context.Context) error {
	return e.reload(ctx, true)
}

// reload loads the directory; unless force, content already tried (whether
// it was accepted or refused) is not tried again.
func (e *Engine) reload(ctx context.Context, force bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	src, err := readSource(e.fsys)
	if err != nil {
		e.refuse(err)
		return err
	}
	if !force {
		if src.hash == e.lastTried {
			return nil
		}
		// New content: make sure it is not being written right now (a
		// file written in several steps would otherwise be refused
		// half-written). A later check picks it up once it is stable.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settle):
		}
		again, err := readSource(e.fsys)
		if err != nil || again.hash != src.hash {
			return nil
		}
	}
	e.lastTried = src.hash
	old := e.active.Load()
	if src.hash == old.hash {
		return nil
	}
	start := time.Now()
	v, err := build(ctx, src)
	if err != nil {
		e.refuse(err)
		return err
	}
	// Count first: whoever sees the new version also sees it counted.
	e.reloads.Inc()
	e.active.Store(v)
	e.log.Info("policy reloaded", "version", v.id, "previous", old.id, "dir", e.dirName(),
		"rego_tests", v.tests, "took", time.Since(start))
	return nil
}

func (e *Engine) refuse(err error) {
	e.failures.Inc()
	e.log.Error("policy reload refused; keeping the last good policy",
		"version", e.active.Load().id, "dir", e.dirName(), "error", err)
}

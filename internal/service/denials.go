package service

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/ratelimit"
)

// DeniedAuditLimit bounds the authz.denied events one caller can write: a
// token bucket per credential (an account, whatever token it uses, or an API
// key; anonymous callers share one). Past it a refused attempt is still
// refused, but not written; the dropped events are counted and the first of
// each run is logged. A Rate of 0 writes every denial.
type DeniedAuditLimit struct {
	Rate  float64 // events a second per caller, refilled
	Burst int     // events a caller may write at once
}

type deniedAudit struct {
	buckets *ratelimit.Keyed
	log     *slog.Logger
	dropped atomic.Uint64

	mu       sync.Mutex
	dropping map[string]bool // callers in a run of dropped events (bounded: see admit)
}

func newDeniedAudit(l DeniedAuditLimit, log *slog.Logger) *deniedAudit {
	return &deniedAudit{buckets: ratelimit.New(rate.Limit(l.Rate), l.Burst, 0), log: log, dropping: map[string]bool{}}
}

// admit spends a token of the caller's bucket; false means the event is dropped.
func (d *deniedAudit) admit(ctx context.Context) bool {
	p := auth.FromContext(ctx)
	key := p.CredentialKey()
	if key == "" {
		key = "anonymous"
	}
	ok, _ := d.buckets.Take(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if ok {
		delete(d.dropping, key)
		return true
	}
	d.dropped.Add(1)
	if !d.dropping[key] {
		if len(d.dropping) >= 10_000 {
			clear(d.dropping) // only decides which drops are logged
		}
		d.dropping[key] = true
		d.log.WarnContext(ctx, "authz.denied events of this caller are over the bound: not writing them until its bucket refills",
			"actor", p.Actor(), "credential", key)
	}
	return false
}

// DeniedAuditsDropped is how many authz.denied events were not written because
// their caller was over the bound.
func (s *Service) DeniedAuditsDropped() uint64 { return s.denials.dropped.Load() }

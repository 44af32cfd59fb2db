package policy

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A request whose decision joins another request's evaluation of the same
// question gets its own answer when that evaluation fails for the other
// request's sake (its client went away and cancelled it): before, it got the
// other's "context canceled", presented as an error of a request nobody
// cancelled.
func TestSharedEvaluationCancelledByItsCaller(t *testing.T) {
	e := openEmbedded(t)
	in := req("organization.read", Membership{Org: "c", Role: "viewer"})
	v := e.active.Load()
	key := string(appendKey(nil, &in, v.reads))

	// the other request's evaluation, in flight on the same key
	started, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _, _ = v.inflight.Do(key, func() (any, error) {
			close(started)
			<-release
			return nil, context.Canceled
		})
	}()
	<-started
	type answer struct {
		d   Decision
		err error
	}
	done := make(chan answer, 1)
	go func() {
		d, err := e.Decide(context.Background(), in)
		done <- answer{d, err}
	}()
	// let Decide join the flight, then fail it
	time.Sleep(100 * time.Millisecond)
	close(release)
	a := <-done
	if a.err != nil || !a.d.Allowed {
		t.Fatalf("a live request got %+v, %v from another request's cancelled evaluation", a.d, a.err)
	}

	// a caller whose own context is done still gets its error
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e2 := openEmbedded(t)
	if _, err := e2.Decide(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller: %v", err)
	}
}

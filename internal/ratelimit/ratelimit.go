// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per key —
// a credential, a client address, an audit actor — in bounded memory.
//
// Buckets live in a list ordered by last use. A bucket left alone for as long
// as it takes to refill completely is the same as a fresh one, so it is
// dropped without changing any answer; past MaxKeys the least recently used
// bucket goes even if it is not full yet (its key starts again from a full
// bucket, the price of a bound on memory).
package ratelimit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the buckets of a Keyed whose MaxKeys is 0.
const DefaultMaxKeys = 100_000

// Keyed is a set of token buckets, one per key, safe for concurrent use.
type Keyed struct {
	rate    rate.Limit
	burst   int
	maxKeys int
	idle    time.Duration // a bucket unused this long is full again
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // front: most recently used
}

type bucket struct {
	key      string
	lim      *rate.Limiter
	lastUsed time.Time
}

// New returns buckets refilling at r tokens a second up to burst. maxKeys 0
// means DefaultMaxKeys. A rate of 0 or less (or a burst below 1) allows
// everything: Take never refuses.
func New(r rate.Limit, burst, maxKeys int) *Keyed {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	k := &Keyed{rate: r, burst: burst, maxKeys: maxKeys, now: time.Now, buckets: map[string]*list.Element{}}
	if k.Enabled() {
		k.idle = time.Duration(math.Ceil(float64(burst)/float64(r)*float64(time.Second))) + time.Second
	}
	return k
}

// SetClock replaces the clock (tests).
func (k *Keyed) SetClock(now func() time.Time) { k.now = now }

// Enabled reports whether the buckets refuse anything at all.
func (k *Keyed) Enabled() bool { return k != nil && k.rate > 0 && k.burst >= 1 }

// Take spends a token of key's bucket. When the bucket is empty it spends
// nothing and returns false with how long until a token is there.
func (k *Keyed) Take(key string) (ok bool, retryAfter time.Duration) {
	if !k.Enabled() {
		return true, 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.evictIdle(now)
	var b *bucket
	if e, found := k.buckets[key]; found {
		b = e.Value.(*bucket)
		k.lru.MoveToFront(e)
	} else {
		if len(k.buckets) >= k.maxKeys {
			k.remove(k.lru.Back())
		}
		b = &bucket{key: key, lim: rate.NewLimiter(k.rate, k.burst)}
		k.buckets[key] = k.lru.PushFront(b)
	}
	b.lastUsed = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of buckets held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// evictIdle drops the buckets (at the back of the list) that are full again.
func (k *Keyed) evictIdle(now time.Time) {
	for e := k.lru.Back(); e != nil; e = k.lru.Back() {
		if now.Sub(e.Value.(*bucket).lastUsed) < k.idle {
			return
		}
		k.remove(e)
	}
}

func (k *Keyed) remove(e *list.Element) {
	delete(k.buckets, e.Value.(*bucket).key)
	k.lru.Remove(e)
}

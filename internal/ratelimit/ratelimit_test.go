package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestTakeBurstThenRefill(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	k := New(2, 3, 0) // 2 a second, burst 3
	k.SetClock(c.now)
	for i := 0; i < 3; i++ {
		if ok, _ := k.Take("a"); !ok {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	ok, wait := k.Take("a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("fourth take = %v, %v; want refused with a wait of at most 500ms", ok, wait)
	}
	// a refusal spends nothing: after the wait one token is there
	c.advance(wait)
	if ok, _ := k.Take("a"); !ok {
		t.Fatalf("refused after waiting %v", wait)
	}
	if ok, _ := k.Take("a"); ok {
		t.Fatal("a second token appeared from nowhere")
	}
	// another key has its own bucket
	if ok, _ := k.Take("b"); !ok {
		t.Fatal("key b shares a's bucket")
	}
}

func TestDisabled(t *testing.T) {
	for _, k := range []*Keyed{nil, New(0, 10, 0), New(5, 0, 0)} {
		for i := 0; i < 1000; i++ {
			if ok, _ := k.Take("a"); !ok {
				t.Fatalf("%+v refused", k)
			}
		}
	}
}

func TestIdleBucketsAreEvicted(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	k := New(10, 5, 0) // full again after 0.5s; idle after 1.5s
	k.SetClock(c.now)
	for i := 0; i < 1000; i++ {
		k.Take(fmt.Sprintf("caller-%d", i))
	}
	if k.Len() != 1000 {
		t.Fatalf("Len = %d", k.Len())
	}
	c.advance(time.Second)
	k.Take("late")
	if k.Len() != 1001 {
		t.Fatalf("evicted before idle: Len = %d", k.Len())
	}
	c.advance(time.Second)
	k.Take("later")
	if k.Len() != 2 {
		t.Fatalf("idle buckets kept: Len = %d, want 2", k.Len())
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	k := New(1, 2, 100)
	k.SetClock(c.now)
	k.Take("busy")
	k.Take("busy")
	for i := 0; i < 10_000; i++ {
		k.Take(fmt.Sprintf("caller-%d", i))
		if i%10 == 0 {
			k.Take("busy") // busy stays recently used
		}
		if k.Len() > 100 {
			t.Fatalf("Len = %d past the bound", k.Len())
		}
	}
	// the recently used bucket survived the churn and is still empty
	if ok, _ := k.Take("busy"); ok {
		t.Fatal("busy's bucket was reset by the churn")
	}
}

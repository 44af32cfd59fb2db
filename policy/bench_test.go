package policy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// benchInputs are representative questions: several roles, org depths,
// actions and outcomes.
func benchInputs() []Input {
	roles := []string{"viewer", "member", "billing", "admin", "owner"}
	actions := []string{"organization.read", "members.invite", "application.create", "billing.update", "sector.retire"}
	var out []Input
	for depth := range 4 {
		ancestors := make([]string, depth*5)
		for i := range ancestors {
			ancestors[i] = fmt.Sprintf("org-%d", i)
		}
		for i, role := range roles {
			at := "c"
			if len(ancestors) > 0 {
				at = ancestors[i%len(ancestors)]
			}
			in := req(actions[(i+depth)%len(actions)], Membership{at, role}, Membership{"c", "viewer"})
			in.Resource.Ancestors = ancestors
			out = append(out, in)
		}
	}
	return out
}

func benchEngine(b *testing.B) *Engine {
	e, err := Open(context.Background(), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchDecide(b *testing.B, cached, parallel bool) {
	e := benchEngine(b)
	ctx := context.Background()
	inputs := benchInputs()
	decide := e.decideUncached
	if cached {
		decide = e.Decide
		for _, in := range inputs {
			if _, err := e.Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for i := 0; b.Loop(); i++ {
			if _, err := decide(ctx, inputs[i%len(inputs)]); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := decide(ctx, inputs[i%len(inputs)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkDecideCached(b *testing.B)         { benchDecide(b, true, false) }
func BenchmarkDecideCold(b *testing.B)           { benchDecide(b, false, false) }
func BenchmarkDecideCachedParallel(b *testing.B) { benchDecide(b, true, true) }
func BenchmarkDecideColdParallel(b *testing.B)   { benchDecide(b, false, true) }

func BenchmarkListScope(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	subj := Subject{Type: "account", Memberships: []Membership{{"a", "viewer"}, {"b", "admin"}, {"c", "billing"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.ListScope(ctx, subj, "", "organization.read"); err != nil {
			b.Fatal(err)
		}
	}
}

package gate

import (
	"context"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/policy"
)

// CountScope is countScope, for the oracle test.
func CountScope(ctx context.Context, client *ent.Client, scope policy.Scope) (int, bool, error) {
	return countScope(ctx, client, scope)
}

// OrgListPredicate is the predicate an organizations list made with scope
// selects by (probe: the per-row form of the subtree tests).
func OrgListPredicate(scope policy.Scope, probe bool) func(*sql.Selector) {
	sh := shape{probeSubtrees: probe, probeWithin: probe}
	in := func(s *sql.Selector, col string) *sql.Predicate { return scopePredicate(s, scope, sh, col) }
	return func(s *sql.Selector) { readRules["Organization"].where(s, uuid.Nil, in, in) }
}

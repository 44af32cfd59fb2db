package service

import (
	"context"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
)

type txKey struct{}

// ambientTx is the transaction of the mutation being served, if any.
func ambientTx(ctx context.Context) *ent.Tx { tx, _ := ctx.Value(txKey{}).(*ent.Tx); return tx }

// Mutate is the one path of every GraphQL mutation (the server wraps each
// Mutation field in it): it refuses an undeclared field, opens the
// transaction every service call of the resolver joins, and commits only when
// the resolver succeeded, the policy allowed one of the field's declared
// actions and the caller may read the payload. Anything else rolls back, so
// a mutation that answers an error changed nothing, and one that changed
// something answers its payload. Serialization failures and deadlocks re-run
// the resolver.
func (s *Service) Mutate(ctx context.Context, field string, resolve func(context.Context) (any, error)) (any, error) {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		var res any
		res, err = s.mutateOnce(ctx, field, resolve)
		gate.Forget(ctx) // roles may have changed, or been rolled back
		if err == nil {
			return res, nil
		}
		if !retryable(err) {
			break
		}
		backoff(attempt)
	}
	if d := apperr.DenialOf(err); d != nil {
		if aerr := s.auditDenial(ctx, d); aerr != nil {
			return nil, aerr
		}
	}
	return nil, err
}

func (s *Service) mutateOnce(ctx context.Context, field string, resolve func(context.Context) (any, error)) (any, error) {
	ctx, err := gate.Guard(ctx, field)
	if err != nil {
		return nil, err
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, txKey{}, tx)
	res, err := resolve(ctx)
	if err == nil {
		err = s.gate.Committable(gate.System(ctx), tx.Client(), res)
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return res, nil
}

// Package service is the only place that writes: every mutation runs here in one
// transaction together with its audit event, and the invariants of SPEC §4
// (last owner, retire order, limits, frozen orgs) are checked inside it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
)

// Limits are the configured defaults; an org's own non-zero limits override them.
type Limits struct {
	Applications int
	Sectors      int
	Suborgs      int
	OrgsOwned    int
}

// Config of the service layer.
type Config struct {
	Limits Limits
	// Roles and Capabilities are the names the active policy data defines.
	Roles        func() []string
	Capabilities func() []string
	// OwnerRole is the role the policy data names the owner (last owner,
	// sole owner, a root org's creator).
	OwnerRole      func() string
	InvitationTTL  time.Duration // default 7 days
	MaxSettingsLen int           // bytes of JSON
	// Identity holds the data key and signing-key overlap (see keys.go).
	Identity IdentityConfig
	// DeniedAudit bounds the authz.denied events written per caller (denials.go).
	DeniedAudit DeniedAuditLimit
	Logger      *slog.Logger // default slog.Default()
}

// Target is what a mutation acts on, as the gate needs it.
type Target = gate.Target

// Authorizer is the policy gate as the service sees it. It decides inside the
// transaction so owner counts and statuses are the ones being changed.
type Authorizer interface {
	Authorize(ctx context.Context, tx *ent.Client, action string, t Target) error
	// Committable is asked last, inside the transaction of a mutation: did
	// the policy allow one of its declared actions, and may the caller read
	// what it returns?
	Committable(ctx context.Context, tx *ent.Client, payload any) error
}

// Service performs mutations.
type Service struct {
	client  *ent.Client
	dialect string
	gate    Authorizer
	cfg     Config
	now     func() time.Time
	denials *deniedAudit
}

// New builds a Service.
func New(client *ent.Client, dialectName string, gate Authorizer, cfg Config) *Service {
	if cfg.InvitationTTL == 0 {
		cfg.InvitationTTL = 7 * 24 * time.Hour
	}
	if cfg.MaxSettingsLen == 0 {
		cfg.MaxSettingsLen = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{client: client, dialect: dialectName, gate: gate, cfg: cfg, now: func() time.Time { return time.Now().UTC() },
		denials: newDeniedAudit(cfg.DeniedAudit, cfg.Logger)}
}

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// inTx runs fn in the transaction of the mutation being served (see Mutate),
// or, for the service's own work, in one of its own, retrying serialization
// failures and deadlocks. A policy denial is audited after the rollback, in a
// transaction of its own, so the refused change leaves nothing but the
// authz.denied event.
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	if tx := ambientTx(ctx); tx != nil {
		return fn(tx)
	}
	err := s.runTx(ctx, fn)
	if d := apperr.DenialOf(err); d != nil {
		if aerr := s.auditDenial(ctx, d); aerr != nil {
			return aerr
		}
	}
	return err
}

// auditDenial writes the authz.denied event of a refused attempt, unless the
// caller is over its bound (see denials.go): the attempt is refused all the
// same, and the dropped event is counted.
func (s *Service) auditDenial(ctx context.Context, d *apperr.Denial) error {
	if !s.denials.admit(ctx) {
		return nil
	}
	// A caller that hangs up once refused is still on record: the write
	// outlives its request, within a bound of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deniedAuditTimeout)
	defer cancel()
	return s.runTx(ctx, func(tx *ent.Tx) error {
		var org *uuid.UUID // a probe of what the caller cannot see goes to the platform's trail
		if id, err := uuid.Parse(d.OrgID); err == nil && !d.Hidden {
			org = &id
		}
		return s.audit(ctx, tx, "authz.denied", org, d.ResourceType, d.ResourceID, nil,
			map[string]any{"action": d.Action, "reasons": d.Reasons})
	})
}

// deniedAuditTimeout bounds the write of a refused attempt whose caller left.
const deniedAuditTimeout = 5 * time.Second

func (s *Service) runTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		var tx *ent.Tx
		tx, err = s.client.Tx(ctx)
		if err != nil {
			if retryable(err) {
				continue
			}
			return err
		}
		if err = fn(tx); err != nil {
			_ = tx.Rollback()
			if retryable(err) {
				backoff(attempt)
				continue
			}
			return err
		}
		if err = tx.Commit(); err != nil {
			if retryable(err) {
				backoff(attempt)
				continue
			}
			return err
		}
		return nil
	}
	return err
}

func backoff(attempt int) { time.Sleep(time.Duration(attempt+1) * 2 * time.Millisecond) }

func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// lockOrg loads an org and, on PostgreSQL, locks its row until the transaction
// ends; SQLite's immediate transactions already serialize writers.
func (s *Service) lockOrg(ctx context.Context, tx *ent.Tx, id uuid.UUID) (*ent.Organization, error) {
	q := tx.Organization.Query().Where(organization.ID(id), organization.DeletedAtIsNil())
	if s.dialect == dialect.Postgres {
		q = q.ForUpdate()
	}
	org, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, gate.NotFound(Target{Type: "organization", ID: id.String()})
	}
	return org, err
}

// writableOrg locks an org for a write to the org itself: the policy must
// allow action on it and the org must not be frozen.
func (s *Service) writableOrg(ctx context.Context, tx *ent.Tx, id uuid.UUID, action string) (*ent.Organization, error) {
	return s.writable(ctx, tx, id, action, Target{Type: "organization", ID: id.String()})
}

// writable locks org id for a write to resource t of it (t.Org is filled in):
// the policy must allow action and the org must not be frozen.
func (s *Service) writable(ctx context.Context, tx *ent.Tx, id uuid.UUID, action string, t Target) (*ent.Organization, error) {
	org, err := s.lockOrg(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	t.Org = org
	if t.Type == "organization" {
		t.Status = string(org.Status)
	}
	if err := s.authorize(ctx, tx, action, t); err != nil {
		return nil, err
	}
	if err := frozen(org); err != nil {
		return nil, err
	}
	return org, nil
}

// frozen refuses writes in a retired org.
func frozen(org *ent.Organization) error {
	if org.Status == organization.StatusRETIRED {
		return apperr.New(apperr.FailedPrecondition, "organization %q is retired: re-enable it first", org.Slug)
	}
	return nil
}

// authorize asks the gate; a denial is returned as is (the gate audits it).
func (s *Service) authorize(ctx context.Context, tx *ent.Tx, action string, t Target) error {
	if s.gate == nil {
		return apperr.New(apperr.Forbidden, "no policy gate configured")
	}
	return s.gate.Authorize(ctx, tx.Client(), action, t)
}

// audit writes an event in the same transaction as the change.
func (s *Service) audit(ctx context.Context, tx *ent.Tx, action string, org *uuid.UUID, resType, resID string, before, after map[string]any) error {
	return tx.AuditEvent.Create().
		SetNillableOrganizationID(org).
		SetAction(action).
		SetActor(auth.FromContext(ctx).Actor()).
		SetResourceType(resType).
		SetResourceID(resID).
		SetBefore(before).
		SetAfter(after).
		SetRequestID(apperr.RequestIDFunc(ctx)).
		Exec(ctx)
}

// accountOf returns the calling account or UNAUTHENTICATED.
func accountOf(ctx context.Context) (*ent.Account, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Account == nil {
		return nil, apperr.New(apperr.Unauthenticated, "sign in with an account token")
	}
	return p.Account, nil
}

func limitOr(own, def int) int {
	if own > 0 {
		return own
	}
	return def
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Package app wires the store, the policy engine, the gate, the service layer
// and the HTTP server together; `orgraph serve` and the end-to-end tests use it.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/policy"
	"github.com/orgraph/orgraph/server"
)

// Config of a running orgraph.
type Config struct {
	DB            string
	PolicyDir     string // "" = embedded policies
	Migrate       bool
	Limits        service.Limits
	InvitationTTL time.Duration
	TokenTTL      time.Duration
	MaxDepth      int
	MaxComplexity int
	Introspection bool
	CORSOrigins   []string
	Logger        *slog.Logger
	// DataKey (base64 of 32 bytes) encrypts secrets at rest; "" reads
	// $ORGRAPH_DATA_KEY, and without it a generated key stored in the database is used.
	DataKey string
	// KeyOverlap is how long a rotated-out application signing key stays listed.
	KeyOverlap time.Duration
	// RateLimit of the API per credential and per client address.
	RateLimit server.RateLimit
	// DeniedAudit bounds the authz.denied events written per caller.
	DeniedAudit service.DeniedAuditLimit
	// Decider, when set, wraps the policy engine the gate asks (tests record
	// every question with it).
	Decider func(gate.Engine) gate.Engine
}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	return Config{
		Limits:        service.Limits{Applications: 100, Sectors: 50, Suborgs: 1000, OrgsOwned: 100},
		InvitationTTL: 7 * 24 * time.Hour,
		TokenTTL:      time.Hour,
		MaxDepth:      64,
		MaxComplexity: 200000,
		Introspection: true,
		KeyOverlap:    service.DefaultKeyOverlap,
		RateLimit:     DefaultRateLimit,
		DeniedAudit:   DefaultDeniedAudit,
	}
}

// DefaultRateLimit: sustained rates far above what one interactive client or
// integration sends, with bursts deep enough for the heaviest test of the
// suite (the filter oracle sends about 1 700 requests from one account in a
// few seconds, 4 200 from one address) with room to spare.
var DefaultRateLimit = server.RateLimit{PerCredential: 100, CredentialBurst: 2500, PerAddress: 300, AddressBurst: 6000}

// DefaultDeniedAudit: a caller's first 100 denials are all written, then one a
// second at most.
var DefaultDeniedAudit = service.DeniedAuditLimit{Rate: 1, Burst: 100}

// App is a wired orgraph.
type App struct {
	Store    *store.Store
	Engine   *policy.Engine
	Gate     *gate.Gate
	Service  *service.Service
	Auth     *auth.Authenticator
	Handler  http.Handler
	Registry *prometheus.Registry
}

// New opens everything. The caller runs Engine.Watch and closes Store.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st, err := store.Open(cfg.DB)
	if err != nil {
		return nil, err
	}
	if cfg.Migrate {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	} else if err := checkSchema(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	eng, err := policy.Open(ctx, policy.Options{Dir: cfg.PolicyDir, Logger: cfg.Logger, Registerer: reg})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("policy: %w", err)
	}
	au, err := auth.New(ctx, st.Client)
	if err != nil {
		st.Close()
		return nil, err
	}
	if cfg.DataKey == "" {
		cfg.DataKey = os.Getenv(auth.DataKeyEnv)
	}
	dataKey, err := auth.LoadDataKey(ctx, st.Client, cfg.DataKey)
	if err != nil {
		st.Close()
		return nil, err
	}
	var decider gate.Engine = eng
	if cfg.Decider != nil {
		decider = cfg.Decider(eng)
	}
	g := gate.New(st.Client, decider)
	svc := service.New(st.Client, st.Dialect, g, service.Config{
		Limits: cfg.Limits, Roles: eng.Roles, Capabilities: eng.Capabilities, OwnerRole: eng.OwnerRole, InvitationTTL: cfg.InvitationTTL,
		Identity:    service.IdentityConfig{DataKey: dataKey, KeyOverlap: cfg.KeyOverlap},
		DeniedAudit: cfg.DeniedAudit, Logger: cfg.Logger,
	})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "orgraph_audit_denied_dropped_total",
		Help: "authz.denied events not written because their caller was over the bound."},
		func() float64 { return float64(svc.DeniedAuditsDropped()) }))
	res := &graph.Resolver{Client: st.Client, Service: svc, Gate: g, Auth: au, NodeType: st.NodeType, TokenTTL: cfg.TokenTTL}
	h := server.New(server.Config{
		Resolver: res, Client: st.Client, Auth: au, Gate: g, Ping: st.Ping, PolicyVersion: eng.Version,
		Logger: cfg.Logger, Registry: reg, MaxDepth: cfg.MaxDepth, MaxComplexity: cfg.MaxComplexity,
		Introspection: cfg.Introspection, CORSOrigins: cfg.CORSOrigins, RateLimit: cfg.RateLimit,
	})
	return &App{Store: st, Engine: eng, Gate: g, Service: svc, Auth: au, Handler: h, Registry: reg}, nil
}

// checkSchema refuses a PostgreSQL database that `orgraph migrate` has not
// brought up to this binary's versioned migrations.
func checkSchema(ctx context.Context, st *store.Store) error {
	pending, err := st.PendingMigrations(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("check the database schema: %w", err)
	case len(pending) > 0:
		return fmt.Errorf("the database schema is not up to date (pending migrations: %s); run `orgraph migrate`",
			strings.Join(pending, ", "))
	}
	return nil
}

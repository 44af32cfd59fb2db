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
	// MaxFragments and MaxRepeatedSelections bound the shapes of a document
	// that make its validation slow.
	MaxFragments          int
	MaxRepeatedSelections int
	// Inputs caps the arguments of every field (ids, where filters).
	Inputs server.InputLimits
	// MaxBatch is how many operations one JSON array body may hold (0 refuses arrays).
	MaxBatch int
	// RequestTimeout is the deadline of one GraphQL request (0: none).
	RequestTimeout time.Duration
	Introspection  bool
	CORSOrigins    []string
	Logger         *slog.Logger
	// DataKey (base64 of 32 bytes) encrypts secrets at rest; "" reads
	// $ORGRAPH_DATA_KEY, and without it a generated key stored in the database is used.
	DataKey string
	// KeyOverlap is how long a rotated-out application signing key stays listed.
	KeyOverlap time.Duration
	// Decider, when set, wraps the policy engine the gate asks (tests record
	// every question with it).
	Decider func(gate.Engine) gate.Engine
}

// DefaultInputLimits are the documented caps on arguments.
var DefaultInputLimits = server.InputLimits{IDs: 100, InValues: 1000, FilterEntries: 100, FilterDepth: 10, FilterTerms: 500, VariableObjects: 1000}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	return Config{
		Limits:                service.Limits{Applications: 100, Sectors: 50, Suborgs: 1000, OrgsOwned: 100},
		InvitationTTL:         7 * 24 * time.Hour,
		TokenTTL:              time.Hour,
		MaxDepth:              64,
		MaxComplexity:         200000,
		MaxFragments:          50,
		MaxRepeatedSelections: 100,
		Inputs:                DefaultInputLimits,
		MaxBatch:              10,
		RequestTimeout:        10 * time.Second,
		Introspection:         true,
		KeyOverlap:            service.DefaultKeyOverlap,
	}
}

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
		Limits: cfg.Limits, Roles: eng.Roles, Capabilities: eng.Capabilities, InvitationTTL: cfg.InvitationTTL,
		Identity: service.IdentityConfig{DataKey: dataKey, KeyOverlap: cfg.KeyOverlap},
	})
	res := &graph.Resolver{Client: st.Client, Service: svc, Gate: g, Auth: au, NodeType: st.NodeType, TokenTTL: cfg.TokenTTL}
	h := server.New(server.Config{
		Resolver: res, Client: st.Client, Auth: au, Gate: g, Ping: st.Ping, PolicyVersion: eng.Version,
		Logger: cfg.Logger, Registry: reg, MaxDepth: cfg.MaxDepth, MaxComplexity: cfg.MaxComplexity,
		MaxFragments: cfg.MaxFragments, MaxRepeatedSelections: cfg.MaxRepeatedSelections,
		Inputs: cfg.Inputs, MaxBatch: cfg.MaxBatch, RequestTimeout: cfg.RequestTimeout,
		Introspection: cfg.Introspection, CORSOrigins: cfg.CORSOrigins,
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

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
	"github.com/orgraph/orgraph/internal/keyring"
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
	// KeyFile holds the master key that seals the server's keys in the
	// database; it is created (mode 0600) on first start. "" reads
	// $ORGRAPH_KEY_FILE, else the key file is next to an SQLite database file
	// (orgraph.db: orgraph.keys), or orgraph.keys in the working directory.
	KeyFile string
	// MasterKey (base64 of 32 bytes) is the master key instead of the key
	// file; "" reads $ORGRAPH_MASTER_KEY.
	MasterKey string
	// DataKey (base64 of 32 bytes) encrypts secrets at rest; "" reads
	// $ORGRAPH_DATA_KEY, and without it a generated key is stored in the
	// database, sealed under the master key.
	DataKey string
	// KeyOverlap is how long a rotated-out application signing key stays listed.
	KeyOverlap time.Duration
	// RateLimit of the API per credential and per client address.
	RateLimit server.RateLimit
	// LogRequests says which requests get a log line ("" or errors: failed
	// ones at INFO and above, the others at DEBUG; all; none).
	LogRequests server.LogRequests
	// DeniedAudit bounds the authz.denied events written per caller.
	DeniedAudit service.DeniedAuditLimit
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
		RateLimit:             DefaultRateLimit,
		DeniedAudit:           DefaultDeniedAudit,
		LogRequests:           server.LogFailedRequests,
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
	Keys     *keyring.Keyring
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
	keys, err := openKeys(ctx, st, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	au, err := auth.New(ctx, st.Client, keys)
	if err != nil {
		st.Close()
		return nil, err
	}
	dataKey := keys.DataKey()
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
		MaxFragments: cfg.MaxFragments, MaxRepeatedSelections: cfg.MaxRepeatedSelections,
		Inputs: cfg.Inputs, MaxBatch: cfg.MaxBatch, RequestTimeout: cfg.RequestTimeout,
		Introspection: cfg.Introspection, CORSOrigins: cfg.CORSOrigins, RateLimit: cfg.RateLimit,
		LogRequests: cfg.LogRequests,
	})
	return &App{Store: st, Engine: eng, Gate: g, Service: svc, Auth: au, Keys: keys, Handler: h, Registry: reg}, nil
}

// openKeys opens the keyring (moving an older orgraph's plaintext keys out of
// the database) and finishes what a data key rotation left: application keys
// still sealed under a previous data key are sealed under the current one,
// and previous data keys nothing needs any more are dropped.
func openKeys(ctx context.Context, st *store.Store, cfg Config) (*keyring.Keyring, error) {
	if cfg.KeyFile == "" {
		cfg.KeyFile = os.Getenv(keyring.KeyFileEnv)
	}
	if cfg.KeyFile == "" {
		cfg.KeyFile = keyring.DefaultKeyFile(cfg.DB)
	}
	if cfg.MasterKey == "" {
		cfg.MasterKey = os.Getenv(keyring.MasterKeyEnv)
	}
	if cfg.DataKey == "" {
		cfg.DataKey = os.Getenv(keyring.DataKeyEnv)
	}
	if cfg.MasterKey == "" {
		if err := keyring.CheckKeyFilePath(cfg.KeyFile, cfg.DB); err != nil {
			return nil, err
		}
	}
	keys, err := keyring.Open(ctx, st.Client, st.Dialect, keyring.Options{
		KeyFile: cfg.KeyFile, MasterKey: cfg.MasterKey, DataKey: cfg.DataKey, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server keys: %w", err)
	}
	if err := finishReseal(ctx, st, keys, cfg.Logger); err != nil {
		return nil, fmt.Errorf("server keys: %w", err)
	}
	return keys, nil
}

// finishReseal seals under the current data key the application keys sealed
// under a previous one the keyring still opens, then drops the previous data
// keys whose overlap ended and under which nothing is sealed any more.
func finishReseal(ctx context.Context, st *store.Store, keys *keyring.Keyring, logger *slog.Logger) error {
	all, err := keys.DataKeys(ctx)
	if err != nil {
		return err
	}
	rep, err := service.ResealApplicationKeys(ctx, st.Client, all, keys.DataKey())
	if err != nil {
		return err
	}
	if rep.Resealed > 0 {
		logger.Info("sealed application keys under the current data key", "count", rep.Resealed, "data_key_id", keyring.DataKeyID(keys.DataKey()))
	}
	for id, n := range rep.Unopened {
		logger.Warn("application keys are sealed under a data key this server does not have: they cannot sign until it is configured",
			"count", n, "data_key_id", id)
	}
	inUse, err := service.DataKeysInUse(ctx, st.Client)
	if err != nil {
		return err
	}
	_, err = keys.PruneDataKeys(ctx, inUse)
	return err
}

// RotateOptions adjust RotateKeys.
type RotateOptions = keyring.RotateOptions

// KeyRotation tells what RotateKeys did.
type KeyRotation struct {
	*keyring.Rotation
	// Resealed counts the application keys sealed under the new data key.
	Resealed int
	// Unopened counts, by data key id, the application keys sealed under a data
	// key this process does not have (left as they are).
	Unopened map[string]int
	// DroppedDataKeys lists the previous data keys deleted (nothing was sealed under them).
	DroppedDataKeys []string
}

// RotateKeys is `orgraph keys rotate`: a new token-signing key signs from now
// on (the previous one keeps verifying for the overlap), and the sealed data
// (application private keys) is sealed again under a new data key. Servers
// running elsewhere sign with the new key within a minute; they keep sealing
// under the data key they started with until they restart, so restart them
// within the overlap (their start-up seals again what they sealed meanwhile).
// This App's own service keeps its data key too: it is for a process that
// rotates, not one that serves.
func (a *App) RotateKeys(ctx context.Context, opts RotateOptions) (*KeyRotation, error) {
	old, err := a.Keys.DataKeys(ctx)
	if err != nil {
		return nil, err
	}
	rot, err := a.Keys.Rotate(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := &KeyRotation{Rotation: rot}
	if err := a.Auth.ReloadKeys(ctx); err != nil {
		return out, err
	}
	all, err := a.Keys.DataKeys(ctx)
	if err != nil {
		return out, err
	}
	for id, k := range old {
		all[id] = k
	}
	rep, err := service.ResealApplicationKeys(ctx, a.Store.Client, all, a.Keys.DataKey())
	if err != nil {
		return out, fmt.Errorf("re-seal the application keys (the rotation is done; the next start finishes this): %w", err)
	}
	out.Resealed, out.Unopened = rep.Resealed, rep.Unopened
	inUse, err := service.DataKeysInUse(ctx, a.Store.Client)
	if err != nil {
		return out, err
	}
	out.DroppedDataKeys, err = a.Keys.PruneDataKeys(ctx, inUse)
	return out, err
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

// Command orgraph runs and administers the orgraph service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/service"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/policy"
	"github.com/orgraph/orgraph/server"
)

type dbFlag struct {
	DB string `name:"db" env:"ORGRAPH_DB" help:"Database URL: postgres://… or an SQLite file (default orgraph.db)."`
}

// keyFlags locate the master key, on every command that opens the application.
type keyFlags struct {
	KeyFile string `name:"key-file" env:"ORGRAPH_KEY_FILE" placeholder:"PATH" help:"Key file holding the master key that seals the server's keys in the database, created with mode 0600 on first start (default: next to the SQLite file, orgraph.keys for orgraph.db; orgraph.keys in the working directory for PostgreSQL). $ORGRAPH_MASTER_KEY (base64 of 32 bytes) replaces it."`
}

type limitFlags struct {
	MaxApplications int           `name:"max-applications" env:"ORGRAPH_MAX_APPLICATIONS" default:"100" help:"Default applications per org."`
	MaxSectors      int           `name:"max-sectors" env:"ORGRAPH_MAX_SECTORS" default:"50" help:"Default sectors per org."`
	MaxSuborgs      int           `name:"max-suborgs" env:"ORGRAPH_MAX_SUBORGS" default:"1000" help:"Default direct suborgs per org."`
	MaxOrgsOwned    int           `name:"max-orgs-owned" env:"ORGRAPH_MAX_ORGS_OWNED" default:"100" help:"Root orgs one account may own."`
	InvitationTTL   time.Duration `name:"invitation-ttl" env:"ORGRAPH_INVITATION_TTL" default:"168h" help:"How long an invitation stays valid."`
}

// rateFlags: the defaults are app.DefaultRateLimit and app.DefaultDeniedAudit
// (TestServeFlagDefaults keeps them equal).
type rateFlags struct {
	NoRateLimit        bool     `name:"no-rate-limit" env:"ORGRAPH_NO_RATE_LIMIT" help:"Turn off the rate limits of the API."`
	RatePerCredential  float64  `name:"rate-per-credential" env:"ORGRAPH_RATE_PER_CREDENTIAL" default:"100" help:"Requests a second per account or API key (0: no limit)."`
	BurstPerCredential int      `name:"burst-per-credential" env:"ORGRAPH_BURST_PER_CREDENTIAL" default:"2500" help:"Requests an account or API key may send at once."`
	RatePerAddress     float64  `name:"rate-per-address" env:"ORGRAPH_RATE_PER_ADDRESS" default:"300" help:"Requests a second per client address (IPv6: per /64; 0: no limit)."`
	BurstPerAddress    int      `name:"burst-per-address" env:"ORGRAPH_BURST_PER_ADDRESS" default:"6000" help:"Requests a client address may send at once."`
	TrustedProxies     []string `name:"trusted-proxy" env:"ORGRAPH_TRUSTED_PROXIES" help:"Proxy address or CIDR whose X-Forwarded-For names the client (repeatable; default: none, the header is ignored)."`
	DeniedAuditRate    float64  `name:"denied-audit-rate" env:"ORGRAPH_DENIED_AUDIT_RATE" default:"1" help:"authz.denied events a second written per caller past the burst (0: write all)."`
	DeniedAuditBurst   int      `name:"denied-audit-burst" env:"ORGRAPH_DENIED_AUDIT_BURST" default:"100" help:"authz.denied events a caller may write at once."`
}

func (f rateFlags) apply(cfg *app.Config) error {
	proxies, err := server.ParseTrustedProxies(f.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	cfg.RateLimit = server.RateLimit{Disabled: f.NoRateLimit,
		PerCredential: f.RatePerCredential, CredentialBurst: f.BurstPerCredential,
		PerAddress: f.RatePerAddress, AddressBurst: f.BurstPerAddress, TrustedProxies: proxies}
	cfg.DeniedAudit = service.DeniedAuditLimit{Rate: f.DeniedAuditRate, Burst: f.DeniedAuditBurst}
	return nil
}

type serveCmd struct {
	dbFlag
	keyFlags
	limitFlags
	rateFlags
	Addr                  string        `default:":8080" env:"ORGRAPH_ADDR" help:"Listen address."`
	PolicyDir             string        `name:"policy-dir" env:"ORGRAPH_POLICY_DIR" help:"Directory of .rego and data files (default: the embedded policy). Watched for changes."`
	MaxDepth              int           `name:"max-depth" default:"64" help:"Maximum query depth."`
	MaxComplexity         int           `name:"max-complexity" default:"200000" help:"Maximum query complexity (lists multiply by first/last)."`
	MaxFragments          int           `name:"max-fragments" default:"50" help:"Fragments one query document may define."`
	MaxRepeatedSelections int           `name:"max-repeated-selections" default:"100" help:"Times one query document may repeat a field or fragment within a selection set, in all."`
	RequestTimeout        time.Duration `name:"request-timeout" env:"ORGRAPH_REQUEST_TIMEOUT" default:"10s" help:"Deadline of one GraphQL request; its SQL is cancelled past it and it is answered TIMEOUT (0: none)."`
	MaxBatch              int           `name:"max-batch" default:"10" help:"Operations one batched request (a JSON array body) may hold; 0 refuses batches."`
	MaxIDs                int           `name:"max-ids" default:"100" help:"IDs one nodes(ids:) may ask for."`
	MaxInValues           int           `name:"max-in-values" default:"1000" help:"Values of one *In/*NotIn list of a where filter, and of all the lists of one filter together."`
	MaxFilterEntries      int           `name:"max-filter-entries" default:"100" help:"Entries of one and/or list of a where filter."`
	MaxFilterDepth        int           `name:"max-filter-depth" default:"10" help:"How deep where filters nest (not, and, or, has*With)."`
	MaxFilterTerms        int           `name:"max-filter-terms" default:"500" help:"Filters and predicates in one where argument."`
	MaxVariableObjects    int           `name:"max-variable-objects" default:"1000" help:"JSON objects in the variables of one operation."`
	NoIntrospect          bool          `name:"no-introspection" help:"Disable schema introspection."`
	CORSOrigins           []string      `name:"cors-origin" env:"ORGRAPH_CORS_ORIGINS" help:"Origins browsers may call the API from (repeatable; * for any)."`
	DataKey               string        `name:"data-key" env:"ORGRAPH_DATA_KEY" help:"Base64 of 32 bytes encrypting application signing keys at rest (default: a generated key stored in the database, sealed under the master key)."`
	KeyOverlap            time.Duration `name:"key-overlap" env:"ORGRAPH_KEY_OVERLAP" default:"24h" help:"How long a rotated-out application signing key stays listed."`
	LogRequests           string        `name:"log-requests" env:"ORGRAPH_LOG_REQUESTS" enum:"all,errors,none" default:"errors" help:"Which requests get a log line: all (at INFO), errors (failed ones at INFO and above, e.g. 4xx, 5xx, INTERNAL or TIMEOUT errors, and 499 for a client that went away; the others at DEBUG) or none."`
	LogLevel              string        `name:"log-level" env:"ORGRAPH_LOG_LEVEL" enum:"debug,info,warn,error" default:"info" help:"Least level logged: debug, info, warn or error."`
}

// serveGCPercent is serve's GOGC when the environment sets none: a request
// allocates a few megabytes that die with it, and at the default of 100 the
// collector runs every few requests (about a tenth of the CPU in profiles of
// the nested tree query). The live heap is small, so four times as much
// garbage between collections costs tens of megabytes.
const serveGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

// logLevel is the level of the logger main makes (serve's --log-level).
var logLevel slog.LevelVar

// logging applies --log-requests to cfg and returns the --log-level.
func (c *serveCmd) logging(cfg *app.Config) (slog.Level, error) {
	mode, err := server.ParseLogRequests(c.LogRequests)
	if err != nil {
		return 0, fmt.Errorf("--log-requests: %w", err)
	}
	cfg.LogRequests = mode
	level := slog.LevelInfo
	if c.LogLevel != "" {
		if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
			return 0, fmt.Errorf("--log-level: %w", err)
		}
	}
	return level, nil
}

func (c *serveCmd) Run(logger *slog.Logger) error {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	url := store.ResolveURL(c.DB)
	cfg := app.DefaultConfig()
	cfg.DB, cfg.PolicyDir, cfg.Logger = url, c.PolicyDir, logger
	level, err := c.logging(&cfg)
	if err != nil {
		return err
	}
	logLevel.Set(level)
	// The embedded default migrates itself; PostgreSQL is migrated by `orgraph migrate`.
	cfg.Migrate = !isPostgres(url)
	cfg.Limits.Applications, cfg.Limits.Sectors, cfg.Limits.Suborgs, cfg.Limits.OrgsOwned = c.MaxApplications, c.MaxSectors, c.MaxSuborgs, c.MaxOrgsOwned
	cfg.InvitationTTL, cfg.MaxDepth, cfg.MaxComplexity, cfg.Introspection = c.InvitationTTL, c.MaxDepth, c.MaxComplexity, !c.NoIntrospect
	cfg.CORSOrigins = c.CORSOrigins
	cfg.RequestTimeout, cfg.MaxBatch = c.RequestTimeout, c.MaxBatch
	cfg.MaxFragments, cfg.MaxRepeatedSelections = c.MaxFragments, c.MaxRepeatedSelections
	cfg.Inputs = server.InputLimits{IDs: c.MaxIDs, InValues: c.MaxInValues, FilterEntries: c.MaxFilterEntries, FilterDepth: c.MaxFilterDepth, FilterTerms: c.MaxFilterTerms, VariableObjects: c.MaxVariableObjects}
	cfg.DataKey, cfg.KeyOverlap, cfg.KeyFile = c.DataKey, c.KeyOverlap, c.KeyFile
	if err := c.rateFlags.apply(&cfg); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	if c.PolicyDir != "" {
		go a.Engine.Watch(ctx)
	}
	go a.Service.SweepInvitations(gate.System(ctx), time.Minute, func(err error) {
		logger.Error("expire invitations", "err", err)
	})
	srv := &http.Server{
		Addr: c.Addr, Handler: a.Handler,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("orgraph listening", "addr", c.Addr, "db", redact(url), "policy", a.Engine.Version())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type migrateCmd struct {
	dbFlag
	Baseline string `help:"PostgreSQL created before versioned migrations: mark the migrations up to this version as applied without running them."`
}

func (c *migrateCmd) Run() error {
	st, err := store.Open(store.ResolveURL(c.DB))
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.ApplyMigrations(context.Background(), store.MigrateOptions{Baseline: c.Baseline})
	if rep != nil {
		printMigrationReport(os.Stdout, rep, err == nil)
	}
	return err
}

// printMigrationReport tells what `orgraph migrate` did; done is false when it failed.
func printMigrationReport(w io.Writer, rep *store.MigrationReport, done bool) {
	if !rep.Versioned {
		fmt.Fprintln(w, "schema is up to date (SQLite, auto-migration)")
		return
	}
	if rep.Baseline != "" {
		fmt.Fprintf(w, "baseline: marked the migrations up to %s as applied\n", rep.Baseline)
	}
	for _, m := range rep.Applied {
		fmt.Fprintf(w, "applied %s_%s (%d statements, %s)\n", m.Version, m.Description, m.Statements, m.Took.Round(time.Millisecond))
	}
	switch {
	case !done:
	case len(rep.Applied) == 0:
		fmt.Fprintf(w, "schema is up to date at version %s (nothing to apply)\n", rep.To)
	default:
		fmt.Fprintf(w, "schema is up to date at version %s (%s applied)\n", rep.To, plural(len(rep.Applied), "migration"))
	}
}

type accountCreateCmd struct {
	dbFlag
	keyFlags
	Alias         string `required:"" help:"The account's alias."`
	DisplayName   string `name:"display-name" help:"Display name."`
	PlatformAdmin bool   `name:"platform-admin" help:"Make the account a platform admin."`
}

func (c *accountCreateCmd) Run() error {
	ctx := context.Background()
	a, err := openApp(ctx, c.dbFlag, c.keyFlags)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	acc, err := a.Service.CreateAccount(ctx, c.Alias, c.DisplayName, c.PlatformAdmin)
	if err != nil {
		return err
	}
	fmt.Println(acc.ID)
	return nil
}

type tokenCmd struct {
	dbFlag
	keyFlags
	Alias string        `required:"" help:"Account alias."`
	Org   string        `help:"Confine the token to this org's subtree."`
	TTL   time.Duration `name:"ttl" default:"1h" help:"Token lifetime."`
}

func (c *tokenCmd) Run() error {
	ctx := context.Background()
	a, err := openApp(ctx, c.dbFlag, c.keyFlags)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	acc, err := a.Service.AccountByAlias(ctx, c.Alias)
	if err != nil {
		return err
	}
	var org *uuid.UUID
	if c.Org != "" {
		id, err := uuid.Parse(c.Org)
		if err != nil {
			return fmt.Errorf("--org: %w", err)
		}
		org = &id
	}
	tok, _, err := a.Auth.Issue(acc, org, c.TTL)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

type policyTestCmd struct {
	PolicyDir   string  `name:"policy-dir" help:"Directory of policies (default: the embedded policy)."`
	MinCoverage float64 `name:"min-coverage" default:"90" help:"Fail below this coverage (percent)."`
}

func (c *policyTestCmd) Run() error {
	return policy.RunTests(context.Background(), c.PolicyDir, os.Stdout, c.MinCoverage)
}

type cli struct {
	Serve   serveCmd   `cmd:"" help:"Run the GraphQL server."`
	Migrate migrateCmd `cmd:"" help:"Bring the database schema up to date (PostgreSQL: apply pending versioned migrations)."`
	Account struct {
		Create accountCreateCmd `cmd:"" help:"Create an account; prints its id."`
	} `cmd:"" help:"Manage accounts."`
	Token  tokenCmd `cmd:"" help:"Print a bearer token for an account."`
	Policy struct {
		Test policyTestCmd `cmd:"" help:"Run the Rego tests with coverage."`
	} `cmd:"" help:"Policy tools."`
	Seed seedCmd `cmd:"" help:"Write synthetic orgs for benchmarks."`
	Keys struct {
		Rotate keysRotateCmd `cmd:"" help:"Rotate the server's token-signing key and data key."`
	} `cmd:"" help:"Manage the server's keys."`
}

func main() {
	logLevel.Set(slog.LevelInfo)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: &logLevel}))
	slog.SetDefault(logger)
	var c cli
	kctx := kong.Parse(&c, kong.Name("orgraph"), kong.Description("Multi-tenant organization service."),
		kong.UsageOnError(), kong.Bind(logger))
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "orgraph:", err)
		os.Exit(1)
	}
}

// openApp opens the database for an admin command, migrating the embedded default.
func openApp(ctx context.Context, db dbFlag, keys keyFlags) (*app.App, error) {
	cfg := app.DefaultConfig()
	cfg.DB = store.ResolveURL(db.DB)
	cfg.KeyFile = keys.KeyFile
	cfg.Migrate = !isPostgres(cfg.DB)
	cfg.Logger = slog.Default()
	return app.New(ctx, cfg)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// redact hides credentials of a database URL in logs.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); isPostgres(url) && at > 0 {
		return "postgres://…" + url[at:]
	}
	return url
}

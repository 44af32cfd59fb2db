// Package server wires HTTP: authentication, the GraphQL handler, health,
// readiness and metrics.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/graph"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/server/graphiql"
)

// Config of the HTTP server.
type Config struct {
	Resolver      *graph.Resolver
	Client        *ent.Client
	Auth          *auth.Authenticator
	Gate          *gate.Gate
	Ping          func(context.Context) error
	PolicyVersion func() string
	Logger        *slog.Logger
	Registry      *prometheus.Registry
	MaxDepth      int
	MaxComplexity int
	// MaxFragments and MaxRepeatedSelections bound the shapes of a document
	// that make its validation slow (see documentLimits); 0 is no limit.
	MaxFragments          int
	MaxRepeatedSelections int
	MaxBodyBytes          int64
	// Inputs caps the arguments of every field; zero fields are no cap.
	Inputs InputLimits
	// MaxBatch is how many operations a JSON array body may hold; 0 refuses arrays.
	MaxBatch int
	// RequestTimeout is the deadline of a GraphQL request (0: none); what
	// runs over it, SQL included, is cancelled and answered TIMEOUT.
	RequestTimeout time.Duration
	Introspection  bool
	// CORSOrigins may call the API from a browser ("*" for any); none by default.
	CORSOrigins []string
	// RateLimit of /graphql per credential and per client address (ratelimit.go).
	RateLimit RateLimit
	// LogRequests says which requests get a log line (requestlog.go); "" is
	// LogFailedRequests.
	LogRequests LogRequests

	present graphql.ErrorPresenterFunc
}

// parserTokenLimit bounds parsing before any other limit runs: a query of
// more tokens than any real client sends is refused outright.
const parserTokenLimit = 20000

// New returns the HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	m := newMetrics(cfg.Registry)
	cfg.present = cfg.presenter()

	srv := handler.New(graph.NewSchema(cfg.Resolver))
	srv.AddTransport(httpTransport{maxBatch: cfg.MaxBatch})
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	// Automatic persisted queries: frontends send a hash instead of the text.
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	// after the persisted query's text is known, before it is validated
	srv.Use(documentLimits{maxFragments: cfg.MaxFragments, maxRepeats: cfg.MaxRepeatedSelections,
		tokenLimit: parserTokenLimit, passed: lru.New[struct{}](1000)})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(queryLimits{maxDepth: cfg.MaxDepth, maxComplexity: cfg.MaxComplexity})
	srv.Use(&inputLimits{InputLimits: cfg.Inputs})
	srv.Use(listArgs{})
	srv.SetErrorPresenter(cfg.present)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		cfg.Logger.ErrorContext(ctx, "panic in resolver", "panic", v)
		return errors.New("panic")
	})
	srv.AroundFields(cfg.Gate.Middleware)
	srv.AroundFields(cfg.Resolver.MutationPath)
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		op := m.operationLabel(oc)
		start := time.Now()
		rh := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := rh(ctx)
			m.requests.WithLabelValues(op).Inc()
			m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
			return resp
		}
	})

	mux := http.NewServeMux()
	rl := newRateLimiter(cfg.RateLimit, cfg.Registry)
	gql := cfg.withDeadline(rl.perAddress(cfg.withAuth(rl.perCredential(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := gate.WithRequest(graph.WithLoaders(r.Context(), cfg.Client))
		srv.ServeHTTP(w, r.WithContext(ctx))
	})))))
	mux.Handle("/graphql", gql) // GET and POST; the transport answers 405 to other methods
	// GraphiQL, with its assets served from the binary (no CDN).
	ide := graphiql.New("orgraph", "/graphql")
	mux.HandleFunc("GET /{$}", ide.Page)
	mux.HandleFunc("GET "+graphiql.Prefix, ide.Assets)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := map[string]any{"database": "ok", "policy": cfg.PolicyVersion()}
		status := http.StatusOK
		if err := cfg.Ping(ctx); err != nil {
			body["database"] = "unreachable"
			status = http.StatusServiceUnavailable
		}
		if body["policy"] == "" {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	var h http.Handler = mux
	if len(cfg.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-Id"},
			ExposedHeaders: []string{"X-Request-Id"},
			MaxAge:         600,
		}).Handler(mux)
	}
	return cfg.withRequestID(cfg.withBodyLimit(h))
}

// withAuth resolves the bearer token; a bad one is HTTP 401, none is anonymous.
func (cfg Config) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, rest, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
				cfg.unauthorized(w, r, "malformed Authorization header: want Bearer <token>")
				return
			}
			token = strings.TrimSpace(rest)
		}
		p, err := cfg.Auth.Authenticate(r.Context(), token)
		if errors.Is(err, auth.ErrInvalidToken) {
			cfg.unauthorized(w, r, err.Error())
			return
		}
		if err != nil {
			status := http.StatusInternalServerError
			if apperr.CodeOf(err) == apperr.Timeout {
				status = http.StatusServiceUnavailable
			}
			cfg.writeError(w, r, status, err)
			return
		}
		ctx := r.Context()
		if p != nil {
			ctx = auth.WithPrincipal(ctx, p)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (cfg Config) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	cfg.writeError(w, r, http.StatusUnauthorized, apperr.New(apperr.Unauthenticated, "%s", msg))
}

// writeError answers an HTTP request with err as a GraphQL error, mapped to
// its code (and logged) by the same presenter as every GraphQL error.
func (cfg Config) writeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Content-Type", negotiate(r.Header.Get("Accept"))+"; charset=utf-8")
	writeResult(w, status, result{Errors: gqlerror.List{cfg.present(r.Context(), err)}})
}

// withDeadline gives a GraphQL request its deadline: the SQL it runs is
// cancelled when it passes, and the request is answered TIMEOUT.
func (cfg Config) withDeadline(next http.Handler) http.Handler {
	if cfg.RequestTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (cfg Config) withBodyLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > cfg.MaxBodyBytes {
			cfg.writeError(w, r, http.StatusRequestEntityTooLarge, apperr.New(apperr.BadUserInput, "request body larger than %d bytes", cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	mu       sync.Mutex
	seen     map[string]bool
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orgraph_graphql_requests_total", Help: "GraphQL operations by operation name."}, []string{"operation"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "orgraph_graphql_request_duration_seconds", Help: "GraphQL operation latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"operation"}),
		seen: map[string]bool{},
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

var opNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// operationLabel bounds label cardinality: well-formed names, at most 200 of them.
func (m *metrics) operationLabel(oc *graphql.OperationContext) string {
	name := oc.OperationName
	if name == "" && oc.Operation != nil {
		name = oc.Operation.Name
	}
	if name == "" || !opNameRE.MatchString(name) {
		return "anonymous"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.seen[name] {
		if len(m.seen) >= 200 {
			return "other"
		}
		m.seen[name] = true
	}
	return name
}

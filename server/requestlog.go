package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/orgraph/orgraph/internal/apperr"
)

// LogRequests says which requests get a log line of their own.
type LogRequests string

const (
	// LogAllRequests logs every request at INFO (or above when it failed).
	LogAllRequests LogRequests = "all"
	// LogFailedRequests logs failed requests at INFO or above and the others
	// at DEBUG, which costs next to nothing when DEBUG is off (the default).
	LogFailedRequests LogRequests = "errors"
	// LogNoRequests writes no request lines (errors are still logged by the
	// error presenter).
	LogNoRequests LogRequests = "none"
)

// ParseLogRequests checks a --log-requests value ("" is the default, errors).
func ParseLogRequests(s string) (LogRequests, error) {
	switch m := LogRequests(s); m {
	case "":
		return LogFailedRequests, nil
	case LogAllRequests, LogFailedRequests, LogNoRequests:
		return m, nil
	}
	return "", fmt.Errorf("log requests %q: want all, errors or none", s)
}

// StatusClientClosedRequest is the status logged for a request whose client
// went away before it was answered (nginx's 499): a client event, not a
// failure of the server.
const StatusClientClosedRequest = 499

// requestRecord is what the request line is made of: the request id and the
// worst error codes its GraphQL answer carried (noted by the presenter, from
// the resolvers' goroutines).
type requestRecord struct {
	id       string
	internal atomic.Bool
	timeout  atomic.Bool
}

type requestKey struct{}

func recordOf(ctx context.Context) *requestRecord {
	rec, _ := ctx.Value(requestKey{}).(*requestRecord)
	return rec
}

func init() {
	apperr.RequestIDFunc = func(ctx context.Context) string {
		if rec := recordOf(ctx); rec != nil {
			return rec.id
		}
		return ""
	}
}

// note records the code of an error a response carries.
func (rec *requestRecord) note(code apperr.Code) {
	switch code {
	case apperr.Internal:
		rec.internal.Store(true)
	case apperr.Timeout:
		rec.timeout.Store(true)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withRequestID gives every request an id (X-Request-Id, the client's when
// it sent a sane one) and its log line: a client that went away is logged as
// 499 at INFO; a failure (HTTP status >= 400, or an INTERNAL or TIMEOUT error
// in the answer) at INFO, WARN or ERROR; any other request at DEBUG, or at
// INFO with --log-requests=all.
func (cfg Config) withRequestID(next http.Handler) http.Handler {
	mode := cfg.LogRequests
	if mode == "" {
		mode = LogFailedRequests
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rec := &requestRecord{id: id}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestKey{}, rec)))
		if mode == LogNoRequests {
			return
		}
		// r's context is cancelled while the handler runs only when the
		// client closed the connection (the deadline is a child of it).
		gone := errors.Is(r.Context().Err(), context.Canceled)
		status, level, msg := sw.status, slog.LevelDebug, "request"
		switch {
		case gone:
			status, level, msg = StatusClientClosedRequest, slog.LevelInfo, "client closed request"
		case rec.internal.Load() || status >= 500 && status != http.StatusServiceUnavailable:
			level = slog.LevelError
		case rec.timeout.Load() || status == http.StatusServiceUnavailable:
			level = slog.LevelWarn
		case status >= 400 || mode == LogAllRequests:
			level = slog.LevelInfo
		}
		ctx := r.Context()
		if gone {
			ctx = context.WithoutCancel(ctx)
		}
		if !cfg.Logger.Enabled(ctx, level) {
			return // a successful request at DEBUG: nothing built, nothing written
		}
		cfg.Logger.LogAttrs(ctx, level, msg, slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("duration_ms", time.Since(start).Milliseconds()), slog.String("request_id", id))
	})
}

// presenter is the error presenter (apperr.Presenter) noting the code of each
// error in the request's record, for its log line.
func (cfg Config) presenter() graphql.ErrorPresenterFunc {
	present := apperr.Presenter(cfg.Logger)
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := present(ctx, err)
		if rec := recordOf(ctx); rec != nil {
			code, _ := out.Extensions["code"].(string)
			rec.note(apperr.Code(code))
		}
		return out
	}
}

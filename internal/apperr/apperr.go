// Package apperr defines the domain errors and maps every error to one of the
// GraphQL error codes of the spec.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/orgraph/orgraph/ent"
)

// Code is an extensions.code value.
type Code string

// The codes of SPEC §5.
const (
	Unauthenticated    Code = "UNAUTHENTICATED"
	Forbidden          Code = "FORBIDDEN"
	NotFound           Code = "NOT_FOUND"
	BadUserInput       Code = "BAD_USER_INPUT"
	Conflict           Code = "CONFLICT"
	FailedPrecondition Code = "FAILED_PRECONDITION"
	LimitExceeded      Code = "LIMIT_EXCEEDED"
	QueryTooComplex    Code = "QUERY_TOO_COMPLEX"
	Internal           Code = "INTERNAL"
	// Timeout: the request ran over its deadline (or its client went away)
	// and what it was doing was cancelled.
	Timeout Code = "TIMEOUT"
)

// The codes gqlgen gives to mistakes in the request itself.
const (
	ParseFailed            Code = "GRAPHQL_PARSE_FAILED"
	ValidationFailed       Code = "GRAPHQL_VALIDATION_FAILED"
	PersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
)

// Error is a domain error with a code and a message safe to show.
type Error struct {
	Code    Code
	Message string
	// Extra lands in extensions (e.g. the reasons of a denial).
	Extra map[string]any
	// Denial is set when a policy refused the action.
	Denial *Denial
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New builds an Error.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code an error maps to.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case ent.IsNotFound(err):
		return NotFound
	case ent.IsConstraintError(err):
		return Conflict
	case ent.IsValidationError(err):
		return BadUserInput
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Timeout
	}
	return Internal
}

// RequestIDFunc returns the request id of a context (set by the server).
var RequestIDFunc = func(context.Context) string { return "" }

// Present is the gqlgen error presenter logging to slog's default logger.
func Present(ctx context.Context, err error) *gqlerror.Error { return Presenter(nil)(ctx, err) }

// ClientGone tells that the client of the request of ctx went away (closed
// its connection, or reset its stream) before it was answered: its context is
// cancelled, not past a deadline.
func ClientGone(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// Presenter returns the one function that maps errors to what a client sees:
// every error leaves with a code, internal errors leave without their text
// and are logged at ERROR; a client's mistake is logged at INFO, a request
// cut short by its deadline at WARN. Whatever failed in a request whose client
// went away is a client event (TIMEOUT, logged at DEBUG; the server logs the
// request as 499 at INFO), never an internal error. The HTTP layer's own
// answers go through it too. A nil logger is slog's default.
func Presenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		if logger == nil {
			logger = slog.Default()
		}
		cause := err.Error() // before presenting rewrites the message
		out := present(ctx, err)
		code, _ := out.Extensions["code"].(string)
		rid := RequestIDFunc(ctx)
		if ClientGone(ctx) {
			logger.DebugContext(ctx, "client closed request", "code", code, "err", cause, "request_id", rid)
			return out
		}
		switch Code(code) {
		case Internal:
			logger.ErrorContext(ctx, "internal error", "err", cause, "request_id", rid)
		case Timeout:
			logger.WarnContext(ctx, "request cut short", "err", cause, "request_id", rid)
		default:
			logger.InfoContext(ctx, "client error", "code", code, "message", out.Message, "path", out.Path.String(), "request_id", rid)
		}
		return out
	}
}

func present(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil {
		if strings.Contains(gqlErr.Message, "token limit") {
			gqlErr.Extensions["code"] = string(QueryTooComplex)
		}
		return gqlErr
	}
	base := graphql.DefaultErrorPresenter(ctx, err)
	if base.Extensions == nil {
		base.Extensions = map[string]any{}
	}
	var e *Error
	switch {
	case ClientGone(ctx):
		// Whatever broke (a statement or a policy evaluation stopped half
		// way, in words no check below recognizes), the client left first.
		base.Message = "the client closed the request before it was answered"
		base.Extensions["code"] = string(Timeout)
	case errors.As(err, &e) && e.Code != Internal:
		base.Message = e.Message
		for k, v := range e.Extra {
			base.Extensions[k] = v
		}
		base.Extensions["code"] = string(e.Code)
	case ent.IsNotFound(err):
		base.Message = "not found"
		base.Extensions["code"] = string(NotFound)
	case ent.IsConstraintError(err):
		base.Message = "conflicts with an existing record"
		base.Extensions["code"] = string(Conflict)
	case ent.IsValidationError(err):
		base.Message = err.Error()
		base.Extensions["code"] = string(BadUserInput)
	case dataException(err):
		base.Message = "a value does not fit the field it is compared with or stored in"
		base.Extensions["code"] = string(BadUserInput)
	case gqlErr != nil && gqlErr.Rule != "":
		// validation errors from gqlparser
		base.Extensions["code"] = string(ValidationFailed)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		base.Message = "the request ran over its deadline and was stopped"
		base.Extensions["code"] = string(Timeout)
	case errors.Is(err, context.Canceled):
		base.Message = "the request was canceled"
		base.Extensions["code"] = string(Timeout)
	case gqlErr != nil && isInputError(ctx, gqlErr):
		base.Extensions["code"] = string(BadUserInput)
	default:
		rid := RequestIDFunc(ctx)
		base.Message = "internal error (request " + rid + ")"
		base.Extensions["code"] = string(Internal)
		base.Extensions["requestId"] = rid
	}
	return base
}

// dataException tells a value PostgreSQL could not take for its column
// (SQLSTATE class 22), e.g. a forged cursor's text where a number is ordered
// by; SQLite compares such values without complaint.
func dataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// isInputError tells a mistake in the request from a failure of the server,
// for errors that carry no code:
//   - a GraphQL error raised before any field ran (e.g. a persisted query
//     whose hash does not match its text) is about the request;
//   - an error located below the field it was raised for (gqlgen puts the
//     argument's name, and the input field's, after the field's path) came
//     from decoding an argument, e.g. a malformed cursor.
func isInputError(ctx context.Context, gqlErr *gqlerror.Error) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return gqlErr.Unwrap() == nil
	}
	return len(gqlErr.Path) > len(fc.Path())
}

// Denial describes a refused action so it can be audited after the transaction
// that asked has rolled back.
type Denial struct {
	Action       string
	OrgID        string
	ResourceType string
	ResourceID   string
	Reasons      []map[string]any
	// Hidden: the caller may not see the org of what it named; the denial
	// is recorded in the platform's trail, not the org's.
	Hidden bool
}

// DenialOf returns the denial carried by err, if any.
func DenialOf(err error) *Denial {
	var e *Error
	if errors.As(err, &e) {
		return e.Denial
	}
	return nil
}

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
		return Internal
	}
	return Internal
}

// RequestIDFunc returns the request id of a context (set by the server).
var RequestIDFunc = func(context.Context) string { return "" }

// Present is the gqlgen error presenter: every error leaves with a code, and
// internal errors leave without their text.
func Present(ctx context.Context, err error) *gqlerror.Error {
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
	case errors.As(err, &e):
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
	case gqlErr != nil && gqlErr.Rule != "":
		// validation errors from gqlparser
		base.Extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
	default:
		rid := RequestIDFunc(ctx)
		slog.ErrorContext(ctx, "internal error", "err", err, "request_id", rid)
		base.Message = "internal error (request " + rid + ")"
		base.Extensions["code"] = string(Internal)
		base.Extensions["requestId"] = rid
	}
	return base
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

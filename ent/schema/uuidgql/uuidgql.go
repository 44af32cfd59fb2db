// Package uuidgql marshals UUIDs as the GraphQL ID scalar.
package uuidgql

import (
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MarshalUUID writes u as a quoted string.
func MarshalUUID(u uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(u.String()))
	})
}

// UnmarshalUUID parses an ID argument; a malformed ID is bad user input.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, badID(fmt.Sprintf("invalid ID: expected a string, got %T", v))
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, badID(fmt.Sprintf("invalid ID %q", s))
	}
	return u, nil
}

func badID(msg string) error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "BAD_USER_INPUT"}}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/account"
	"github.com/orgraph/orgraph/ent/apikey"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/ent/group"
	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/ent/invitation"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/person"
	"github.com/orgraph/orgraph/ent/sector"
)

var nodeTables = []string{
	organization.Table, account.Table, membership.Table, invitation.Table, application.Table,
	sector.Table, apikey.Table, auditevent.Table, person.Table, group.Table, handle.Table,
}

// NodeType finds which table holds a UUID with one UNION statement, so that
// node(id) needs no type prefix in its ids.
func (s *Store) NodeType(ctx context.Context, id uuid.UUID) (string, error) {
	parts := make([]string, len(nodeTables))
	args := make([]any, len(nodeTables))
	for i, t := range nodeTables {
		ph := "?"
		if s.Dialect == dialect.Postgres {
			ph = fmt.Sprintf("$%d", i+1)
		}
		parts[i] = fmt.Sprintf("SELECT '%s' FROM %s WHERE id = %s", t, t, ph)
		args[i] = id
	}
	var table string
	err := s.DB.QueryRowContext(ctx, strings.Join(parts, " UNION ALL ")+" LIMIT 1", args...).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return "", &ent.NotFoundError{}
	}
	if err != nil {
		return "", err
	}
	return table, nil
}

package graph

import (
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/organization"
)

// organizationFilter is the organizations list's where filter, with
// nameHasPrefix also given to SQLite as ranges of the (name, id) index.
// SQLite's LIKE folds ASCII case, so it can only use an index built NOCASE
// for it, which ent cannot declare; PostgreSQL ranges LIKE 'p%' over its
// text_pattern_ops index by itself.
func organizationFilter(where *ent.OrganizationWhereInput) func(*ent.OrganizationQuery) (*ent.OrganizationQuery, error) {
	return func(q *ent.OrganizationQuery) (*ent.OrganizationQuery, error) {
		q, err := where.Filter(q)
		if err != nil || where == nil || where.NameHasPrefix == nil {
			return q, err
		}
		ranges := prefixRanges(*where.NameHasPrefix, 8)
		if len(ranges) == 0 {
			return q, nil
		}
		return q.Where(func(s *sql.Selector) {
			if s.Dialect() != dialect.SQLite {
				return
			}
			// As a list of ids (sorted, so an ORDER BY id page walks it):
			// as plain terms of the WHERE, SQLite's planner prefers walking
			// the primary key for a LIMIT, through every org.
			t := sql.Table(organization.Table).As("name_range")
			or := make([]*sql.Predicate, len(ranges))
			for i, r := range ranges {
				p := sql.GTE(t.C(organization.FieldName), r[0])
				if r[1] != "" {
					p = sql.And(p, sql.LT(t.C(organization.FieldName), r[1]))
				}
				or[i] = p
			}
			s.Where(sql.In(s.C(organization.FieldID), sql.Dialect(s.Dialect()).Select(t.C(organization.FieldID)).From(t).Where(sql.Or(or...))))
		}), nil
	}
}

// prefixRanges returns byte ranges [from, to) (to "" for unbounded) that
// together hold every string SQLite's LIKE 'prefix%' matches: the leading
// part of prefix in each of its ASCII case spellings, at most max of them.
// They are a superset (the LIKE still decides), so they narrow, never change,
// the result.
func prefixRanges(prefix string, max int) [][2]string {
	spellings := []string{""}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		lower, upper := c|0x20, c&^0x20
		if lower >= 'a' && lower <= 'z' {
			if len(spellings)*2 > max {
				break
			}
			next := make([]string, 0, len(spellings)*2)
			for _, s := range spellings {
				next = append(next, s+string(rune(upper)), s+string(rune(lower)))
			}
			spellings = next
			continue
		}
		for j := range spellings {
			spellings[j] += string([]byte{c})
		}
	}
	if spellings[0] == "" {
		return nil
	}
	ranges := make([][2]string, len(spellings))
	for i, s := range spellings {
		ranges[i] = [2]string{s, successor(s)}
	}
	return ranges
}

// successor is the least byte string greater than every string starting with s
// ("" when there is none).
func successor(s string) string {
	b := []byte(s)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return ""
	}
	b[len(b)-1]++
	return string(b)
}

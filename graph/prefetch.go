package graph

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/membership"
	"github.com/orgraph/orgraph/ent/organization"
	"github.com/orgraph/orgraph/ent/registration"
	"github.com/orgraph/orgraph/graph/generated"
)

// The prefetcher loads an organization together with the nested selection
// under it (children to any depth, pages of members with their accounts, the
// connections' counts) in a fixed number of statements whatever the size of
// the tree: one for every organization of every level, one for every member
// page of every level, one for their accounts. ent's field collection costs
// about five statements per level instead.
//
// It reads only through the gate: every table is confined by the same read
// rule as a list of its type (gate.ReadRule) inside the statement, where pages
// are ranked and counts taken, and the rows it returns pass ent's read
// interceptors again. What it loads is handed to the generated resolvers as
// loaded edges, so connections, cursors and page info are built by entgql as
// before. A selection it does not know (cursors, filters, orderings, edges
// other than children/members/applications counts) is left to field
// collection, for the whole query.

// orgPlan is one place in the selection where organizations are listed: the
// root, or a children connection under another plan.
type orgPlan struct {
	index  int
	parent *orgPlan
	alias  string // the children field of parent listing these orgs
	first  *int   // its page size (nil: every child)
	counts map[countKind]bool
	// connection counts by field alias, and member pages, under these orgs
	children []*orgPlan
	members  []*memberPlan
	totals   []totalPlan
}

// memberPlan is a members connection under the orgs of a plan.
type memberPlan struct {
	index   int
	org     *orgPlan
	alias   string
	first   *int
	nodes   bool
	account bool
}

// totalPlan is the totalCount of a connection whose nodes are not selected.
type totalPlan struct {
	alias string
	kind  countKind
}

// countKind is a per-org count the statement computes.
type countKind string

const (
	readableChildren     countKind = "readable_children"
	readableMembers      countKind = "readable_members"
	readableApplications countKind = "readable_applications"
	// membersCount, applicationsCount and personsCount count every row (the
	// field itself is decided by the policy): graph/loaders.go's kinds.
	allMembers      countKind = "members"
	allApplications countKind = "applications"
	allPersons      countKind = "persons"
)

var countKinds = []countKind{readableChildren, readableMembers, readableApplications, allMembers, allApplications, allPersons}

// selfResolving are Organization fields whose resolvers read by themselves
// (through the request's loaders); they do not stop a prefetch.
var selfResolving = map[string]bool{
	"ancestors": true, "descendants": true, "viewerRole": true, "viewerCan": true, "limits": true,
}

var schemaTypes = sync.OnceValue(func() *ast.Schema { return generated.NewExecutableSchema(generated.Config{}).Schema() })

// isLeaf: a scalar or enum field, which loads nothing.
func isLeaf(f graphql.CollectedField) bool {
	def := schemaTypes().Types[f.Definition.Type.Name()]
	return def != nil && (def.Kind == ast.Scalar || def.Kind == ast.Enum)
}

var (
	organizationTypes = []string{"Organization", "Node"}
	membershipTypes   = []string{"Membership", "Node"}
	accountTypes      = []string{"Account", "Node"}
)

// planner walks a selection.
type planner struct {
	oc      *graphql.OperationContext
	orgs    []*orgPlan
	members []*memberPlan
	// columns of organizations some selected field reads; the gate's read
	// interceptor adds those its decisions read
	columns []string
}

// planOrganization plans the selection of the current (root) field, or
// reports that it has a shape the prefetcher leaves to field collection.
func planOrganization(ctx context.Context) (*planner, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return nil, false
	}
	p := &planner{oc: graphql.GetOperationContext(ctx)}
	root := p.newOrg(nil, "", nil)
	if !p.org(root, fc.Field.Selections) {
		return nil, false
	}
	return p, true
}

// column records the column a field of Organization reads, if it is one
// (entgql names a field after its column: parentID is parent_id).
func (p *planner) column(field string) {
	var b strings.Builder
	for i, r := range strings.Replace(field, "ID", "Id", 1) {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	if c := b.String(); organization.ValidColumn(c) && !slices.Contains(p.columns, c) {
		p.columns = append(p.columns, c)
	}
}

func (p *planner) newOrg(parent *orgPlan, alias string, first *int) *orgPlan {
	o := &orgPlan{index: len(p.orgs), parent: parent, alias: alias, first: first, counts: map[countKind]bool{}}
	p.orgs = append(p.orgs, o)
	return o
}

// org plans the fields of an organization selection.
func (p *planner) org(o *orgPlan, sel ast.SelectionSet) bool {
	for _, f := range graphql.CollectFields(p.oc, sel, organizationTypes) {
		switch {
		case f.Name == "children":
			if !p.children(o, f) {
				return false
			}
		case f.Name == "members":
			if !p.membersField(o, f) {
				return false
			}
		case f.Name == "applications":
			conn, ok := p.connection(f, nil)
			if !ok || conn.nodes != nil || conn.fetch {
				return false
			}
			if conn.total {
				o.totals = append(o.totals, totalPlan{f.Alias, readableApplications})
				o.counts[readableApplications] = true
			}
		case f.Name == "membersCount":
			o.counts[allMembers] = true
		case f.Name == "applicationsCount":
			o.counts[allApplications] = true
		case f.Name == "personsCount":
			o.counts[allPersons] = true
		case f.Name == "__typename" || isLeaf(f) || selfResolving[f.Name]:
			p.column(f.Name)
		default:
			return false
		}
	}
	return true
}

// connectionShape is what a connection field selects.
type connectionShape struct {
	first *int
	total bool
	fetch bool // edges, nodes or pageInfo: rows must be loaded
	nodes ast.SelectionSet
}

// connection reads a connection field's arguments (only first is supported)
// and selection; nodeTypes names the node's type (nil: nodes not supported).
func (p *planner) connection(f graphql.CollectedField, nodeTypes []string) (connectionShape, bool) {
	var c connectionShape
	for name, v := range f.ArgumentMap(p.oc.Variables) {
		if v == nil {
			continue
		}
		if name != "first" {
			return c, false
		}
		n, ok := intArg(v)
		if !ok || n < 0 {
			return c, false
		}
		c.first = &n
	}
	connType := strings.TrimSuffix(f.Definition.Type.Name(), "!")
	for _, cf := range graphql.CollectFields(p.oc, f.Selections, []string{connType}) {
		switch cf.Name {
		case "__typename":
		case "totalCount":
			c.total = true
		case "pageInfo":
			c.fetch = true
		case "nodes":
			c.fetch = true
			c.nodes = append(c.nodes, cf.Selections...)
		case "edges":
			c.fetch = true
			edgeType := strings.TrimSuffix(cf.Definition.Type.Name(), "!")
			for _, ef := range graphql.CollectFields(p.oc, cf.Selections, []string{edgeType}) {
				switch ef.Name {
				case "node":
					c.nodes = append(c.nodes, ef.Selections...)
				case "cursor", "__typename":
				default:
					return c, false
				}
			}
		default:
			return c, false
		}
	}
	if c.fetch && nodeTypes == nil {
		return c, false
	}
	return c, true
}

func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), float64(int(n)) == n
	case interface{ Int64() (int64, error) }: // json.Number
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

func (p *planner) children(o *orgPlan, f graphql.CollectedField) bool {
	conn, ok := p.connection(f, organizationTypes)
	if !ok {
		return false
	}
	if conn.total {
		o.totals = append(o.totals, totalPlan{f.Alias, readableChildren})
		o.counts[readableChildren] = true
	}
	if !conn.fetch {
		return true
	}
	child := p.newOrg(o, f.Alias, conn.first)
	o.children = append(o.children, child)
	return p.org(child, conn.nodes)
}

func (p *planner) membersField(o *orgPlan, f graphql.CollectedField) bool {
	conn, ok := p.connection(f, membershipTypes)
	if !ok {
		return false
	}
	if conn.total {
		o.totals = append(o.totals, totalPlan{f.Alias, readableMembers})
		o.counts[readableMembers] = true
	}
	m := &memberPlan{index: len(p.members), org: o, alias: f.Alias, first: conn.first, nodes: conn.fetch}
	for _, mf := range graphql.CollectFields(p.oc, conn.nodes, membershipTypes) {
		switch {
		case mf.Name == "account":
			for _, af := range graphql.CollectFields(p.oc, mf.Selections, accountTypes) {
				if af.Name != "__typename" && !isLeaf(af) {
					return false
				}
			}
			m.account = true
		case mf.Name == "__typename" || isLeaf(mf):
		default:
			return false
		}
	}
	if m.nodes {
		p.members = append(p.members, m)
		o.members = append(o.members, m)
	}
	return true
}

// prefetched is an org row of one plan.
type prefetched struct {
	org    *ent.Organization
	plan   int
	rank   int
	counts map[countKind]int
}

// prefetchOrganization loads the org root finds with everything its selection
// asks for; ok is false when the selection is left to field collection.
func (r *Resolver) prefetchOrganization(ctx context.Context, root func(*sql.Selector)) (org *ent.Organization, ok bool, err error) {
	p, ok := planOrganization(ctx)
	if !ok {
		return nil, false, nil
	}
	orgRule, err := r.Gate.ReadRule(ctx, "Organization")
	if err != nil {
		return nil, true, err
	}
	rules := map[countKind]func(*sql.Selector){readableChildren: orgRule}
	if rules[readableMembers], err = r.Gate.ReadRule(ctx, "Membership"); err != nil {
		return nil, true, err
	}
	if rules[readableApplications], err = r.Gate.ReadRule(ctx, "Application"); err != nil {
		return nil, true, err
	}
	// Only the columns the selection reads: what field collection loads too.
	columns := []string{organization.FieldID, organization.FieldParentID}
	for _, c := range p.columns {
		if !slices.Contains(columns, c) {
			columns = append(columns, c)
		}
	}
	q := r.Client.Organization.Query().Select(columns...)
	q.Modify(func(s *sql.Selector) { p.orgStatement(s, root, rules) })
	rows, err := q.All(ctx)
	if err != nil {
		return nil, true, err
	}
	byPlan := make([][]prefetched, len(p.orgs))
	for _, o := range rows {
		v := unpacked(o)
		if len(v) != 2+len(countKinds) || v[0] < 0 || v[0] >= len(p.orgs) {
			return nil, true, fmt.Errorf("prefetch: unexpected row values %v", v)
		}
		counts := map[countKind]int{}
		for i, kind := range countKinds {
			counts[kind] = v[2+i]
		}
		byPlan[v[0]] = append(byPlan[v[0]], prefetched{o, v[0], v[1], counts})
	}
	if len(byPlan[0]) == 0 {
		return nil, true, nil
	}
	for _, plan := range p.orgs {
		list := byPlan[plan.index]
		slices.SortFunc(list, func(a, b prefetched) int { return a.rank - b.rank })
		for _, row := range list {
			for _, kind := range []countKind{allMembers, allApplications, allPersons} {
				if plan.counts[kind] {
					prefill(ctx, countKey(string(kind)), row.org.ID, row.counts[kind])
				}
			}
			for _, t := range plan.totals {
				n := row.counts[t.kind]
				switch t.kind {
				case readableChildren:
					row.org.PreloadChildren(t.alias, nil, &n)
				case readableMembers:
					row.org.PreloadMembers(t.alias, nil, &n)
				case readableApplications:
					row.org.PreloadApplications(t.alias, nil, &n)
				}
			}
		}
		if plan.parent == nil {
			continue
		}
		parents := shown(byPlan[plan.parent.index], plan.parent.first)
		kids := map[uuid.UUID][]*ent.Organization{}
		for _, row := range list {
			if row.org.ParentID != nil {
				kids[*row.org.ParentID] = append(kids[*row.org.ParentID], row.org)
			}
		}
		for _, parent := range parents {
			nodes := kids[parent.org.ID]
			if nodes == nil {
				nodes = []*ent.Organization{}
			}
			parent.org.PreloadChildren(plan.alias, nodes, nil)
		}
	}
	if len(p.members) > 0 {
		if err := r.prefetchMembers(ctx, p, byPlan); err != nil {
			return nil, true, err
		}
	}
	return byPlan[0][0].org, true, nil
}

// shown are the rows of a page a client sees (a page is loaded one row
// longer than asked, to tell whether there is a next page).
func shown(rows []prefetched, first *int) []prefetched {
	if first != nil && len(rows) > 0 {
		// rows hold several parents' pages: keep each page's first rows
		out := rows[:0:0]
		for _, r := range rows {
			if r.rank <= *first {
				out = append(out, r)
			}
		}
		return out
	}
	return rows
}

// orgStatement turns the org query into one statement over every plan: a CTE
// per plan ranks the readable children of the previous plan's shown orgs, and
// the query joins their union, with the counts each plan selects.
func (p *planner) orgStatement(s *sql.Selector, root func(*sql.Selector), rules map[countKind]func(*sql.Selector)) {
	d := s.Dialect()
	with := &materialized{}
	var union *sql.Selector
	for _, plan := range p.orgs {
		t := sql.Table(organization.Table).As("o")
		var page *sql.Selector
		if plan.parent == nil {
			page = sql.Dialect(d).Select(t.C(organization.FieldID)).AppendSelectExprAs(sql.Expr("1"), "rank").From(t)
			root(page)
		} else {
			parent := sql.Table(cteName(plan.parent.index))
			parents := sql.Dialect(d).Select(parent.C(organization.FieldID)).From(parent)
			if plan.parent.first != nil {
				parents.Where(sql.LTE(parent.C("rank"), *plan.parent.first))
			}
			ranked := sql.Dialect(d).Select(t.C(organization.FieldID)).
				AppendSelectExprAs(sql.RowNumber().PartitionBy(t.C(organization.FieldParentID)).OrderBy(t.C(organization.FieldID)), "rank").
				From(t).Where(sql.In(t.C(organization.FieldParentID), parents))
			rules[readableChildren](ranked)
			ranked.As("ranked")
			page = sql.Dialect(d).Select(ranked.C(organization.FieldID), ranked.C("rank")).From(ranked)
			if plan.first != nil {
				page.Where(sql.LTE(ranked.C("rank"), *plan.first+1))
			}
		}
		if plan.parent == nil {
			rules[readableChildren](page)
		}
		with.add(cteName(plan.index), page)
		cte := sql.Table(cteName(plan.index))
		part := sql.Dialect(d).Select(cte.C(organization.FieldID), cte.C("rank")).
			AppendSelectExprAs(sql.Expr(strconv.Itoa(plan.index)), "plan").From(cte)
		if union == nil {
			union = part
		} else {
			union.UnionAll(part)
		}
	}
	with.add("prefetch", union)
	x := sql.Table("prefetch").As("x")
	s.Join(x).On(s.C(organization.FieldID), x.C(organization.FieldID))
	// The plan, the rank and the counts travel in one text column: ent asks
	// the driver for the type of every column it does not know, on every row.
	parts := []sql.Querier{sql.Expr(x.C("plan")), sql.Expr(x.C("rank"))}
	for _, kind := range countKinds {
		var plans []any
		for _, plan := range p.orgs {
			if plan.counts[kind] {
				plans = append(plans, plan.index)
			}
		}
		if len(plans) == 0 {
			parts = append(parts, sql.Expr("0"))
			continue
		}
		// Counted per org in one grouped pass (a correlated count per row
		// re-ran the read rule's subqueries for every row).
		name := "prefetch_count_" + string(kind)
		with.add(name, countOf(d, kind, rules[kind], plans))
		c := sql.Table(name).As("count_" + string(kind))
		s.LeftJoin(c).On(s.C(organization.FieldID), c.C("org"))
		parts = append(parts, sql.Expr("COALESCE("+c.C("n")+", 0)"))
	}
	s.Prefix(with)
	s.AppendSelectExprAs(packed(parts), "prefetch")
}

// packed concatenates integer expressions into one comma-separated text value.
func packed(parts []sql.Querier) sql.Querier {
	return sql.ExprFunc(func(b *sql.Builder) {
		for i, part := range parts {
			if i > 0 {
				b.WriteString(" || ',' || ")
			}
			b.WriteString("CAST(")
			b.Join(part)
			b.WriteString(" AS TEXT)")
		}
	})
}

// unpacked reads the values packed into a row's column (nil when absent).
func unpacked(v interface {
	Value(string) (ent.Value, error)
}) []int {
	x, err := v.Value("prefetch")
	if err != nil {
		return nil
	}
	var text string
	switch t := x.(type) {
	case string:
		text = t
	case []byte:
		text = string(t)
	default:
		return nil
	}
	fields := strings.Split(text, ",")
	out := make([]int, len(fields))
	for i, f := range fields {
		if out[i], err = strconv.Atoi(f); err != nil {
			return nil
		}
	}
	return out
}

// materialized is a WITH clause whose queries run once each: PostgreSQL
// would otherwise fold a query used once into the statement, where, estimated
// at a row or two, it was re-run for every org (both back ends take the keyword).
type materialized struct {
	sql.Builder
	names  []string
	bodies []*sql.Selector
}

func (m *materialized) add(name string, body *sql.Selector) {
	m.names, m.bodies = append(m.names, name), append(m.bodies, body)
}

// Query writes the clause; the statement sets its dialect and placeholder
// count first (the embedded Builder's SetDialect and SetTotal).
func (m *materialized) Query() (string, []any) {
	m.WriteString("WITH ")
	for i, name := range m.names {
		if i > 0 {
			m.Comma()
		}
		m.Ident(name).WriteString(" AS MATERIALIZED ")
		m.Wrap(func(b *sql.Builder) { b.Join(m.bodies[i]) })
	}
	return m.Builder.Query()
}

func cteName(i int) string { return "prefetch_" + strconv.Itoa(i) }

// countOf counts kind's rows of each org listed in plans, by org.
func countOf(d string, kind countKind, rule func(*sql.Selector), plans []any) *sql.Selector {
	var table, fk string
	switch kind {
	case readableChildren:
		table, fk = organization.Table, organization.FieldParentID
	case readableMembers, allMembers:
		table, fk = membership.Table, membership.FieldOrganizationID
	case readableApplications, allApplications:
		table, fk = application.Table, application.FieldOrganizationID
	case allPersons:
		table, fk = registration.Table, registration.FieldOrganizationID
	}
	listed := sql.Table("prefetch")
	orgs := sql.Dialect(d).Select(listed.C(organization.FieldID)).From(listed).Where(sql.In(listed.C("plan"), plans...))
	t := sql.Table(table).As("c")
	sub := sql.Dialect(d).Select().AppendSelectAs(t.C(fk), "org").AppendSelectExprAs(sql.Expr("COUNT(*)"), "n").
		From(t).Where(sql.In(t.C(fk), orgs)).GroupBy(t.C(fk))
	if rule != nil {
		rule(sub)
	}
	return sub
}

// prefetchMembers loads every member page of every plan in one statement
// (and their accounts in one more, through ent's eager loading).
func (r *Resolver) prefetchMembers(ctx context.Context, p *planner, byPlan [][]prefetched) error {
	memberRule, err := r.Gate.ReadRule(ctx, "Membership")
	if err != nil {
		return err
	}
	orgsOf := make([][]*ent.Organization, len(p.members))
	for _, m := range p.members {
		for _, row := range shown(byPlan[m.org.index], m.org.first) {
			orgsOf[m.index] = append(orgsOf[m.index], row.org)
		}
	}
	account := false
	for _, m := range p.members {
		account = account || m.account
	}
	q := r.Client.Membership.Query()
	if account {
		q.WithAccount()
	}
	q.Modify(func(s *sql.Selector) {
		d := s.Dialect()
		var union *sql.Selector
		for _, m := range p.members {
			ids := make([]any, len(orgsOf[m.index]))
			for i, o := range orgsOf[m.index] {
				ids[i] = o.ID
			}
			if len(ids) == 0 {
				continue
			}
			t := sql.Table(membership.Table).As("m")
			ranked := sql.Dialect(d).Select(t.C(membership.FieldID)).
				AppendSelectExprAs(sql.RowNumber().PartitionBy(t.C(membership.FieldOrganizationID)).OrderBy(t.C(membership.FieldID)), "rank").
				From(t).Where(sql.In(t.C(membership.FieldOrganizationID), ids...))
			memberRule(ranked)
			ranked.As("ranked")
			part := sql.Dialect(d).Select(ranked.C(membership.FieldID), ranked.C("rank")).
				AppendSelectExprAs(sql.Expr(strconv.Itoa(m.index)), "plan").From(ranked)
			if m.first != nil {
				part.Where(sql.LTE(ranked.C("rank"), *m.first+1))
			}
			if union == nil {
				union = part
			} else {
				union.UnionAll(part)
			}
		}
		if union == nil {
			s.Where(sql.False())
			return
		}
		x := sql.Table("prefetch").As("x")
		s.Prefix(&materialized{names: []string{"prefetch"}, bodies: []*sql.Selector{union}})
		s.Join(x).On(s.C(membership.FieldID), x.C(membership.FieldID))
		s.AppendSelectExprAs(packed([]sql.Querier{sql.Expr(x.C("plan")), sql.Expr(x.C("rank"))}), "prefetch")
	})
	rows, err := q.All(ctx)
	if err != nil {
		return err
	}
	type key struct {
		plan int
		org  uuid.UUID
	}
	type ranked struct {
		m    *ent.Membership
		rank int
	}
	pages := map[key][]ranked{}
	for _, m := range rows {
		v := unpacked(m)
		if len(v) != 2 {
			return fmt.Errorf("prefetch: unexpected member row values %v", v)
		}
		k := key{v[0], m.OrganizationID}
		pages[k] = append(pages[k], ranked{m, v[1]})
	}
	for _, m := range p.members {
		for _, o := range orgsOf[m.index] {
			page := pages[key{m.index, o.ID}]
			slices.SortFunc(page, func(a, b ranked) int { return a.rank - b.rank })
			nodes := make([]*ent.Membership, len(page))
			for i, x := range page {
				nodes[i] = x.m
			}
			o.PreloadMembers(m.alias, nodes, nil)
		}
	}
	return nil
}

package policy

import (
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Input keys, shared by every input built (terms are immutable once built).
var (
	kSubject       = ast.InternedTerm("subject")
	kToken         = ast.InternedTerm("token")
	kAction        = ast.InternedTerm("action")
	kResource      = ast.InternedTerm("resource")
	kType          = ast.InternedTerm("type")
	kID            = ast.InternedTerm("id")
	kPlatformAdmin = ast.InternedTerm("platform_admin")
	kMemberships   = ast.InternedTerm("memberships")
	kOrg           = ast.InternedTerm("org")
	kRole          = ast.InternedTerm("role")
	kAncestors     = ast.InternedTerm("ancestors")
	kOrgStatus     = ast.InternedTerm("org_status")
	kStatus        = ast.InternedTerm("status")
	kCapabilities  = ast.InternedTerm("capabilities")
	kOwnerOrg      = ast.InternedTerm("owner_org")
	kOwnerCount    = ast.InternedTerm("owner_count")
	kSelf          = ast.InternedTerm("self")

	kAllow   = ast.StringTerm("allow")
	kRoleOut = ast.StringTerm("role")
	kSelfOut = ast.StringTerm("self")
	kCeiling = ast.StringTerm("ceiling")
	kReasons = ast.StringTerm("reasons")
	kRule    = ast.StringTerm("rule")
	kPerm    = ast.StringTerm("permission")
	kMessage = ast.StringTerm("message")
	kAll     = ast.StringTerm("all")
	kOrgs    = ast.StringTerm("orgs")
	kWithin  = ast.StringTerm("within")
	kSubtree = ast.StringTerm("subtree")
)

func str(s string) *ast.Term { return ast.InternedTerm(s) }

func strArray(list []string) *ast.Term {
	terms := make([]*ast.Term, len(list))
	for i, s := range list {
		terms[i] = str(s)
	}
	return ast.ArrayTerm(terms...)
}

func subjectTerm(s *Subject) *ast.Term {
	ms := make([]*ast.Term, len(s.Memberships))
	for i, m := range s.Memberships {
		ms[i] = ast.ObjectTerm(ast.Item(kOrg, str(m.Org)), ast.Item(kRole, str(m.Role)))
	}
	return ast.ObjectTerm(
		ast.Item(kType, str(s.Type)),
		ast.Item(kID, str(s.ID)),
		ast.Item(kPlatformAdmin, ast.InternedTerm(s.PlatformAdmin)),
		ast.Item(kMemberships, ast.ArrayTerm(ms...)),
	)
}

func tokenTerm(org string) *ast.Term {
	if org == "" {
		return ast.ObjectTerm(ast.Item(kOrg, ast.InternedNullTerm))
	}
	return ast.ObjectTerm(ast.Item(kOrg, str(org)))
}

// decisionInput builds the input document of data.orgraph.authz.decision
// directly as an AST value (no JSON round trip).
func decisionInput(in *Input) ast.Value {
	r := &in.Resource
	return ast.NewObject(
		ast.Item(kSubject, subjectTerm(&in.Subject)),
		ast.Item(kToken, tokenTerm(in.TokenOrg)),
		ast.Item(kAction, str(in.Action)),
		ast.Item(kResource, ast.ObjectTerm(
			ast.Item(kType, str(r.Type)),
			ast.Item(kID, str(r.ID)),
			ast.Item(kOrg, str(r.Org)),
			ast.Item(kAncestors, strArray(r.Ancestors)),
			ast.Item(kOrgStatus, str(r.OrgStatus)),
			ast.Item(kStatus, str(r.Status)),
			ast.Item(kCapabilities, strArray(r.Capabilities)),
			ast.Item(kOwnerOrg, str(r.OwnerOrg)),
			ast.Item(kOwnerCount, ast.InternedTerm(r.OwnerCount)),
			ast.Item(kSelf, ast.InternedTerm(r.Self)),
		)),
	)
}

// scopeInput builds the input document of data.orgraph.authz.list_scope.
func scopeInput(subj *Subject, tokenOrg, action string) ast.Value {
	return ast.NewObject(
		ast.Item(kSubject, subjectTerm(subj)),
		ast.Item(kToken, tokenTerm(tokenOrg)),
		ast.Item(kAction, str(action)),
	)
}

// asTerm makes rego hand back result values as AST terms instead of
// converting them to Go maps.
func asTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

var errUndefined = errors.New("policy: result undefined")

func resultValue(rs rego.ResultSet) (ast.Object, error) {
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, errUndefined
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("policy: unexpected result %T", rs[0].Expressions[0].Value)
	}
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("policy: result is %s, not an object", ast.ValueName(t.Value))
	}
	return obj, nil
}

func getBool(obj ast.Object, key *ast.Term) (bool, error) {
	t := obj.Get(key)
	if t == nil {
		return false, fmt.Errorf("policy: result has no %v", key)
	}
	b, ok := t.Value.(ast.Boolean)
	if !ok {
		return false, fmt.Errorf("policy: result %v is not a boolean", key)
	}
	return bool(b), nil
}

func getString(obj ast.Object, key *ast.Term) (string, error) {
	t := obj.Get(key)
	if t == nil {
		return "", fmt.Errorf("policy: result has no %v", key)
	}
	s, ok := t.Value.(ast.String)
	if !ok {
		return "", fmt.Errorf("policy: result %v is not a string", key)
	}
	return string(s), nil
}

func getArray(obj ast.Object, key *ast.Term) (*ast.Array, error) {
	t := obj.Get(key)
	if t == nil {
		return nil, fmt.Errorf("policy: result has no %v", key)
	}
	a, ok := t.Value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("policy: result %v is not an array", key)
	}
	return a, nil
}

func parseDecision(obj ast.Object) (Decision, error) {
	var d Decision
	allowed, err := getBool(obj, kAllow)
	if err != nil {
		return Decision{}, err
	}
	reasons, err := getArray(obj, kReasons)
	if err != nil {
		return Decision{}, err
	}
	d.Reasons = make([]Reason, 0, reasons.Len())
	for i := range reasons.Len() {
		ro, ok := reasons.Elem(i).Value.(ast.Object)
		if !ok {
			return Decision{}, errors.New("policy: reason is not an object")
		}
		var r Reason
		if r.Rule, err = getString(ro, kRule); err != nil {
			return Decision{}, err
		}
		if r.Permission, err = getString(ro, kPerm); err != nil {
			return Decision{}, err
		}
		if r.Message, err = getString(ro, kMessage); err != nil {
			return Decision{}, err
		}
		d.Reasons = append(d.Reasons, r)
	}
	d.Allowed = allowed
	if t := obj.Get(kRoleOut); t != nil {
		if role, ok := t.Value.(ast.String); ok {
			d.Role = string(role)
		}
	}
	return d, nil
}

func parseScope(obj ast.Object) (Scope, error) {
	var s Scope
	var err error
	if s.All, err = getBool(obj, kAll); err != nil {
		return Scope{}, err
	}
	orgs, err := getArray(obj, kOrgs)
	if err != nil {
		return Scope{}, err
	}
	s.Orgs = make([]ScopeGrant, 0, orgs.Len())
	for i := range orgs.Len() {
		g, ok := orgs.Elem(i).Value.(ast.Object)
		if !ok {
			return Scope{}, errors.New("policy: scope org is not an object")
		}
		var sg ScopeGrant
		if sg.Org, err = getString(g, kOrg); err != nil {
			return Scope{}, err
		}
		if sg.Subtree, err = getBool(g, kSubtree); err != nil {
			return Scope{}, err
		}
		s.Orgs = append(s.Orgs, sg)
	}
	switch w := obj.Get(kWithin); {
	case w == nil:
		return Scope{}, errors.New("policy: scope has no within")
	case isNull(w.Value):
	default:
		ws, ok := w.Value.(ast.String)
		if !ok {
			return Scope{}, errors.New("policy: scope within is not a string or null")
		}
		s.Within = string(ws)
	}
	if t := obj.Get(kSelfOut); t != nil {
		if b, ok := t.Value.(ast.Boolean); ok {
			s.Self = bool(b)
		}
	}
	if t := obj.Get(kCeiling); t != nil && !isNull(t.Value) {
		caps, ok := t.Value.(*ast.Array)
		if !ok {
			return Scope{}, errors.New("policy: scope ceiling is not an array or null")
		}
		s.Ceiling = make([]string, 0, caps.Len())
		for i := range caps.Len() {
			c, ok := caps.Elem(i).Value.(ast.String)
			if !ok {
				return Scope{}, errors.New("policy: scope ceiling holds a non-string")
			}
			s.Ceiling = append(s.Ceiling, string(c))
		}
	}
	return s, nil
}

func isNull(v ast.Value) bool {
	switch v.(type) {
	case ast.Null, *ast.Null:
		return true
	}
	return false
}

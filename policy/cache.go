package policy

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sync"
)

// maxCacheEntries bounds a decision cache: it is emptied when full.
const maxCacheEntries = 100_000

// decisionCache memoizes decisions of one policy version. It lives in the
// version, so swapping the version drops it: no entry outlives its policy.
type decisionCache struct {
	mu sync.RWMutex
	m  map[string]Decision
}

func newDecisionCache() *decisionCache {
	return &decisionCache{m: make(map[string]Decision)}
}

func (c *decisionCache) get(key []byte) (Decision, bool) {
	c.mu.RLock()
	d, ok := c.m[string(key)] // no allocation for the lookup
	c.mu.RUnlock()
	return d, ok
}

func (c *decisionCache) put(key []byte, d Decision) {
	c.mu.Lock()
	if len(c.m) >= maxCacheEntries {
		c.m = make(map[string]Decision)
	}
	c.m[string(key)] = d
	c.mu.Unlock()
}

func (c *decisionCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// keyPool recycles key buffers.
var keyPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func compareMembership(a, b Membership) int {
	return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.Role, b.Role))
}

// keyReads says which of the fields the key leaves out by default the
// active policy reads: they are part of the key then (see inputReads).
type keyReads struct{ subjectID, resourceID bool }

// appendKey appends the normalized cache key of in: every input field the
// policy decides on, with memberships and capabilities sorted (they are sets
// to the policy). Subject.ID and Resource.ID are left out unless the policy
// reads them (reads), which is what lets one entry serve every subject with
// the same roles on the same org chain.
func appendKey(b []byte, in *Input, reads keyReads) []byte {
	b = appendStr(b, in.Action)
	b = appendStr(b, in.Subject.Type)
	b = appendBool(b, in.Subject.PlatformAdmin)

	ms := in.Subject.Memberships
	if !slices.IsSortedFunc(ms, compareMembership) {
		ms = slices.Clone(ms)
		slices.SortFunc(ms, compareMembership)
	}
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = appendStr(b, m.Org)
		b = appendStr(b, m.Role)
	}

	b = appendBool(b, in.TokenOrg != "")
	b = appendStr(b, in.TokenOrg)

	r := &in.Resource
	b = appendStr(b, r.Type)
	b = appendStr(b, r.Org)
	b = binary.AppendUvarint(b, uint64(len(r.Ancestors)))
	for _, a := range r.Ancestors {
		b = appendStr(b, a)
	}
	b = appendStr(b, r.OrgStatus)
	b = appendStr(b, r.Status)
	caps := r.Capabilities
	if !slices.IsSorted(caps) {
		caps = slices.Clone(caps)
		slices.Sort(caps)
	}
	b = binary.AppendUvarint(b, uint64(len(caps)))
	for _, c := range caps {
		b = appendStr(b, c)
	}
	b = appendStr(b, r.OwnerOrg)
	b = binary.AppendVarint(b, int64(r.OwnerCount))
	b = appendBool(b, r.Self)
	if reads.subjectID {
		b = appendStr(b, in.Subject.ID)
	}
	if reads.resourceID {
		b = appendStr(b, r.ID)
	}
	return b
}

// scopeCache memoizes list scopes of one policy version, like decisionCache.
type scopeCache struct {
	mu sync.RWMutex
	m  map[string]Scope
}

func (c *scopeCache) get(key string) (Scope, bool) {
	c.mu.RLock()
	sc, ok := c.m[key]
	c.mu.RUnlock()
	return sc, ok
}

func (c *scopeCache) put(key string, sc Scope) {
	c.mu.Lock()
	if len(c.m) >= maxCacheEntries {
		c.m = make(map[string]Scope)
	}
	c.m[key] = sc
	c.mu.Unlock()
}

// scopeKey is everything list_scope reads: the action, the subject's kind,
// platform flag and (sorted) memberships, and the token's org.
func scopeKey(subj *Subject, tokenOrg, action string) string {
	b := appendStr(nil, action)
	b = appendStr(b, subj.Type)
	b = appendBool(b, subj.PlatformAdmin)
	b = appendStr(b, tokenOrg)
	ms := slices.Clone(subj.Memberships)
	slices.SortFunc(ms, compareMembership)
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = appendStr(b, m.Org)
		b = appendStr(b, m.Role)
	}
	return string(b)
}

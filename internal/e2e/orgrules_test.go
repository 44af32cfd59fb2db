package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

func TestLimits(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b, func(c *app.Config) { c.Limits.Suborgs = 3; c.Limits.OrgsOwned = 2 })
			alice := in.Account("alice", false)
			root := in.Account("root", true)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
			mustCreate(t, in, alice, map[string]any{"name": "Second"})
			r := in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "Third"}})
			if r.Code() != "LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "2") {
				t.Fatalf("orgs owned: %s", r.Raw)
			}
			// concurrent suborg creation cannot overshoot the limit
			var wg sync.WaitGroup
			codes := make([]string, 10)
			for i := range codes {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					codes[i] = in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": fmt.Sprintf("Kid %d", i), "parentId": org}}).Code()
				}(i)
			}
			wg.Wait()
			ok, limited := 0, 0
			for _, c := range codes {
				switch c {
				case "":
					ok++
				case "LIMIT_EXCEEDED":
					limited++
				default:
					t.Fatalf("concurrent create ended with %q (%v)", c, codes)
				}
			}
			if ok != 3 || limited != 7 {
				t.Fatalf("created %d suborgs (want 3), %d refused: %v", ok, limited, codes)
			}
			// only platform admins override limits; then one more fits
			setLimits := `mutation($id: ID!) { setOrganizationLimits(id: $id, input: {suborgs: 4}) { limits { suborgs } } }`
			if r := in.Do(alice, setLimits, map[string]any{"id": org}); r.Code() != "FORBIDDEN" {
				t.Fatalf("owner sets limits: %s", r.Raw)
			}
			if d := in.MustDo(root, setLimits, map[string]any{"id": org}); testutil.Get(d, "setOrganizationLimits", "limits", "suborgs") != float64(4) {
				t.Fatalf("limits = %v", d)
			}
			mustCreate(t, in, alice, map[string]any{"name": "Kid extra", "parentId": org})
			if r := in.Do(alice, createOrg, map[string]any{"in": map[string]any{"name": "Kid over", "parentId": org}}); r.Code() != "LIMIT_EXCEEDED" {
				t.Fatalf("over the override: %s", r.Raw)
			}
		})
	}
}

func TestSlugsSettingsDomainsAndSoftDelete(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			root := in.Account("root", true)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme", "slug": "acme"})["id"].(string)
			in.Account("adam", false)
			in.Grant("adam", org, "admin")
			adam := in.Token("adam", "")
			update := `mutation($id: ID!, $in: UpdateOrganizationInput!) { updateOrganization(id: $id, input: $in) { slug domains settings } }`

			// only owners change the slug; an old slug stays reserved
			if r := in.Do(adam, update, map[string]any{"id": org, "in": map[string]any{"slug": "acme-two"}}); r.Code() != "FORBIDDEN" {
				t.Fatalf("admin changes slug: %s", r.Raw)
			}
			in.MustDo(adam, update, map[string]any{"id": org, "in": map[string]any{"settings": map[string]any{"a": 1}}})
			in.MustDo(alice, update, map[string]any{"id": org, "in": map[string]any{"slug": "acme-two"}})
			if r := in.Do(bob, createOrg, map[string]any{"in": map[string]any{"name": "X", "slug": "acme"}}); r.Code() != "CONFLICT" {
				t.Fatalf("reuse of a former slug: %s", r.Raw)
			}
			// settings: returned as given, bounded in size
			nested := map[string]any{"theme": map[string]any{"dark": true, "accent": "#fff"}, "list": []any{1.0, "two", nil}}
			d := in.MustDo(alice, update, map[string]any{"id": org, "in": map[string]any{"settings": nested}})
			if fmt.Sprint(testutil.Get(d, "updateOrganization", "settings")) != fmt.Sprint(nested) {
				t.Fatalf("settings = %v", testutil.Get(d, "updateOrganization", "settings"))
			}
			huge := map[string]any{"blob": strings.Repeat("x", 70<<10)}
			if r := in.Do(alice, update, map[string]any{"id": org, "in": map[string]any{"settings": huge}}); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("huge settings: %s", r.Raw)
			}
			// domains: normalized (lowercase, IDNA), held by one org, resolvable by readers only
			d = in.MustDo(alice, update, map[string]any{"id": org, "in": map[string]any{"domains": []string{" Acme.COM ", "bücher.example"}}})
			if got := fmt.Sprint(testutil.Get(d, "updateOrganization", "domains")); got != "[acme.com xn--bcher-kva.example]" {
				t.Fatalf("domains = %s", got)
			}
			if r := in.Do(bob, createOrg, map[string]any{"in": map[string]any{"name": "Y", "domains": []string{"ACME.com"}}}); r.Code() != "CONFLICT" {
				t.Fatalf("domain held twice: %s", r.Raw)
			}
			if r := in.Do(alice, update, map[string]any{"id": org, "in": map[string]any{"domains": []string{"not a domain"}}}); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("bad domain: %s", r.Raw)
			}
			byDomain := `query($d: String!) { organizationByDomain(domain: $d) { id } }`
			if got := testutil.Str(in.MustDo(alice, byDomain, map[string]any{"d": "BÜCHER.example"}), "organizationByDomain", "id"); got != org {
				t.Fatalf("by domain = %q", got)
			}
			if r := in.Do(bob, byDomain, map[string]any{"d": "acme.com"}); r.Code() != "NOT_FOUND" {
				t.Fatalf("other tenant resolves the domain: %s", r.Raw)
			}
			// soft delete: platform admins only; the subtree vanishes from every read, its slug and domains are freed
			kid := mustCreate(t, in, alice, map[string]any{"name": "Kid", "parentId": org})["id"].(string)
			del := `mutation($id: ID!) { deleteOrganization(id: $id) }`
			if r := in.Do(alice, del, map[string]any{"id": org}); r.Code() != "FORBIDDEN" {
				t.Fatalf("owner soft-deletes: %s", r.Raw)
			}
			appID := testutil.Str(in.MustDo(alice, `mutation($id: ID!) { createApplication(organizationId: $id, name: "web", kind: WEB) { id } }`,
				map[string]any{"id": kid}), "createApplication", "id")
			in.MustDo(root, del, map[string]any{"id": org})
			if r := in.Do(alice, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": appID}); r.Code() != "NOT_FOUND" {
				t.Fatalf("an application of a soft-deleted org is readable: %s", r.Raw)
			}
			mine := in.MustDo(alice, `{ viewer { memberships { totalCount edges { node { organization { slug } } } } } }`, nil)
			if testutil.Get(mine, "viewer", "memberships", "totalCount") != float64(0) {
				t.Fatalf("memberships of a soft-deleted org still listed: %v", mine)
			}
			for _, id := range []string{org, kid} {
				if r := in.Do(alice, `query($id: ID!) { organization(id: $id) { id } }`, map[string]any{"id": id}); r.Code() != "NOT_FOUND" {
					t.Fatalf("soft-deleted org still readable: %s", r.Raw)
				}
			}
			if n := testutil.Get(in.MustDo(alice, `{ organizations { totalCount } }`, nil), "organizations", "totalCount"); n != float64(0) {
				t.Fatalf("soft-deleted orgs listed: %v", n)
			}
			mustCreate(t, in, bob, map[string]any{"name": "Reborn", "slug": "acme-two", "domains": []string{"acme.com"}})
		})
	}
}

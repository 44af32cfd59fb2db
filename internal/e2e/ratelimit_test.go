package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
	"github.com/orgraph/orgraph/server"
)

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r rawResponse) code() string {
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(r.body, &out) != nil || len(out.Errors) == 0 {
		return ""
	}
	c, _ := out.Errors[0].Extensions["code"].(string)
	return c
}

// post sends { __typename } (or query) with a bearer token (if any) and extra headers.
func post(t *testing.T, in *testutil.Instance, token string, headers map[string]string) rawResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return rawResponse{res.StatusCode, res.Header, body}
}

// mustLimit checks a 429 answer: Retry-After in whole seconds, a JSON GraphQL
// error RATE_LIMITED; it returns the wait.
func mustLimit(t *testing.T, r rawResponse, what string) time.Duration {
	t.Helper()
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != http.StatusTooManyRequests || err != nil || secs < 1 || secs > 5 ||
		r.code() != "RATE_LIMITED" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: want 429 RATE_LIMITED with Retry-After, got %d %v %s", what, r.status, r.header, r.body)
	}
	return time.Duration(secs) * time.Second
}

func mustPass(t *testing.T, r rawResponse, what string) {
	t.Helper()
	if r.status != http.StatusOK || r.code() != "" {
		t.Fatalf("%s: want 200, got %d %s", what, r.status, r.body)
	}
}

func TestRateLimitPerCredential(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b, func(c *app.Config) {
				// Refills slowly enough that a loaded machine cannot refill a bucket within the test.
				c.RateLimit = server.RateLimit{PerCredential: 0.25, CredentialBurst: 3} // no per-address bucket
			})
			alice := in.Account("alice", false)
			bob := in.Account("bob", false)
			org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string) // alice's 1st request
			key := testutil.Str(in.MustDo(alice, qCreateKey, map[string]any{"org": org, "name": "ci", "role": "admin"}), "createAPIKey", "key")
			mustPass(t, post(t, in, alice, nil), "alice's 3rd request")
			wait := mustLimit(t, post(t, in, alice, nil), "alice's 4th request")
			// every token of an account draws on the account's bucket
			mustLimit(t, post(t, in, in.Token("alice", org), nil), "alice's scoped token")
			// other credentials have buckets of their own: another account, an API key, anonymous
			for i := 0; i < 3; i++ {
				mustPass(t, post(t, in, bob, nil), fmt.Sprintf("bob's request %d", i+1))
				mustPass(t, post(t, in, key, nil), fmt.Sprintf("API key's request %d", i+1))
			}
			mustLimit(t, post(t, in, bob, nil), "bob's 4th request")
			mustLimit(t, post(t, in, key, nil), "the API key's 4th request")
			for i := 0; i < 10; i++ {
				mustPass(t, post(t, in, "", nil), "anonymous (no credential bucket)")
			}
			// it recovers after Retry-After
			time.Sleep(wait)
			mustPass(t, post(t, in, alice, nil), "alice after Retry-After")

			if m := metrics(t, in); !strings.Contains(m, `orgraph_rate_limited_total{bucket="credential"} 4`) {
				t.Fatalf("metrics lack the refusals:\n%s", grepLines(m, "rate_limited"))
			}
		})
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) {
		c.RateLimit = server.RateLimit{PerAddress: 0.25, AddressBurst: 3, PerCredential: 1000, CredentialBurst: 1000}
	})
	alice := in.Account("alice", false)
	mustPass(t, post(t, in, alice, nil), "1")
	mustPass(t, post(t, in, "", nil), "2")
	if r := post(t, in, "not-a-token", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("3: %d %s", r.status, r.body)
	}
	// everything from the address counts, whatever credential, and a forged
	// X-Forwarded-For is ignored without --trusted-proxy
	mustLimit(t, post(t, in, alice, nil), "alice from a spent address")
	mustLimit(t, post(t, in, "", map[string]string{"X-Forwarded-For": "203.0.113.7"}), "a forged X-Forwarded-For")
	// guessing tokens is limited too: the address bucket comes before authentication
	mustLimit(t, post(t, in, "orgk_guess", nil), "a guessed API key")
}

func TestRateLimitTrustedProxy(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) {
		c.RateLimit = server.RateLimit{PerAddress: 0.25, AddressBurst: 2,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	})
	from := func(client string) map[string]string { return map[string]string{"X-Forwarded-For": client} }
	mustPass(t, post(t, in, "", from("203.0.113.7")), "client 7, 1st")
	mustPass(t, post(t, in, "", from("198.51.100.1, 203.0.113.7")), "client 7, 2nd (its own first entry does not count)")
	mustLimit(t, post(t, in, "", from("203.0.113.7")), "client 7, 3rd")
	mustPass(t, post(t, in, "", from("203.0.113.8")), "client 8 behind the same proxy")
	mustPass(t, post(t, in, "", nil), "the proxy itself")
}

func TestRateLimitOff(t *testing.T) {
	in := testutil.Start(t, testutil.SQLite, func(c *app.Config) {
		c.RateLimit = server.RateLimit{Disabled: true, PerCredential: 1, CredentialBurst: 1, PerAddress: 1, AddressBurst: 1}
	})
	alice := in.Account("alice", false)
	for i := 0; i < 20; i++ {
		mustPass(t, post(t, in, alice, nil), fmt.Sprintf("request %d with the limits off", i+1))
	}
}

// The suite runs with the defaults: they must leave room for bursts far
// beyond any test's.
func TestRateLimitDefaults(t *testing.T) {
	d := app.DefaultConfig().RateLimit
	if d.Disabled || d.PerCredential < 50 || d.CredentialBurst < 2000 || d.AddressBurst < 5000 || d.PerAddress < d.PerCredential || d.AddressBurst < d.CredentialBurst {
		t.Fatalf("defaults %+v", d)
	}
}

// A caller cannot flood a trail with refused attempts: past its bound the
// attempt is refused all the same, but not written; others are unaffected.
func TestDeniedAuditIsBoundedPerCaller(t *testing.T) {
	const update = `mutation($id: ID!) { updateOrganization(id: $id, input: {name: "Renamed"}) { name } }`
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			for _, bounded := range []bool{true, false} {
				t.Run(fmt.Sprintf("bounded=%v", bounded), func(t *testing.T) {
					in := testutil.Start(t, b, func(c *app.Config) {
						if bounded {
							c.DeniedAudit.Rate, c.DeniedAudit.Burst = 0.001, 3
						} else {
							c.DeniedAudit.Rate = 0
						}
					})
					alice := in.Account("alice", false)
					org := mustCreate(t, in, alice, map[string]any{"name": "Acme"})["id"].(string)
					for _, who := range []string{"mallory", "trent"} {
						in.Account(who, false)
						in.Grant(who, org, "viewer")
					}
					mallory, trent := in.Token("mallory", ""), in.Token("trent", "")
					for i := 0; i < 10; i++ {
						if r := in.Do(mallory, update, map[string]any{"id": org}); r.Code() != "FORBIDDEN" {
							t.Fatalf("mallory's attempt %d: %s", i+1, r.Raw)
						}
					}
					// a hidden probe is bounded alike (it goes to the platform's trail)
					bobOrg := mustCreate(t, in, in.Account("bob", false), map[string]any{"name": "Globex"})["id"].(string)
					if r := in.Do(mallory, update, map[string]any{"id": bobOrg}); r.Code() != "NOT_FOUND" {
						t.Fatalf("mallory's probe: %s", r.Raw)
					}
					if r := in.Do(trent, update, map[string]any{"id": org}); r.Code() != "FORBIDDEN" {
						t.Fatalf("trent: %s", r.Raw)
					}
					ctx, db := in.Fixture()
					count := func(actor string) int {
						n, err := db.AuditEvent.Query().Where(auditevent.Action("authz.denied"), auditevent.Actor(actor)).Count(ctx)
						if err != nil {
							t.Fatal(err)
						}
						return n
					}
					wantMallory, wantDropped := 11, 0
					if bounded {
						wantMallory, wantDropped = 3, 8
					}
					if got := count("mallory"); got != wantMallory {
						t.Errorf("mallory's authz.denied events: %d, want %d", got, wantMallory)
					}
					if got := count("trent"); got != 1 {
						t.Errorf("trent's authz.denied events: %d, want 1 (his own bucket)", got)
					}
					if got := in.Service.DeniedAuditsDropped(); got != uint64(wantDropped) {
						t.Errorf("dropped: %d, want %d", got, wantDropped)
					}
					if m := metrics(t, in); !strings.Contains(m, fmt.Sprintf("orgraph_audit_denied_dropped_total %d\n", wantDropped)) {
						t.Errorf("metrics:\n%s", grepLines(m, "denied_dropped"))
					}
				})
			}
		})
	}
}

func metrics(t *testing.T, in *testutil.Instance) string {
	t.Helper()
	res, err := http.Get(in.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return buf.String()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

package policy

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openEmbedded(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return e
}

var allCaps = []string{"core", "applications", "identities", "billing", "api_keys"}

// req builds an input on organization c (child of p, child of root r),
// active, with every capability, whose sole owner is on c.
func req(action string, ms ...Membership) Input {
	return Input{
		Subject: Subject{Type: "account", ID: "acc-1", Memberships: ms},
		Action:  action,
		Resource: Resource{
			Type: "organization", ID: "c", Org: "c", Ancestors: []string{"r", "p"},
			OrgStatus: "ACTIVE", Status: "ACTIVE", Capabilities: allCaps,
			OwnerOrg: "c", OwnerCount: 1,
		},
	}
}

func with(in Input, f func(*Input)) Input { f(&in); return in }

func rules(d Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Rule)
	}
	return out
}

func TestDecide(t *testing.T) {
	e := openEmbedded(t)
	ctx := context.Background()
	viewer := Membership{Org: "c", Role: "viewer"}
	owner := Membership{Org: "c", Role: "owner"}
	admin := Membership{Org: "c", Role: "admin"}
	platform := func(in *Input) { in.Subject.PlatformAdmin = true }
	retired := func(in *Input) { in.Resource.OrgStatus = "RETIRED" }

	tests := []struct {
		name    string
		in      Input
		allowed bool
		rules   []string
		message string // of the first reason, if set
	}{
		{"viewer reads", req("organization.read", viewer), true, []string{"roles"},
			"role viewer on organization c or its ancestors grants organization.read"},
		{"viewer may not invite", req("members.invite", viewer), false, []string{"roles"},
			"role viewer does not grant members.invite"},
		{"member reads persons", req("person.read", Membership{"c", "member"}), true, []string{"roles"}, ""},
		{"no membership", req("organization.read"), false, []string{"roles"},
			"no role on organization c or its ancestors grants organization.read"},
		{"membership elsewhere", req("organization.read", Membership{"x", "owner"}), false, []string{"roles"}, ""},
		{"admin creates applications", req("application.create", admin), true, []string{"roles"}, ""},
		{"admin inherited from the root", req("application.create", Membership{"r", "admin"}), true, []string{"roles"}, ""},
		{"admin may not invite", req("members.invite", admin), false, []string{"roles"}, ""},
		{"owner invites", req("members.invite", owner), true, []string{"roles"}, ""},
		{"billing updates billing", req("billing.update", Membership{"c", "billing"}), true, []string{"roles"}, ""},
		{"billing may not read applications", req("application.read", Membership{"c", "billing"}), false, []string{"roles"}, ""},
		{"nobody but platform admins deletes", req("organization.delete", owner), false, []string{"roles"}, ""},
		{"api key with a role", with(req("apikey.create", admin), func(in *Input) { in.Subject.Type = "api_key" }), true, []string{"roles"}, ""},
		{"platform admin deletes outside the ceiling",
			with(req("organization.delete"), func(in *Input) { platform(in); in.Resource.Capabilities = nil }),
			true, []string{"platform_admin"}, "platform administrators hold organization.delete"},
		{"platform admin sets limits", with(req("organization.set_limits"), platform), true, []string{"platform_admin"}, ""},
		{"platform admin bounded by the ceiling",
			with(req("application.create"), func(in *Input) { platform(in); in.Resource.Capabilities = []string{"core"} }),
			false, []string{"ceiling"}, ""},
		{"platform admin confined by the token",
			with(req("organization.read"), func(in *Input) { platform(in); in.TokenOrg = "x" }),
			false, []string{"token"}, ""},
		{"platform admin retires without being owner", with(req("organization.retire"), platform), true, []string{"platform_admin"}, ""},
		{"platform admin frozen out", with(req("organization.update"), func(in *Input) { platform(in); retired(in) }),
			false, []string{"frozen"}, ""},
		{"ceiling bounds the owner",
			with(req("application.create", owner), func(in *Input) { in.Resource.Capabilities = []string{"core"} }),
			false, []string{"ceiling"}, "capabilities [core] of organization c do not allow application.create"},
		{"token on the org", with(req("organization.update", owner), func(in *Input) { in.TokenOrg = "c" }), true, []string{"roles"}, ""},
		{"token on an ancestor", with(req("organization.update", owner), func(in *Input) { in.TokenOrg = "r" }), true, []string{"roles"}, ""},
		{"token elsewhere", with(req("organization.update", owner), func(in *Input) { in.TokenOrg = "x" }), false, []string{"token"},
			"token is confined to organization x and its descendants; organization c is outside"},
		{"frozen org refuses writes", with(req("organization.update", owner), retired), false, []string{"frozen"}, ""},
		{"frozen org allows reads", with(req("members.read", viewer), retired), true, []string{"roles"}, ""},
		{"frozen org allows re-enabling", with(req("organization.reenable", owner), retired), true, []string{"roles"}, ""},
		{"sole owner retires", req("application.retire", owner), true, []string{"roles"}, ""},
		{"one of two owners may not retire",
			with(req("organization.retire", owner), func(in *Input) { in.Resource.OwnerCount = 2 }),
			false, []string{"sole_owner"}, ""},
		{"sole owner of the nearest owned ancestor",
			with(req("sector.retire", Membership{"p", "owner"}), func(in *Input) { in.Resource.OwnerOrg = "p" }),
			true, []string{"roles"}, ""},
		{"inherited owner is not the sole owner of c", req("sector.reenable", Membership{"p", "owner"}), false, []string{"sole_owner"}, ""},
		{"unknown action", req("members.frobnicate", owner), false, []string{"unknown_action"}, "unknown action members.frobnicate"},
		{"unknown action for platform admins", with(req("members.frobnicate"), platform), false, []string{"unknown_action"}, ""},
		{"every denial reported in order",
			with(req("application.create", viewer), func(in *Input) {
				retired(in)
				in.TokenOrg = "x"
				in.Resource.Capabilities = []string{"core"}
			}),
			false, []string{"ceiling", "frozen", "roles", "token"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []func(context.Context, Input) (Decision, error){e.Decide, e.decideUncached, e.Decide} {
				got, err := d(ctx, tc.in)
				if err != nil {
					t.Fatalf("Decide: %v", err)
				}
				if got.Allowed != tc.allowed || !slices.Equal(rules(got), tc.rules) {
					t.Fatalf("got allowed=%v reasons=%+v; want allowed=%v rules=%v", got.Allowed, got.Reasons, tc.allowed, tc.rules)
				}
				for _, r := range got.Reasons {
					if r.Permission != tc.in.Action || r.Message == "" {
						t.Errorf("bad reason %+v", r)
					}
				}
				if tc.message != "" && got.Reasons[0].Message != tc.message {
					t.Errorf("message %q; want %q", got.Reasons[0].Message, tc.message)
				}
			}
		})
	}
}

func TestDecideCacheNormalizesInput(t *testing.T) {
	e := openEmbedded(t)
	ctx := context.Background()
	a := req("group.create", Membership{"r", "viewer"}, Membership{"c", "admin"})
	a.Resource.Capabilities = []string{"identities", "core"}
	b := a
	b.Subject.ID = "someone-else"
	b.Subject.Memberships = []Membership{{"c", "admin"}, {"r", "viewer"}}
	b.Resource.Capabilities = []string{"core", "identities"}

	da, err := e.Decide(ctx, a)
	if err != nil || !da.Allowed {
		t.Fatalf("Decide(a) = %+v, %v", da, err)
	}
	db, err := e.Decide(ctx, b)
	if err != nil || !db.Allowed {
		t.Fatalf("Decide(b) = %+v, %v", db, err)
	}
	if n := e.active.Load().cache.len(); n != 1 {
		t.Fatalf("cache has %d entries; want 1 (same normalized input)", n)
	}
	// Callers may not corrupt the cache through the returned slice.
	db.Reasons[0].Rule = "tampered"
	dc, _ := e.Decide(ctx, a)
	if dc.Reasons[0].Rule != "roles" {
		t.Fatalf("cached decision was modified through a returned slice: %+v", dc)
	}
	// Inputs that differ in a decisive field get their own entries.
	c := a
	c.Resource.OwnerCount = 3
	if _, err := e.Decide(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := e.active.Load().cache.len(); n != 2 {
		t.Fatalf("cache has %d entries; want 2", n)
	}
}

func TestCacheKeyDistinguishesFields(t *testing.T) {
	base := req("organization.update", Membership{"c", "owner"})
	variants := map[string]func(*Input){
		"action":        func(in *Input) { in.Action = "organization.read" },
		"subject type":  func(in *Input) { in.Subject.Type = "api_key" },
		"platform":      func(in *Input) { in.Subject.PlatformAdmin = true },
		"membership":    func(in *Input) { in.Subject.Memberships[0].Role = "admin" },
		"no membership": func(in *Input) { in.Subject.Memberships = nil },
		"token":         func(in *Input) { in.TokenOrg = "c" },
		"resource type": func(in *Input) { in.Resource.Type = "application" },
		"org":           func(in *Input) { in.Resource.Org = "d" },
		"ancestors":     func(in *Input) { in.Resource.Ancestors = []string{"r"} },
		"ancestor org":  func(in *Input) { in.Resource.Ancestors = []string{"rp"} },
		"org status":    func(in *Input) { in.Resource.OrgStatus = "RETIRED" },
		"status":        func(in *Input) { in.Resource.Status = "RETIRED" },
		"capabilities":  func(in *Input) { in.Resource.Capabilities = []string{"core"} },
		"owner org":     func(in *Input) { in.Resource.OwnerOrg = "p" },
		"owner count":   func(in *Input) { in.Resource.OwnerCount = 2 },
	}
	seen := map[string]string{string(appendKey(nil, &base, keyReads{})): "base"}
	for name, f := range variants {
		in := base
		in.Subject.Memberships = slices.Clone(base.Subject.Memberships)
		f(&in)
		k := string(appendKey(nil, &in, keyReads{}))
		if other, dup := seen[k]; dup {
			t.Errorf("%s has the same key as %s", name, other)
		}
		seen[k] = name
	}
	// Ignored on purpose: who the subject is and which item is acted on.
	in := base
	in.Subject.ID, in.Resource.ID = "other", "other"
	if string(appendKey(nil, &in, keyReads{})) != string(appendKey(nil, &base, keyReads{})) {
		t.Error("subject and resource ids must not be part of the key")
	}
}

func TestListScope(t *testing.T) {
	e := openEmbedded(t)
	ctx := context.Background()
	ms := []Membership{{"b", "billing"}, {"c", "admin"}, {"a", "viewer"}}
	tests := []struct {
		name   string
		subj   Subject
		token  string
		action string
		want   Scope
	}{
		{"memberships granting the read", Subject{Type: "account", Memberships: ms}, "", "members.read",
			Scope{Orgs: []ScopeGrant{{"a", true}, {"c", true}}}},
		{"billing", Subject{Type: "account", Memberships: ms}, "", "billing.read",
			Scope{Orgs: []ScopeGrant{{"b", true}, {"c", true}}}},
		{"nothing", Subject{Type: "account", Memberships: ms}, "", "audit.read",
			Scope{Orgs: []ScopeGrant{{"c", true}}}},
		{"within the token org", Subject{Type: "account", Memberships: ms}, "c", "organization.read",
			Scope{Orgs: []ScopeGrant{{"a", true}, {"b", true}, {"c", true}}, Within: "c"}},
		{"platform admin", Subject{Type: "account", PlatformAdmin: true}, "", "organization.read",
			Scope{All: true, Orgs: []ScopeGrant{}}},
		{"unknown action", Subject{Type: "account", PlatformAdmin: true, Memberships: ms}, "", "nope.read",
			Scope{Orgs: []ScopeGrant{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.ListScope(ctx, tc.subj, tc.token, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if got.All != tc.want.All || got.Within != tc.want.Within || !slices.Equal(got.Orgs, tc.want.Orgs) {
				t.Fatalf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestActions(t *testing.T) {
	e := openEmbedded(t)
	want := strings.Fields(`organization.read organization.update organization.change_slug organization.create_suborg
		organization.retire organization.reenable organization.delete organization.set_limits
		members.read members.invite members.change_role members.remove members.leave invitations.read
		invitations.revoke application.read application.create application.update
		application.retire application.reenable application.rotate_key sector.read sector.create
		sector.retire sector.reenable person.read person.create person.update group.read
		group.create group.update apikey.read apikey.create apikey.revoke audit.read
		billing.read billing.update organization.create invitations.respond account.delete account.read_private`)
	slices.Sort(want)
	if got := e.Actions(); !slices.Equal(got, want) {
		t.Fatalf("Actions() = %v\nwant %v", got, want)
	}
	if v := e.Version(); len(v) != 12 {
		t.Fatalf("Version() = %q; want 12 hex digits", v)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	e := openEmbedded(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := e.Decide(ctx, req("organization.read", Membership{"c", "owner"}))
	if err == nil || d.Allowed || !errors.Is(err, context.Canceled) {
		t.Fatalf("Decide with a cancelled context = %+v, %v; want denied with an error", d, err)
	}

	// A policy whose decision is malformed, or fails at run time, denies
	// even though it would say allow.
	for name, rule := range map[string]string{
		"malformed": `decision := {"allow": true}`,
		"runtime error": `decision := {"allow": true, "reasons": [x]} if {
	x := 1 / count(input.subject.memberships)
}`,
		"undefined": `decision := {"allow": true, "reasons": []} if input.action == "never"`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := "package orgraph.authz\n\n" + rule + "\n\nlist_scope := {}\n"
			if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(context.Background(), req("organization.read"))
			if err == nil || d.Allowed || d.Reasons != nil {
				t.Fatalf("Decide = %+v, %v; want Decision{} and an error", d, err)
			}
			if _, err := e.ListScope(context.Background(), Subject{}, "", "organization.read"); err == nil {
				t.Fatal("ListScope on a malformed scope: no error")
			}
		})
	}
}

func TestOpenRefusesBadPolicies(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no policies":        {"data.json": `{}`},
		"syntax error":       {"authz.rego": "package orgraph.authz\n\ndecision := {"},
		"strict error":       {"authz.rego": "package orgraph.authz\n\nimport data.unused\n\ndecision := {}\n\nlist_scope := {}\n"},
		"no entrypoint":      {"authz.rego": "package orgraph.authz\n\ndecision := {}\n"},
		"bad json":           {"authz.rego": "package orgraph.authz\n\ndecision := {}\n\nlist_scope := {}\n", "data.json": `{"orgraph": `},
		"json not an object": {"authz.rego": "package orgraph.authz\n\ndecision := {}\n\nlist_scope := {}\n", "data.json": `[1]`},
		"data conflicts with rules": {
			"authz.rego": "package orgraph.authz\n\ndecision := {}\n\nlist_scope := {}\n",
			"data.json":  `{"orgraph": {"authz": {"decision": 1}}}`,
		},
		"failing rego test": {
			"authz.rego":      "package orgraph.authz\n\ndecision := {\"allow\": false}\n\nlist_scope := {}\n",
			"authz_test.rego": "package orgraph.authz_test\n\nimport data.orgraph.authz\n\ntest_allow if authz.decision.allow\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, content := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t)}); err == nil {
				t.Fatal("Open succeeded")
			} else {
				t.Log(err)
			}
		})
	}
	if _, err := Open(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("Open of a missing directory succeeded")
	}
}

// TestCacheKeyFollowsWhatThePolicyReads: a rule on input.subject.id or
// input.resource.id (which the key leaves out when no rule reads them) gets
// right answers from the cache: every cached decision equals an uncached one.
func TestCacheKeyFollowsWhatThePolicyReads(t *testing.T) {
	for name, rule := range map[string]string{
		"subject id":         `deny contains {"rule": "blocklist", "permission": input.action, "message": "blocked"} if input.subject.id == "dave"`,
		"resource id":        `deny contains {"rule": "blocklist", "permission": input.action, "message": "blocked"} if input.resource.id == "secret"`,
		"subject as a whole": `deny contains {"rule": "blocklist", "permission": input.action, "message": "blocked"} if object.get(input.subject, "id", "") == "dave"`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			err := fs.WalkDir(embedded, ".", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := fs.ReadFile(embedded, path)
				if err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			extra := "package orgraph.token\n\n" + rule + "\n"
			if err := os.WriteFile(filepath.Join(dir, "blocklist.rego"), []byte(extra), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := Open(context.Background(), Options{Dir: dir, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, subject := range []string{"carol", "dave", "carol", "dave"} {
				for _, resource := range []string{"c", "secret", "c"} {
					in := req("organization.read", Membership{"c", "viewer"})
					in.Subject.ID, in.Resource.ID = subject, resource
					cached, err := e.Decide(ctx, in)
					if err != nil {
						t.Fatal(err)
					}
					fresh, err := e.decideUncached(ctx, in)
					if err != nil {
						t.Fatal(err)
					}
					if cached.Allowed != fresh.Allowed {
						t.Fatalf("%s on %s: cached allow=%v, uncached allow=%v", subject, resource, cached.Allowed, fresh.Allowed)
					}
				}
			}
		})
	}
}

// TestInputIsSchemaChecked: a rule that reads an input field the input does
// not have is refused at load with its file and line (input.schema.json).
func TestInputIsSchemaChecked(t *testing.T) {
	dir := t.TempDir()
	err := fs.WalkDir(embedded, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	rule := "package orgraph.token\n\ndeny contains {\"rule\": \"frozen_apps\", \"permission\": input.action, \"message\": \"frozen\"} if {\n\tinput.resource.settings.frozen_apps\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "frozen_apps.rego"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), Options{Dir: dir, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "frozen_apps.rego:4") || !strings.Contains(err.Error(), "undefined ref: input.resource.settings") {
		t.Fatalf("Open = %v; want the undefined input field refused with file and line", err)
	}
}

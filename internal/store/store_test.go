package store_test

import (
	"context"
	"testing"

	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/internal/store"
	"github.com/orgraph/orgraph/internal/testutil"
)

func TestAuditEventsAreAppendOnly(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			st, err := store.Open(testutil.DatabaseURL(t, b))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			ev, err := st.Client.AuditEvent.Create().SetAction("test.event").SetActor("t").SetResourceType("x").SetResourceID("1").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Client.AuditEvent.Delete().Where(auditevent.ID(ev.ID)).Exec(ctx); err == nil {
				t.Fatal("deleting an audit event succeeded")
			}
			if err := st.Client.AuditEvent.DeleteOne(ev).Exec(ctx); err == nil {
				t.Fatal("deleting one audit event succeeded")
			}
			if n := st.Client.AuditEvent.Query().CountX(ctx); n != 1 {
				t.Fatalf("%d events left, want 1", n)
			}
		})
	}
}

func TestResolveURL(t *testing.T) {
	t.Setenv("ORGRAPH_DB", "")
	if got := store.ResolveURL(""); got != store.DefaultFile {
		t.Fatalf("default = %q", got)
	}
	t.Setenv("ORGRAPH_DB", "postgres://x@y/z")
	if got := store.ResolveURL(""); got != "postgres://x@y/z" {
		t.Fatalf("env = %q", got)
	}
	if got := store.ResolveURL("flag.db"); got != "flag.db" {
		t.Fatalf("flag = %q", got)
	}
}
